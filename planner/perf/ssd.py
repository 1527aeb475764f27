"""The SSD KV tier: loading a cached prefix or recomputing it (wear and power are carbon
accounting: :mod:`planner.carbon`).

Bandwidth of a replica of g GPUs striping its KV over d drives (DGX layout: d = g):
B_load = min(d · drive read, g · PCIe host-to-device), B_store = min(d · drive write, g · PCIe).

A hit of C cached tokens moves C · kv_bytes_per_token bytes. Engines that load KV layer by
layer (LMCache's layer-wise pipelining; Strati et al.'s overlap of KV loading and compute)
start layer ℓ of the new tokens as soon as layer ℓ of the prefix is in HBM, so loading and the
prefill of the n new tokens overlap:

    T_hit = max(T_load, T_new) + min(T_load, T_new) / L

(one layer of pipeline fill or drain). Recomputing instead costs T_full, the prefill of all
C + n tokens. Better than either, an engine can load only the first k cached tokens and
recompute the rest (computing from one end while loading from the other, as Cake does: Jin et
al., "Compute Or Load KV Cache? Why Not Both?", arXiv 2410.03065). With T_load(k) rising and
T_compute(k) (the prefill of the P − k tokens after k loaded ones) falling in k, the best k* is
where they cross; a request with C cached tokens loads k = min(C, k*). So more cached tokens
never make a prefill slower, and with a fast SSD tier k = C (load all).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _prefill_compute_s(prompt, k, t0, per_token, per_pair, per_ctx):
    n = prompt - k
    return t0 + per_token * n + per_pair * n * (k + (n + 1.0) / 2.0) + per_ctx * (n + k)


@njit(cache=True)
def _overlap_s(load, comp, layers):
    return max(load, comp) + min(load, comp) / layers


@njit(cache=True)
def best_loaded_tokens(prompt: float, cached: float, load_s_per_token: float,
                       t0: float, per_token: float, per_pair: float, per_ctx: float,
                       layers: int, wait_s: float = 0.0) -> tuple[float, float]:
    """(k, T): cached tokens to load and the prefill time, T = overlap of loading k tokens
    (after ``wait_s`` in the SSD queue) with computing the P − k others.

    Prefill compute after k loaded tokens is the closed form
    T_c(k) = t0 + a n + b n (k + (n + 1)/2) + c (n + k) with n = P − k (a per token, b per
    query-key pair, c per KV token read, all layers), so T_c falls as k grows while
    T_load(k) = wait + k · s rises; k* is their crossing, found by bisection.
    """
    cached = min(cached, prompt - 1.0)
    full = _prefill_compute_s(prompt, 0.0, t0, per_token, per_pair, per_ctx)
    if cached <= 0.0 or not np.isfinite(load_s_per_token):
        return 0.0, full
    if wait_s + cached * load_s_per_token <= _prefill_compute_s(prompt, cached, t0, per_token,
                                                                per_pair, per_ctx):
        k = cached
    else:
        lo, hi = 0.0, cached
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if wait_s + mid * load_s_per_token <= _prefill_compute_s(prompt, mid, t0, per_token,
                                                                     per_pair, per_ctx):
                lo = mid
            else:
                hi = mid
        k = lo
    if k <= 0.0:
        return 0.0, full
    total = _overlap_s(wait_s + k * load_s_per_token,
                       _prefill_compute_s(prompt, k, t0, per_token, per_pair, per_ctx), layers)
    # a queue wait can make loading anything slower than recomputing everything
    if total >= full:
        return 0.0, full
    return k, total
