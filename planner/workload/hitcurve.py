"""Per-window KV-cache hit rates for a list of cache capacities.

Prefix caching serves the longest cached prefix of a request's blocks. A request's blocks are
accessed from last to first, so a block's parent is always more recent than the block: the
cached blocks of a request then always form a prefix, and the inclusion property of LRU holds
(a larger cache holds a superset), which is what lets one pass give every capacity at once.

The cache state carries over from one window to the next: the curve of window ``t`` is the hit
rate its requests see in a cache of that capacity that has served every earlier request.

``window_hit_curves`` is the entry point the planner calls; ``simulate_lru_prefix`` is the plain
reference simulation that the fast methods are tested against.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numpy as np

from planner.choices import POLICIES
from planner.errors import InputDataError, UsageError
from planner.workload.curves import HitCurves
from planner.workload.eviction import LcsParams, policy_window_hits, simulate_cache
from planner.workload.reuse_model import synthesize_prefixes
from planner.workload.shards import shards_hits
from planner.workload.stackdist import block_positions, dense_codes, stack_histograms
from planner.workload.trace import PREFIX_MODELLED, Trace
from planner.workload.warmup import trace_warmup_histograms

SOURCE_TRACE_EXACT = "trace-lru-exact"
SOURCE_REUSE_CURVE = "modelled-reuse-curve"

# Re-exported: the planner reaches every cache-reuse entry point through this module.
__all__ = ["HitCurves", "LcsParams", "simulate_cache", "simulate_lru_prefix",
           "synthesize_prefixes", "window_hit_curves"]

# Requests per chunk when the curves' denominators are summed.
RATE_CHUNK = 1 << 20

# progress(done, total): called between chunks of a long pass (the CLI drives a bar with it).
Progress = Callable[[int, int], None]


def capacity_blocks(capacities_tokens, block_tokens: int) -> np.ndarray:
    """Whole blocks that fit in each capacity (a partial block cannot be cached)."""
    return np.asarray(capacities_tokens, dtype=np.int64) // int(block_tokens)


def simulate_lru_prefix(trace: Trace, window_index: np.ndarray, n_windows: int,
                        capacities_tokens) -> HitCurves:
    """Reference: a direct LRU simulation, one capacity at a time.

    Slow (a Python dict operation per block reference and capacity) and kept deliberately
    plain: it is the yardstick that faster curve algorithms are tested against.
    """
    if not trace.has_prefixes:
        raise ValueError("trace has no prefix blocks")
    caps_tokens = np.asarray(capacities_tokens, dtype=np.int64)
    caps = capacity_blocks(caps_tokens, trace.block_tokens)
    hit_tokens = np.zeros((n_windows, len(caps)))
    hit_reqs = np.zeros((n_windows, len(caps)))
    prompt_tokens = np.bincount(window_index[window_index >= 0],
                                weights=trace.input_tokens[window_index >= 0],
                                minlength=n_windows)
    requests = np.bincount(window_index[window_index >= 0], minlength=n_windows)
    for ci, cap in enumerate(caps):
        cache: OrderedDict[int, None] = OrderedDict()
        for i in range(len(trace)):
            blocks = trace.blocks_of(i)
            j = 0
            while j < len(blocks) and int(blocks[j]) in cache:
                j += 1
            w = window_index[i]
            if w >= 0 and j:
                hit_tokens[w, ci] += min(j * trace.block_tokens, int(trace.input_tokens[i]))
                hit_reqs[w, ci] += 1
            if cap == 0:
                continue
            for b in blocks[::-1]:
                b = int(b)
                if b in cache:
                    cache.move_to_end(b)
                else:
                    cache[b] = None
                    if len(cache) > cap:
                        cache.popitem(last=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        token_hit = np.where(prompt_tokens[:, None] > 0, hit_tokens / prompt_tokens[:, None], 0.0)
        request_hit = np.where(requests[:, None] > 0, hit_reqs / requests[:, None], 0.0)
    return HitCurves(caps_tokens, token_hit, request_hit, SOURCE_TRACE_EXACT, modelled=False)


def window_hit_curves(trace: Trace, request_window: np.ndarray, n_windows: int,
                      capacities_tokens, *, policy: str = "lru", sample_rate: float | None = None,
                      lcs: LcsParams | None = None,
                      progress: Progress | None = None, warmup: bool = False) -> HitCurves:
    """Token and request hit rate of every window at every capacity, cache state carried over.

    ``request_window[i]`` is the window of request ``i`` (``Windowing.request_window``; ``-1``
    leaves a request out of every window while it still warms the cache) and ``n_windows`` the
    number of windows. ``capacities_tokens`` are cache sizes in tokens; a capacity holds
    ``capacity // trace.block_tokens`` whole blocks.

    ``policy="lru"`` with ``sample_rate=None`` is exact: one Mattson stack-distance pass
    (``stackdist.py``), identical to ``simulate_lru_prefix``. With ``sample_rate`` in (0, 1] the
    pass runs on a stratified spatially hashed sample of the blocks (SHARDS, ``shards.py``): an
    estimate, labelled ``trace-lru-shards-<rate>%``.

    ``policy="lcs"`` (least carbon savings, ``eviction.py``) needs ``lcs`` (``LcsParams``: KV
    bytes per token, SSD embodied gCO2e per GB-hour, prefill J per token, PUE, carbon intensity
    per window) and runs one direct simulation per capacity (``trace-lcs``); with
    ``sample_rate`` each is a miniature simulation on the same stratified sample
    (``trace-lcs-shards-<rate>%``). ``lcs`` is ignored under LRU.

    The result's ``source`` names the method (``trace-lru-exact``) and ``modelled`` is true when
    the trace's prefixes were synthesised by the reuse model rather than recorded.

    ``warmup=True`` also gives ``grown_token_hit`` / ``grown_request_hit``, the hit rates of a
    window whose cache grew (:mod:`planner.workload.warmup`): under exact LRU from the same one
    pass that gives the curves; under LCS, which has no such pass, the LCS curve less the LRU
    warm-up deficit of the same trace (modelled, in the notes). Sampled curves have none.
    """
    caps_tokens, caps_blocks = _check_inputs(trace, request_window, n_windows, capacities_tokens)
    if policy not in POLICIES:
        raise UsageError(f"unknown eviction policy {policy!r}; choose one of {', '.join(POLICIES)}")
    check_sample_rate(sample_rate)
    window = np.asarray(request_window, dtype=np.int64)
    thresholds, back = _sorted_thresholds(caps_blocks)
    notes = _notes(trace)
    if warmup and sample_rate is not None:
        raise UsageError("warm-up hit rates come from the exact pass only; leave the sampling "
                         "rate unset")
    grown = None
    if policy == "lcs":
        if lcs is None:
            raise UsageError("the lcs policy needs its parameters (LcsParams)")
        hit_tokens, hit_reqs = policy_window_hits(trace, window, n_windows, thresholds, "lcs",
                                                  lcs, sample_rate, progress)
        if sample_rate is not None:
            notes += (f"miniature LCS simulations on a {rate_label(sample_rate)} stratified "
                      "spatial sample",)
    elif sample_rate is None and warmup:
        grown = trace_warmup_histograms(trace, window, n_windows, thresholds)
        hit_tokens, hit_reqs = grown.warm_token_hits, grown.warm_request_hits
    elif sample_rate is None:
        ids, n_unique = dense_codes(trace.block_ids)
        pos = block_positions(trace.block_offsets)
        hist = stack_histograms(trace.block_offsets, ids, pos, n_unique, trace.input_tokens,
                                window, n_windows, trace.block_tokens, thresholds,
                                progress=progress)
        hit_tokens, hit_reqs = hist.token_hits, hist.request_hits
    else:
        hit_tokens, hit_reqs, r_eff, kept = shards_hits(
            trace.block_offsets, trace.block_ids, trace.input_tokens, window, n_windows,
            trace.block_tokens, thresholds, sample_rate, progress=progress)
        notes += (f"SHARDS estimate: blocks sampled at {r_eff:.4%} plus the hottest blocks "
                  f"kept whole ({kept:.2%} of the references)",)
    token_hit, request_hit = _rates(trace, window, n_windows, hit_tokens[:, back],
                                    hit_reqs[:, back])
    grown_tok = grown_req = None
    if warmup:
        if grown is None:  # LCS: the LRU pass supplies the deficit
            grown = trace_warmup_histograms(trace, window, n_windows, thresholds)
        grown_tok, grown_req = _grown_rates(trace, window, n_windows, grown, back)
        if policy == "lcs":
            lru_tok, lru_req = _rates(trace, window, n_windows,
                                      grown.warm_token_hits[:, back],
                                      grown.warm_request_hits[:, back])
            grown_tok = np.clip(token_hit[:, None, :] - (lru_tok[:, None, :] - grown_tok), 0, 1)
            grown_req = np.clip(request_hit[:, None, :] - (lru_req[:, None, :] - grown_req), 0,
                                1)
            notes += ("modelled: LCS is not a stack algorithm, so the hit rate of a window whose "
                      "cache grew is the LCS curve less the exact LRU warm-up deficit",)
    return HitCurves(caps_tokens, token_hit, request_hit, _source(policy, sample_rate, trace),
                     modelled=trace.prefix_source == PREFIX_MODELLED, notes=notes,
                     grown_token_hit=grown_tok, grown_request_hit=grown_req)


def _grown_rates(trace: Trace, window: np.ndarray, n_windows: int, grown, back: np.ndarray):
    """Warm-up hit counts → fractions, [window, previous capacity, capacity] in caller order."""
    W = n_windows
    idx = np.ix_(np.arange(W), back, back)
    tok = grown.token_hits[idx].reshape(W, -1)
    req = grown.request_hits[idx].reshape(W, -1)
    t, r = _rates(trace, window, n_windows, tok, req)
    c = len(back)
    return t.reshape(W, c, c), r.reshape(W, c, c)


def check_sample_rate(sample_rate: float | None) -> None:
    """A sampling rate is a fraction of the blocks in (0, 1]."""
    if sample_rate is None:
        return
    try:
        ok = 0.0 < float(sample_rate) <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise UsageError(f"sampling rate must be in (0, 1], got {sample_rate!r}")


def rate_label(sample_rate: float) -> str:
    """0.01 → '1%', 0.001 → '0.1%'."""
    return f"{float(sample_rate) * 100:g}%"


def _check_inputs(trace: Trace, request_window, n_windows: int, capacities_tokens):
    if not trace.has_prefixes:
        raise InputDataError(
            f"trace {trace.name} has no prefix blocks; synthesise them with the reuse model "
            "(synthesize_prefixes) before computing hit rates")
    if len(request_window) != len(trace):
        raise ValueError("request_window needs one entry per request")
    if n_windows < 1:
        raise InputDataError("the window list is empty")
    w = np.asarray(request_window)
    if len(w) and (w.max() >= n_windows or w.min() < -1):
        raise ValueError("request_window holds a window outside 0..n_windows-1 (or -1)")
    caps_tokens = np.atleast_1d(np.asarray(capacities_tokens))
    if caps_tokens.ndim != 1 or len(caps_tokens) == 0:
        raise UsageError("give at least one cache capacity")
    if not np.issubdtype(caps_tokens.dtype, np.number) or np.any(~np.isfinite(caps_tokens)) \
            or np.any(caps_tokens < 0):
        raise UsageError("cache capacities must be finite numbers of tokens ≥ 0")
    caps_tokens = caps_tokens.astype(np.int64)
    return caps_tokens, capacity_blocks(caps_tokens, trace.block_tokens)


def _sorted_thresholds(caps_blocks: np.ndarray):
    """Distinct capacities ascending, and the index that maps them back to the caller's order."""
    uniq, back = np.unique(caps_blocks, return_inverse=True)
    return uniq.astype(np.float64), back


def _rates(trace: Trace, window: np.ndarray, n_windows: int, hit_tokens, hit_reqs):
    """Hit counts → fractions of each window's prompt tokens and requests (0 for empty windows).

    The denominators are whole numbers summed in float64 below 2**53, hence exact in any order:
    they equal ``simulate_lru_prefix``'s bit for bit, so the exact curves match it. They are
    summed a chunk of requests at a time (a week's 27M would cost three 218 MB copies)."""
    prompt_tokens = np.zeros(n_windows)
    requests = np.zeros(n_windows, dtype=np.int64)
    for a in range(0, len(window), RATE_CHUNK):
        w = window[a:a + RATE_CHUNK]
        keep = w >= 0
        prompt_tokens += np.bincount(w[keep], weights=trace.input_tokens[a:a + RATE_CHUNK][keep],
                                     minlength=n_windows)
        requests += np.bincount(w[keep], minlength=n_windows)
    hit_tokens = np.asarray(hit_tokens, dtype=np.float64)
    hit_reqs = np.asarray(hit_reqs, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        token_hit = np.where(prompt_tokens[:, None] > 0, hit_tokens / prompt_tokens[:, None], 0.0)
        request_hit = np.where(requests[:, None] > 0, hit_reqs / requests[:, None], 0.0)
    return token_hit, request_hit


def _source(policy: str, sample_rate: float | None, trace: Trace) -> str:
    """'trace-lru-exact', 'trace-lru-shards-1%', 'trace-lcs', or 'modelled-sessions[-...]'."""
    method = policy
    if sample_rate is not None:
        method += f"-shards-{rate_label(sample_rate)}"
    elif policy == "lru":
        method += "-exact"
    if trace.prefix_source == PREFIX_MODELLED:
        return "modelled-sessions" if method == "lru-exact" else f"modelled-sessions-{method}"
    return f"trace-{method}"


def _notes(trace: Trace) -> tuple[str, ...]:
    if trace.prefix_source == PREFIX_MODELLED:
        return ("hit rates are modelled: the trace records no prefixes, its block hashes were "
                "synthesised by the session-reuse model",)
    return ()
