"""Fitting the session-reuse model to a trace with prefix hashes, and measuring its fit.

Session structure (recovered from the hashes alone; Mooncake records no session ids):

* system-prompt blocks: blocks followed by many distinct next blocks (at least
  ``max(20, 0.5 % of the requests)``), i.e. shared by many otherwise unrelated prompts; a
  request's system prompt is its leading run of such blocks;
* reused prefix ``lcp_i``: the leading run of request ``i``'s blocks seen in an earlier request
  (prefix hashes: a block stands for its whole prefix);
* continuation: ``lcp_i`` reaches past the system prompt; the parent is the latest earlier
  request holding block ``lcp_i - 1``, the gap ``t_i - t_parent``, the prompt share
  ``L_parent / L_i`` and the kept fraction ``λ = lcp_i / min(floor(L_parent / B),
  floor(L_i / B))`` (clipped to 1: a few prompts whose length is a multiple of B share all
  their blocks).

Fitted parameters (``ReuseParams``): ``p_cont`` per prompt-length bin (powers of two from 512
tokens), measured on requests after a warm-up of the 95th-percentile gap (earlier ones cannot
see their parents); the quantile functions of gaps, shares and kept fractions at 101 levels; the system prompts'
shares among new sessions, their block counts, the chance a new session carries one, and the
shortest prompt seen carrying one.

Fit error: the model re-synthesises the fitted trace's own requests (arrivals and lengths kept,
hashes dropped) and its exact LRU curve is compared with the trace's, capacity by capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from planner.errors import InputDataError
from planner.workload.hitcurve import window_hit_curves
from planner.workload.reuse_model import ReuseParams, quantile_function, synthesize_prefixes
from planner.workload.stackdist import block_positions, dense_codes
from planner.workload.trace import Trace

QUANTILE_LEVELS = np.linspace(0.0, 1.0, 101)
MIN_BIN_REQUESTS = 30
MAX_SYSTEM_PROMPTS = 32
WARMUP_QUANTILE = 0.95


@dataclass(frozen=True)
class SessionStructure:
    """Per request: reused prefix ``lcp`` (blocks), system-prompt blocks, parent (or -1)."""

    lcp: np.ndarray
    sys_len: np.ndarray
    parent: np.ndarray
    codes: np.ndarray
    children: np.ndarray

    @property
    def continues(self) -> np.ndarray:
        return self.parent >= 0


@numba.njit(cache=True)
def _parents(offsets, codes, n_unique, lcp, sys_len, parent, children):
    last_req = np.full(n_unique, -1, dtype=np.int64)
    for i in range(offsets.shape[0] - 1):
        a = offsets[i]
        b = offsets[i + 1]
        k = 0
        while k < b - a and last_req[codes[a + k]] >= 0:
            k += 1
        lcp[i] = k
        if k > sys_len[i]:
            p = last_req[codes[a + k - 1]]
            parent[i] = p
            children[p] += 1
        for r in range(a, b):
            last_req[codes[r]] = i


def session_structure(trace: Trace) -> SessionStructure:
    """Recover continuations and system prompts from a trace's prefix hashes."""
    if not trace.has_prefixes:
        raise InputDataError(f"trace {trace.name} has no prefix blocks to fit a reuse model on")
    offsets = np.asarray(trace.block_offsets, dtype=np.int64)
    codes, u = dense_codes(trace.block_ids)
    pos = block_positions(offsets)
    # Distinct successors of every block.
    nxt = np.flatnonzero(pos[1:] > 0)  # ref r+1 continues the request of ref r
    pairs = np.unique(codes[nxt].astype(np.int64) * u + codes[nxt + 1])
    successors = np.bincount(pairs // u, minlength=u)
    is_sys = successors >= max(20, int(0.005 * len(trace)))
    # Leading run of system-prompt blocks per request.
    n_blocks = np.diff(offsets)
    not_sys_pos = np.where(is_sys[codes], np.iinfo(np.int64).max, pos.astype(np.int64))
    sys_len = np.zeros(len(trace), dtype=np.int64)
    nonempty = n_blocks > 0
    if nonempty.any():
        first_break = np.minimum.reduceat(not_sys_pos, offsets[:-1][nonempty])
        sys_len[nonempty] = np.minimum(first_break, n_blocks[nonempty])
    lcp = np.zeros(len(trace), dtype=np.int64)
    parent = np.full(len(trace), -1, dtype=np.int64)
    children = np.zeros(len(trace), dtype=np.int64)
    _parents(offsets, codes, u, lcp, sys_len, parent, children)
    return SessionStructure(lcp, sys_len, parent, codes, children)


def fit_reuse_params(trace: Trace, provenance: dict, candidates: int = 64) -> ReuseParams:
    """Fit ``ReuseParams`` on a trace with prefix hashes (module docstring)."""
    s = session_structure(trace)
    cont = s.continues
    if cont.sum() < 10:
        raise InputDataError(f"trace {trace.name} has too few multi-turn requests "
                             f"({int(cont.sum())}) to fit a session-reuse model")
    t = trace.arrival_s
    L = trace.input_tokens
    bt = trace.block_tokens
    kids = np.flatnonzero(cont)
    gaps = t[kids] - t[s.parent[kids]]
    shares = L[s.parent[kids]] / L[kids]
    common = np.minimum(L[s.parent[kids]] // bt, L[kids] // bt)
    kept = np.clip(s.lcp[kids] / np.maximum(common, 1), None, 1.0)
    gap_levels, gap_q = quantile_function(gaps, QUANTILE_LEVELS)
    share_levels, share_q = quantile_function(shares, QUANTILE_LEVELS)
    kept_levels, kept_q = quantile_function(kept, QUANTILE_LEVELS)

    warm = t >= t[0] + float(np.quantile(gaps, WARMUP_QUANTILE))
    edges = np.array([0] + [bt * 2**k for k in range(9)], dtype=np.int64)
    bins = np.searchsorted(edges, L, side="right") - 1
    pooled = float(cont[warm].mean()) if warm.any() else float(cont.mean())
    p_cont = []
    for b in range(len(edges)):
        m = warm & (bins == b)
        p_cont.append(float(cont[m].mean()) if m.sum() >= MIN_BIN_REQUESTS else pooled)

    new = ~cont
    with_sys = new & (s.sys_len > 0)
    chains: dict[tuple, int] = {}
    offsets = trace.block_offsets
    for i in np.flatnonzero(with_sys):
        key = tuple(int(x) for x in s.codes[offsets[i]:offsets[i] + s.sys_len[i]])
        chains[key] = chains.get(key, 0) + 1
    ranked = sorted(chains.items(), key=lambda kv: -kv[1])[:MAX_SYSTEM_PROMPTS]
    total = sum(c for _, c in ranked)
    sys_share = tuple(c / total for _, c in ranked) if total else ()
    sys_blocks = tuple(len(k) for k, _ in ranked)
    min_prompt = int(L[with_sys].min()) if with_sys.any() else 0
    eligible = new & (L >= min_prompt)
    sys_prob = float(with_sys.sum() / eligible.sum()) if with_sys.any() else 0.0

    stats = describe_sessions(trace, s, gaps)
    return ReuseParams(
        block_tokens=int(bt), length_edges_tokens=tuple(int(e) for e in edges),
        continue_prob=tuple(p_cont), gap_levels=gap_levels, gap_s=gap_q,
        share_levels=share_levels, share=share_q, kept_levels=kept_levels, kept=kept_q,
        system_prompt_prob=sys_prob,
        min_prompt_tokens=min_prompt, system_prompt_share=sys_share,
        system_prompt_blocks=sys_blocks, candidates=candidates, provenance=provenance,
        statistics=stats)


def describe_sessions(trace: Trace, s: SessionStructure, gaps: np.ndarray) -> dict:
    """Descriptive statistics of the fitted trace's sessions (documentation, not parameters)."""
    L = trace.input_tokens
    cont = s.continues
    reused = np.minimum(s.lcp * trace.block_tokens, L)
    sys_tok = np.minimum(s.sys_len * trace.block_tokens, L)
    roots = np.flatnonzero(~cont)
    session_of = np.arange(len(trace))
    for i in np.flatnonzero(cont):
        session_of[i] = session_of[s.parent[i]]
    turns = np.bincount(np.searchsorted(roots, session_of), minlength=len(roots))
    pct = [10, 25, 50, 75, 90]
    return {
        "requests": int(len(trace)),
        "span_s": float(trace.duration_s),
        "continuing_share": float(cont.mean()),
        "reused_share_of_prompt_quantiles_p10_p25_p50_p75_p90":
            [float(x) for x in np.percentile(reused[cont] / L[cont], pct)],
        "reusable_token_share": float(reused.sum() / L.sum()),
        "system_prompt_token_share": float(sys_tok.sum() / L.sum()),
        "gap_s_quantiles_p10_p25_p50_p75_p90": [float(x) for x in np.percentile(gaps, pct)],
        "sessions": int(len(roots)),
        "turns_per_session_mean": float(turns.mean()),
        "turns_per_session_max": int(turns.max()),
        "parents_with_more_than_one_child_share":
            float((s.children > 1).sum() / max(1, (s.children > 0).sum())),
        "note": "gaps are censored by the trace's span: turns further apart than the trace "
                "is long cannot be observed",
    }


def capacity_grid(trace: Trace, points: int = 40) -> np.ndarray:
    """Capacities in blocks, log-spaced from 1 block to the trace's distinct blocks."""
    u = len(np.unique(trace.block_ids))
    return np.unique(np.geomspace(1, max(2, u), points).round().astype(np.int64))


def fit_error(trace: Trace, params: ReuseParams, seeds=(0, 1, 2, 3, 4), points: int = 40):
    """Exact LRU curves of the trace and of the model re-synthesising its requests.

    Returns (error summary dict, capacities in blocks, the trace's token and request curves,
    the model's mean token and request curves over ``seeds``).
    """
    caps = capacity_grid(trace, points)
    caps_tokens = caps * trace.block_tokens
    one = np.zeros(len(trace), dtype=np.int64)
    real = window_hit_curves(trace, one, 1, caps_tokens)
    tok, req, cont, reusable = [], [], [], []
    for seed in seeds:
        synth = synthesize_prefixes(trace, seed=seed, params=params, replace=True)
        c = window_hit_curves(synth, one, 1, caps_tokens)
        tok.append(c.token_hit[0])
        req.append(c.request_hit[0])
        st = session_structure(synth)
        cont.append(st.continues.mean())
        reusable.append(np.minimum(st.lcp * synth.block_tokens, synth.input_tokens).sum()
                        / synth.input_tokens.sum())
    tok, req = np.array(tok), np.array(req)
    err_tok = np.abs(tok - real.token_hit[0])
    err_req = np.abs(req - real.request_hit[0])
    summary = {
        "method": "exact LRU token and request hit rate of the model re-synthesising the fitted "
                  "trace's requests (arrivals and prompt lengths kept), against the trace's own "
                  f"exact curve, at {len(caps)} capacities log-spaced from 1 block to the "
                  "trace's distinct blocks, one window; mean over seeds",
        "seeds": [int(x) for x in seeds],
        "token_hit_mae": float(err_tok.mean()),
        "token_hit_max_abs_error": float(err_tok.max()),
        "token_hit_mean_signed_error": float((tok - real.token_hit[0]).mean()),
        "request_hit_mae": float(err_req.mean()),
        "trace_token_hit_at_largest": float(real.token_hit[0, -1]),
        "model_token_hit_at_largest": float(tok[:, -1].mean()),
        "model_continuing_share": float(np.mean(cont)),
        "model_reusable_token_share": float(np.mean(reusable)),
    }
    return summary, caps, real.token_hit[0], real.request_hit[0], tok.mean(0), req.mean(0)
