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
  a prefix (an engine evicts a prompt's tail before its head).

Block ``k`` of a request with ``L`` prompt tokens serves ``min(B, max(0, L - k·B))`` tokens
(``B`` tokens per block; the last block may be partial), so the token hits at capacity ``C`` are
the sum of those weights over the blocks with ``M_k ≤ C``, and the request counts as a hit when
``D_0 ≤ C``. Weights are added into a difference array over the sorted capacity thresholds
(index of the first threshold ≥ ``M_k``) and prefix-summed at the end: O(log K) per reference for
K capacities.

The same pass serves sampled curves (``shards.py``): a block kept with probability ``π`` marks
its slot with weight ``1 / π`` instead of 1, so the tree's suffix sums are Horvitz–Thompson
estimates of the full-trace depths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numba
import numpy as np
import pandas as pd

@dataclass
class StackHistograms:
    """Per-window hit weights at each threshold from one pass.

    ``token_hits[w, c]`` is the number of prompt tokens of window ``w`` served from a cache of
    ``thresholds[c]`` blocks, ``request_hits[w, c]`` the number of its requests whose first block
    hits; ``seen_tokens[w]`` and ``seen_first_blocks[w]`` the block weight and first-block
    references the pass saw. In a sampled pass each reference counts ``1 / π`` of its block, so
    these are estimates of the full-trace values; in an exact pass they are whole numbers.
    """

    thresholds: np.ndarray
    token_hits: np.ndarray
    request_hits: np.ndarray
    seen_tokens: np.ndarray
    seen_first_blocks: np.ndarray


def dense_block_ids(block_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Block hashes → (dense ids 0..U-1 in order of first appearance, the U hashes); O(N)."""
    codes, uniques = pd.factorize(np.asarray(block_ids), sort=False)
    dtype = np.int32 if len(uniques) < 2**31 - 1 else np.int64
    return codes.astype(dtype, copy=False), np.asarray(uniques)


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
def _block_weight(n_in, pos, block_tokens):
    tok = n_in - pos * block_tokens
    if tok > block_tokens:
        return block_tokens
    if tok < 0:
        return 0
    return tok


@numba.njit(cache=True)
def _stack_pass(offsets, ref_ids, ref_pos, input_tokens, req_window, block_tokens, thresholds,
                inv_pi, tree, last_slot, state, tok_diff, req_diff, seen, i0, i1):
    """Requests ``i0..i1-1`` of one pass; ``tree``, ``last_slot`` and ``state`` carry over.

    ``state[0]`` is the next free time slot (1-based) and ``state[1]`` the total weight of the
    marked slots; a marked slot weighs ``inv_pi[u]`` of its block (1 in an exact pass), so the
    depth after slot ``p`` is ``state[1] - prefix(p - 1)``. ``thresholds`` is ascending; a
    reference whose running maximum depth is ``M`` is a hit for every threshold ≥ ``M``.
    """
    k_caps = thresholds.shape[0]
    top = thresholds[k_caps - 1] if k_caps > 0 else -1.0
    for i in range(i0, i1):
        w = req_window[i]
        a = offsets[i]
        b = offsets[i + 1]
        n_in = input_tokens[i]
        if w >= 0:
            running = 0.0
            for r in range(a, b):
                u = ref_ids[r]
                pos = ref_pos[r]
                tok = _block_weight(n_in, pos, block_tokens) * inv_pi[u]
                seen[0, w] += tok
                if pos == 0:
                    seen[1, w] += inv_pi[u]
                if running > top:
                    continue  # a miss at every capacity already; only the seen weight counts
                p = last_slot[u]
                d = state[1] - _fenwick_prefix(tree, p - 1) if p > 0 else np.inf
                if d > running:
                    running = d
                if running > top:
                    continue
                c0 = np.searchsorted(thresholds, running)
                tok_diff[w, c0] += tok
                if pos == 0:
                    req_diff[w, c0] += inv_pi[u]
        # Reference the blocks from last to first: parents end up more recent than children.
        for r in range(b - 1, a - 1, -1):
            u = ref_ids[r]
            p = last_slot[u]
            if p > 0:
                _fenwick_add(tree, p, -inv_pi[u])
            else:
                state[1] += inv_pi[u]
            slot = np.int64(state[0])
            state[0] += 1.0
            _fenwick_add(tree, slot, inv_pi[u])
            last_slot[u] = slot


def stack_histograms(block_offsets: np.ndarray, ref_ids: np.ndarray, ref_pos: np.ndarray,
                     n_unique: int, input_tokens: np.ndarray, request_window: np.ndarray,
                     n_windows: int, block_tokens: int, thresholds: np.ndarray,
                     inv_pi: np.ndarray | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     chunk_refs: int = 2_000_000) -> StackHistograms:
    """One LRU stack pass over ``ref_ids`` (dense ids ``0..n_unique-1``) grouped by request.

    ``thresholds`` are the capacities in blocks, ascending. ``inv_pi[u]`` (optional, default 1)
    is the inverse inclusion probability of block ``u`` in a sample: each kept block stands for
    that many blocks in depths and weights (Horvitz–Thompson). ``progress(done_refs,
    total_refs)`` is called between chunks of about ``chunk_refs`` references.
    """
    offsets = np.asarray(block_offsets, dtype=np.int64)
    n_req = len(offsets) - 1
    n_refs = int(offsets[-1])
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if np.any(np.diff(thresholds) < 0):
        raise ValueError("thresholds must be sorted ascending")
    k = len(thresholds)
    if inv_pi is None:
        inv_pi = np.ones(n_unique, dtype=np.float64)
    # Float weights keep one kernel for exact and sampled passes; in an exact pass every sum is
    # a whole number far below 2**53, so the float arithmetic is exact.
    tree = np.zeros(n_refs + 1, dtype=np.float64)
    last_slot = np.zeros(n_unique, dtype=np.int64)
    state = np.array([1.0, 0.0])
    tok_diff = np.zeros((n_windows, k + 1))
    req_diff = np.zeros((n_windows, k + 1))
    seen = np.zeros((2, n_windows))
    inv_pi = np.asarray(inv_pi, dtype=np.float64)
    inp = np.asarray(input_tokens, dtype=np.int64)
    win = np.asarray(request_window, dtype=np.int64)
    # Chunk boundaries by reference count so that a progress bar advances evenly.
    cuts = np.searchsorted(offsets, np.arange(0, n_refs, max(1, chunk_refs)), side="right") - 1
    bounds = np.unique(np.concatenate(([0], np.maximum(cuts, 0), [n_req])))
    for i0, i1 in zip(bounds[:-1], bounds[1:]):
        _stack_pass(offsets, ref_ids, ref_pos, inp, win, np.int64(block_tokens), thresholds,
                    inv_pi, tree, last_slot, state, tok_diff,
                    req_diff, seen, int(i0), int(i1))
        if progress is not None:
            progress(int(offsets[i1]), n_refs)
    return StackHistograms(thresholds, np.cumsum(tok_diff, axis=1)[:, :k],
                           np.cumsum(req_diff, axis=1)[:, :k], seen[0], seen[1])
