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


# A dense-id table may hold at most this many entries per block reference (4 bytes each);
# ids spread wider (hashes over the whole 64-bit range) are numbered through a hash table.
TABLE_PER_REF = 2


def dense_block_ids(block_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Block hashes → (dense ids 0..U-1, the U hashes: ``uniques[dense] == hash``).

    Every pass reads the ids for identity only, so which hash gets which dense id is free
    (:func:`dense_codes` says how they are numbered)."""
    codes, n_unique, uniques, table = _dense(block_ids)
    if uniques is not None:
        return codes, uniques
    if table is None:                 # already dense: each id is its own number
        return codes, np.arange(n_unique, dtype=np.int64)
    lo, shift, top, rank = table
    slots = np.flatnonzero(np.diff(rank, prepend=np.int32(-1)))
    buckets = np.flatnonzero(top >= 0).astype(np.uint64)
    high = buckets[slots >> shift] << np.uint64(shift)
    low = (slots & ((1 << shift) - 1)).astype(np.uint64)
    return codes, ((high | low) + np.uint64(lo % 2**64)).view(np.int64)


def dense_codes(block_ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Block hashes → (dense ids 0..U-1, U), for the passes that need no hash back.

    Ids that fill a few contiguous ranges (the reuse model's: system prompts from 0, fresh
    blocks from 2**40; Mooncake's small integers) are numbered in ascending order through a
    two-level table, O(N) and a few bytes per reference; others in order of first appearance
    through pandas' hash table (on a 27M-request week's 75M references it takes 2 GB). Int32
    ids that already are 0..U-1 (this function's own output) are returned as they are."""
    codes, n_unique, _, _ = _dense(block_ids)
    return codes, n_unique


def _dense(block_ids):
    """(codes, U, uniques, None) from pandas; (codes, U, None, table) from
    :func:`_range_table`; (ids, U, None, None) for int32 ids that already are 0..U-1."""
    if isinstance(block_ids, np.ndarray) and block_ids.dtype == np.int32 and len(block_ids):
        n_unique = _dense_count(block_ids)
        if n_unique > 0:
            return block_ids, n_unique, None, None
    ids = np.ascontiguousarray(block_ids)
    if ids.dtype not in (np.int32, np.int64):
        ids = ids.astype(np.int64)
    table = _range_table(ids)
    if table is None:
        codes, uniques = pd.factorize(ids, sort=False)
        dtype = np.int32 if len(uniques) < 2**31 - 1 else np.int64
        return codes.astype(dtype, copy=False), len(uniques), np.asarray(uniques), None
    lo, shift, top, rank = table
    codes = np.empty(len(ids), dtype=np.int32)
    _table_codes(ids, np.uint64(lo % 2**64), np.int64(shift), top, rank, codes)
    return codes, int(rank[-1]) + 1, None, table


@numba.njit(cache=True)
def _dense_count(ids):
    """U when ``ids`` hold every value of 0..U-1 and no other, else 0."""
    top = ids.max()
    if ids.min() < 0 or top >= ids.shape[0]:
        return 0
    seen = np.zeros(top + 1, dtype=np.bool_)
    for r in range(ids.shape[0]):
        seen[ids[r]] = True
    for u in range(top + 1):
        if not seen[u]:
            return 0
    return top + 1


def _range_table(ids: np.ndarray):
    """(lo, shift, top, rank) numbering ``ids`` by value, or None when the table would exceed
    ``TABLE_PER_REF`` entries per reference: ``top[(id − lo) >> shift]`` is the bucket of an
    id's high bits (−1 when unused; buckets in ascending order of them), and
    ``rank[bucket << shift | low bits]`` its dense id."""
    n = len(ids)
    if n == 0 or n >= 2**30:
        return None
    lo = int(ids.min())
    span = int(ids.max()) - lo
    limit = max(1 << 16, n // 8)
    shift = 0
    while (span >> shift) + 1 > limit:
        shift += 1
    top = np.zeros((span >> shift) + 1, dtype=np.int32)
    _mark(ids, np.uint64(lo % 2**64), np.int64(shift), top, top, 0)
    used = int(np.count_nonzero(top))
    if used << shift > TABLE_PER_REF * n + (1 << 16):
        return None
    unused = top == 0
    np.cumsum(top, out=top)
    top -= 1
    top[unused] = -1
    del unused
    rank = np.zeros(used << shift, dtype=np.int32)
    _mark(ids, np.uint64(lo % 2**64), np.int64(shift), top, rank, 1)
    np.cumsum(rank, out=rank)
    rank -= 1
    return lo, shift, top, rank


@numba.njit(cache=True, inline="always")
def _split(id_, lo, shift, mask):
    """An id's bucket of high bits and its low bits, relative to ``lo``."""
    off = np.uint64(np.int64(id_)) - lo
    return np.int64(off >> np.uint64(shift)), np.int64(off & mask)


@numba.njit(cache=True)
def _mark(ids, lo, shift, top, out, level):
    """Set ``out`` to 1 at every id's bucket (``level`` 0) or at its table slot (1)."""
    mask = (np.uint64(1) << np.uint64(shift)) - np.uint64(1)
    for r in range(ids.shape[0]):
        high, low = _split(ids[r], lo, shift, mask)
        if level == 0:
            out[high] = 1
        else:
            out[(np.int64(top[high]) << shift) | low] = 1


@numba.njit(cache=True)
def _table_codes(ids, lo, shift, top, rank, codes):
    mask = (np.uint64(1) << np.uint64(shift)) - np.uint64(1)
    for r in range(ids.shape[0]):
        high, low = _split(ids[r], lo, shift, mask)
        codes[r] = rank[(np.int64(top[high]) << shift) | low]


def block_positions(block_offsets: np.ndarray) -> np.ndarray:
    """Position of every block reference inside its request (0 for the first block)."""
    offsets = np.asarray(block_offsets, dtype=np.int64)
    pos = np.empty(int(offsets[-1]), dtype=np.int32)
    _positions(offsets, pos)
    return pos


@numba.njit(cache=True)
def _positions(offsets, pos):
    for i in range(offsets.shape[0] - 1):
        for r in range(offsets[i], offsets[i + 1]):
            pos[r] = r - offsets[i]


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
