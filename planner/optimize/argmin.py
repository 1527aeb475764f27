"""The plan without a MILP when windows interact only through their neighbour.

With no minimum dwell, no daily change limit and every window able to meet the SLO (pooled
capacity first; owned below), the MILP's objective is a sum over windows of a candidate's cost plus a cost of the
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

Owned capacity adds the fleet (R, D), which every window reads. For a fixed fleet the model is
again a chain: candidates with n_k ≤ R and d_k ≤ D, each charged (1 − ρ) · max(b_t · D,
wear_k) for the owned drives' embodied carbon, plus the fleet's fixed charge. The optimum is
the least chain over the fleets some schedule can need (:func:`_fleets`); a fleet whose
per-window least costs already reach the best found is skipped. Ties between fleets go to the
smaller fleet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.optimize.coupling import TIE_LEVEL_CHANGE, TIE_REPLICA_CHANGE, Coupling, tie_cost
from planner.optimize.model import PlanModel, candidate_cost, carbon_of, has_cold_starts
from planner.optimize.solve import PhaseResult, SolveResult, SolverStatus, TerminationCondition


@dataclass
class Chain:
    """What the chain programme reads of a model, without building the MILP (a
    :class:`PlanModel` has the same fields)."""

    candidates: pd.DataFrame
    coupling: Coupling
    slo_ttft_s: float
    slo_tpot_s: float

    def __post_init__(self):
        self.candidates = self.candidates.reset_index(drop=True)
        t = self.candidates["window"].to_numpy()
        order = np.argsort(t, kind="stable")
        cut = np.flatnonzero(np.diff(t[order])) + 1
        self.groups = {int(t[ks[0]]): ks for ks in np.split(order, cut) if len(ks)}

    @property
    def windows(self) -> list[int]:
        return sorted(self.groups)

    @property
    def replica_start(self) -> bool:
        """Whether the model would charge start costs (it defines them when any is > 0)."""
        return bool(np.any(self.coupling.start_kg > 0))


def chain_applicable(m: PlanModel) -> bool:
    return (not m.coupling.needs_milp() and not m.soft_windows and not m.cache_level
            and m.attainment is None)


def _infeasible(solver: str, message: str, t0: float) -> SolveResult:
    phase = PhaseResult("carbon", SolverStatus.ok, TerminationCondition.infeasible, message,
                        float("nan"), float("nan"), float("nan"), time.perf_counter() - t0)
    return SolveResult(solver, TerminationCondition.infeasible, phase.message, float("nan"),
                       float("nan"), float("nan"), phase.runtime_s, phases=(phase,),
                       method="chain")


def solve_chain(m: PlanModel | Chain, solver: str = "highs") -> SolveResult:
    """The model's optimum by dynamic programming (see the module docstring)."""
    t0 = time.perf_counter()
    cand, cp = m.candidates, m.coupling
    ok = (cand["p90_ttft_s"].to_numpy() <= m.slo_ttft_s) & \
        (cand["p90_tpot_s"].to_numpy() <= m.slo_tpot_s)
    cost = candidate_cost(cand, cp) + tie_cost(cand, cp)
    level = cand["level"].to_numpy()
    reps = cand["replicas"].to_numpy(dtype=float)
    windows = m.windows
    members = []
    for t in windows:
        ks = m.groups[t]
        ks = ks[ok[ks]]
        members.append(ks[np.lexsort((reps[ks], level[ks]))])
    if any(len(ks) == 0 for ks in members):
        return _infeasible(solver, "a window has no candidate within the SLO", t0)
    if not cp.owned:
        best = _viterbi(m, members, cost)
        fleet = (None, None)
    else:
        best, fleet = None, (None, None)
        for R, D, extra, fixed in _fleets(m, members):
            # Σ_t min cost is a lower bound of any schedule on this fleet (steps are ≥ 0).
            floor = fixed + sum(float((cost[ks] + extra[ks]).min()) for ks in
                                _within(members, reps, m, R, D))
            if best is not None and floor >= best[0]:
                continue
            found = _viterbi(m, _within(members, reps, m, R, D), cost + extra)
            if found is not None and (best is None or found[0] + fixed < best[0]):
                best, fleet = (found[0] + fixed, found[1]), (R, D)
    if best is None:
        return _infeasible(solver, "no schedule obeys the warm-up transitions within the SLO", t0)
    value, chosen = best
    total_carbon = carbon_of(m, chosen, *fleet)
    runtime = time.perf_counter() - t0
    phase = PhaseResult("carbon", SolverStatus.ok, TerminationCondition.optimal,
                        "optimal (dynamic programme over windows)", value, value, 0.0, runtime)
    return SolveResult(solver, TerminationCondition.optimal, phase.message, total_carbon,
                       phase.best_bound, 0.0, runtime, chosen=np.sort(chosen),
                       phases=(phase,), owned_replicas=fleet[0], owned_drives=fleet[1],
                       method="chain")


def _within(members, reps, m: PlanModel, R: int, D: int) -> list[np.ndarray]:
    drives = m.candidates["ssd_drives"].to_numpy()
    return [ks[(reps[ks] <= R) & (drives[ks] <= D)] for ks in members]


def _fleets(m: PlanModel, members):
    """Owned capacity: every fleet (R, D) that some schedule can need, least first, with the
    per-candidate owned-drive charge (1 − ρ) · max(b_t · D, wear_k) and the fleet's fixed
    charge (1 − ρ) · (R · Σ_t (a_t + p_t) + D · Σ_t q_t). For a fixed fleet the model is a
    chain; the least of the chains over fleets is the model's optimum, since the optimal
    schedule's own fleet (its largest n and d: a larger one costs no less) is among them."""
    cand, cp = m.candidates, m.coupling
    keep = 1 - cp.pool_return
    reps = cand["replicas"].to_numpy()
    drives = cand["ssd_drives"].to_numpy()
    t = cand["window"].to_numpy()
    wear = cand["emb_ssd_wear"].to_numpy(dtype=float)
    ws = np.asarray(m.windows)
    per_replica = keep * float((cp.replica_embodied_kg[ws] + cp.replica_idle_kg[ws]).sum())
    per_drive = keep * float(cp.drive_idle_kg[ws].sum())
    every = np.concatenate(members)
    # The least fleet that leaves every window a candidate bounds R and D from below.
    least_r = max(int(reps[ks].min()) for ks in members)
    for R in np.unique(reps[every]):
        if R < least_r:
            continue
        usable = [ks[reps[ks] <= R] for ks in members]
        least_d = max(int(drives[ks].min()) for ks in usable)
        for D in np.unique(drives[np.concatenate(usable)]):
            if D < least_d:
                continue
            extra = keep * np.maximum(cp.drive_calendar_kg[t] * D, wear)
            yield int(R), int(D), extra, per_replica * R + per_drive * D


def _viterbi(m: PlanModel, members: list[np.ndarray], cost: np.ndarray):
    """V_t(k) = cost_k + min_j [V_{t−1}(j) + step_t(j, k)] over the windows' ``members``:
    (least value, chosen rows) or None when no path exists."""
    cand, cp = m.candidates, m.coupling
    level = cand["level"].to_numpy()
    reps = cand["replicas"].to_numpy(dtype=float)
    # The transitions apply only where cold starts exist: without them a grow is warm.
    grown = cand["prev_level"].to_numpy() if has_cold_starts(cand) else None
    windows = m.windows
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
        return None
    k = int(np.argmin(value))
    best = float(value[k])
    picks = [k]
    for j in reversed(back):
        k = int(j[k])
        picks.append(k)
    picks.reverse()
    return best, np.array([members[p][i] for p, i in enumerate(picks)], dtype=np.int64)
