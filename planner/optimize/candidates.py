"""Candidate configurations per window, with their predicted latency and carbon.

A candidate is (window t, replicas n, cache level c). Its load per replica is λ_t / n, its hit
rate H_t(c), its p90 latencies and GPU power come from the profile table, and its carbon from
carbon.py. Candidates whose replicas cannot keep up with the load (an unstable queue) are not
candidates at all: no SLO can hold there.

Headroom: a candidate whose busiest burst bucket loads its replicas beyond ``headroom`` of
their capacity (the table's load fraction) is dropped like an unstable one. Near capacity a
queue that a busy minute builds outlasts the minute, which the steady-state table cannot see.

Each candidate also carries ``within_slo_share``, the predicted (modelled) share of its
window's requests within both SLOs (:func:`planner.perf.mixture.within_share`), which the
attainment budget reads.

Pruning keeps, for each (t, c), only the Pareto-optimal replica counts on (carbon, p90 TTFT,
p90 TPOT, within-SLO share). That is exact for every model the optimiser builds: the objective
and every constraint are monotone in those four numbers, and the only coupling between windows
(a static cache) ties candidates of equal c, never of equal n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner import carbon
from planner.catalog import Hardware
from planner.deployment import deployment_carbon
from planner.perf.mixture import lookup_buckets
from planner.perf.profile import ProfileTable
from planner.workload.hitcurve import HitCurves
from planner.workload.windows import LoadBuckets

CANDIDATE_COLUMNS = (
    "window", "replicas", "level", "cache_gb", "gpus", "ssd_drives", "rate_per_replica",
    "hit_rate", "p90_ttft_s", "p90_tpot_s", "within_slo_share", "peak_load_fraction",
    "gpu_power_w", "ssd_power_w", "ssd_write_gbps",
    "ssd_lifetime_h", "energy_kwh", "op_gpu", "op_host", "op_ssd", "emb_gpu", "emb_host",
    "emb_ssd", "emb_ssd_wear", "operational_kgco2e", "embodied_kgco2e", "total_kgco2e",
)


@dataclass(frozen=True)
class CandidateSet:
    """All candidates (one row each) and how many were discarded and why."""

    frame: pd.DataFrame
    unstable: int
    pruned: int
    max_replicas: int
    over_headroom: int = 0


def build_candidates(stats: pd.DataFrame, hits: HitCurves, ci: np.ndarray, profile: ProfileTable,
                     hw: Hardware, cache_levels_gb: np.ndarray, max_replicas: int,
                     slo_ttft_s: float, slo_tpot_s: float, *, headroom: float = 1.0,
                     prune: bool = True, buckets: LoadBuckets | None = None) -> CandidateSet:
    """Enumerate (t, n, c), look each up in the profile and account its carbon.

    With ``buckets`` (how the load varies inside each window) latency is the p90 of the
    mixture over the buckets' loads (:mod:`planner.perf.mixture`); without, every window is
    read at its mean rate. The SLOs set each candidate's within-SLO share; ``headroom`` is the
    largest load fraction a bucket may reach."""
    levels = np.asarray(cache_levels_gb, dtype=float)
    W, C, N = len(stats), len(levels), int(max_replicas)
    if hits.token_hit.shape != (W, C):
        raise ValueError("hit curves must have one row per window and one column per level")
    t = np.repeat(np.arange(W), N * C)
    n = np.tile(np.repeat(np.arange(1, N + 1), C), W)
    c = np.tile(np.arange(C), W * N)

    lam = stats["rate_rps"].to_numpy(dtype=float)
    mean_in, mean_out = _lookup_mix(stats)
    cache_gb = levels[c]
    hit = np.where(cache_gb > 0, hits.token_hit[t, c], 0.0)
    rate = lam[t] / n
    if buckets is None:
        ones = np.ones((W, 1))
        buckets = LoadBuckets(lam[:, None], ones, ones, 0.0)
    look = lookup_buckets(profile, buckets.rate_rps[t] / n[:, None], buckets.request_share[t],
                          buckets.time_share[t], hit, mean_in[t], mean_out[t],
                          slo_ttft_s, slo_tpot_s)

    hours = stats["hours"].to_numpy(dtype=float)[t]
    br, drives, ssd_w, life, write_total = deployment_carbon(
        hw, hours, np.asarray(ci, dtype=float)[t], n, look.gpu_power_w, cache_gb,
        n * look.ssd_read_gbps, n * look.ssd_write_gbps)
    wear = np.where(cache_gb > 0, carbon.ssd_wear_embodied_kg(
        write_total * 3600.0 * hours, hw.ssd_embodied_kg_per_gb, hw.ssd_dwpd,
        hw.ssd_warranty_years), 0.0)
    frame = pd.DataFrame({
        "window": t, "replicas": n, "level": c, "cache_gb": cache_gb,
        "gpus": n * hw.gpus_per_replica, "ssd_drives": drives, "rate_per_replica": rate,
        "hit_rate": hit, "p90_ttft_s": look.p90_ttft_s, "p90_tpot_s": look.p90_tpot_s,
        "within_slo_share": look.within_slo_share, "peak_load_fraction": look.peak_load_fraction,
        "gpu_power_w": look.gpu_power_w, "ssd_power_w": ssd_w, "ssd_write_gbps": write_total,
        "ssd_lifetime_h": life, "energy_kwh": br.energy_kwh, "op_gpu": br.op_gpu,
        "op_host": br.op_host, "op_ssd": br.op_ssd, "emb_gpu": br.emb_gpu,
        "emb_host": br.emb_host, "emb_ssd": br.emb_ssd, "emb_ssd_wear": wear,
        "operational_kgco2e": br.operational, "embodied_kgco2e": br.embodied,
        "total_kgco2e": br.total,
    })
    stable = look.stable
    within = stable & (look.peak_load_fraction <= headroom + 1e-9)
    frame = frame[within].reset_index(drop=True)
    unstable = int((~stable).sum())
    before = len(frame)
    if prune and before:
        frame = pareto_prune(frame)
    return CandidateSet(frame, unstable=unstable, pruned=before - len(frame),
                        max_replicas=N, over_headroom=int((stable & ~within).sum()))


def _lookup_mix(stats: pd.DataFrame):
    """Token mix per window; an empty window borrows the trace-wide mix (its load is zero, so
    only idle power is read from the table)."""
    req = stats["requests"].to_numpy()
    total = max(int(req.sum()), 1)
    overall_in = float(stats["prompt_tokens"].sum()) / total
    overall_out = float(stats["output_tokens"].sum()) / total
    mean_in = np.where(req > 0, stats["mean_input_tokens"].to_numpy(dtype=float), overall_in)
    mean_out = np.where(req > 0, stats["mean_output_tokens"].to_numpy(dtype=float), overall_out)
    return mean_in, mean_out


def pareto_prune(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep candidates not dominated within their (window, level) group on
    (total carbon, p90 TTFT, p90 TPOT, 1 − within-SLO share), all to be minimised. Ties keep
    the fewer replicas."""
    order = frame.sort_values(["window", "level", "total_kgco2e", "replicas"], kind="stable")
    keep = np.zeros(len(frame), dtype=bool)
    win = order["window"].to_numpy()
    lev = order["level"].to_numpy()
    ttft = order["p90_ttft_s"].to_numpy()
    tpot = order["p90_tpot_s"].to_numpy()
    miss = 1.0 - order["within_slo_share"].to_numpy()
    idx = order.index.to_numpy()
    start = 0
    n = len(order)
    while start < n:
        end = start
        while end < n and win[end] == win[start] and lev[end] == lev[start]:
            end += 1
        # Sorted by carbon: a candidate survives if no cheaper one is at least as good on all.
        best: list[tuple[float, float, float]] = []
        for i in range(start, end):
            dominated = any(a <= ttft[i] and b <= tpot[i] and d <= miss[i] for a, b, d in best)
            if not dominated:
                keep[idx[i]] = True
                best.append((ttft[i], tpot[i], miss[i]))
        start = end
    return frame[keep].reset_index(drop=True)


def prune_extra_replicas(frame: pd.DataFrame, coupling, soft_windows=()) -> pd.DataFrame:
    """Drop candidates that run more replicas than a cheaper one of the same window and cache
    level, by more than the most the extra replicas could save later.

    In a window that must meet the SLO (every candidate here already does), candidate j with
    n_j replicas is dominated by i of the same (window, level) with n_i < n_j when

        cost_i + (1 − ρ) · wear_i + (κ_{t+1} + 2η) · (n_j − n_i) ≤ cost_j

    with cost the model's per-candidate cost: fewer replicas now can cost at most the start of
    n_j − n_i replicas in the next window (κ_{t+1} each), two replica-change tie steps (η each),
    and the SSD wear the owned-drive charge may read instead of j's. Owned replicas and drives
    and every level-coupling row are no worse with fewer replicas, so the optimum and its
    schedule are unchanged (tested against the unpruned model). Soft windows keep every
    candidate (latency still matters there); an attainment budget, which reads every
    candidate's within-SLO share, does not call this."""
    from planner.optimize.coupling import TIE_REPLICA_CHANGE
    from planner.optimize.model import candidate_cost

    if frame.empty:
        return frame
    cp = coupling
    cost = candidate_cost(frame, cp)
    t = frame["window"].to_numpy()
    nxt = np.minimum(t + 1, max(len(cp.start_kg) - 1, 0))
    kappa = np.where(t + 1 < len(cp.start_kg), cp.start_kg[nxt] if len(cp.start_kg) else 0.0,
                     0.0)
    slope = kappa + 2 * TIE_REPLICA_CHANGE * cp.tie_eta
    wear = frame["emb_ssd_wear"].to_numpy() if "emb_ssd_wear" in frame and cp.owned else \
        np.zeros(len(frame))
    base = cost + (1 - cp.pool_return) * wear if cp.owned else cost
    n = frame["replicas"].to_numpy(dtype=float)
    keys = ["window", "level"] + (["prev_level"] if "prev_level" in frame.columns else [])
    order = np.lexsort([n] + [frame[k].to_numpy() for k in reversed(keys)])
    key_arr = np.stack([frame[k].to_numpy() for k in keys], axis=1)[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = np.any(key_arr[1:] != key_arr[:-1], axis=1)
    # Running minimum of (base − slope · n) within each group, over strictly earlier rows.
    score = (base - slope * n)[order]
    target = (cost - slope * n)[order]
    keep = np.ones(len(order), dtype=bool)
    best = np.inf
    for pos in range(len(order)):
        if new_group[pos]:
            best = np.inf
        if best <= target[pos]:
            keep[pos] = False
        best = min(best, score[pos])
    soft = np.isin(frame["window"].to_numpy(), np.asarray(list(soft_windows), dtype=int))
    mask = np.zeros(len(frame), dtype=bool)
    mask[order] = keep
    return frame[mask | soft].reset_index(drop=True)
