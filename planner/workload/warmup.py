"""Hit rates of a window whose cache grew: H_t(c′→c), exact for LRU, in one stack pass.

The replay's cache follows a capacity schedule (``eviction.simulate_cache``): a grown cache
starts its new space empty, a shrunk one evicts down to its new size. When window ``t`` runs a
cache of ``c`` blocks and window ``t − 1`` ran ``c′`` blocks, what does ``t`` hit?

**Grow (c′ < c), LRU.** Let the cache at the start of window ``t`` hold the LRU(c′) content:
the top ``c′`` blocks of the global LRU stack (the stack of every block by recency, as in
``stackdist.py``). Call ``S`` the blocks that were in that content or have been referenced
since the window started. Then at every moment of window ``t`` the cache holds the first ``c``
blocks of the global stack filtered to ``S`` (induction over references: a referenced block goes
to the top of both; an insert that overflows evicts the cache's least recent block, which is the
filtered stack's ``c + 1``-th; while nothing has been evicted the cache is all of ``S``). For a
block ``b`` of global stack distance ``d``:

* if ``b`` was referenced earlier in window ``t``, every block above it was referenced after it,
  so all are in ``S`` and its filtered depth is ``d``;
* if not, ``b`` ∈ ``S`` iff its depth at the window start is ≤ ``c′``, and then every block above
  it is either referenced in the window or was above it at the start: filtered depth ``d``.

So a reference hits iff ``d ≤ c`` and (``b`` was referenced earlier in the window, or its depth
at the window start ≤ ``c′``). A request is served its longest run of cached leading blocks, so
block ``k`` is served iff ``M_k = max(D_0..D_k) ≤ c`` and ``S_k ≤ c′``, where ``S_k`` is the
largest window-start depth among the first-in-window blocks ``0..k`` (0 when there is none).
One pass records each reference's token weight at (``S_k``, ``M_k``) in a per-window 2-D
histogram over the capacity thresholds; its 2-D prefix sums give every (c′, c) pair at once, and
summing over ``S_k`` gives the warm curve H_t(c), identical to ``stackdist.stack_histograms``.

The depth at the window start of a block last referenced at slot ``p`` before the window began
(at slot ``ws``) counts the blocks whose last reference before ``ws`` lies in ``[p, ws)``: those
not referenced since are still marked there in the stack's Fenwick tree, and those referenced
since are marked at their old slot in a second tree that is cleared at each window start. Two
queries per first-in-window reference: the pass stays O(N log N).

**Shrink (c′ > c), LRU.** The shrunk cache evicts its least recent blocks down to ``c``: of the
LRU(c′) content (the top ``c′`` of the stack) it keeps the top ``c``, which is exactly the LRU(c)
content (the inclusion property of a stack algorithm). A shrunk window is therefore warm at ``c``:
H_t(c′→c) = H_t(c) for c′ ≥ c, which the formula above also gives (``S_k ≤ M_k ≤ c ≤ c′``).

**What is not exact.** Both statements assume the cache entering window ``t`` holds the LRU(c′)
content. After a grow that does not fill within its window, the cache entering ``t + 1`` holds
the first ``c`` blocks of the filtered stack, not LRU(c): the planner still treats window ``t + 1``
as warm at ``c`` (a one-step model of the transition). ``bench/warmup_error.py`` measures that
error on the shipped traces (README, "Formulation").

**LCS** (least carbon savings) is not a stack algorithm: its eviction order depends on the hits
a capacity produced, so a larger cache need not hold a superset and a shrunk LCS(c′) cache keeps
the ``c`` blocks with the latest break-even times among those ``c′``, which need not be LCS(c)'s
content. No one-pass result holds; the planner applies the LRU warm-up deficit
H_t(c) − H_t(c′→c) of the same trace to the LCS curve, labelled modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from planner.workload.stackdist import _block_weight, _fenwick_add, _fenwick_prefix, dense_codes


@dataclass(frozen=True)
class WarmupHistograms:
    """Hit weights per window over (previous capacity, capacity) threshold pairs.

    ``token_hits[w, a, b]`` is the number of prompt tokens of window ``w`` served when the cache
    entered ``w`` holding the LRU content of ``thresholds[a]`` blocks and runs ``thresholds[b]``
    blocks during ``w``; ``request_hits`` likewise counts requests whose first block is served.
    ``warm_token_hits[w, b]`` / ``warm_request_hits[w, b]``: the warm cache of ``thresholds[b]``.
    """

    thresholds: np.ndarray
    token_hits: np.ndarray
    request_hits: np.ndarray
    warm_token_hits: np.ndarray
    warm_request_hits: np.ndarray


@numba.njit(cache=True)
def _warmup_pass(offsets, ref_ids, input_tokens, req_window, block_tokens, thresholds, keep,
                 tree, moved, moved_at, slot_block, last_slot, tok2, req2):
    """The pass of the module docstring over every request.

    ``tree``: 1 at the latest slot of every referenced block; ``moved``: 1 at the pre-window slot
    of every block referenced since the window started (``moved_at`` lists them for clearing).
    A block's latest reference is in the current window iff its slot is ≥ ``ws``, the window's
    first slot. ``slot_block[s]``: the block referenced at slot ``s``; ``last_slot[u]``: block
    ``u``'s latest slot, 0 when never referenced or dropped by :func:`_compact`, which runs at a
    window start when the window's references would not fit in the tree.
    ``tok2[w, a, b]`` accumulates token weight with ``a`` the first threshold ≥ S_k (``K`` when
    none) and ``b`` the first threshold ≥ M_k (references with M_k above the top are misses).
    """
    k_caps = thresholds.shape[0]
    top = thresholds[k_caps - 1]
    n_req = offsets.shape[0] - 1
    size = tree.shape[0] - 1      # slots 1..size
    next_slot = 1
    marked = 0            # marked slots in ``tree``
    n_moved = 0
    cur_w = -2
    ws = 1                # first slot of the current window
    for i in range(n_req):
        w = req_window[i]
        if w != cur_w:
            cur_w = w
            for j in range(n_moved):
                _fenwick_add(moved, moved_at[j], -1)
            n_moved = 0
            end = i
            while end < n_req and req_window[end] == w:
                end += 1
            if next_slot - 1 + offsets[end] - offsets[i] > size:
                marked = _compact(tree, slot_block, last_slot, next_slot, keep)
                next_slot = marked + 1
            ws = next_slot
        a = offsets[i]
        b = offsets[i + 1]
        n_in = input_tokens[i]
        if w >= 0:
            running = 0
            start_max = 0
            for r in range(a, b):
                u = ref_ids[r]
                pos = r - a
                p = np.int64(last_slot[u])
                if p == 0:
                    break  # never referenced (or deeper than every capacity): a miss, as the rest
                d = marked - _fenwick_prefix(tree, p - 1)
                if d > running:
                    running = d
                if running > top:
                    break
                if p < ws:
                    sd = (_fenwick_prefix(tree, ws - 1) - _fenwick_prefix(tree, p - 1)
                          + _fenwick_prefix(moved, ws - 1) - _fenwick_prefix(moved, p - 1))
                    if sd > start_max:
                        start_max = sd
                tok = _block_weight(n_in, pos, block_tokens)
                ia = np.searchsorted(thresholds, start_max)
                ib = np.searchsorted(thresholds, running)
                tok2[w, ia, ib] += tok
                if pos == 0:
                    req2[w, ia, ib] += 1.0
        # Reference the blocks from last to first: parents end up more recent than children.
        for r in range(b - 1, a - 1, -1):
            u = ref_ids[r]
            p = np.int64(last_slot[u])
            if p > 0:
                _fenwick_add(tree, p, -1)
                if p < ws:
                    _fenwick_add(moved, p, 1)
                    moved_at[n_moved] = p
                    n_moved += 1
            else:
                marked += 1
            _fenwick_add(tree, next_slot, 1)
            last_slot[u] = next_slot
            slot_block[next_slot] = u
            next_slot += 1


@numba.njit(cache=True)
def _compact(tree, slot_block, last_slot, next_slot, keep):
    """Renumber the ``keep`` most recent blocks to slots 1..keep (in order) and forget the
    others; returns how many were kept.

    A forgotten block is deeper than ``keep`` − 1 ≥ every capacity, and depths only grow until
    a block is referenced again, so until then it is a miss at every capacity, as a block never
    referenced is; its slot is below every kept one, so no kept block's depth or window-start
    depth counts it. The tree then needs only the kept blocks and one window's references."""
    kept = 0
    cut = next_slot - 1
    while cut >= 1 and kept < keep:
        u = slot_block[cut]
        if last_slot[u] == cut:
            kept += 1
        cut -= 1
    for s in range(1, cut + 1):
        u = slot_block[s]
        if last_slot[u] == s:
            last_slot[u] = 0
    new = 0
    for s in range(cut + 1, next_slot):
        u = slot_block[s]
        if last_slot[u] == s:
            new += 1
            last_slot[u] = new
            slot_block[new] = u
    # The tree of slots 1..new marked, built in O(size).
    size = tree.shape[0] - 1
    tree[:] = 0
    tree[1:new + 1] = 1
    for s in range(1, size + 1):
        parent = s + (s & -s)
        if parent <= size:
            tree[parent] += tree[s]
    return new


def warmup_histograms(block_offsets: np.ndarray, ref_ids: np.ndarray, n_unique: int,
                      input_tokens: np.ndarray, request_window: np.ndarray, n_windows: int,
                      block_tokens: int, thresholds: np.ndarray,
                      slots: int | None = None) -> WarmupHistograms:
    """One LRU stack pass (dense block ids, grouped by request) giving every (c′, c) pair.

    ``thresholds``: capacities in blocks, ascending. A window starts wherever
    ``request_window`` changes from one request to the next (``-1``: counted nowhere). A
    block's position in its request is its index from ``block_offsets``. ``slots``: the size of
    the stack's trees (at least the largest capacity plus the longest window's references);
    by default twice that, so that a week's 75M references need trees of a few million."""
    offsets = np.asarray(block_offsets, dtype=np.int64)
    n_refs = int(offsets[-1])
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if len(thresholds) == 0 or np.any(np.diff(thresholds) < 0):
        raise ValueError("thresholds must be one or more capacities, sorted ascending")
    k = len(thresholds)
    tok2 = np.zeros((n_windows, k + 1, k + 1))
    req2 = np.zeros((n_windows, k + 1, k + 1))
    window = np.asarray(request_window, dtype=np.int64)
    runs = np.concatenate(([0], np.flatnonzero(np.diff(window)) + 1, [len(window)]))
    longest = int(np.diff(offsets[runs]).max(initial=0))
    # Blocks deeper than the largest capacity are misses until referenced again: the trees
    # keep the most recent ``keep`` blocks and a window's references (``_compact``).
    keep = int(min(np.floor(thresholds[-1]), n_unique)) + 1
    least = keep + longest
    size = min(n_refs, 2 * least + (1 << 16)) if slots is None else max(int(slots), least)
    # Counts and slots fit int32 below 2**31: half the memory of the float trees of a sampled
    # pass. ``moved_at`` holds one entry per reference of a window.
    slot = np.int32 if size < 2**31 - 1 else np.int64
    _warmup_pass(offsets, np.asarray(ref_ids), np.asarray(input_tokens, dtype=np.int64), window,
                 np.int64(block_tokens), thresholds, np.int64(keep),
                 np.zeros(size + 1, dtype=slot), np.zeros(size + 1, dtype=slot),
                 np.zeros(max(longest, 1), dtype=np.int64),
                 np.zeros(size + 1, dtype=np.int32 if n_unique < 2**31 - 1 else np.int64),
                 np.zeros(n_unique, dtype=slot), tok2, req2)
    # Counts are whole numbers far below 2**53: the float sums are exact.
    tok = np.cumsum(np.cumsum(tok2, axis=1), axis=2)
    req = np.cumsum(np.cumsum(req2, axis=1), axis=2)
    return WarmupHistograms(thresholds, tok[:, :k, :k], req[:, :k, :k], tok[:, k, :k],
                            req[:, k, :k])


def trace_warmup_histograms(trace, request_window: np.ndarray, n_windows: int,
                            thresholds: np.ndarray) -> WarmupHistograms:
    """``warmup_histograms`` of a trace's own prefix blocks."""
    ids, n_unique = dense_codes(trace.block_ids)
    return warmup_histograms(trace.block_offsets, ids, n_unique, trace.input_tokens,
                             request_window, n_windows, trace.block_tokens, thresholds)
