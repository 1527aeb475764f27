"""The plan's optimum without a MILP: an exact dynamic programme over windows.

Every coupling of the model but an attainment budget and best-effort windows is a relation
between neighbouring windows or a count along the path: the step costs (start of added
replicas, the tie rule's change terms), the warm-up transitions, the minimum dwell and the
daily change limit. For a fixed owned fleet the model's optimum is therefore a least path
through states (cache level, replicas, dwell age, changes today), found exactly by
:mod:`planner.optimize.schedule_dp`. Without dwell and change limit that is a shortest path
through the candidates (Viterbi), and without tie rule and start cost a per-window argmin.
Ties go to the state first in (level, replicas) order, the tie rule's own order, so the
schedule is the one the MILP's tie terms select.

Owned capacity adds the fleet (R, D), which every window reads. For a fixed fleet the model is
again a path: candidates with n_k ≤ R and d_k ≤ D, each charged (1 − ρ) · max(b_t · D,
wear_k) for the owned drives' embodied carbon, plus the fleet's fixed charge. The optimum is
the least path over the fleets some schedule can need (:func:`_fleets`); a fleet whose
per-window least costs already reach the best found is skipped. Ties between fleets go to the
smaller fleet.

An attainment budget (one row over the whole horizon) is relaxed into the objective with a
multiplier λ ≥ 0 on each candidate's requests outside the SLOs (:mod:`planner.optimize.lagrange`):
each λ is one programme, its value less λ times the budget bounds the optimum from below, and
its path, where it keeps the budget, bounds it from above. Where the two meet within the MIP
gap the path is the plan; otherwise the MILP closes the gap on the candidates the bound leaves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.optimize.coupling import Coupling, tie_cost
from planner.optimize.lagrange import Relaxed, relax_budget
from planner.optimize.model import PlanModel, candidate_cost, carbon_of, models_warmup
from planner.optimize.schedule_dp import least_schedule
from planner.optimize.solve import PhaseResult, SolveResult, SolverStatus, TerminationCondition


@dataclass
class Chain:
    """What the programme reads of a model, without building the MILP (a :class:`PlanModel`
    has the same fields). ``attainment`` F and ``requests`` per window: the horizon budget,
    which replaces the per-window p90 rows."""

    candidates: pd.DataFrame
    coupling: Coupling
    slo_ttft_s: float
    slo_tpot_s: float
    attainment: float | None = None
    requests: np.ndarray | None = None

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
    """Whether the programme solves the model: everything but best-effort windows, a best-effort
    attainment shortfall and the static-cache rows, on consecutive windows."""
    ws = m.windows
    return (not m.soft_windows and not m.cache_level and m.attainment_shortfall is None
            and (not ws or ws[-1] - ws[0] == len(ws) - 1))


def _infeasible(solver: str, message: str, t0: float) -> SolveResult:
    phase = PhaseResult("carbon", SolverStatus.ok, TerminationCondition.infeasible, message,
                        float("nan"), float("nan"), float("nan"), time.perf_counter() - t0)
    return SolveResult(solver, TerminationCondition.infeasible, phase.message, float("nan"),
                       float("nan"), float("nan"), phase.runtime_s, phases=(phase,),
                       method="chain")


def solve_chain(m: PlanModel | Chain, solver: str = "highs", mip_gap: float = 1e-6,
                time_limit_s: float = 300.0) -> SolveResult:
    """The model's optimum by dynamic programming (see the module docstring); with a budget
    whose relaxation leaves a gap above ``mip_gap``, by the MILP on the candidates left."""
    t0 = time.perf_counter()
    cand, cp = m.candidates, m.coupling
    budget = getattr(m, "attainment", None) is not None
    if budget:
        ok = np.ones(len(cand), dtype=bool)     # the budget replaces the per-window rows
    else:
        ok = (cand["p90_ttft_s"].to_numpy() <= m.slo_ttft_s) & \
            (cand["p90_tpot_s"].to_numpy() <= m.slo_tpot_s)
    cost = candidate_cost(cand, cp) + tie_cost(cand, cp)
    members = [ks[ok[ks]] for ks in (m.groups[t] for t in m.windows)]
    if any(len(ks) == 0 for ks in members):
        return _infeasible(solver, "a window has no candidate within the SLO", t0)
    search = _Search(m, members)
    if not budget:
        found = search.best(cost)
        bound, gap = (found[0], 0.0) if found is not None else (np.nan, np.nan)
        message = "optimal (dynamic programme over windows)"
    else:
        r = np.asarray(m.requests, dtype=float)
        miss = r[cand["window"].to_numpy()] * (1.0 - cand["within_slo_share"].to_numpy())
        relaxed = relax_budget(search.best, cost, miss, (1.0 - m.attainment) * float(r.sum()),
                               mip_gap, _abs_gap(cp))
        if relaxed.found is not None and not relaxed.closed:
            return _close_with_milp(m, relaxed, cost, miss, solver, mip_gap, time_limit_s, t0)
        found, bound, gap = relaxed.found, relaxed.bound, relaxed.gap
        message = (f"optimal within {gap:.1e} (dynamic programme over windows, budget relaxed "
                   f"by {relaxed.runs} multipliers)")
    if found is None:
        return _infeasible(solver, "no schedule obeys the warm-up transitions, dwell and "
                           "change limit within the SLO", t0)
    value, chosen, fleet = found
    total_carbon = carbon_of(m, chosen, *fleet)
    runtime = time.perf_counter() - t0
    phase = PhaseResult("carbon", SolverStatus.ok, TerminationCondition.optimal, message,
                        value, bound, gap, runtime)
    return SolveResult(solver, TerminationCondition.optimal, phase.message, total_carbon,
                       phase.best_bound, gap, runtime, chosen=np.sort(chosen),
                       phases=(phase,), owned_replicas=fleet[0], owned_drives=fleet[1],
                       method="chain")


def _abs_gap(cp: Coupling) -> float:
    """The solvers' absolute gap under the tie rule (:func:`planner.optimize.solve._abs_gap`)."""
    return cp.tie_eta / (8.0 * max(cp.max_replicas, 1)) if cp.tie_eta > 0 else 0.0


class _Search:
    """The least schedule of a per-candidate cost over the fleets (pooled: one run)."""

    def __init__(self, m, members):
        self.m, self.members = m, members
        cand = m.candidates
        self.level = cand["level"].to_numpy()
        # The transitions apply with warm-up (or cold starts in the table): else a grow is warm.
        self.prev = cand["prev_level"].to_numpy() if models_warmup(cand, m.coupling) else None
        self.reps = cand["replicas"].to_numpy(dtype=float)
        self.first_entry = m.coupling.first_window_entry
        self.fleets = list(_fleets(m, members)) if m.coupling.owned else None
        if self.fleets is not None:
            # The windows' members as one array, cut at each window's first row.
            self.rows = np.concatenate(members)
            self.pos = np.repeat(np.arange(len(members)), [len(ks) for ks in members])
            r = self.rows
            self.drives = cand["ssd_drives"].to_numpy()[r]
            self.calendar = m.coupling.drive_calendar_kg[cand["window"].to_numpy()[r]]
            self.wear = cand["emb_ssd_wear"].to_numpy(dtype=float)[r]
            self.keep = 1 - m.coupling.pool_return

    def _run(self, members, cost):
        return least_schedule(self.level, self.prev, self.reps, members, cost, self.m.windows,
                              self.m.coupling, self.first_entry)

    def _least(self, values: np.ndarray, mask: np.ndarray | None = None) -> float:
        """Σ_t min over window t's members (those in ``mask``) of ``values`` (per member)."""
        pos = self.pos if mask is None else self.pos[mask]
        cut = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
        return float(np.minimum.reduceat(values, cut).sum())

    def best(self, cost: np.ndarray):
        """(value, chosen rows, (R, D)) of the least schedule, or None.

        Owned: fleets in (R, D) order; Σ_t min cost over a fleet's candidates bounds its
        schedules from below (steps are ≥ 0), and so does the same sum over every candidate
        with the fleet's own drive charge, which needs no pass over the fleet's candidates:
        a fleet either bound puts at or above the best found is skipped."""
        if self.fleets is None:
            found = self._run(self.members, cost)
            return None if found is None else (found[0], found[1], (None, None))
        best, fleet = None, (None, None)
        base = cost[self.rows]
        least_d = min(D for _, D, _ in self.fleets)
        floor = self._least(base + self.keep * np.maximum(self.calendar * least_d, self.wear))
        free: dict[int, float] = {}
        for R, D, fixed in self.fleets:
            if best is not None and fixed + floor >= best[0]:
                continue
            extra = self.keep * np.maximum(self.calendar * D, self.wear)
            if best is not None:
                if D not in free:
                    free[D] = self._least(base + extra)
                if fixed + free[D] >= best[0]:
                    continue
            mask = (self.reps[self.rows] <= R) & (self.drives <= D)
            if best is not None and \
                    fixed + self._least((base + extra)[mask], mask) >= best[0]:
                continue
            within = np.split(self.rows[mask], np.flatnonzero(np.diff(self.pos[mask])) + 1)
            full = np.zeros(len(cost))
            full[self.rows] = extra
            found = self._run(within, cost + full)
            if found is not None and (best is None or found[0] + fixed < best[0]):
                best, fleet = (found[0] + fixed, found[1]), (R, D)
        return None if best is None else (best[0], best[1], fleet)


def _close_with_milp(m, relaxed: Relaxed, cost, miss, solver, mip_gap, time_limit_s, t0):
    """The budget's MILP on the candidates whose Lagrangian bound at the best multiplier does
    not exceed the best schedule found (:func:`planner.optimize.incumbent.within_reach`);
    ``chosen`` indexes the model's candidates."""
    from planner.optimize.incumbent import within_reach
    from planner.optimize.model import build_model
    from planner.optimize.solve import solve

    cand, cp = m.candidates, m.coupling
    keep = within_reach(cand, cp, relaxed.upper, mip_gap, penalty=relaxed.lam * miss,
                       offset=-relaxed.lam * relaxed.budget)
    rows = np.flatnonzero(keep)
    model = build_model(cand.iloc[rows], m.slo_ttft_s, m.slo_tpot_s, coupling=cp,
                        attainment=m.attainment, requests=m.requests, name="budget_closing")
    r = solve(model, solver, time_limit_s, mip_gap)
    chosen = rows[r.chosen] if r.has_solution else r.chosen
    from dataclasses import replace
    return replace(r, chosen=chosen, runtime_s=time.perf_counter() - t0, method="chain+milp")


def _fleets(m: PlanModel, members):
    """Owned capacity: every fleet (R, D) that some schedule can need, least first, with the
    fleet's fixed charge (1 − ρ) · (R · Σ_t (a_t + p_t) + D · Σ_t q_t); each candidate within
    it is charged (1 − ρ) · max(b_t · D, wear_k) for the owned drives (:class:`_Search`).
    For a fixed fleet the model is a path; the least of the paths over fleets is the model's
    optimum, since the optimal schedule's own fleet (its largest n and d: a larger one costs no
    less) is among them."""
    cand, cp = m.candidates, m.coupling
    keep = 1 - cp.pool_return
    rows = np.concatenate(members)
    cut = np.r_[0, np.cumsum([len(ks) for ks in members])[:-1]]
    reps = cand["replicas"].to_numpy()[rows]
    drives = cand["ssd_drives"].to_numpy()[rows].astype(float)
    ws = np.asarray(m.windows)
    per_replica = keep * float((cp.replica_embodied_kg[ws] + cp.replica_idle_kg[ws]).sum())
    per_drive = keep * float(cp.drive_idle_kg[ws].sum())
    # The least fleet that leaves every window a candidate bounds R and D from below.
    least_r = int(np.minimum.reduceat(reps, cut).max())
    for R in np.unique(reps):
        if R < least_r:
            continue
        usable = reps <= R
        least_d = np.minimum.reduceat(np.where(usable, drives, np.inf), cut).max()
        for D in np.unique(drives[usable]):
            if D < least_d:
                continue
            yield int(R), int(D), per_replica * R + per_drive * D
