"""What "within SLO" means to the optimiser: per-window p90 rows or a horizon budget.

Per window (default): every window's predicted p90 TTFT and p90 TPOT at most (1 − margin) ×
the SLO. The margin covers the prediction's own error near the SLO line (replicas are whole,
so a plan sits right under it): on the Mooncake hour replays put p90 TTFT 2–4 % above a
prediction just under 5 s, and up to 23 % above it over a sweep of replica counts.

Budget (``--slo-attainment F``): Σ_t r_t · (1 − a_t) ≤ (1 − F) · Σ_t r_t with a_t the chosen
candidate's modelled ``within_slo_share``; the per-window rows are dropped, so windows may
trade attainment for carbon. a is read at the SLOs themselves: its errors are of both signs
and average over the windows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.config import PlanOptions


def planned_slos(opt: PlanOptions) -> tuple[float, float]:
    """The p90 bounds the per-window rows use: the SLOs less the margin."""
    keep = 1.0 - opt.slo_margin
    return opt.slo_ttft_s * keep, opt.slo_tpot_s * keep


def best_attainment(cands: pd.DataFrame, requests: np.ndarray) -> float:
    """The largest share of the horizon's requests within both SLOs any schedule reaches
    (each window at its best candidate)."""
    r = np.asarray(requests, dtype=float)
    best = cands.groupby("window")["within_slo_share"].max()
    total = r.sum()
    return float((r[best.index.to_numpy()] * best.to_numpy()).sum() / total) if total else 1.0


def predicted_attainment(chosen: pd.DataFrame, requests: np.ndarray) -> float:
    """Σ_t r_t · a_t / Σ_t r_t of a schedule (modelled)."""
    r = np.asarray(requests, dtype=float)[chosen["window"].to_numpy()]
    return float((r * chosen["within_slo_share"].to_numpy()).sum() / r.sum()) if r.sum() else 1.0


def model_options(opt: PlanOptions, requests: np.ndarray, best_effort: bool) -> dict:
    """Keyword arguments of ``build_model`` for the scenario's SLO mode."""
    if opt.slo_attainment is None:
        return {}
    return {"attainment": opt.slo_attainment, "requests": requests,
            "attainment_best_effort": best_effort}
