"""Per-window KV-cache hit rates for a list of cache capacities.

Prefix caching serves the longest cached prefix of a request's blocks. A request's blocks are
accessed from last to first, so a block's parent is always more recent than the block: the
cached blocks of a request then always form a prefix, and the inclusion property of LRU holds
(a larger cache holds a superset), which is what lets one pass give every capacity at once.

The cache state carries over from one window to the next: the curve of window ``t`` is the hit
rate its requests see in a cache of that capacity that has served every earlier request.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from planner.workload.trace import Trace

SOURCE_TRACE_EXACT = "trace-lru-exact"
SOURCE_REUSE_CURVE = "modelled-reuse-curve"


@dataclass(frozen=True)
class HitCurves:
    """Hit rates per window (rows) and cache capacity (columns).

    ``token_hit[t, c]`` is the fraction of window ``t``'s prompt tokens served from a cache of
    ``capacities_tokens[c]`` tokens; ``request_hit[t, c]`` the fraction of its requests with at
    least one cached block. ``source`` says where the numbers come from; ``modelled`` is true
    when they do not come from prefix hashes recorded in the trace itself.
    """

    capacities_tokens: np.ndarray
    token_hit: np.ndarray
    request_hit: np.ndarray
    source: str
    modelled: bool
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        w, c = self.token_hit.shape
        if len(self.capacities_tokens) != c or self.request_hit.shape != (w, c):
            raise ValueError("hit-curve arrays disagree in shape")


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
                      capacities_tokens, *, policy: str = "lru", sample_rate=None,
                      lcs=None) -> HitCurves:
    """Per-window hit curves; this first version runs the reference LRU simulation."""
    if policy != "lru" or sample_rate is not None:
        raise NotImplementedError("only exact LRU curves are available in this version")
    return simulate_lru_prefix(trace, request_window, n_windows, capacities_tokens)
