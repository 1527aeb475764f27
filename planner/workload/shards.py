"""Sampled hit-rate curves by spatially hashed sampling (SHARDS), stratified.

Method (Waldspurger, Park, Garthwaite and Ahmad, "Efficient MRC Construction with SHARDS",
FAST'15): keep only the references to blocks whose hash satisfies ``hash(b) mod P < T``, a fixed
rate ``R = T / P`` of the *blocks* (every reference of a kept block is kept, none of the
others). The kept stream behaves like the full stream shrunk by ``R``: a sampled stack distance
``d`` estimates a full distance of ``d / R`` and each kept reference stands for ``1 / R``.

Prefix caches have a few very hot blocks (a system prompt shared by every request is one block
referenced by all of them). Under plain SHARDS such a block is either in the sample, with
``1 / R`` times its true weight, or missing, and it alone can move the curve by several points;
SHARDS-adj (same paper) patches this by moving the sampled-count deficit into the first
histogram bucket. We remove the cause instead, with a stratified spatial sample. Each block gets
an inclusion probability ``π`` and is kept iff its hash, read as a uniform number in [0, 1), is
below ``π`` (so all its references go in or out together, as in SHARDS):

* ``π = 1`` for hot blocks, found by one counting pass: a block whose share of the references
  ``c / N`` would, sampled at ``R``, add a relative standard error of about
  ``(c / N)·sqrt((1 - R) / R)`` above ``ε = 0.001`` (i.e. ``c ≥ ε·N·sqrt(R)``), and the most
  referenced blocks that fit in a budget of as many references as the sample itself;
* ``π = R_first ≥ R`` for blocks that open a request, so that about 20,000 first-block
  references are kept: the request hit rate depends on first blocks only and would otherwise
  rest on ``R`` times the number of requests;
* ``π = R`` for every other block.

Depths and weights are Horvitz–Thompson estimates: a kept block counts ``1 / π`` towards the
depth of the blocks below it on the stack (``stackdist.py`` marks its slot with that weight) and
its token weight counts ``1 / π`` times. The prefix rule is the exact pass's: the running maximum
of the depth estimates over a request's kept blocks decides how far its cached prefix reaches.

Resolution: one sampled block stands for ``1 / R`` blocks, so below ``1 / R`` blocks of capacity
(100 blocks at 1 %) only the hot blocks are resolved.
"""

from __future__ import annotations

import numpy as np

from planner.workload.stackdist import block_positions, dense_block_ids, stack_histograms

# Hash space: the top 24 bits of a 64-bit mix, so rates down to 1 / 16.7 M are representable.
HASH_BITS = 24
HASH_SPACE = 1 << HASH_BITS
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

# Hot blocks kept whole may cost this many references per expected sampled one (the budget)...
HOT_BUDGET = 1.0
# ...and every block whose sampling alone would add more relative error than this is kept whole.
HOT_ERROR = 1e-3
# Expected first-block references kept, for the request hit rate.
FIRST_BLOCK_TARGET = 20_000


def spatial_hash(block_ids: np.ndarray, seed: int = 0) -> np.ndarray:
    """SplitMix64 finaliser of ``block_id + (seed + 1)·φ``: a uniform 64-bit hash of each id."""
    z = np.asarray(block_ids).astype(np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(seed + 1) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sampling_threshold(rate):
    """``T`` with ``T / P ≈ rate`` (``P = 2**24``), at least 1 so a tiny rate still samples;
    elementwise for an array of rates."""
    r = np.asarray(rate, dtype=np.float64)
    if np.any(~(r > 0.0)) or np.any(r > 1.0):
        raise ValueError(f"sampling rate must be in (0, 1], got {rate}")
    t = np.clip(np.round(r * HASH_SPACE), 1, HASH_SPACE).astype(np.int64)
    return int(t) if t.ndim == 0 else t


def in_spatial_sample(block_ids: np.ndarray, rate, seed: int = 0) -> np.ndarray:
    """True for every block id whose hash falls below its rate (the same id, the same answer).

    ``rate`` is one rate or one per id.
    """
    t = np.asarray(sampling_threshold(rate), dtype=np.uint64)
    return (spatial_hash(block_ids, seed) >> np.uint64(64 - HASH_BITS)) < t


def hot_threshold(counts: np.ndarray, budget_refs: float) -> int:
    """Smallest reference count ``h ≥ 2`` whose blocks (count ≥ h) hold ≤ ``budget_refs`` refs.

    Blocks with equal counts go in or out together, so the choice needs no tie-break.
    """
    if len(counts) == 0:
        return 2
    per_count = np.bincount(counts)
    refs_at_least = np.cumsum((per_count * np.arange(len(per_count)))[::-1])[::-1]
    ok = np.flatnonzero(refs_at_least <= budget_refs)
    ok = ok[ok >= 2]
    return int(ok[0]) if len(ok) else len(per_count)


def inclusion_rates(codes: np.ndarray, n_unique: int, first_ref: np.ndarray, rate: float):
    """Inclusion probability of every block (dense id), by the strata in the module docstring."""
    n_refs = len(codes)
    r = sampling_threshold(rate) / HASH_SPACE
    counts = np.bincount(codes, minlength=n_unique)
    h_var = max(2, int(np.ceil(HOT_ERROR * n_refs * np.sqrt(r))))
    hot = counts >= min(hot_threshold(counts, HOT_BUDGET * r * n_refs), h_var)
    opens = np.zeros(n_unique, dtype=bool)
    opens[codes[first_ref]] = True
    n_first = int(first_ref.sum())
    r_first = r if n_first == 0 else min(1.0, max(r, FIRST_BLOCK_TARGET / n_first))
    pi = np.full(n_unique, r)
    pi[opens] = sampling_threshold(r_first) / HASH_SPACE
    pi[hot] = 1.0
    return pi, r


def shards_hits(block_offsets: np.ndarray, block_ids: np.ndarray, input_tokens: np.ndarray,
                request_window: np.ndarray, n_windows: int, block_tokens: int,
                caps_blocks_sorted: np.ndarray, rate: float, seed: int = 0, progress=None):
    """Estimated (token hits, request hits) per window and capacity, the rate, the kept share.

    ``caps_blocks_sorted`` are distinct capacities in blocks, ascending. The hit arrays have
    shape (n_windows, n_caps) in the exact pass's units (tokens, requests), clipped to what the
    window could hit at all and made monotone in capacity (as LRU curves are); the rate is
    ``R = T / 2**24`` as used, and the kept share the fraction of references the pass read.
    """
    offsets = np.asarray(block_offsets, dtype=np.int64)
    codes, uniques = dense_block_ids(block_ids)
    pos = block_positions(offsets)
    pi, r_eff = inclusion_rates(codes, len(uniques), pos == 0, rate)
    keep_block = in_spatial_sample(uniques, pi, seed)
    keep_ref = keep_block[codes]
    kept = np.concatenate(([0], np.cumsum(keep_ref, dtype=np.int64)))
    # Re-number the kept blocks densely so the pass's per-block arrays stay small.
    sub_ids, sub_uniques = dense_block_ids(codes[keep_ref])
    hist = stack_histograms(kept[offsets], sub_ids, pos[keep_ref], len(sub_uniques),
                            input_tokens, request_window, n_windows, block_tokens,
                            caps_blocks_sorted, inv_pi=1.0 / pi[sub_uniques], progress=progress)
    full_tok, full_first = block_weights(offsets, input_tokens, request_window, n_windows,
                                         block_tokens)
    tok = np.clip(hist.token_hits, 0.0, full_tok[:, None])
    req = np.clip(hist.request_hits, 0.0, full_first[:, None])
    return (np.maximum.accumulate(tok, axis=1), np.maximum.accumulate(req, axis=1), r_eff,
            float(keep_ref.mean()) if len(keep_ref) else 0.0)


def block_weights(offsets, input_tokens, request_window, n_windows, block_tokens):
    """Exact total block weight (tokens covered by blocks) and first-block count per window."""
    n_blocks = np.diff(offsets)
    covered = np.minimum(np.asarray(input_tokens, dtype=np.int64), n_blocks * int(block_tokens))
    w = np.asarray(request_window, dtype=np.int64)
    keep = w >= 0
    tok = np.bincount(w[keep], weights=covered[keep], minlength=n_windows)
    first = np.bincount(w[keep], weights=(n_blocks[keep] > 0).astype(np.float64),
                        minlength=n_windows)
    return tok, first
