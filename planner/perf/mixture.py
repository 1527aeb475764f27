"""Tail latency of a window whose load varies: a mixture of the profile's distributions.

The profile gives p50, p90 and p99 at a steady load. A window's requests arrive in bursts, so
its p90 is the p90 of a mixture: bucket k (rate r_k, share w_k of the requests) contributes the
latency distribution at r_k / n. Each component is taken as log-normal through its p50 and p90
(μ = ln p50, σ = (ln p90 − ln p50) / z₀.₉); the mixture's p90 solves Σ w_k Φ((ln x − μ_k)/σ_k)
= 0.9 and lies between the smallest and the largest component p90. Mean power and SSD traffic
mix by share of time.

The share of a window's requests within both SLOs (``within_slo_share`` of
:func:`lookup_buckets`) reads each bucket's distribution through all three of its percentiles
instead: the SLO lies near p90–p99, where a log-normal through p50 and p90 alone misses the
tail. It is the product of the TTFT and the TPOT shares: at a steady load the two are nearly
independent (a long prompt delays its own first token, the decode batch sets the TPOT of
everyone); what correlates them, load, is what the window's buckets separate.

A window colder than its trace once warm (a cache still warming) has its TTFT read as two
groups of requests, those that reuse and those that find nothing cached (``warm_share``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from planner.perf.profile import ProfileTable

Z90 = 1.2815515655446004
Z99 = 2.3263478740408408


@dataclass(frozen=True)
class WindowLookup:
    """Profile values of candidates whose load comes in buckets (arrays of length M)."""

    p90_ttft_s: np.ndarray
    p90_tpot_s: np.ndarray
    gpu_power_w: np.ndarray
    ssd_read_gbps: np.ndarray
    ssd_write_gbps: np.ndarray
    stable: np.ndarray              # every bucket with time in it is within capacity
    peak_load_fraction: np.ndarray  # largest load over capacity of a bucket with time in it
    within_slo_share: np.ndarray    # predicted share of requests within both SLOs (modelled)


def mixture_quantile(p50: np.ndarray, p90: np.ndarray, weights: np.ndarray,
                     q: float = 0.9, iterations: int = 60) -> np.ndarray:
    """Row-wise q-quantile of mixtures of log-normals given by their p50 and p90 (M × K)."""
    p50 = np.maximum(p50, 1e-12)
    p90 = np.maximum(p90, p50)
    mu = np.log(p50)
    sigma = np.maximum((np.log(p90) - mu) / Z90, 1e-9)
    w = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)
    used = w > 0
    big = np.where(used, np.log(p90), -np.inf).max(axis=1)
    small = np.where(used, np.log(p90), np.inf).min(axis=1)
    # The mixture's p90 lies in [min p90_k, max p90_k]; widen a little for other quantiles.
    lo = np.where(np.isfinite(small), small, 0.0) - 8.0 * (q != 0.9)
    hi = np.where(np.isfinite(big), big, 0.0) + 8.0 * (q != 0.9)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        cdf = (w * ndtr((mid[:, None] - mu) / sigma)).sum(axis=1)
        below = cdf < q
        new_lo = np.where(below, mid, lo)
        new_hi = np.where(below, hi, mid)
        # Each step is a function of (lo, hi) alone: once one changes neither (the bracket is
        # down to adjacent doubles, after about 50), the rest would not either.
        if np.array_equal(new_lo, lo) and np.array_equal(new_hi, hi):
            break
        lo, hi = new_lo, new_hi
    return np.exp((lo + hi) / 2)


def share_below(p50, p90, p99, limit: float) -> np.ndarray:
    """P(latency ≤ limit) of distributions given by their p50, p90 and p99 (elementwise).

    The normal score z is interpolated linearly in log latency between the three percentiles
    (z = 0, z₀.₉, z₀.₉₉) and extended beyond them with the nearest segment's slope: exact at
    the three percentiles the table holds, a log-normal between each pair, and monotone."""
    l50 = np.log(np.maximum(p50, 1e-12))
    l90 = np.maximum(np.log(np.maximum(p90, 1e-12)), l50)
    l99 = np.maximum(np.log(np.maximum(p99, 1e-12)), l90)
    x = np.log(limit)
    with np.errstate(over="ignore", invalid="ignore"):
        low = (x - l50) * (Z90 / np.maximum(l90 - l50, 1e-9))
        high = Z90 + (x - l90) * ((Z99 - Z90) / np.maximum(l99 - l90, 1e-9))
    return ndtr(np.where(x <= l90, low, high))


def lookup_buckets(profile: ProfileTable, rates: np.ndarray, request_share: np.ndarray,
                   time_share: np.ndarray, hit_rate, mean_input, mean_output,
                   slo_ttft_s: float, slo_tpot_s: float, warm_share=None) -> WindowLookup:
    """Profile values of M candidates whose load comes in K buckets (arrays M × K); hit rate
    and token mix per candidate (M). Stable only when every bucket with time in it is.

    ``warm_share`` (per candidate, M; None: 1 everywhere) splits the TTFT of a window colder
    than its trace once warm (:class:`planner.workload.curves.HitCurves`): the share φ of its
    requests reuses like the table's shape, at hit rate h / φ, and the rest finds nothing
    cached (hit rate 0). A cache that is still warming serves a request's prefix whole or not
    at all (whether it has seen it yet), while the table spreads a hit rate below the shape's
    reusable share over every reusing request (a cache too small keeps part of each one): at
    the same token hit rate the cold window's uncached prompts reach further into the tail.
    Each group is read at the bucket's utilisation (its rate over the capacity at h), as one
    queue serves both: the groups differ in their own prefill, not in the load they wait
    behind. p90 TPOT, power and SSD traffic stay those of the window's hit rate h."""
    M, K = rates.shape
    rep = lambda x: np.repeat(np.broadcast_to(np.asarray(x, dtype=float), (M,)), K)  # noqa: E731
    look = profile.lookup(rates.reshape(-1), rep(hit_rate), rep(mean_input), rep(mean_output))
    get = lambda a: np.asarray(a).reshape(M, K)  # noqa: E731
    timed = time_share > 0
    stable = np.all(get(look.stable) | ~timed, axis=1)
    peak = np.where(timed, get(look.load_fraction), 0.0).max(axis=1)
    tw = time_share / np.maximum(time_share.sum(axis=1, keepdims=True), 1e-300)
    # Buckets without requests cannot shape the latency percentiles; an idle window reads
    # its latency at its (zero) load.
    rw = np.where(request_share.sum(axis=1, keepdims=True) > 0, request_share, tw)
    rw = rw / np.maximum(rw.sum(axis=1, keepdims=True), 1e-300)
    p90_ttft = mixture_quantile(get(look.p50_ttft_s), get(look.p90_ttft_s), rw)
    ttft_ok = get(share_below(look.p50_ttft_s, look.p90_ttft_s, look.p99_ttft_s, slo_ttft_s))
    tpot_ok = get(share_below(look.p50_tpot_s, look.p90_tpot_s, look.p99_tpot_s, slo_tpot_s))
    if warm_share is not None:
        _split_cold(profile, look, get, rw, hit_rate, mean_input, mean_output, warm_share,
                    slo_ttft_s, p90_ttft, ttft_ok)
    return WindowLookup(
        p90_ttft_s=p90_ttft,
        p90_tpot_s=mixture_quantile(get(look.p50_tpot_s), get(look.p90_tpot_s), rw),
        gpu_power_w=(tw * get(look.gpu_power_w)).sum(axis=1),
        ssd_read_gbps=(tw * get(look.ssd_read_gbps)).sum(axis=1),
        ssd_write_gbps=(tw * get(look.ssd_write_gbps)).sum(axis=1),
        stable=stable,
        peak_load_fraction=peak,
        within_slo_share=np.clip((rw * ttft_ok * tpot_ok).sum(axis=1), 0.0, 1.0),
    )


def _split_cold(profile, look, get, rw, hit_rate, mean_input, mean_output, warm_share,
                slo_ttft_s, p90_ttft, ttft_ok) -> None:
    """The warm/cold TTFT split of :func:`lookup_buckets`, in place on ``p90_ttft`` (M) and
    ``ttft_ok`` (M × K) for the candidates with a warm share below 1 and a hit rate above 0."""
    M, K = rw.shape
    phi = np.broadcast_to(np.asarray(warm_share, dtype=float), (M,))
    hit = np.broadcast_to(np.asarray(hit_rate, dtype=float), (M,))
    s = np.flatnonzero((phi < 1.0) & (hit > 0.0))
    if not len(s):
        return
    mi = np.broadcast_to(np.asarray(mean_input, dtype=float), (M,))[s]
    mo = np.broadcast_to(np.asarray(mean_output, dtype=float), (M,))[s]
    u = get(look.load_fraction)[s]                                   # the buckets' utilisation
    warm_hit = np.where(phi[s] > 0, np.minimum(hit[s] / np.maximum(phi[s], 1e-300), 1.0),
                        hit[s])
    groups = []
    for h in (np.zeros(len(s)), warm_hit):
        cap = profile.capacity(h, mi, mo)
        g = profile.lookup((u * cap[:, None]).reshape(-1), np.repeat(h, K), np.repeat(mi, K),
                           np.repeat(mo, K))
        groups.append(g)
    cold, warm = groups
    w = phi[s][:, None]
    weights = np.concatenate([rw[s] * (1.0 - w), rw[s] * w], axis=1)
    shape = (len(s), K)
    p50 = np.concatenate([np.reshape(cold.p50_ttft_s, shape), np.reshape(warm.p50_ttft_s, shape)],
                         axis=1)
    p90 = np.concatenate([np.reshape(cold.p90_ttft_s, shape), np.reshape(warm.p90_ttft_s, shape)],
                         axis=1)
    p90_ttft[s] = mixture_quantile(p50, p90, weights)
    ok = lambda g: np.reshape(share_below(g.p50_ttft_s, g.p90_ttft_s, g.p99_ttft_s,  # noqa: E731
                                          slo_ttft_s), shape)
    ttft_ok[s] = (1.0 - w) * ok(cold) + w * ok(warm)
