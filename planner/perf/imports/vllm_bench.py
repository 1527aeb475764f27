"""vLLM ``bench serve --save-result`` JSON (``vllm/benchmarks/serve.py``, its ``result_json``).

What the file holds: ``request_rate`` (a number or "inf"), ``max_concurrency``, ``completed``,
``failed``, ``duration``, ``total_input_tokens``, ``total_output_tokens``,
``request_throughput`` (req/s), and per metric in ``--percentile-metrics`` (default
ttft,tpot,itl) ``mean_/median_/std_<m>_ms`` and ``p<q>_<m>_ms`` for each
``--metric-percentiles`` value (default only 99). With ``--save-detailed`` it also holds
per-request lists: ``input_lens``, ``output_lens``, ``ttfts``, ``itls``, ``latencies``,
``errors`` (seconds). ``--append-result`` appends further results, one JSON object a line.

What the table takes: the configured rate (the measured throughput when the rate was "inf" or a
concurrency limit was set), the token means (totals over completed requests), p50 (the
median), p90 and p99 TTFT and TPOT; when a percentile is not in the file but the per-request
lists are, it is computed from them (TPOT of a request = (latency − TTFT) / (output tokens − 1),
vLLM's own definition). The file records no hit rate and no power.
"""

from __future__ import annotations

import json
import math

import numpy as np

from planner.errors import InputDataError
from planner.perf.imports.run import HIT_ASSUMED, POWER_MODELLED, ImportedRun, number, ordered

TOOL = "vllm-bench"
KEYS = ("request_throughput", "completed", "total_input_tokens", "total_output_tokens")


def looks_like(obj) -> bool:
    return isinstance(obj, dict) and all(k in obj for k in ("request_throughput", "duration")) \
        and any(k in obj for k in ("median_ttft_ms", "mean_ttft_ms", "ttfts"))


def objects(text: str):
    """The result objects of a file: one JSON object, or several, one a line
    (``--append-result``)."""
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        pass
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                return None
    return out or None


def _percentiles(obj: dict, metric: str, where: str, per_request) -> tuple:
    keys = (f"median_{metric}_ms" if f"median_{metric}_ms" in obj else f"p50_{metric}_ms",
            f"p90_{metric}_ms", f"p99_{metric}_ms")
    if all(isinstance(obj.get(k), (int, float)) for k in keys):
        return tuple(number(obj, k, where) / 1000.0 for k in keys), None
    if per_request is not None:
        values = per_request[metric]
        if values.size == 0:
            raise InputDataError(f"{where}: no completed request with a {metric.upper()}")
        return tuple(float(x) for x in np.percentile(values, (50, 90, 99))), \
            f"{metric.upper()} percentiles computed from the per-request lists (--save-detailed)"
    absent = next(k for k in keys if not isinstance(obj.get(k), (int, float)))
    raise InputDataError(f"{where} lacks {absent!r}: run `vllm bench serve` with "
                         "--metric-percentiles 50,90,99 (or --save-detailed)")


def _per_request(obj: dict, where: str):
    """TTFT and TPOT of the completed requests from the --save-detailed lists, or None."""
    names = ("ttfts", "latencies", "output_lens")
    if not all(isinstance(obj.get(k), list) for k in names):
        return None
    ttft, lat, out = (obj[k] for k in names)
    errors = obj.get("errors") if isinstance(obj.get("errors"), list) else [""] * len(ttft)
    if not len(ttft) == len(lat) == len(out) == len(errors):
        raise InputDataError(f"{where}: the per-request lists ttfts, latencies, output_lens and "
                             "errors differ in length")
    t, p = [], []
    for i, (a, b, n, e) in enumerate(zip(ttft, lat, out, errors)):
        if e:
            continue
        for key, v in (("ttfts", a), ("latencies", b), ("output_lens", n)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < 0:
                raise InputDataError(f"{where}: {key}[{i}] must be a number ≥ 0, got {v!r}")
        if a > 0:
            t.append(a)
            if n > 1 and b >= a:
                p.append((b - a) / (n - 1))
    return {"ttft": np.asarray(t), "tpot": np.asarray(p)}


def read(path: str, text: str, sha: str) -> list[ImportedRun]:
    objs = objects(text)
    if not objs or not all(isinstance(o, dict) for o in objs):
        raise InputDataError(f"{path} is not a vLLM bench serve result (no JSON object)")
    runs = []
    for k, obj in enumerate(objs):
        where = f"{path}" + (f" (result {k + 1})" if len(objs) > 1 else "")
        if not looks_like(obj):
            raise InputDataError(f"{where} is not a vLLM bench serve result: it lacks "
                                 "request_throughput, duration or TTFT figures")
        completed = number(obj, "completed", where)
        if completed != int(completed):
            raise InputDataError(f"{where}: 'completed' must be a whole number")
        per = _per_request(obj, where)
        ttft, how_t = _percentiles(obj, "ttft", where, per)
        tpot, how_p = _percentiles(obj, "tpot", where, per)
        rate = obj.get("request_rate")
        concurrency = obj.get("max_concurrency")
        if isinstance(rate, (int, float)) and not isinstance(rate, bool) and math.isfinite(rate) \
                and rate > 0 and concurrency is None:
            rate_rps, rate_from = float(rate), "request_rate (configured Poisson or gamma rate)"
        else:
            rate_rps = number(obj, "request_throughput", where)
            why = ("request_rate is inf (every request sent at once)" if concurrency is None
                   else f"max_concurrency {concurrency} limits the offered rate")
            rate_from = f"request_throughput (measured; {why})"
        notes = [n for n in (how_t, how_p) if n]
        failed = obj.get("failed")
        if isinstance(failed, (int, float)) and failed > 0:
            notes.append(f"{int(failed)} request(s) failed and are not in the percentiles")
        version = obj.get("version") or obj.get("vllm_version")
        runs.append(ImportedRun(
            path=path, sha256=sha, tool=TOOL, version=str(version) if version else None,
            label=f"result {k + 1}" if len(objs) > 1 else "",
            rate_rps=rate_rps, rate_from=rate_from,
            mean_input_tokens=number(obj, "total_input_tokens", where) / completed,
            mean_output_tokens=number(obj, "total_output_tokens", where) / completed,
            ttft_s=ordered(ttft, "TTFT", where), tpot_s=ordered(tpot, "TPOT", where),
            requests=int(completed), model=obj.get("model_id"),
            missing=[HIT_ASSUMED, POWER_MODELLED]
            + ([] if version else ["tool version: not recorded (pass --metadata version=…)"]),
            notes=notes))
    return runs
