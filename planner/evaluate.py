"""Replaying a trace under a schedule: what the schedule really delivers.

For every window the schedule names a replica count n_t and a cache size c_t. The replay

1. runs the cache: one shared SSD pool whose capacity follows c_t (a grown cache starts its
   new space empty, a shrunk one evicts by the eviction policy), giving each request the prefix
   tokens it finds cached (:func:`planner.workload.eviction.simulate_cache`);
2. routes requests to the window's replicas with session affinity: replica =
   hash(session) mod n_t, so a conversation's turns meet the same engine; requests of traces
   without sessions are spread by a hash of their index;
3. simulates every replica with the discrete-event replica simulator
   (:mod:`planner.perf.simulator`), which gives each request its TTFT and TPOT and the
   replica's GPU energy and SSD traffic;
4. accounts carbon with the same formulas as the planner (:mod:`planner.carbon`), and, given
   the plan's coupling, with the same per-window charges as its objective
   (:func:`planner.optimize.charges.charge`): the weight-load energy of every replica started
   and, with owned capacity, the fleet the schedule needs (its peak replicas and drives)
   charged in every window.

Work is charged to the window its requests arrived in: a replica's whole run (including the
tail of requests still running at the window's end) plus its idle time within the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from planner.carbon import CarbonBreakdown
from planner.catalog import Hardware
from planner.deployment import deployment_carbon, ssd_wear_kg
from planner.errors import InputDataError

REPLAY_COLUMNS = (
    "window_start", "window_end", "requests", "replicas", "cache_gb",
    "predicted_hit_rate", "replayed_hit_rate",
    "predicted_p90_ttft_s", "replayed_p90_ttft_s", "predicted_p90_tpot_s", "replayed_p90_tpot_s",
    "predicted_slo_attainment", "slo_attainment", "energy_kwh", "predicted_energy_kwh", "operational_kgco2e",
    "embodied_kgco2e", "total_kgco2e", "predicted_total_kgco2e",
)

_MIX = np.uint64(0x9E3779B97F4A7C15)


def affinity_hash(keys: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads consecutive keys uniformly over replica indices."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) * _MIX
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def route(trace, request_window: np.ndarray, replicas_per_window: np.ndarray) -> np.ndarray:
    """Replica index of every request: hash(session or request index) mod n of its window."""
    keys = trace.session_ids if trace.session_ids is not None else np.arange(len(trace))
    n = replicas_per_window[np.maximum(request_window, 0)]
    return (affinity_hash(np.asarray(keys)) % n.astype(np.uint64)).astype(np.int64)


def schedule_windows(trace, schedule: pd.DataFrame) -> np.ndarray:
    """Window of every request under the schedule's windows: −1 before the first (the
    history of a plan made from a later time, ``--plan-from``); the schedule must cover every
    later request."""
    starts = pd.DatetimeIndex(schedule["window_start"]).as_unit("ns").asi8
    ends = pd.DatetimeIndex(schedule["window_end"]).as_unit("ns").asi8
    t = trace.absolute_start.value + np.round(trace.arrival_s * 1e9).astype(np.int64)
    # Schedule times are whole seconds around the first and last arrival: compare on seconds.
    t = (t // 1_000_000_000) * 1_000_000_000
    w = np.searchsorted(starts, t, side="right") - 1
    outside = (w >= 0) & (t >= ends[np.clip(w, 0, None)] + 1_000_000_000)
    if (w >= 0).any():
        last = int(np.flatnonzero(w >= 0)[0])
        outside |= (np.arange(len(w)) > last) & (w < 0)   # a gap after the schedule began
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise InputDataError(
            f"request {i + 1} of {trace.name} arrives at {pd.Timestamp(int(t[i]), tz='UTC')}, "
            f"outside the schedule ({pd.Timestamp(int(starts[0]), tz='UTC')} to "
            f"{pd.Timestamp(int(ends[-1]), tz='UTC')}): replay the trace the schedule was "
            "planned for")
    return w.astype(np.int64)


class SimulatedReplica:
    """The calibrated replica simulator (:mod:`planner.perf.simulator`) for one deployment,
    its iteration costs tabulated once and reused for every replica and window."""

    def __init__(self, model: str, gpu: str, tp: int, ssd: str):
        from planner.perf.iteration import DEFAULT_ENGINE, IterationModel
        from planner.perf.params import load_params
        from planner.perf.simulator import replica_costs
        from planner.perf.spec import build_spec

        params = load_params(None)
        spec = build_spec(model, gpu, tp, ssd, None, "bf16")
        self.costs = replica_costs(IterationModel(spec, params.device(spec.gpu), DEFAULT_ENGINE),
                                   params.power)
        self.tp = tp
        self.loaded_idle_w = float(spec.loaded_idle_w)

    def __call__(self, arrival_s, prompt, cached, output):
        from planner.perf.simulator import simulate

        run, _, _ = simulate(self.costs, arrival_s, prompt, cached, output, self.tp)
        return run


@dataclass
class Served:
    """What happened physically under a schedule, before any carbon intensity is applied:
    per request its window, cached tokens, TTFT and TPOT; per window the mean GPU power and
    the SSD traffic. The same schedule serves the same requests on every grid."""

    request_window: np.ndarray
    cached_tokens: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    hours: np.ndarray
    gpu_power_w: np.ndarray
    ssd_read_gbps: np.ndarray
    ssd_write_gbps: np.ndarray
    notes: list[str] = field(default_factory=list)
    served: np.ndarray | None = None    # indices of the requests served (None: all of them)


@dataclass
class ReplayResult:
    windows: pd.DataFrame
    totals: dict
    served: Served
    notes: list[str] = field(default_factory=list)


def serve(trace, schedule: pd.DataFrame, hw: Hardware, replica_model, kv_bytes_per_token: int,
          policy: str = "lru", lcs=None, progress=None) -> Served:
    """Steps 1–3 of the module docstring. ``replica_model(arrival_s, prompt, cached, output)``
    simulates one replica and returns a ReplicaRun; it has ``loaded_idle_w``."""
    from planner.workload.eviction import simulate_cache

    notes = []
    win = schedule_windows(trace, schedule)
    W = len(schedule)
    replicas = schedule["replicas"].to_numpy(dtype=np.int64)
    cache_gb = schedule["cache_gb"].to_numpy(dtype=float)
    blocks = np.floor(cache_gb * 1e9 / kv_bytes_per_token / trace.block_tokens).astype(np.int64)
    served = None
    if win[0] < 0:
        # A plan from a later time: the requests before it are its history. They pass
        # through the cache, held at the first window's size (the plan predicts its first
        # window warm), and are not served here.
        if lcs is not None and np.ndim(lcs.ci_g_per_kwh):
            ci = np.asarray(lcs.ci_g_per_kwh, dtype=float)
            lcs = replace(lcs, ci_g_per_kwh=np.r_[ci[:1], ci])
        cached = simulate_cache(trace, np.r_[blocks[:1], blocks], request_window=win + 1,
                                policy=policy, lcs=lcs)
        served = np.flatnonzero(win >= 0)
        notes.append(f"{len(win) - len(served):,} requests before the schedule's first window "
                     "warmed its cache and were not replayed")
        trace, win, cached = trace.subset(served), win[served], cached[served]
    else:
        cached = simulate_cache(trace, blocks, request_window=win, policy=policy, lcs=lcs)
    output = trace.output_tokens
    if np.any(output < 1):
        # An engine always emits at least one token (the end-of-sequence one).
        notes.append(f"{int((output < 1).sum())} request(s) with 0 output tokens replayed as 1")
        output = np.maximum(output, 1)
    replica = route(trace, win, replicas)

    ttft = np.full(len(trace), np.nan)
    tpot = np.full(len(trace), np.nan)
    gpu_j = np.zeros(W)
    read_b = np.zeros(W)
    write_b = np.zeros(W)
    busy = np.zeros(W)
    origin = trace.absolute_start
    lo = (pd.DatetimeIndex(schedule["window_start"]) - origin).total_seconds().to_numpy()
    hi = (pd.DatetimeIndex(schedule["window_end"]) - origin).total_seconds().to_numpy()
    key = win * (int(replicas.max()) + 1) + replica
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(np.concatenate(([-1], key[order], [-1]))))
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = order[a:b]
        t = int(win[idx[0]])
        run = replica_model(trace.arrival_s[idx], trace.input_tokens[idx], cached[idx],
                            output[idx])
        ttft[idx] = run.ttft_s
        tpot[idx] = run.tpot_s
        start = float(trace.arrival_s[idx[0]])
        busy[t] += max(0.0, min(start + run.span_s, hi[t]) - max(start, lo[t]))
        gpu_j[t] += run.gpu_energy_j * hw.gpus_per_replica
        read_b[t] += run.ssd_read_bytes
        write_b[t] += run.ssd_write_bytes
        if progress:
            progress(t + 1, W)
    seconds = np.maximum(hi - lo, 1e-9)
    # Replica time in the window that no simulated run covers is loaded idle time.
    idle_s = np.maximum(replicas * seconds - busy, 0.0)
    gpu_j += idle_s * replica_model.loaded_idle_w * hw.gpus_per_replica
    gpu_power = gpu_j / (seconds * replicas * hw.gpus_per_replica)
    return Served(win, cached, ttft, tpot, seconds / 3600.0, gpu_power, read_b / seconds / 1e9,
                  write_b / seconds / 1e9, notes, served)


@dataclass
class Latencies:
    """All that accounting needs of the per-request results under one SLO: per window the
    requests, replayed hit rate, share within the SLO and p90 latencies; over the horizon the
    share within the SLO and the p90 latencies. A few arrays of windows, where the requests'
    own results take gigabytes on a long trace: a sweep keeps these and drops those."""

    requests: np.ndarray
    hit_rate: np.ndarray
    attainment: np.ndarray
    p90_ttft_s: np.ndarray
    p90_tpot_s: np.ndarray
    totals: dict


def latencies(served: Served, trace, windows: int, slo_ttft_s: float,
              slo_tpot_s: float) -> Latencies:
    """Per-window and overall request statistics of ``served`` under the SLO."""
    inp = trace.input_tokens if served.served is None else trace.input_tokens[served.served]
    win, ttft, tpot = served.request_window, served.ttft_s, served.tpot_s
    W = windows
    prompt = np.bincount(win, weights=inp, minlength=W)
    hit = np.bincount(win, weights=served.cached_tokens, minlength=W) / np.maximum(prompt, 1)
    ok = within_slo(ttft, tpot, slo_ttft_s, slo_tpot_s)
    reqs = np.bincount(win, minlength=W)
    att = np.bincount(win, weights=ok.astype(float), minlength=W) / np.maximum(reqs, 1)
    order = np.argsort(win, kind="stable")
    cuts = np.searchsorted(win[order], np.arange(1, W))
    p90_ttft = np.array([_p90(part) for part in np.split(ttft[order], cuts)])
    p90_tpot = np.array([_p90(part) for part in np.split(tpot[order], cuts)])
    totals = {"requests": int(len(ttft)),
              "slo_attainment": float(ok.mean()) if len(ok) else 1.0,
              "p90_ttft_s": _p90(ttft), "p90_tpot_s": _p90(tpot)}
    return Latencies(reqs, hit, np.where(reqs > 0, att, 1.0), p90_ttft, p90_tpot, totals)


def account(served: Served, trace, schedule: pd.DataFrame, ci: np.ndarray, hw: Hardware,
            slo_ttft_s: float, slo_tpot_s: float, lat: Latencies | None = None,
            coupling=None) -> ReplayResult:
    """Step 4: carbon of what was served, with the planner's own accounting. ``lat``: the
    served requests' statistics under this SLO when already known (:func:`latencies`; then
    ``served`` needs only its per-window fields). ``coupling``: the plan's
    (:class:`planner.optimize.coupling.Coupling`), whose starts and owned capacity are charged
    as the plan charged them."""
    replicas = schedule["replicas"].to_numpy()
    br, drives, _, _, write = deployment_carbon(
        hw, served.hours, ci, replicas, served.gpu_power_w,
        schedule["cache_gb"].to_numpy(dtype=float), served.ssd_read_gbps, served.ssd_write_gbps)
    if coupling is not None:
        br = coupled(br, drives, write, served.hours, replicas,
                     schedule["cache_gb"].to_numpy(dtype=float), hw, coupling)
    if lat is None:
        lat = latencies(served, trace, len(schedule), slo_ttft_s, slo_tpot_s)
    frame = _window_frame(schedule, lat, br)
    totals = _totals(frame, lat, br)
    return ReplayResult(frame, totals, served, list(served.notes))


def coupled(br, drives, write_gbps, hours, replicas, cache_gb, hw: Hardware,
            coupling) -> CarbonBreakdown:
    """The replayed windows charged as the plan's objective charges them
    (:func:`planner.optimize.charges.charge`, the one implementation). The owned fleet is the
    schedule's peak replicas and drives: with owned capacity every unit owned costs carbon in
    every window, so the optimiser never owns more than some window allocates."""
    from planner.optimize.charges import charge

    wear = ssd_wear_kg(hw, hours, cache_gb, write_gbps)
    frame = pd.DataFrame({
        "window": np.arange(len(hours)), "replicas": replicas, "ssd_drives": drives,
        "emb_ssd_wear": wear, "energy_kwh": br.energy_kwh, "op_gpu": br.op_gpu,
        "op_host": br.op_host, "op_ssd": br.op_ssd, "emb_gpu": br.emb_gpu,
        "emb_host": br.emb_host, "emb_ssd": br.emb_ssd})
    owned = (int(np.max(replicas)), int(np.max(drives))) if len(replicas) else (0, 0)
    ch = charge(frame, coupling, *owned) if coupling.owned else charge(frame, coupling)
    # charge() sums operational, embodied and total as CarbonBreakdown's properties do
    return CarbonBreakdown(*(ch[k].to_numpy() for k in (
        "energy_kwh", "op_gpu", "op_host", "op_ssd", "emb_gpu", "emb_host", "emb_ssd")))


def replay(trace, schedule: pd.DataFrame, ci: np.ndarray, hw: Hardware, replica_model,
           kv_bytes_per_token: int, slo_ttft_s: float, slo_tpot_s: float, policy: str = "lru",
           lcs=None, progress=None, coupling=None) -> ReplayResult:
    """Replay ``trace`` under ``schedule`` and account its carbon on ``ci`` (per window)."""
    served = serve(trace, schedule, hw, replica_model, kv_bytes_per_token, policy, lcs, progress)
    return account(served, trace, schedule, ci, hw, slo_ttft_s, slo_tpot_s, coupling=coupling)


def _p90(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, 90)) if x.size else float("nan")


def within_slo(ttft, tpot, slo_ttft_s, slo_tpot_s) -> np.ndarray:
    """A request meets the SLO when its TTFT and its TPOT (if it has one) are within bounds."""
    return (ttft <= slo_ttft_s) & (~np.isfinite(tpot) | (tpot <= slo_tpot_s))


def _window_frame(schedule, lat: Latencies, br):
    return pd.DataFrame({
        "window_start": schedule["window_start"].to_numpy(),
        "window_end": schedule["window_end"].to_numpy(),
        "requests": lat.requests, "replicas": schedule["replicas"].to_numpy(),
        "cache_gb": schedule["cache_gb"].to_numpy(),
        "predicted_hit_rate": schedule["hit_rate"].to_numpy(), "replayed_hit_rate": lat.hit_rate,
        "predicted_p90_ttft_s": schedule["p90_ttft_s"].to_numpy(),
        "replayed_p90_ttft_s": lat.p90_ttft_s,
        "predicted_p90_tpot_s": schedule["p90_tpot_s"].to_numpy(),
        "replayed_p90_tpot_s": lat.p90_tpot_s,
        "predicted_slo_attainment": schedule["within_slo_share"].to_numpy(),
        "slo_attainment": lat.attainment,
        "energy_kwh": br.energy_kwh,
        "predicted_energy_kwh": schedule["energy_kwh"].to_numpy(),
        "operational_kgco2e": br.operational, "embodied_kgco2e": br.embodied,
        "total_kgco2e": br.total,
        "predicted_total_kgco2e": schedule["total_kgco2e"].to_numpy(),
    }).loc[:, list(REPLAY_COLUMNS)]


def _totals(frame, lat: Latencies, br) -> dict:
    busy = frame["requests"].to_numpy() > 0
    pred = frame["predicted_p90_ttft_s"].to_numpy()
    real = frame["replayed_p90_ttft_s"].to_numpy()
    rel = np.abs(pred - real) / np.maximum(real, 1e-9)
    return {
        **lat.totals,
        "energy_kwh": float(br.energy_kwh.sum()),
        "operational_kgco2e": float(br.operational.sum()),
        "embodied_kgco2e": float(br.embodied.sum()),
        "total_kgco2e": float(br.total.sum()),
        "by_component_kgco2e": {k: float(getattr(br, k).sum()) for k in
                                ("op_gpu", "op_host", "op_ssd", "emb_gpu", "emb_host",
                                 "emb_ssd")},
        "predicted_total_kgco2e": float(frame["predicted_total_kgco2e"].sum()),
        "predicted_slo_attainment": float(
            (frame["predicted_slo_attainment"] * frame["requests"]).sum()
            / max(int(frame["requests"].sum()), 1)),
        "windows_p90_ttft_within_15pct": float(np.mean(rel[busy] <= 0.15)) if busy.any()
        else 1.0,
    }
