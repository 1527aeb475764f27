"""Candidates that no schedule within the MIP gap can use, dropped before the MILP is built.

An incumbent: the best schedule that holds one cache level all horizon (warm candidates of that
level, replicas chosen per window, and with owned capacity its fleet). It keeps any minimum
dwell and daily change limit (it never changes level), so its objective U (carbon + ties, by the
exact chain programme of :mod:`planner.optimize.argmin`) bounds the optimum from above.

A lower bound of every schedule that runs candidate k in window t: the model's objective is a
sum over windows of a per-candidate part p, plus steps between windows (start costs, the tie
rule's change terms) and the owned fleet's charges, none of them negative, so

    objective ≥ p_k + Σ_{t′ ≠ t} min_{j ∈ K_t′} p_j + (1 − ρ) · (R_min(k) · A + D_min(k) · B)

with p_k = cost_k + tie_k [+ (1 − ρ) · wear_k, which the owned drives' s_t ≥ wear_k charges],
A = Σ_t (a_t + p_t) and B = Σ_t q_t the fleet's charges per replica and drive
(:mod:`planner.optimize.model`), and R_min(k) = max(n_k, the largest of the windows' least
replicas), likewise D_min(k) for drives. A candidate whose bound exceeds U / (1 − gap) (plus the
tie rule's absolute gap) cannot be in any schedule the solver may return at the relative MIP
gap: its gap to the optimum, which is ≤ U, would exceed it. Dropping it leaves the optimum and
every solution the solver could accept unchanged (tested against the full model; the model's
dwell rows hold in windows where a level has no candidate left).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from planner.optimize.argmin import Chain, solve_chain
from planner.optimize.coupling import Coupling, tie_cost
from planner.optimize.model import candidate_cost
from planner.optimize.solve import TerminationCondition

MARGIN = 1e-9


def incumbent_objective(cand: pd.DataFrame, cp: Coupling, slo_ttft_s: float,
                        slo_tpot_s: float, miss: np.ndarray | None = None,
                        budget: float = np.inf) -> float:
    """U: the least objective (carbon + ties) of a schedule holding one level all horizon;
    inf when no level serves every window. With an attainment budget (``miss`` per candidate,
    requests outside the SLOs, at most ``budget`` in all) only schedules that keep it count,
    and every candidate is choosable (the budget replaces the per-window p90 rows)."""
    warm = (cand["prev_level"] < 0).to_numpy() if "prev_level" in cand.columns else \
        np.ones(len(cand), dtype=bool)
    n_windows = cand["window"].nunique()
    held = replace(cp, dwell_windows=1, max_changes_per_day=None)
    slos = (np.inf, np.inf) if miss is not None else (slo_ttft_s, slo_tpot_s)
    best = np.inf
    for _, rows in pd.Series(np.flatnonzero(warm)).groupby(
            cand["level"].to_numpy()[warm], sort=True):
        sub = cand.iloc[rows.to_numpy()]
        if sub["window"].nunique() < n_windows:
            continue
        r = solve_chain(Chain(sub, held, *slos))
        if r.status != TerminationCondition.optimal or not r.phases:
            continue
        if miss is not None and miss[rows.to_numpy()[r.chosen]].sum() > budget * (1 + 1e-12):
            continue
        best = min(best, r.phases[-1].objective)
    return best


KEY = ["window", "replicas", "level", "prev_level"]


def within_reach(cand: pd.DataFrame, cp: Coupling, upper: float, mip_gap: float,
                 penalty: np.ndarray | None = None, offset: float = 0.0) -> np.ndarray:
    """Per candidate, whether its lower bound (module docstring) stays within the MIP gap of
    ``upper``. With ``penalty`` (λ · miss_k of a Lagrangian relaxation of the attainment
    budget, :mod:`planner.optimize.lagrange`) and ``offset`` (−λ · B) the bound is that of the
    relaxation, which bounds every schedule within the budget from below all the same."""
    t = cand["window"].to_numpy()
    part = candidate_cost(cand, cp) + tie_cost(cand, cp)
    if penalty is not None:
        part = part + penalty
    fleet = np.zeros(len(cand))
    if cp.owned:
        keep = 1 - cp.pool_return
        part = part + keep * cand["emb_ssd_wear"].to_numpy(dtype=float)
        ws = np.unique(t)
        per_replica = keep * float((cp.replica_embodied_kg[ws] + cp.replica_idle_kg[ws]).sum())
        per_drive = keep * float(cp.drive_idle_kg[ws].sum())
        n = cand["replicas"].to_numpy(dtype=float)
        d = cand["ssd_drives"].to_numpy(dtype=float)
        n_lo = pd.Series(n).groupby(t).min().max()
        d_lo = pd.Series(d).groupby(t).min().max()
        fleet = per_replica * np.maximum(n, n_lo) + per_drive * np.maximum(d, d_lo)
    least = pd.Series(part).groupby(t).min()
    lower = part - least.reindex(t).to_numpy() + float(least.sum()) + fleet + offset
    limit = upper / (1.0 - mip_gap) + MARGIN * abs(upper) + cp.tie_eta
    return lower - MARGIN * np.abs(lower) <= limit


def drop_beyond_incumbent(cand: pd.DataFrame, cp: Coupling, slo_ttft_s: float,
                          slo_tpot_s: float, mip_gap: float,
                          schedule: pd.DataFrame | None = None,
                          miss: np.ndarray | None = None,
                          budget: float = np.inf) -> pd.DataFrame:
    """The candidates some schedule within the MIP gap can use (module docstring), and those
    ``schedule`` names (by window, replicas, level, prev_level). Every candidate is taken to be
    within the SLO (the plan drops the others first), or, with an attainment budget (``miss``,
    ``budget``: :func:`incumbent_objective`), choosable."""
    cand = cand.reset_index(drop=True)
    if cand.empty:
        return cand
    upper = incumbent_objective(cand, cp, slo_ttft_s, slo_tpot_s, miss, budget)
    if not np.isfinite(upper) or upper <= 0:
        return cand
    keep_rows = within_reach(cand, cp, upper, mip_gap)
    if schedule is not None and len(schedule):
        key = [k for k in KEY if k in cand.columns and k in schedule.columns]
        named = cand[key].reset_index().merge(schedule[key].drop_duplicates(), on=key)["index"]
        keep_rows[named.to_numpy()] = True
    return cand[keep_rows].reset_index(drop=True)
