"""The attainment budget by Lagrangian relaxation: bounds from both sides, one programme each.

The budget row Σ_k miss_k · choose_k ≤ B (miss_k = r_t · (1 − share_k), B = (1 − F) · Σ_t r_t)
is the only row that couples all windows at once. Moved into the objective with a multiplier
λ ≥ 0, what remains is the programme of :mod:`planner.optimize.schedule_dp` with per-candidate
cost cost_k + λ · miss_k. For every λ and every schedule S within the budget,

    objective(S) ≥ objective(S) + λ · (miss(S) − B) ≥ P(λ) − λ · B =: L(λ),

P(λ) the programme's least value: L(λ) bounds the optimum from below, and the programme's path
at λ, where it keeps the budget, is a schedule that bounds it from above (U). At λ = 0 a path
within the budget is the optimum itself. Otherwise the best λ (the maximum of the concave
L) is found by intersecting the lines of the best path over the budget (lo) and the best path
within it (hi): λ = (obj_hi − obj_lo) / (miss_lo − miss_hi), the method of Handler and Zang for
a single resource; each step either finds a new path, which replaces lo or hi, or proves λ the
maximiser of L. The relaxation stops when U − L is within the MIP gap (relative, or the tie
rule's absolute gap), else it hands U, λ and L to a MILP to close the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

MAX_RUNS = 60


@dataclass(frozen=True)
class Relaxed:
    found: tuple | None       # (objective, chosen rows, fleet) of the best schedule within B
    bound: float              # the best L(λ)
    lam: float                # the multiplier of the best bound
    budget: float             # B
    runs: int                 # programmes solved

    @property
    def upper(self) -> float:
        return self.found[0] if self.found is not None else np.inf

    @property
    def gap(self) -> float:
        if self.found is None:
            return np.nan
        return max(0.0, self.upper - self.bound) / max(abs(self.upper), 1e-300)

    closed: bool = False      # U − L within the MIP gap


@dataclass(frozen=True)
class _Path:
    value: float              # P(λ)
    objective: float          # the path's own objective (without λ)
    miss: float
    chosen: np.ndarray
    fleet: tuple


def relax_budget(best: Callable, cost: np.ndarray, miss: np.ndarray, budget: float,
                 rel_gap: float, abs_gap: float) -> Relaxed:
    """The relaxation of the module docstring. ``best(cost)`` → (value, chosen rows, fleet) of
    the least schedule, or None."""
    tol = 1e-9 * max(float(miss.max()) if len(miss) else 0.0, 1.0)
    runs = 0

    def run(lam: float) -> _Path | None:
        nonlocal runs
        runs += 1
        found = best(cost + lam * miss if lam else cost)
        if found is None:
            return None
        value, chosen, fleet = found
        used = float(miss[chosen].sum())
        return _Path(value, value - lam * used, used, chosen, fleet)

    def within(p: _Path) -> bool:
        return p.miss <= budget + tol

    def result(hi, bound, lam, closed):
        found = None if hi is None else (hi.objective, hi.chosen, hi.fleet)
        return Relaxed(found, bound, lam, budget, runs, closed)

    lo = run(0.0)
    if lo is None:
        return result(None, np.nan, 0.0, True)
    if within(lo):
        return result(lo, lo.objective, 0.0, True)
    bound, best_lam = lo.value, 0.0
    # A multiplier large enough for a path within the budget: start at the price of the
    # whole objective per unit of excess, and grow.
    lam = max(abs(lo.objective), 1e-12) / max(lo.miss - budget, tol)
    hi = None
    for _ in range(MAX_RUNS):
        p = run(lam)
        if p.value - lam * budget > bound:
            bound, best_lam = p.value - lam * budget, lam
        if within(p):
            hi = p
            break
        lo, lam = p, lam * 4.0
    if hi is None:
        return result(None, bound, best_lam, False)
    top = hi                      # the best schedule within the budget so far
    while runs < MAX_RUNS:
        upper = top.objective
        if upper - bound <= max(rel_gap * abs(upper), abs_gap):
            return result(top, bound, best_lam, True)
        lam = (hi.objective - lo.objective) / (lo.miss - hi.miss)
        p = run(lam)
        if p.value - lam * budget > bound:
            bound, best_lam = p.value - lam * budget, lam
        line = lo.objective + lam * lo.miss
        if p.value >= line - 1e-12 * max(abs(line), 1.0):
            break       # no path below the two lines: λ maximises L
        if within(p):
            hi = p
            top = p if p.objective < top.objective else top
        else:
            lo = p
    upper = top.objective
    return result(top, bound, best_lam, upper - bound <= max(rel_gap * abs(upper), abs_gap))
