"""Tail latency of a window whose load varies: a mixture of the profile's distributions.

The profile gives p50 and p90 at a steady load. A window's requests arrive in bursts, so its
p90 is the p90 of a mixture: bucket k (rate r_k, share w_k of the requests) contributes the
latency distribution at r_k / n. Each component is taken as log-normal through its p50 and p90
(μ = ln p50, σ = (ln p90 − ln p50) / z₀.₉); the mixture's p90 solves Σ w_k Φ((ln x − μ_k)/σ_k)
= 0.9 and lies between the smallest and the largest component p90. Mean power and SSD traffic
mix by share of time.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from planner.perf.profile import ProfileLookup, ProfileTable

Z90 = 1.2815515655446004


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
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return np.exp((lo + hi) / 2)


def lookup_buckets(profile: ProfileTable, rates: np.ndarray, request_share: np.ndarray,
                   time_share: np.ndarray, hit_rate, mean_input, mean_output) -> ProfileLookup:
    """Profile values of M candidates whose load comes in K buckets (arrays M × K); hit rate
    and token mix per candidate (M). Stable only when every bucket with time in it is."""
    M, K = rates.shape
    rep = lambda x: np.repeat(np.broadcast_to(np.asarray(x, dtype=float), (M,)), K)  # noqa: E731
    look = profile.lookup(rates.reshape(-1), rep(hit_rate), rep(mean_input), rep(mean_output))
    get = lambda a: np.asarray(a).reshape(M, K)  # noqa: E731
    stable = np.all(get(look.stable) | (time_share <= 0), axis=1)
    tw = time_share / np.maximum(time_share.sum(axis=1, keepdims=True), 1e-300)
    # Buckets without requests cannot shape the latency percentiles; an idle window reads
    # its latency at its (zero) load.
    rw = np.where(request_share.sum(axis=1, keepdims=True) > 0, request_share, tw)
    return ProfileLookup(
        p90_ttft_s=mixture_quantile(get(look.p50_ttft_s), get(look.p90_ttft_s), rw),
        p90_tpot_s=mixture_quantile(get(look.p50_tpot_s), get(look.p90_tpot_s), rw),
        gpu_power_w=(tw * get(look.gpu_power_w)).sum(axis=1),
        ssd_read_gbps=(tw * get(look.ssd_read_gbps)).sum(axis=1),
        ssd_write_gbps=(tw * get(look.ssd_write_gbps)).sum(axis=1),
        stable=stable,
    )
