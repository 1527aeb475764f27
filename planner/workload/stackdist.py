"""LRU stack distances of prefix-block references, for every cache capacity in one pass.

Method (Mattson, Gecsei, Slutz and Traiger, "Evaluation techniques for storage hierarchies",
IBM Systems Journal 9(2), 1970): LRU is a stack algorithm. Keep every block on a stack ordered
by recency; a block is in an LRU cache of ``C`` blocks exactly when its depth on that stack (its
*stack distance*: the number of distinct blocks referenced since its own last reference, itself
included) is at most ``C``. One pass that records each reference's depth therefore gives the hit
rate of every capacity at once.

Depths come from a Fenwick (binary indexed) tree over reference times: a time slot holds 1 while
it is the most recent reference of some block, so the depth of block ``b`` last referenced at
slot ``p`` is the count of marked slots at or after ``p``. Each reference costs one query and two
point updates, O(log N): the whole pass is O(N log N) in the N block references.

Prefix caching adds two rules, the same as the reference simulation in ``hitcurve.py``:

* lookup before update: a request's blocks are looked up against the cache as the previous
  requests left it (depth ``D_k`` for its ``k``-th block), and a request hits on its longest run
  of cached leading blocks. With a running maximum ``M_k = max(D_0..D_k)``, block ``k`` is served
  from a cache of ``C`` blocks iff ``M_k ≤ C``. When hashes are true prefix hashes (a block's
  parent always precedes it) ``M_k = D_k``, but the running maximum keeps the pass exact for any
  block lists;
* update last to first: the request's blocks are then referenced from its last block to its
  first, so a parent ends more recent than its children and the cached blocks of a request form
  a prefix (the design card's rule).

Block ``k`` of a request with ``L`` prompt tokens serves ``min(B, max(0, L - k·B))`` tokens
(``B`` tokens per block; the last block may be partial), so the token hits at capacity ``C`` are
the sum of those weights over the blocks with ``M_k ≤ C``, and the request counts as a hit when
``D_0 ≤ C``. Weights are added into a difference array over the sorted capacity thresholds
(index of the first threshold ≥ ``M_k``) and prefix-summed at the end: O(log K) per reference for
K capacities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numba
import numpy as np
import pandas as pd

# Stack distance of a block never referenced before: larger than any capacity.
COLD = np.iinfo(np.int64).max


@dataclass
class StackHistograms:
    """Per-window hit counts at each threshold, from one pass (difference form already summed).

    ``token_hits[w, c]`` is the number of prompt tokens of window ``w`` served from a cache whose
    threshold is ``thresholds[c]``; ``request_hits[w, c]`` the number of its requests with a hit;
    ``sampled_tokens[w]`` and ``sampled_first_blocks[w]`` are the token weight and the number of
    first-block references the pass saw (all of them when nothing is sampled).
    """

    thresholds: np.ndarray
    token_hits: np.ndarray
    request_hits: np.ndarray
    sampled_tokens: np.ndarray
    sampled_first_blocks: np.ndarray


def dense_block_ids(block_ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Block hashes → dense ids 0..U-1 in order of first appearance (hash-based, O(N))."""
    codes, uniques = pd.factorize(np.asarray(block_ids), sort=False)
    dtype = np.int32 if len(uniques) < 2**31 - 1 else np.int64
    return codes.astype(dtype, copy=False), len(uniques)


def block_positions(block_offsets: np.ndarray) -> np.ndarray:
    """Position of every block reference inside its request (0 for the first block)."""
    offsets = np.asarray(block_offsets, dtype=np.int64)
    n_refs = int(offsets[-1])
    lengths = np.diff(offsets)
    starts = np.repeat(offsets[:-1], lengths)
    return (np.arange(n_refs, dtype=np.int64) - starts).astype(np.int32)


@numba.njit(cache=True)
def _fenwick_add(tree, i, delta):
    n = tree.shape[0]
    while i < n:
        tree[i] += delta
        i += i & (-i)


@numba.njit(cache=True)
def _fenwick_prefix(tree, i):
    s = 0
    while i > 0:
        s += tree[i]
        i -= i & (-i)
    return s


@numba.njit(cache=True)
def _stack_pass(offsets, ref_ids, ref_pos, input_tokens, req_window, block_tokens, thresholds,
                tree, last_slot, state, tok_diff, req_diff, seen_tok, seen_first, i0, i1):
    """Requests ``i0..i1-1`` of one pass; ``tree``, ``last_slot`` and ``state`` carry over.

    ``state[0]`` is the next free time slot (1-based), ``state[1]`` the number of distinct
    blocks referenced so far (= marked slots). ``thresholds`` is sorted ascending; a reference
    with running maximum depth ``M`` is a hit for every threshold ≥ ``M``.
    """
    k_caps = thresholds.shape[0]
    top = thresholds[k_caps - 1] if k_caps > 0 else -1.0
    for i in range(i0, i1):
        w = req_window[i]
        a = offsets[i]
        b = offsets[i + 1]
        n_in = input_tokens[i]
        if w >= 0:
            running = 0
            for r in range(a, b):
                u = ref_ids[r]
                p = last_slot[u]
                if p > 0:
                    d = state[1] - _fenwick_prefix(tree, p - 1)
                else:
                    d = COLD
                if d > running:
                    running = d
                pos = ref_pos[r]
                tok = n_in - pos * block_tokens
                if tok > block_tokens:
                    tok = block_tokens
                if tok < 0:
                    tok = 0
                seen_tok[w] += tok
                if pos == 0:
                    seen_first[w] += 1
                if running == COLD or running > top:
                    # Every later block of this request misses at every capacity too, but the
                    # sampled weight still counts them: finish that without tree queries.
                    for r2 in range(r + 1, b):
                        pos2 = ref_pos[r2]
                        tok2 = n_in - pos2 * block_tokens
                        if tok2 > block_tokens:
                            tok2 = block_tokens
                        if tok2 < 0:
                            tok2 = 0
                        seen_tok[w] += tok2
                        if pos2 == 0:
                            seen_first[w] += 1
                    break
                c0 = np.searchsorted(thresholds, running)
                tok_diff[w, c0] += tok
                if pos == 0:
                    req_diff[w, c0] += 1
        # Reference the blocks from last to first: parents end up more recent than children.
        for r in range(b - 1, a - 1, -1):
            u = ref_ids[r]
            p = last_slot[u]
            if p > 0:
                _fenwick_add(tree, p, -1)
            else:
                state[1] += 1
            slot = state[0]
            state[0] += 1
            _fenwick_add(tree, slot, 1)
            last_slot[u] = slot


def stack_histograms(block_offsets: np.ndarray, ref_ids: np.ndarray, ref_pos: np.ndarray,
                     n_unique: int, input_tokens: np.ndarray, request_window: np.ndarray,
                     n_windows: int, block_tokens: int, thresholds: np.ndarray,
                     progress: Callable[[int, int], None] | None = None,
                     chunk_refs: int = 2_000_000) -> StackHistograms:
    """One LRU stack pass over ``ref_ids`` (dense ids) grouped by ``block_offsets``.

    ``thresholds`` (ascending floats, in the same units as stack depths) are the capacities in
    blocks for an exact pass, or those capacities times the sampling rate for SHARDS.
    ``progress(done_refs, total_refs)`` is called between chunks of about ``chunk_refs``.
    """
    offsets = np.asarray(block_offsets, dtype=np.int64)
    n_req = len(offsets) - 1
    n_refs = int(offsets[-1])
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if np.any(np.diff(thresholds) < 0):
        raise ValueError("thresholds must be sorted ascending")
    k = len(thresholds)
    tree = np.zeros(n_refs + 1, dtype=np.int32 if n_refs < 2**31 - 1 else np.int64)
    last_slot = np.zeros(n_unique, dtype=np.int64)
    state = np.array([1, 0], dtype=np.int64)
    tok_diff = np.zeros((n_windows, k + 1), dtype=np.int64)
    req_diff = np.zeros((n_windows, k + 1), dtype=np.int64)
    seen_tok = np.zeros(n_windows, dtype=np.int64)
    seen_first = np.zeros(n_windows, dtype=np.int64)
    inp = np.asarray(input_tokens, dtype=np.int64)
    win = np.asarray(request_window, dtype=np.int64)
    # Chunk boundaries by reference count so the progress bar advances evenly.
    bounds = np.searchsorted(offsets, np.arange(0, n_refs, max(1, chunk_refs)), side="right") - 1
    bounds = np.unique(np.concatenate((bounds, [n_req])))
    bounds = bounds[(bounds >= 0)]
    if bounds[0] != 0:
        bounds = np.concatenate(([0], bounds))
    for i0, i1 in zip(bounds[:-1], bounds[1:]):
        _stack_pass(offsets, ref_ids, ref_pos, inp, win, np.int64(block_tokens), thresholds, tree,
                    last_slot, state, tok_diff, req_diff, seen_tok, seen_first, int(i0), int(i1))
        if progress is not None:
            progress(int(offsets[i1]), n_refs)
    return StackHistograms(thresholds, np.cumsum(tok_diff, axis=1)[:, :k],
                           np.cumsum(req_diff, axis=1)[:, :k], seen_tok, seen_first)
