"""Candidate configurations per window, with their predicted latency and carbon.

A candidate is (window t, replicas n, cache level c). Its load per replica is λ_t / n, its hit
rate H_t(c), its p90 latencies and GPU power come from the profile table, and its carbon from
carbon.py. Candidates whose replicas cannot keep up with the load (an unstable queue) are not
candidates at all: no SLO can hold there.

Headroom: a candidate whose busiest burst bucket loads its replicas beyond ``headroom`` of
their capacity (the table's load fraction) is dropped like an unstable one. Near capacity a
queue that a busy minute builds outlasts the minute, which the steady-state table cannot see.

Each candidate also carries ``within_slo_share``, the predicted (modelled) share of its
window's requests within both SLOs (:func:`planner.perf.mixture.lookup_buckets`), which the
attainment budget reads.

Cold starts (``warmup=True``): a window whose cache grew from level i to a larger level c
starts with only level i's content, so its hit rate is H_t(i→c) (``HitCurves.grown_token_hit``,
exact for LRU), lower than the warm H_t(c). Each such grow is a candidate of its own, with
``prev_level = i``; its latency, power, SSD writes and carbon are read at its own hit rate. The
writes include the fill of the new space: every miss is admitted (written) to the tier, and a
cold window's extra misses are exactly the bytes that fill the space it gained, so they reach
the SSD's wear through the write rate (``carbon.ssd_effective_lifetime_h``, ``emb_ssd_wear``).
Warm candidates (a cache that did not grow: same or smaller level, the first window) have
``prev_level = −1``; the transition rows of ``model.py`` decide which are choosable.

Pruning keeps, for each (t, c, prev_level), only the Pareto-optimal replica counts on (carbon,
p90 TTFT, p90 TPOT, within-SLO share). That is exact for every model the optimiser builds: the
objective and every constraint are monotone in those four numbers, and every coupling between
windows (a static cache, the warm-up transitions) reads c and prev_level, which the groups
keep apart.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from planner.catalog import Hardware
from planner.deployment import deployment_carbon, ssd_wear_kg
from planner.perf.mixture import lookup_buckets
from planner.perf.profile import ProfileTable
from planner.workload.curves import HitCurves
from planner.workload.windows import LoadBuckets

if TYPE_CHECKING:
    from planner.optimize.replica_bound import ReplicaBound

CANDIDATE_COLUMNS = (
    "window", "replicas", "level", "prev_level", "cache_gb", "prev_cache_gb", "gpus", "ssd_drives", "rate_per_replica",
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
    beyond_bound: int = 0      # replica counts the replica bound proves unneeded: not built


# Candidates are built and pruned a block of windows at a time (pruning never looks across
# windows), so memory follows the block, not the horizon: about this many rows per block.
BLOCK_ROWS = 200_000


def build_candidates(stats: pd.DataFrame, hits: HitCurves, ci: np.ndarray, profile: ProfileTable,
                     hw: Hardware, cache_levels_gb: np.ndarray, max_replicas: int,
                     slo_ttft_s: float, slo_tpot_s: float, *, headroom: float = 1.0,
                     prune: bool = True, buckets: LoadBuckets | None = None,
                     warmup: bool = False, bound: ReplicaBound | None = None,
                     only: pd.DataFrame | None = None) -> CandidateSet:
    """Enumerate (t, n, c) — and with ``warmup`` every grow (t ≥ 1, n, i → c) — look each up in
    the profile and account its carbon.

    With ``buckets`` (how the load varies inside each window) latency is the p90 of the
    mixture over the buckets' loads (:mod:`planner.perf.mixture`); without, every window is
    read at its mean rate. The SLOs set each candidate's within-SLO share; ``headroom`` is the
    largest load fraction a bucket may reach. ``cache_levels_gb`` must be ascending when
    ``warmup`` is set (level index order is size order).

    Replica counts beyond capacity or headroom are counted without a lookup; with ``bound``
    (and ``prune``), replica counts that :mod:`planner.optimize.replica_bound` proves the model
    never needs are not built either: each group's counts are built in increasing order, a
    few at a time, until the bound rules out the rest.

    ``only`` (rows of window, replicas, level, prev_level) restricts the table to those
    configurations, unpruned: the rows ``greencache check`` recomputes for a schedule, by the
    same arithmetic as the whole table. A configuration beyond capacity or headroom, or a grow
    that cannot exist (into the first window, to a smaller level), yields no row."""
    levels = np.asarray(cache_levels_gb, dtype=float)
    W, C, N = len(stats), len(levels), int(max_replicas)
    if hits.token_hit.shape != (W, C):
        raise ValueError("hit curves must have one row per window and one column per level")
    if buckets is None:
        lam = stats["rate_rps"].to_numpy(dtype=float)
        ones = np.ones((W, 1))
        buckets = LoadBuckets(lam[:, None], ones, ones, 0.0)
    mean_in, mean_out = window_token_mix(stats)
    peak_rate = busiest_rate(buckets)
    per_window = N * (C + (C * (C - 1) // 2 if warmup else 0))
    step = max(1, BLOCK_ROWS // max(per_window, 1))
    if only is not None:
        step = max(W, 1)    # a row or so per window: one block
    frames, unstable, pruned, over, skipped = [], 0, 0, 0, 0
    for w0 in range(0, W, step):
        t, c, prev, hit = _groups(hits, levels, range(w0, min(W, w0 + step)), warmup)
        wanted = None
        if only is not None:
            t, c, prev, hit, wanted = _only_groups((t, c, prev, hit), only, C, N)
        # Load fraction of n replicas: (busiest bucket's rate / n) / capacity, the lookup's own
        # expression (division is monotone, so the max over buckets commutes with it).
        cap = profile.capacity(hit, mean_in[t], mean_out[t])
        reps = np.arange(1, N + 1, dtype=float)
        load = (peak_rate[t][:, None] / reps[None, :]) / cap[:, None]
        stable = load <= 1.0 + 1e-9
        within = stable & (load <= headroom + 1e-9)
        unstable += int((~stable).sum())
        over += int((stable & ~within).sum())
        account = lambda g, n: _account(stats, (t[g], n, c[g], prev[g], hit[g]),  # noqa: E731
                                        levels, ci, profile, hw, buckets, slo_ttft_s,
                                        slo_tpot_s, mean_in, mean_out, headroom,
                                        hits.warm_share)
        if wanted is not None:
            g, n = np.nonzero(within & wanted)
            frame = account(g, n + 1)
        elif bound is None or not prune:
            g, n = np.nonzero(within)
            frame = account(g, n + 1)
        else:
            frame, beyond = _build_bounded(within, t, levels[c], account, bound, N)
            skipped += beyond
        frame = frame.iloc[np.lexsort((frame["prev_level"].to_numpy(), frame["level"].to_numpy(),
                                       frame["replicas"].to_numpy(),
                                       frame["window"].to_numpy()))].reset_index(drop=True)
        before = len(frame)
        if prune and before and only is None:
            frame = pareto_prune(frame)
        pruned += before - len(frame)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return CandidateSet(frame, unstable=unstable, pruned=pruned, max_replicas=N,
                        over_headroom=over, beyond_bound=skipped)


def _group_key(t, c, prev, C: int) -> np.ndarray:
    """One integer per (window, level, grown-from level), increasing in that order."""
    return (np.asarray(t, dtype=np.int64) * C + np.asarray(c, dtype=np.int64)) * (C + 1) \
        + np.asarray(prev, dtype=np.int64) + 1


def _only_groups(groups, only: pd.DataFrame, C: int, N: int):
    """The groups (t, c, prev_level, hit rate) that ``only`` names, and per kept group × N
    replica counts whether ``only`` asks for it."""
    t, c, prev, hit = groups
    key = _group_key(t, c, prev, C)          # increasing: _groups sorts by (t, c, prev)
    want = _group_key(only["window"].to_numpy(), only["level"].to_numpy(),
                      only["prev_level"].to_numpy(), C)
    reps = only["replicas"].to_numpy(dtype=np.int64)
    pos = np.minimum(np.searchsorted(key, want), len(key) - 1)   # a block has ≥ 1 group
    hit_group = (key[pos] == want) & (reps >= 1) & (reps <= N)
    kept = np.unique(pos[hit_group])
    wanted = np.zeros((len(kept), N), dtype=bool)
    wanted[np.searchsorted(kept, pos[hit_group]), reps[hit_group] - 1] = True
    return t[kept], c[kept], prev[kept], hit[kept], wanted


def _build_bounded(within: np.ndarray, t: np.ndarray, cache_gb: np.ndarray, account,
                   bound: ReplicaBound, N: int):
    """The candidates of the groups (rows of ``within``, groups × N) that the replica bound
    leaves, built in increasing replica order: 2, then 4, 8 … more per group each pass, until
    every group's remaining counts are ruled out. Returns the frame and how many were not
    built."""
    pending = within.copy()
    G = len(t)
    best = np.full(G, np.inf)
    least_total = np.full(G, np.inf)
    parts, take = [], 2
    while pending.any():
        # The next ``take`` pending counts of each group (pending counts are contiguous).
        rank = np.cumsum(pending, axis=1)
        g, n = np.nonzero(pending & (rank <= take))
        part = account(g, n + 1)
        parts.append(part)
        pending[g, n] = False
        score, total = bound.scores(part)
        np.minimum.at(best, g, score)
        np.minimum.at(least_total, g, total)
        open_ = np.flatnonzero(pending.any(axis=1) & np.isfinite(best))
        if len(open_):
            pending[open_] &= ~bound.beyond(t[open_], cache_gb[open_], best[open_],
                                            least_total[open_], N)
        take *= 2
    if not parts:   # no replica count carries any group's load
        parts.append(account(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return frame, int(within.sum()) - len(frame)


def _account(stats, rows, levels, ci, profile, hw, buckets, slo_ttft_s, slo_tpot_s, mean_in,
             mean_out, headroom, warm_share=None):
    """Profile look-up and carbon of the rows (t, n, c, prev_level, hit rate), which the caller
    has already found stable and within headroom: the candidate frame (rows the look-up itself
    finds otherwise are left out; it computes the same load fraction). ``warm_share``: per
    window, as :class:`planner.workload.curves.HitCurves` holds it (None: none)."""
    t, n, c, prev, hit = rows
    N = int(n.max()) if len(n) else 1
    lam = stats["rate_rps"].to_numpy(dtype=float)
    cache_gb = levels[c]
    rate = lam[t] / n
    # A cold start whose hit rate equals the warm one's reads the same profile point: look up
    # each distinct (window, replicas, hit rate) once.
    _, u, back = np.unique(np.column_stack([t * (N + 1) + n, hit]), axis=0,
                           return_index=True, return_inverse=True)
    look = lookup_buckets(profile, buckets.rate_rps[t[u]] / n[u][:, None],
                          buckets.request_share[t[u]], buckets.time_share[t[u]], hit[u],
                          mean_in[t[u]], mean_out[t[u]], slo_ttft_s, slo_tpot_s,
                          warm_share=None if warm_share is None else warm_share[t[u]])
    look = replace(look, **{f.name: np.asarray(getattr(look, f.name))[back.reshape(-1)]
                            for f in fields(look) if getattr(look, f.name) is not None})

    hours = stats["hours"].to_numpy(dtype=float)[t]
    br, drives, ssd_w, life, write_total = deployment_carbon(
        hw, hours, np.asarray(ci, dtype=float)[t], n, look.gpu_power_w, cache_gb,
        n * look.ssd_read_gbps, n * look.ssd_write_gbps)
    wear = ssd_wear_kg(hw, hours, cache_gb, write_total)
    frame = pd.DataFrame({
        "window": t, "replicas": n, "level": c, "prev_level": prev, "cache_gb": cache_gb,
        "prev_cache_gb": np.where(prev >= 0, levels[np.maximum(prev, 0)], np.nan),
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
    ok = np.asarray(look.stable, dtype=bool) & (np.asarray(look.peak_load_fraction)
                                                <= headroom + 1e-9)
    return frame if ok.all() else frame[ok].reset_index(drop=True)


def _groups(hits: HitCurves, levels: np.ndarray, windows: range, warmup: bool):
    """Groups (t, c, prev_level, hit rate) of ``windows``: every warm (t, c), and with
    ``warmup`` every grow i → c (levels[i] < levels[c]) into windows t ≥ 1, in (t, c, prev)
    order. Each group's candidates are its replica counts."""
    C = len(levels)
    ws = np.arange(windows.start, windows.stop)
    t = np.repeat(ws, C)
    c = np.tile(np.arange(C), len(ws))
    prev = np.full(len(t), -1, dtype=np.int64)
    hit = np.where(levels[c] > 0, hits.token_hit[t, c], 0.0)
    ws = ws[ws >= 1]
    if not warmup or len(ws) == 0:
        return t, c, prev, hit
    if hits.grown_token_hit is None:
        raise ValueError("cold-start candidates need the warm-up hit rates (warmup=True curves)")
    if np.any(np.diff(levels) <= 0):
        raise ValueError("cache levels must be ascending and distinct for cold starts")
    gi, gc = np.nonzero(np.arange(C)[:, None] < np.arange(C)[None, :])   # i < c: a grow
    tw = np.repeat(ws, len(gi))
    iw = np.tile(gi, len(ws))
    cw = np.tile(gc, len(ws))
    t, c = np.concatenate([t, tw]), np.concatenate([c, cw])
    prev = np.concatenate([prev, iw])
    hit = np.concatenate([hit, hits.grown_token_hit[tw, iw, cw]])
    order = np.lexsort((prev, c, t))
    return t[order], c[order], prev[order], hit[order]


def schedule_prev_levels(cache_gb, levels_gb, warmup: bool) -> np.ndarray:
    """prev_level of each window of a schedule (its cache sizes, GB): the level index of the
    window before where the cache grew (a cold start), −1 elsewhere and without warm-up."""
    cache_gb = np.asarray(cache_gb, dtype=float)
    prev = np.full(len(cache_gb), -1, dtype=np.int64)
    if not warmup or len(cache_gb) < 2:
        return prev
    idx = np.argmin(np.abs(np.asarray(levels_gb, dtype=float)[None, :] - cache_gb[:, None]),
                    axis=1)
    grew = np.r_[False, cache_gb[1:] > cache_gb[:-1] + 1e-9]
    prev[grew] = idx[np.flatnonzero(grew) - 1]
    return prev


def busiest_rate(buckets: LoadBuckets) -> np.ndarray:
    """Per window, the rate of its busiest bucket with time in it (0 when none has)."""
    return np.where(buckets.time_share > 0, buckets.rate_rps, 0.0).max(axis=1)


def window_token_mix(stats: pd.DataFrame):
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
    """Keep candidates not dominated within their (window, level, prev_level) group on
    (total carbon, p90 TTFT, p90 TPOT, 1 − within-SLO share), all to be minimised. Ties keep
    the fewer replicas.

    Sorted by (carbon, replicas) within each group, a candidate survives when no earlier one
    is at least as good on the other three (comparing with every earlier one is the same as
    comparing with the earlier survivors: dominance is transitive). The comparisons run as
    padded group × group blocks, a few thousand groups at a time."""
    group_by = [k for k in ("window", "level", "prev_level") if k in frame.columns]
    order = frame.sort_values(group_by + ["total_kgco2e", "replicas"], kind="stable")
    idx = order.index.to_numpy()
    gid = order[group_by].to_numpy(dtype=np.int64)
    n = len(order)
    keep = np.zeros(len(frame), dtype=bool)
    if n == 0:
        return frame
    start = np.flatnonzero(np.r_[True, np.any(gid[1:] != gid[:-1], axis=1)])
    size = np.diff(np.r_[start, n])
    width = int(size.max())
    group = np.repeat(np.arange(len(start)), size)
    pos = np.arange(n) - start[group]
    cols = []
    for values in (order["p90_ttft_s"].to_numpy(), order["p90_tpot_s"].to_numpy(),
                   1.0 - order["within_slo_share"].to_numpy()):
        grid = np.full((len(start), width), np.inf)
        grid[group, pos] = values
        cols.append(grid)
    earlier = np.tril(np.ones((width, width), dtype=bool), k=-1)   # [i, j]: j before i
    survives = np.zeros((len(start), width), dtype=bool)
    chunk = max(1, 2_000_000 // (width * width))
    for g0 in range(0, len(start), chunk):
        dom = earlier.copy()[None, :, :]
        for grid in cols:
            g = grid[g0:g0 + chunk]
            dom = dom & (g[:, None, :] <= g[:, :, None])
        survives[g0:g0 + chunk] = ~dom.any(axis=2)
    keep[idx] = survives[group, pos]
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
    group = np.cumsum(new_group) - 1
    running = pd.Series(score).groupby(group).cummin().to_numpy()
    earlier = np.where(new_group, np.inf, np.r_[np.inf, running[:-1]])
    keep = ~(earlier <= target)
    soft = np.isin(frame["window"].to_numpy(), np.asarray(list(soft_windows), dtype=int))
    mask = np.zeros(len(frame), dtype=bool)
    mask[order] = keep
    return frame[mask | soft].reset_index(drop=True)
