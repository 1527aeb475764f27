"""Direct prefix-cache simulations, one capacity schedule at a time: LRU and least carbon savings.

Both simulations follow the rules of the reference ``simulate_lru_prefix``: before request
``i`` the cache is resized to its capacity for that request (a grown cache gains empty space, a
shrunk one evicts by its policy down to the new size), the request is served its longest run of
cached leading blocks, then its blocks are referenced from last to first, each missing one
inserted and the policy's victim evicted while the cache is over capacity. A capacity of 0 holds
nothing.

LRU keeps a doubly linked recency list: O(1) per reference.

LCS ("least carbon savings", the eviction idea of GreenCache, Tian et al., arXiv 2505.23970;
the score below is our own) evicts the block whose net carbon savings are lowest. A cached
block ``b`` has, since it entered the cache,

* saved ``S_b`` gCO2e: every time it was served from the cache, its tokens were not prefilled:
  ``S_b += tokens · E_prefill · PUE · CI_t / 3.6e6`` (J per token, gCO2e per kWh at that
  request's window ``t``);
* cost ``k · (now - t_b)`` gCO2e for the SSD space it has held idle since its last use ``t_b``,
  with ``k = bytes_per_block / 1e9 · e_ssd / 3600`` (gCO2e per GB-hour of amortised embodied
  carbon, per second).

Its net saving ``S_b - k·(now - t_b)`` falls at the same rate ``k`` for every block, so the order
between blocks never changes while they sit unused, and the block with the least net saving is
the one with the smallest *break-even time* ``t_b + S_b / k``: the moment its idle storage will
have cost what its hits saved. That static key makes the policy an indexed binary heap, O(log
n) per reference. Ties (blocks never hit, inserted by the same request) go to the earliest
reference, so a request's deeper blocks leave before their parents, as under LRU.

Both kernels accept a weight per block (``1 / π`` of a spatial sample): a kept block then fills
``1 / π`` units of capacity and stands for ``1 / π`` blocks' tokens, which turns them into the
miniature simulations of Waldspurger et al. (USENIX ATC'17) for sampled curves.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from planner.choices import POLICIES
from planner.errors import InputDataError, UsageError
from planner.workload.stackdist import block_positions, dense_block_ids, dense_codes
from planner.workload.trace import Trace

J_PER_KWH = 3.6e6


@dataclass(frozen=True, eq=False)
class LcsParams:
    """What the least-carbon-savings score needs, in plain units.

    ``kv_bytes_per_token``: KV-cache bytes one token occupies on the SSD
    (``load_catalog().model(key).kv_bytes_per_token()``); ``ssd_embodied_g_per_gb_h``: embodied
    gCO2e of one GB of SSD amortised per hour of holding it (catalog kg/GB ÷ lifetime hours ×
    1000); ``prefill_j_per_token``: GPU (and host) energy to prefill one prompt token, J;
    ``pue``: facility overhead on that energy; ``ci_g_per_kwh``: grid carbon intensity, one
    value for the whole trace or one per window (indexed by ``request_window``).
    """

    kv_bytes_per_token: float
    ssd_embodied_g_per_gb_h: float
    prefill_j_per_token: float
    pue: float
    ci_g_per_kwh: float | tuple[float, ...] | np.ndarray

    def __post_init__(self):
        for name in ("kv_bytes_per_token", "ssd_embodied_g_per_gb_h", "prefill_j_per_token",
                     "pue"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputDataError(f"LCS parameter {name} must be a positive number, got {v!r}")
        if self.pue < 1:
            raise InputDataError(f"LCS parameter pue must be at least 1, got {self.pue}")
        ci = np.atleast_1d(np.asarray(self.ci_g_per_kwh, dtype=np.float64))
        if ci.ndim != 1 or len(ci) == 0 or np.any(~np.isfinite(ci)) or np.any(ci < 0):
            raise InputDataError("LCS carbon intensity must be one or more numbers ≥ 0 gCO2e/kWh")

    def holding_g_per_block_s(self, block_tokens: int) -> float:
        """Embodied gCO2e one cached block costs per second held."""
        gb = self.kv_bytes_per_token * block_tokens / 1e9
        return gb * self.ssd_embodied_g_per_gb_h / 3600.0

    def saving_g_per_token(self, request_window: np.ndarray | None, n: int) -> np.ndarray:
        """Operational gCO2e one prompt token served from cache saves, per request."""
        ci = np.atleast_1d(np.asarray(self.ci_g_per_kwh, dtype=np.float64))
        if len(ci) == 1:
            per_request = np.full(n, ci[0])
        else:
            if request_window is None:
                raise UsageError("a carbon intensity per window needs request_window")
            w = np.asarray(request_window, dtype=np.int64)
            if w.max(initial=0) >= len(ci):
                raise InputDataError(
                    f"LCS carbon intensity has {len(ci)} values but the trace spans "
                    f"{int(w.max()) + 1} windows")
            # Requests outside every window (-1) still use the cache: give them window 0's CI.
            per_request = ci[np.maximum(w, 0)]
        return self.prefill_j_per_token * self.pue * per_request / J_PER_KWH

    def break_even_hours(self, block_tokens: int, ci: float) -> float:
        """How long one hit on a full block pays for holding it idle (for reports)."""
        saved = block_tokens * self.prefill_j_per_token * self.pue * ci / J_PER_KWH
        return saved / self.holding_g_per_block_s(block_tokens) / 3600.0


# Model FLOP utilisation of prefill in the default energy estimate: constants.md's bf16 rule of
# thumb (tokens/s/GPU ≈ MFU × peak / (2 × parameters), 45 %).
PREFILL_MFU = 0.45


def estimate_prefill_j_per_token(params_b: float, gpu_bf16_tflops: float, gpu_tdp_w: float,
                                 mfu: float = PREFILL_MFU) -> float:
    """Rough GPU energy per prefilled token: ``2·P / (MFU · peak FLOP/s) · TDP`` (J).

    Prefill is compute-bound, so a GPU runs near its power cap and processes
    ``MFU · peak / (2·P)`` tokens per second (2 FLOPs per parameter per token). A default for
    the CLI only: the planner passes its latency-and-power model's figure instead.
    """
    return 2.0 * params_b * 1e9 / (mfu * gpu_bf16_tflops * 1e12) * gpu_tdp_w


def lcs_params_from_catalog(model: str, ssd: str, ci_g_per_kwh, *, gpu: str = "h100-sxm",
                            prefill_j_per_token: float | None = None, level: str = "central",
                            pue: float | None = None, catalog=None) -> LcsParams:
    """LcsParams from the hardware catalog: KV bytes of ``model``, embodied carbon of ``ssd``
    (kg/GB at ``level``, amortised over its lifetime), the catalog's PUE, and the prefill energy
    given or estimated (``estimate_prefill_j_per_token`` on ``gpu``)."""
    from planner.catalog import HOURS_PER_YEAR, load_catalog

    cat = catalog or load_catalog()
    m, s, g = cat.model(model), cat.ssd(ssd), cat.gpu(gpu)
    g_per_gb_h = (s.q["embodied_kgco2e_per_gb"].pick(level) * 1000.0
                  / (s.q["lifetime_years"].central * HOURS_PER_YEAR))
    if prefill_j_per_token is None:
        prefill_j_per_token = estimate_prefill_j_per_token(m.params_b, g.bf16_tflops, g.tdp_w)
    return LcsParams(kv_bytes_per_token=float(m.kv_bytes_per_token()),
                     ssd_embodied_g_per_gb_h=float(g_per_gb_h),
                     prefill_j_per_token=float(prefill_j_per_token),
                     pue=float(cat.pue.central if pue is None else pue),
                     ci_g_per_kwh=ci_g_per_kwh)


# ------------------------------------------------------------------------------------------
# kernels
# ------------------------------------------------------------------------------------------

@numba.njit(cache=True)
def _served(n_in, pos, block_tokens):
    tok = n_in - pos * block_tokens
    if tok > block_tokens:
        return block_tokens
    if tok < 0:
        return 0
    return tok


@numba.njit(cache=True, nogil=True)
def _lru_kernel(offsets, ref_ids, ref_pos, input_tokens, block_tokens, capacity, weight,
                n_unique, hit_tokens, hit_first):
    """LRU with a capacity per request; ``hit_tokens[i]``, ``hit_first[i]`` out (weighted)."""
    nxt = np.full(n_unique, -1, dtype=np.int64)   # towards the LRU end
    prv = np.full(n_unique, -1, dtype=np.int64)   # towards the MRU end
    cached = np.zeros(n_unique, dtype=np.bool_)
    head = -1  # most recent
    tail = -1  # least recent
    used = 0.0
    n_req = offsets.shape[0] - 1
    for i in range(n_req):
        cap = capacity[i]
        while used > cap and tail >= 0:
            v = tail
            tail = prv[v]
            if tail >= 0:
                nxt[tail] = -1
            else:
                head = -1
            cached[v] = False
            used -= weight[v]
        a = offsets[i]
        b = offsets[i + 1]
        for r in range(a, b):
            u = ref_ids[r]
            if not cached[u]:
                break
            hit_tokens[i] += _served(input_tokens[i], ref_pos[r], block_tokens) * weight[u]
            if ref_pos[r] == 0:
                hit_first[i] += weight[u]
        if cap <= 0.0:
            continue
        for r in range(b - 1, a - 1, -1):
            u = ref_ids[r]
            if cached[u]:
                if head == u:
                    continue
                # unlink
                p = prv[u]
                q = nxt[u]
                nxt[p] = q
                if q >= 0:
                    prv[q] = p
                else:
                    tail = p
            else:
                cached[u] = True
                used += weight[u]
            prv[u] = -1
            nxt[u] = head
            if head >= 0:
                prv[head] = u
            head = u
            if tail < 0:
                tail = u
            while used > cap and tail >= 0:
                v = tail
                tail = prv[v]
                if tail >= 0:
                    nxt[tail] = -1
                else:
                    head = -1
                cached[v] = False
                used -= weight[v]


@numba.njit(cache=True)
def _less(key, seq, x, y):
    return key[x] < key[y] or (key[x] == key[y] and seq[x] < seq[y])


@numba.njit(cache=True)
def _sift_up(heap, hpos, key, seq, j):
    x = heap[j]
    while j > 0:
        parent = (j - 1) >> 1
        y = heap[parent]
        if not _less(key, seq, x, y):
            break
        heap[j] = y
        hpos[y] = j
        j = parent
    heap[j] = x
    hpos[x] = j


@numba.njit(cache=True)
def _sift_down(heap, hpos, key, seq, j, size):
    x = heap[j]
    while True:
        c = 2 * j + 1
        if c >= size:
            break
        if c + 1 < size and _less(key, seq, heap[c + 1], heap[c]):
            c += 1
        y = heap[c]
        if not _less(key, seq, y, x):
            break
        heap[j] = y
        hpos[y] = j
        j = c
    heap[j] = x
    hpos[x] = j


@numba.njit(cache=True, nogil=True)
def _lcs_kernel(offsets, ref_ids, ref_pos, input_tokens, arrival_s, block_tokens, capacity,
                weight, n_unique, saving_per_token, holding_per_s, hit_tokens, hit_first):
    """Least carbon savings with a capacity per request (module docstring); same outputs."""
    heap = np.empty(n_unique, dtype=np.int64)
    hpos = np.full(n_unique, -1, dtype=np.int64)
    key = np.zeros(n_unique)        # break-even time t_b + S_b / k, seconds
    last = np.zeros(n_unique)       # t_b, the block's last use
    seq = np.zeros(n_unique, dtype=np.int64)
    saved = np.zeros(n_unique)      # gCO2e saved since the block entered the cache
    size = 0
    used = 0.0
    counter = 0
    inv_k = 1.0 / holding_per_s
    n_req = offsets.shape[0] - 1
    for i in range(n_req):
        cap = capacity[i]
        now = arrival_s[i]
        while used > cap and size > 0:
            v = heap[0]
            size -= 1
            hpos[v] = -1
            used -= weight[v]
            if size > 0:
                heap[0] = heap[size]
                hpos[heap[0]] = 0
                _sift_down(heap, hpos, key, seq, 0, size)
        a = offsets[i]
        b = offsets[i + 1]
        for r in range(a, b):
            u = ref_ids[r]
            if hpos[u] < 0:
                break
            tok = _served(input_tokens[i], ref_pos[r], block_tokens)
            hit_tokens[i] += tok * weight[u]
            if ref_pos[r] == 0:
                hit_first[i] += weight[u]
            saved[u] += tok * saving_per_token[i]
            # The hit has happened: its saving counts before this request inserts anything.
            key[u] = last[u] + saved[u] * inv_k
            _sift_down(heap, hpos, key, seq, hpos[u], size)
        if cap <= 0.0:
            continue
        for r in range(b - 1, a - 1, -1):
            u = ref_ids[r]
            counter += 1
            if hpos[u] >= 0:
                # Savings only grow and time only advances: the key can only rise.
                last[u] = now
                key[u] = now + saved[u] * inv_k
                seq[u] = counter
                _sift_down(heap, hpos, key, seq, hpos[u], size)
            else:
                saved[u] = 0.0
                last[u] = now
                key[u] = now
                seq[u] = counter
                heap[size] = u
                hpos[u] = size
                size += 1
                _sift_up(heap, hpos, key, seq, size - 1)
                used += weight[u]
            while used > cap and size > 0:
                v = heap[0]
                size -= 1
                hpos[v] = -1
                used -= weight[v]
                if size > 0:
                    heap[0] = heap[size]
                    hpos[heap[0]] = 0
                    _sift_down(heap, hpos, key, seq, 0, size)


# ------------------------------------------------------------------------------------------
# drivers
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PreparedRefs:
    """A trace's block references in the form the kernels read (dense ids, positions)."""

    offsets: np.ndarray
    ref_ids: np.ndarray
    ref_pos: np.ndarray
    n_unique: int
    weight: np.ndarray


def prepare_refs(trace: Trace) -> PreparedRefs:
    ids, n_unique = dense_codes(trace.block_ids)
    offsets = np.asarray(trace.block_offsets, dtype=np.int64)
    # Every block weighs 1: one number read through a zero stride, not 8 bytes a block.
    return PreparedRefs(offsets, ids, block_positions(offsets), n_unique,
                        np.broadcast_to(np.float64(1.0), (n_unique,)))


def run_policy(refs: PreparedRefs, trace: Trace, capacity: np.ndarray, policy: str,
               saving_per_token: np.ndarray | None = None, holding_per_s: float = 0.0):
    """Weighted hit tokens and first-block hits per request under one capacity schedule."""
    n = len(trace)
    hit_tokens = np.zeros(n)
    hit_first = np.zeros(n)
    capacity = np.asarray(capacity, dtype=np.float64)
    inp = np.asarray(trace.input_tokens, dtype=np.int64)
    bt = np.int64(trace.block_tokens)
    if policy == "lru":
        _lru_kernel(refs.offsets, refs.ref_ids, refs.ref_pos, inp, bt, capacity, refs.weight,
                    refs.n_unique, hit_tokens, hit_first)
    elif policy == "lcs":
        _lcs_kernel(refs.offsets, refs.ref_ids, refs.ref_pos, inp,
                    np.asarray(trace.arrival_s, dtype=np.float64), bt, capacity, refs.weight,
                    refs.n_unique, np.asarray(saving_per_token, dtype=np.float64),
                    float(holding_per_s), hit_tokens, hit_first)
    else:
        raise UsageError(f"unknown eviction policy {policy!r}; choose one of {', '.join(POLICIES)}")
    return hit_tokens, hit_first


def sampled_refs(trace: Trace, sample_rate: float, seed: int = 0) -> PreparedRefs:
    """The references of a stratified spatial sample (``shards.py``), weighted ``1 / π``."""
    from planner.workload.shards import in_spatial_sample, inclusion_rates

    offsets = np.asarray(trace.block_offsets, dtype=np.int64)
    codes, uniques = dense_block_ids(trace.block_ids)
    pos = block_positions(offsets)
    pi, _ = inclusion_rates(codes, len(uniques), pos == 0, sample_rate)
    keep_ref = in_spatial_sample(uniques, pi, seed)[codes]
    kept = np.concatenate(([0], np.cumsum(keep_ref, dtype=np.int64)))
    sub_ids, sub_uniques = dense_block_ids(codes[keep_ref])
    return PreparedRefs(kept[offsets], sub_ids, pos[keep_ref], len(sub_uniques),
                        1.0 / pi[sub_uniques])


def policy_window_hits(trace: Trace, request_window: np.ndarray, n_windows: int,
                       caps_blocks: np.ndarray, policy: str, lcs: LcsParams | None = None,
                       sample_rate: float | None = None, progress=None):
    """Hit tokens and hit requests per (window, capacity), one simulation per capacity.

    Capacities run in parallel threads (the kernels release the GIL); each result depends on
    its capacity alone, so the output does not depend on the thread count.
    """
    window = np.asarray(request_window, dtype=np.int64)
    refs = prepare_refs(trace) if sample_rate is None else sampled_refs(trace, sample_rate)
    saving, holding = None, 0.0
    if policy == "lcs":
        if lcs is None:
            raise UsageError("the lcs policy needs its parameters (LcsParams)")
        saving = lcs.saving_g_per_token(window, len(trace))
        holding = lcs.holding_g_per_block_s(trace.block_tokens)
    keep = window >= 0
    caps = np.asarray(caps_blocks, dtype=np.float64)
    tok = np.zeros((n_windows, len(caps)))
    req = np.zeros((n_windows, len(caps)))
    n_refs = int(refs.offsets[-1])

    def one(c):
        capacity = np.full(len(trace), caps[c])
        return c, run_policy(refs, trace, capacity, policy, saving, holding)

    done = 0
    with ThreadPoolExecutor(max_workers=max(1, min(len(caps), os.cpu_count() or 1))) as pool:
        for c, (hit_tokens, hit_first) in pool.map(one, range(len(caps))):
            tok[:, c] = np.bincount(window[keep], weights=hit_tokens[keep], minlength=n_windows)
            req[:, c] = np.bincount(window[keep], weights=hit_first[keep], minlength=n_windows)
            done += 1
            if progress is not None:
                progress(done * n_refs, len(caps) * n_refs)
    return tok, req


def capacity_per_request(trace: Trace, capacity_blocks, request_window=None) -> np.ndarray:
    """One capacity (in blocks) per request from a scalar, a per-request or a per-window array.

    An array as long as the trace is per request unless ``request_window`` is given; with
    ``request_window`` an array is per window and request ``i`` gets
    ``capacity_blocks[request_window[i]]`` (requests outside every window, ``-1``, get window 0's).
    """
    n = len(trace)
    caps = np.asarray(capacity_blocks, dtype=np.float64)
    if np.any(~np.isfinite(caps)) or np.any(caps < 0):
        raise UsageError("cache capacities must be finite numbers of blocks ≥ 0")
    if caps.ndim == 0:
        return np.full(n, float(caps))
    if request_window is not None:
        w = np.asarray(request_window, dtype=np.int64)
        if len(w) != n:
            raise ValueError("request_window needs one entry per request")
        if len(w) and w.max() >= len(caps):
            raise UsageError(f"{len(caps)} window capacities given but the trace spans "
                             f"{int(w.max()) + 1} windows")
        return caps[np.maximum(w, 0)]
    if len(caps) != n:
        raise UsageError(f"give one capacity per request ({n}) or per window with "
                         f"request_window, not {len(caps)}")
    return caps


def simulate_cache(trace: Trace, capacity_blocks, *, request_window: np.ndarray | None = None,
                   policy: str = "lru", lcs: LcsParams | None = None) -> np.ndarray:
    """Cached prefix tokens of every request when the cache follows a capacity schedule.

    ``capacity_blocks``: the cache size in blocks of ``trace.block_tokens`` tokens, as one
    number, one per request, or one per window together with ``request_window`` (the
    ``Windowing.request_window`` of the schedule's windows). Before request ``i`` the cache is
    resized to its capacity: a grown cache starts its new space empty, a shrunk cache evicts by
    its policy down to the new size. ``policy`` is ``"lru"`` or ``"lcs"`` (least carbon savings,
    which needs ``lcs``; its per-window carbon intensity is indexed by ``request_window``).

    Returns an int64 array: the prompt tokens of each request served from the cache (its longest
    cached prefix, the last block counted for the tokens it holds).
    """
    if not trace.has_prefixes:
        raise InputDataError(
            f"trace {trace.name} has no prefix blocks; synthesise them with the reuse model "
            "(synthesize_prefixes) before simulating the cache")
    if policy not in POLICIES:
        raise UsageError(f"unknown eviction policy {policy!r}; choose one of {', '.join(POLICIES)}")
    capacity = capacity_per_request(trace, capacity_blocks, request_window)
    refs = prepare_refs(trace)
    saving = holding = None
    if policy == "lcs":
        if lcs is None:
            raise UsageError("the lcs policy needs its parameters (LcsParams)")
        saving = lcs.saving_g_per_token(request_window, len(trace))
        holding = lcs.holding_g_per_block_s(trace.block_tokens)
    hit_tokens, _ = run_policy(refs, trace, np.floor(capacity), policy, saving, holding or 0.0)
    return np.rint(hit_tokens).astype(np.int64)
