"""The measuring sweep: every (reuse, token mix, rate) point against a live endpoint.

Order: reuse levels outermost, then token mixes (prompt × output), then, for each, lone
requests and the rates in increasing order; once a rate is unstable, the higher rates of that
series are skipped. So a sweep stopped early (Ctrl-C, ``max_time_s``, ``max_requests``) has
whole reuse levels, which is what a table needs.

A point at rate λ sends Poisson arrivals (seeded exponential gaps) for ``duration_s``; every
request has the point's shared prefix (:mod:`planner.measure.prompts`), warmed by one untimed
request before the series; a point sends at least ``MIN_REQUESTS``. Its latencies come from
the requests sent after the first ``WARMUP`` of the point (the replica starts empty; all of
them when that would leave fewer than half); all of them count for stability. A point is
*stable* when every request finished without error within ``drain_s`` after the last arrival
and the queue did not grow: the median TTFT of the last third of arrivals is at most
``GROWTH`` × that of the first third plus ``GROWTH_SLACK_S``. The lone point (rate 0) sends
``lone_requests`` requests one after another; its power is the idle replica's, read before
the sweep.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import asdict, dataclass, field

import aiohttp
import numpy as np

from planner.errors import InputDataError, UsageError
from planner.measure.client import API_PATHS, RequestRecord, payload, stream_request
from planner.measure.counters import (POWER_PERIOD_S, CacheReading, cache_reading,
                                      engine_identity, fetch_text, hit_rate_between,
                                      parse_prometheus)
from planner.measure.prompts import digest, point_prefix, request_prompt, shared_words
from planner.perf.measured_table import MeasuredPoint

WARMUP = 0.1
GROWTH = 2.0
GROWTH_SLACK_S = 0.25
IDLE_S = 2.0
MIN_REQUESTS = 4


@dataclass(frozen=True)
class SweepSpec:
    endpoint: str
    model: str
    api: str = "completions"
    rates: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    reuse: tuple[float, ...] = (0.0, 0.5, 0.9)
    input_tokens: tuple[int, ...] = (512, 2048)
    output_tokens: tuple[int, ...] = (64, 256)
    duration_s: float = 20.0
    max_requests: int = 20_000
    max_time_s: float = 3600.0
    lone_requests: int = 5
    seed: int = 0
    request_timeout_s: float = 300.0
    drain_s: float | None = None          # None: max(10 s, duration_s)
    metrics_url: str | None = None        # None: the endpoint's /metrics
    idle_s: float = IDLE_S

    def validate(self) -> None:
        if not self.endpoint.startswith(("http://", "https://")):
            raise UsageError(f"--endpoint must be an http(s) URL, got {self.endpoint!r}")
        if self.api not in API_PATHS:
            raise UsageError(f"unknown API {self.api!r}; choose {', '.join(API_PATHS)}")
        for name, ax, ok, rule in (("rates", self.rates, lambda x: x > 0, "> 0"),
                                   ("reuse levels", self.reuse, lambda x: x >= 0, "≥ 0"),
                                   ("input tokens", self.input_tokens, lambda x: x >= 1, "≥ 1"),
                                   ("output tokens", self.output_tokens, lambda x: x >= 2,
                                    "≥ 2")):
            a = np.asarray(ax, dtype=float)
            if a.size == 0 or np.any(np.diff(a) <= 0) or not np.all(np.isfinite(a)):
                raise UsageError(f"the {name} must be increasing numbers")
            if not ok(a[0]):
                raise UsageError(f"the {name} must be {rule}")
        if self.reuse[-1] >= 1.0:
            raise UsageError("reuse levels must be below 1 (each prompt needs a word of its "
                             "own)")
        if len(self.reuse) < 2 or len(self.input_tokens) < 2 or len(self.output_tokens) < 2:
            raise UsageError("a profile table needs ≥ 2 reuse levels, ≥ 2 input and ≥ 2 output "
                             "token counts")
        if self.duration_s <= 0 or self.max_time_s <= 0 or self.max_requests < 1 \
                or self.lone_requests < 1 or self.request_timeout_s <= 0:
            raise UsageError("durations, limits and request counts must be positive")

    @property
    def drain(self) -> float:
        return self.drain_s if self.drain_s is not None else max(10.0, self.duration_s)


@dataclass
class SweepResult:
    points: list[MeasuredPoint] = field(default_factory=list)
    summaries: list[dict] = field(default_factory=list)
    records: list[RequestRecord] = field(default_factory=list)
    complete_reuse: list[float] = field(default_factory=list)
    partial: bool = False
    stop_reason: str = ""
    elapsed_s: float = 0.0
    engine: dict = field(default_factory=dict)
    idle_power_w: float = math.nan
    power: dict = field(default_factory=dict)
    cache_source: str = ""


def parse_duration(text: str, what: str) -> float:
    """Seconds from ``20s``, ``5m``, ``1h``, ``250ms`` or a plain number of seconds."""
    t = str(text).strip().lower()
    for suffix, scale in (("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if t.endswith(suffix):
            t, unit = t[: -len(suffix)], scale
            break
    else:
        unit = 1.0
    try:
        v = float(t) * unit
    except ValueError:
        v = math.nan
    if not math.isfinite(v) or v <= 0:
        raise UsageError(f"{what} must be a positive duration like 20s or 5m, got {text!r}")
    return v


class _Stop(Exception):
    pass


class Sweep:
    """One sweep; ``stop`` (an asyncio.Event) ends it early, keeping the finished points."""

    def __init__(self, spec: SweepSpec, power, progress=None):
        spec.validate()
        self.spec, self.power = spec, power
        self.progress = progress or (lambda done, total, what: None)
        self.checkpoint = lambda: None   # called after every series (the CLI writes the record)
        self.result = SweepResult()
        self.stop = asyncio.Event()
        self._sent = 0
        self._next_id = 0

    @property
    def total_points(self) -> int:
        s = self.spec
        return len(s.reuse) * len(s.input_tokens) * len(s.output_tokens) * (len(s.rates) + 1)

    def request_stop(self, reason: str) -> None:
        if not self.stop.is_set():
            self.result.stop_reason = reason
            self.stop.set()

    async def run(self) -> SweepResult:
        s, res = self.spec, self.result
        t_start = time.monotonic()
        loop = asyncio.get_running_loop()
        timer = loop.call_later(s.max_time_s, self.request_stop, "--max-time reached")
        conn = aiohttp.TCPConnector(limit=0, force_close=False)
        try:
            async with aiohttp.ClientSession(connector=conn) as session:
                self.session = session
                res.engine = await engine_identity(session, s.endpoint)
                idle, info = await self._idle_power()
                res.idle_power_w, res.power = idle, {"source": self.power.source, **info}
                done = 0
                try:
                    for r in s.reuse:
                        for i in s.input_tokens:
                            for o in s.output_tokens:
                                done = await self._series(r, i, o, done)
                                self.checkpoint()
                        res.complete_reuse.append(float(r))
                        self.checkpoint()
                except _Stop:
                    res.partial = True
        finally:
            timer.cancel()
            res.elapsed_s = time.monotonic() - t_start
        return res

    async def _idle_power(self):
        vals, info = [], {}
        end = time.monotonic() + self.spec.idle_s
        while True:
            v, info = await self.power.read(self.session)
            if math.isfinite(v):
                vals.append(v)
            if time.monotonic() >= end:
                break
            await asyncio.sleep(POWER_PERIOD_S)
        if not vals:
            raise InputDataError(f"the power source ({self.power.source}) gave no reading")
        return float(np.mean(vals)), info

    def _check_stop(self):
        if self.stop.is_set():
            raise _Stop()

    async def _series(self, reuse: float, n_in: int, n_out: int, done: int) -> int:
        s = self.spec
        sid = f"i{n_in}o{n_out}u{reuse:g}"
        prefix = point_prefix(sid, reuse, n_in, s.seed)
        # the table's hit-rate axis is the reuse level; the exact word fraction
        # (round(reuse · words) / words) and the engine's own count go to the summaries
        hit = reuse
        if prefix:  # the prefix enters the engine's cache before anything is timed
            self._check_stop()
            warm = RequestRecord(sid, -1, 0.0)
            await stream_request(self.session, s.endpoint, s.api,
                                 payload(s.api, s.model, f"{prefix} warm", 1), warm,
                                 s.request_timeout_s)
            if warm.error:
                raise InputDataError(f"the endpoint refused a request: {warm.error}")
        # lone requests, one at a time
        self._check_stop()
        before = await self._cache()
        recs = []
        for _ in range(s.lone_requests):
            rec = await self._one(sid, prefix, reuse, n_in, n_out)
            self._check_stop()
            recs.append(rec)
        bad = [r.error for r in recs if not r.ok]
        if bad:
            raise InputDataError(f"the endpoint failed lone requests: {bad[0]}")
        after = await self._cache()
        self._add_point(sid, 0.0, reuse, hit, n_in, n_out, recs, recs, self.result.idle_power_w,
                        True, before, after, {})
        done += 1
        self.progress(done, self.total_points, f"{sid} lone")
        unstable = False
        for k, rate in enumerate(s.rates):
            if unstable:
                self.result.summaries.append({"point": f"{sid}λ{rate:g}", "rate_rps": rate,
                                              "reuse": reuse, "input_tokens": n_in,
                                              "output_tokens": n_out,
                                              "status": "skipped: a lower rate was unstable"})
            else:
                unstable = not await self._rate_point(sid, k, rate, prefix, reuse, hit, n_in,
                                                      n_out)
            done += 1
            self.progress(done, self.total_points, f"{sid} λ={rate:g}/s")
        return done

    async def _one(self, sid, prefix, reuse, n_in, n_out) -> RequestRecord:
        s = self.spec
        idx = self._next_id
        self._next_id += 1
        self._sent += 1
        rec = RequestRecord(sid, idx, 0.0)
        body = payload(s.api, s.model, request_prompt(prefix, idx, reuse, n_in, s.seed, sid),
                       n_out)
        self.result.records.append(rec)
        return await stream_request(self.session, s.endpoint, s.api, body, rec,
                                    s.request_timeout_s)

    async def _cache(self) -> CacheReading:
        url = self.spec.metrics_url or self.spec.endpoint.rstrip("/") + "/metrics"
        text = await fetch_text(self.session, url)
        return cache_reading(parse_prometheus(text)) if text else CacheReading("")

    async def _rate_point(self, sid, k, rate, prefix, reuse, hit, n_in, n_out) -> bool:
        s = self.spec
        rng = np.random.default_rng([s.seed, digest(sid), k])
        gaps = rng.exponential(1.0 / rate, size=int(rate * s.duration_s * 3) + 16)
        arrivals = np.cumsum(gaps)
        # at least MIN_REQUESTS per point, even where rate × duration is smaller
        arrivals = arrivals[(arrivals < s.duration_s)
                            | (np.arange(arrivals.size) < MIN_REQUESTS)]
        if self._sent + len(arrivals) > s.max_requests:
            self.request_stop("--max-requests reached")
        self._check_stop()
        before = await self._cache()
        t0 = time.monotonic()
        tasks, powers = [], []
        sampler = asyncio.create_task(self._sample_power(powers))
        try:
            for a in arrivals:
                wait = t0 + a - time.monotonic()
                if wait > 0:
                    try:
                        await asyncio.wait_for(self.stop.wait(), timeout=wait)
                    except TimeoutError:
                        pass
                if self.stop.is_set():
                    break
                tasks.append(asyncio.create_task(self._one(sid, prefix, reuse, n_in, n_out)))
            t_arrivals = time.monotonic() - t0
        finally:
            sampler.cancel()
        unfinished = await self._drain(tasks)
        self._check_stop()
        after = await self._cache()
        sent = [(t.result(), a) for t, a in zip(tasks, arrivals)
                if t.done() and not t.cancelled()]
        recs = [r for r, _ in sent]
        ok = [r for r in recs if r.ok]
        timed = [r for r, a in sent if r.ok and a >= WARMUP * s.duration_s]
        if 2 * len(timed) < len(ok):  # few requests: the warm-up would leave too few
            timed = ok
        stable = unfinished == 0 and len(ok) == len(tasks) and _queue_steady(ok)
        power = float(np.mean(powers)) if powers else math.nan
        extra = {"requests_sent": len(tasks), "unfinished": unfinished,
                 "errors": len(recs) - len(ok), "arrival_window_s": round(t_arrivals, 3),
                 "achieved_rps": round(len(tasks) / s.duration_s, 4)}
        if not timed:
            stable = False
        self._add_point(sid + f"λ{rate:g}", rate, reuse, hit, n_in, n_out, ok, timed, power,
                        stable, before, after, extra)
        return stable

    async def _sample_power(self, out: list):
        while True:
            v, _ = await self.power.read(self.session)
            if math.isfinite(v):
                out.append(v)
            await asyncio.sleep(POWER_PERIOD_S)

    async def _drain(self, tasks) -> int:
        pending = {t for t in tasks if not t.done()}
        end = time.monotonic() + self.spec.drain
        stopper = asyncio.create_task(self.stop.wait())
        try:
            while pending and not self.stop.is_set():
                left = end - time.monotonic()
                if left <= 0:
                    break
                done, _ = await asyncio.wait(pending | {stopper}, timeout=left,
                                             return_when=asyncio.FIRST_COMPLETED)
                pending -= done
        finally:
            stopper.cancel()
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)

    def _add_point(self, name, rate, reuse, hit, n_in, n_out, ok, timed, power, stable,
                   before, after, extra):
        engine_hit = hit_rate_between(before, after)
        if after.source:
            self.result.cache_source = after.source
        summary = {"point": name, "rate_rps": rate, "reuse": reuse, "input_tokens": n_in,
                   "output_tokens": n_out,
                   "intended_hit_rate": round(shared_words(reuse, n_in) / n_in, 6),
                   "engine_hit_rate": None if math.isnan(engine_hit) else round(engine_hit, 4),
                   "requests_timed": len(timed),
                   "mean_prompt_tokens_reported": _mean([r.prompt_tokens for r in ok]),
                   "mean_output_tokens_reported": _mean([r.output_tokens for r in ok]),
                   "gpu_power_w": None if math.isnan(power) else round(power, 2),
                   "stable": bool(stable), **extra}
        if timed and math.isfinite(power):
            p = MeasuredPoint.from_samples(rate, hit, n_in, n_out, [r.ttft_s for r in timed],
                                           [r.tpot_s for r in timed], power, stable=stable)
            self.result.points.append(p)
            summary.update({k: round(v, 6) for k, v in asdict(p).items()
                            if k.startswith(("p50", "p90", "p99"))})
            summary["status"] = "measured" if stable else "unstable"
        else:
            summary["status"] = "no timed request" if not timed else "no power reading"
        self.result.summaries.append(summary)


def _queue_steady(ok: list[RequestRecord]) -> bool:
    if len(ok) < 6:
        return True
    ok = sorted(ok, key=lambda r: r.sent)
    third = len(ok) // 3
    early = np.median([r.ttft_s for r in ok[:third]])
    late = np.median([r.ttft_s for r in ok[-third:]])
    return bool(late <= GROWTH * early + GROWTH_SLACK_S)


def _mean(values) -> float | None:
    v = [x for x in values if x]
    return round(float(np.mean(v)), 2) if v else None
