"""The plan without a MILP when windows interact only through their neighbour.

With pooled capacity, no minimum dwell, no daily change limit and every window able to meet
the SLO, the MILP's objective is a sum over windows of a candidate's cost plus a cost of the
step from the previous window's candidate (the tie rule's change terms and the start cost of
added replicas). Its optimum is then a shortest path through the windows, found exactly by
dynamic programming (Viterbi): V_t(k) = cost_k + min_j [V_{t−1}(j) + step_t(j, k)], with

    step_t(j, k) = η · (4 · [i_j ≠ i_k] + |n_k − n_j|) + κ_t · max(0, n_k − n_j).

Without tie rule and start cost the step is zero and this is a per-window argmin. With cache
warm-up (cold-start candidates, ``prev_level``) the step is infinite where the transition rows
forbid it: into a cold start grown from level i unless j runs level i, into a warm candidate
of level i_k unless i_j ≥ i_k. Ties in V
go to the candidate first in the table's (window, level, replicas) order, which is the tie
rule's own order, so the schedule is the one the MILP's tie terms select.
"""

from __future__ import annotations

import time

import numpy as np

from planner.optimize.coupling import TIE_LEVEL_CHANGE, TIE_REPLICA_CHANGE, tie_cost
from planner.optimize.model import PlanModel, candidate_cost, has_cold_starts
from planner.optimize.solve import PhaseResult, SolveResult, SolverStatus, TerminationCondition


def chain_applicable(m: PlanModel) -> bool:
    return (not m.coupling.needs_milp() and not m.soft_windows and not m.cache_level
            and m.attainment is None)


def solve_chain(m: PlanModel, solver: str = "highs") -> SolveResult:
    """The model's optimum by dynamic programming (see the module docstring)."""
    t0 = time.perf_counter()
    cand, cp = m.candidates, m.coupling
    ok = (cand["p90_ttft_s"].to_numpy() <= m.slo_ttft_s) & \
        (cand["p90_tpot_s"].to_numpy() <= m.slo_tpot_s)
    carbon = candidate_cost(cand, cp)
    cost = carbon + tie_cost(cand, cp)
    level = cand["level"].to_numpy()
    reps = cand["replicas"].to_numpy(dtype=float)
    # The transitions apply only where cold starts exist: without them a grow is warm.
    grown = cand["prev_level"].to_numpy() if has_cold_starts(cand) else None
    windows = m.windows
    members = []
    for t in windows:
        ks = m.groups[t]
        ks = ks[ok[ks]]
        members.append(ks[np.lexsort((reps[ks], level[ks]))])
    if any(len(ks) == 0 for ks in members):
        phase = PhaseResult("carbon", SolverStatus.ok, TerminationCondition.infeasible,
                            "a window has no candidate within the SLO", float("nan"),
                            float("nan"), float("nan"), time.perf_counter() - t0)
        return SolveResult(solver, TerminationCondition.infeasible, phase.message,
                           float("nan"), float("nan"), float("nan"), phase.runtime_s,
                           phases=(phase,), method="chain")
    start_kg = cp.start_kg if len(cp.start_kg) else np.zeros(max(windows) + 1)
    value = cost[members[0]]
    back = []
    for pos in range(1, len(windows)):
        prev, cur = members[pos - 1], members[pos]
        dn = reps[cur][None, :] - reps[prev][:, None]
        step = start_kg[windows[pos]] * np.maximum(dn, 0.0)
        if cp.tie_eta > 0:
            step = step + cp.tie_eta * (
                TIE_LEVEL_CHANGE * (level[prev][:, None] != level[cur][None, :])
                + TIE_REPLICA_CHANGE * np.abs(dn))
        if grown is not None:
            lj, lk, pk = level[prev][:, None], level[cur][None, :], grown[cur][None, :]
            step = np.where(np.where(pk >= 0, pk == lj, lk <= lj), step, np.inf)
        total = value[:, None] + step
        j = np.argmin(total, axis=0)
        back.append(j)
        value = total[j, np.arange(len(cur))] + cost[cur]
    if not np.isfinite(value).any():
        phase = PhaseResult("carbon", SolverStatus.ok, TerminationCondition.infeasible,
                            "no schedule obeys the warm-up transitions within the SLO",
                            float("nan"), float("nan"), float("nan"), time.perf_counter() - t0)
        return SolveResult(solver, TerminationCondition.infeasible, phase.message,
                           float("nan"), float("nan"), float("nan"), phase.runtime_s,
                           phases=(phase,), method="chain")
    k = int(np.argmin(value))
    picks = [k]
    for j in reversed(back):
        k = int(j[k])
        picks.append(k)
    picks.reverse()
    chosen = np.array([members[p][i] for p, i in enumerate(picks)], dtype=np.int64)
    n = reps[chosen]
    starts = np.maximum(np.diff(n), 0.0)
    total_carbon = float(carbon[chosen].sum() + (start_kg[np.asarray(windows[1:], dtype=int)]
                                                 * starts).sum())
    runtime = time.perf_counter() - t0
    phase = PhaseResult("carbon", SolverStatus.ok, TerminationCondition.optimal,
                        "optimal (dynamic programme over windows)", float(value.min()),
                        float(value.min()), 0.0, runtime)
    return SolveResult(solver, TerminationCondition.optimal, phase.message, total_carbon,
                       phase.best_bound, 0.0, runtime, chosen=np.sort(chosen),
                       phases=(phase,), method="chain")
