"""What a trace holds, for `greencache trace inspect`: volume, rates, token lengths, prefix reuse.

Reuse figures are those of an unbounded prefix cache (every block ever seen stays cached), from
the exact stack pass: the *reusable token share* is the fraction of prompt tokens in blocks an
earlier request already referenced (the largest token hit rate any cache can reach on this
trace), the *reusing request share* the fraction of requests that share at least their first
block with an earlier one. The *working set* is the KV-cache size that unbounded cache needs:
distinct blocks × tokens per block × KV bytes per token of the chosen model; per window, the
distinct blocks referenced in that window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.workload.hitcurve import window_hit_curves
from planner.workload.stackdist import dense_codes
from planner.workload.trace import PREFIX_MODELLED, Trace
from planner.workload.windows import Windowing

QUANTILES = (0.10, 0.50, 0.90, 0.99)


@dataclass(frozen=True)
class TraceSummary:
    """Everything `trace inspect` prints. ``windows`` has the ``Windowing.stats`` columns plus
    ``distinct_blocks``, ``working_set_bytes`` and ``reusable_token_share`` when the trace has
    prefixes; ``kv_bytes_per_token`` is 0 when no model was chosen."""

    name: str
    source_format: str
    requests: int
    start: pd.Timestamp
    span_s: float
    input_tokens: dict[str, float]
    output_tokens: dict[str, float]
    windows: pd.DataFrame
    prefix_source: str
    block_tokens: int
    block_refs: int
    distinct_blocks: int
    reusable_token_share: float
    reusing_request_share: float
    kv_bytes_per_token: int
    notes: tuple[str, ...]

    @property
    def modelled(self) -> bool:
        return self.prefix_source == PREFIX_MODELLED

    @property
    def working_set_bytes(self) -> int:
        return self.distinct_blocks * self.block_tokens * self.kv_bytes_per_token


def token_stats(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    out = {"min": float(v.min()), "mean": float(v.mean())}
    out.update({f"p{round(q * 100)}": float(np.quantile(v, q)) for q in QUANTILES})
    out["max"] = float(v.max())
    return out


def describe_trace(trace: Trace, windowing: Windowing, kv_bytes_per_token: int = 0,
                   progress=None) -> TraceSummary:
    """Summarise ``trace`` over ``windowing`` (its start must be placed)."""
    stats = windowing.stats.copy()
    refs = distinct = 0
    reuse_tok = reuse_req = float("nan")
    if trace.has_prefixes:
        codes, distinct = dense_codes(trace.block_ids)
        refs = len(codes)
        window_of_ref = np.repeat(windowing.request_window, np.diff(trace.block_offsets))
        per_window = np.unique(window_of_ref.astype(np.int64) * max(1, distinct) + codes)
        stats["distinct_blocks"] = np.bincount(per_window // max(1, distinct),
                                               minlength=windowing.n)
        stats["working_set_bytes"] = (stats["distinct_blocks"] * trace.block_tokens
                                      * kv_bytes_per_token)
        unbounded = max(1, distinct) * trace.block_tokens
        per_w = window_hit_curves(trace, windowing.request_window, windowing.n, [unbounded],
                                  progress=progress)
        stats["reusable_token_share"] = per_w.token_hit[:, 0]
        whole = window_hit_curves(trace, np.zeros(len(trace), dtype=np.int64), 1, [unbounded])
        reuse_tok = float(whole.token_hit[0, 0])
        reuse_req = float(whole.request_hit[0, 0])
    return TraceSummary(
        name=trace.name, source_format=trace.source_format, requests=len(trace),
        start=trace.absolute_start, span_s=trace.duration_s,
        input_tokens=token_stats(trace.input_tokens),
        output_tokens=token_stats(trace.output_tokens), windows=stats,
        prefix_source=trace.prefix_source, block_tokens=trace.block_tokens, block_refs=refs,
        distinct_blocks=distinct, reusable_token_share=reuse_tok,
        reusing_request_share=reuse_req, kv_bytes_per_token=int(kv_bytes_per_token),
        notes=trace.notes)
