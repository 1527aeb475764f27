"""Solving a PlanModel with HiGHS (default) or CBC; the outcome is returned as data.

``solve`` never changes the model it is given: each phase solves a shallow copy of the problem
(its own objective and rows; the variables are shared and carry the last phase's values), so
the same model can be solved again, with the other solver or other limits.

Statuses are enums, as linopy has them: :class:`SolverStatus` says whether the solver ran
cleanly, :class:`TerminationCondition` why it stopped. A best-effort solve reports both of its
phases (least SLO excess, then least carbon within it).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pulp

from planner.choices import SOLVERS
from planner.errors import UsageError
from planner.optimize.model import PlanModel



class SolverStatus(str, Enum):
    ok = "ok"
    warning = "warning"          # stopped early with a solution (time limit)
    error = "error"


class TerminationCondition(str, Enum):
    optimal = "optimal"
    feasible = "feasible"        # a solution, optimality not proven
    infeasible = "infeasible"
    time_limit = "time_limit"
    error = "error"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class PhaseResult:
    """One solver run: what it minimised and how it ended."""

    name: str                    # "carbon" | "slo_excess"
    status: SolverStatus
    termination: TerminationCondition
    message: str                 # the solver's own words
    objective: float
    best_bound: float
    mip_gap: float
    runtime_s: float

    def as_dict(self) -> dict:
        return {"phase": self.name, "status": self.status.value,
                "termination": self.termination.value, "message": self.message,
                "objective": _num(self.objective), "best_bound": _num(self.best_bound),
                "mip_gap": _num(self.mip_gap)}


def _num(x):
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)


@dataclass(frozen=True)
class SolveResult:
    """What the solver said, never None: a failed solve still has a status and a message."""

    solver: str
    status: TerminationCondition   # of the last phase run
    termination: str               # the solver's own words
    objective: float               # carbon (kgCO2e) of the solution, tie terms excluded; NaN without
    best_bound: float              # NaN when the solver gives none
    mip_gap: float                 # relative; 0 when proven optimal, NaN without a solution
    runtime_s: float
    chosen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ttft_excess: dict = field(default_factory=dict)
    tpot_excess: dict = field(default_factory=dict)
    phases: tuple[PhaseResult, ...] = ()
    owned_replicas: int | None = None
    owned_drives: int | None = None
    method: str = "milp"           # "milp" | "chain" (exact dynamic programme, argmin.py)

    @property
    def has_solution(self) -> bool:
        return self.status in (TerminationCondition.optimal, TerminationCondition.feasible,
                               TerminationCondition.time_limit) and len(self.chosen) > 0

    def as_dict(self) -> dict:
        return {"solver": self.solver, "method": self.method, "status": self.status.value,
                "termination": self.termination, "objective_kgco2e": _num(self.objective),
                "best_bound": _num(self.best_bound), "mip_gap": _num(self.mip_gap),
                "runtime_s": round(self.runtime_s, 4),
                "phases": [p.as_dict() for p in self.phases]}


@contextlib.contextmanager
def quiet_stdout():
    """HiGHS prints its banner straight to file descriptor 1 when constructed, around Python's
    sys.stdout; the CLI's stdout must carry only greencache's own output."""
    sys.stdout.flush()
    try:
        fd = os.dup(1)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(fd, 1)
        os.close(fd)


def _abs_gap(m: PlanModel) -> float | None:
    """With the tie rule on, the solver must close the gap below the smallest tie step
    (η / 4N), or two solvers could stop at different members of a tie."""
    cp = m.coupling
    if cp.tie_eta <= 0:
        return None
    return cp.tie_eta / (8.0 * max(cp.max_replicas, 1))


def solve(m: PlanModel, solver: str = "highs", time_limit_s: float = 300.0,
          mip_gap: float = 1e-6, threads: int | None = None) -> SolveResult:
    """Least carbon; with soft windows or an attainment shortfall, lexicographically: least
    SLO excess first (phase 1), then least carbon within that excess (phase 2,
    ``slo_excess_budget``)."""
    if solver not in SOLVERS:
        raise UsageError(f"unknown solver {solver!r}; choose highs or cbc")
    run = _solve_highs if solver == "highs" else _solve_cbc
    gap_abs = _abs_gap(m)
    t0 = time.perf_counter()
    phases = []
    problem = m.problem.copy()
    if m.best_effort:
        problem.setObjective(m.excess())
        first = run(problem, time_limit_s, mip_gap, None, threads, "slo_excess")
        phases.append(first)
        if first.termination not in (TerminationCondition.optimal,):
            return _with_solution(m, solver, phases, time.perf_counter() - t0)
        best = float(pulp.value(m.excess()))
        problem = m.problem.copy()
        # The slack absorbs the solvers' feasibility tolerance (1e-7 on rows) in the excess.
        problem.addConstraint(m.excess() <= best * (1 + 1e-6) + 1e-6, "slo_excess_budget")
    problem.setObjective(m.objective())
    phases.append(run(problem, time_limit_s, mip_gap, gap_abs, threads, "carbon"))
    return _with_solution(m, solver, phases, time.perf_counter() - t0)


def _solve_highs(problem, time_limit_s, mip_gap, gap_abs, threads, phase) -> PhaseResult:
    import highspy

    t0 = time.perf_counter()
    backend = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=mip_gap, gapAbs=gap_abs,
                         threads=threads or 1)
    with quiet_stdout():
        problem.solve(backend)
    h = problem.solverModel
    status = h.getModelStatus()
    info = h.getInfo()
    name = h.modelStatusToString(status)
    S = highspy.HighsModelStatus
    has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if status == S.kOptimal:
        term = TerminationCondition.optimal
    elif status in (S.kInfeasible, S.kUnboundedOrInfeasible):
        term = TerminationCondition.infeasible
    elif status == S.kTimeLimit:
        term = TerminationCondition.time_limit
    else:
        term = TerminationCondition.error
    obj = float(info.objective_function_value) if has_sol else float("nan")
    bound = float(info.mip_dual_bound) if has_sol else float("nan")
    gap = float(info.mip_gap) if has_sol else float("nan")
    if term == TerminationCondition.optimal and has_sol and not np.isfinite(gap):
        gap = 0.0
    if term == TerminationCondition.optimal and has_sol and not np.isfinite(bound):
        bound = obj
    return PhaseResult(phase, _status(term, has_sol), term, name, obj, bound, gap,
                       time.perf_counter() - t0)


def _status(term: TerminationCondition, has_sol: bool) -> SolverStatus:
    if term in (TerminationCondition.optimal, TerminationCondition.infeasible):
        return SolverStatus.ok
    if has_sol:
        return SolverStatus.warning
    return SolverStatus.error


_CBC_GAP = re.compile(r"Gap:\s+([-+0-9.eE]+)")
_CBC_BOUND = re.compile(r"Lower bound:\s+([-+0-9.eE]+)")
_CBC_RESULT = re.compile(r"Result - (.+)")


def _solve_cbc(problem, time_limit_s, mip_gap, gap_abs, threads, phase) -> PhaseResult:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="greencache-cbc-") as tmp:
        log = os.path.join(tmp, "cbc.log")
        with warnings.catch_warnings():
            # PuLP 3.3 deprecates its bundled CBC in favour of the `pulp[cbc]` extra; the
            # bundled binary is what constraints.txt pins and what CI has.
            warnings.simplefilter("ignore", DeprecationWarning)
            backend = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, gapRel=mip_gap,
                                        gapAbs=gap_abs, threads=threads, logPath=log,
                                        keepFiles=False)
        problem.solve(backend)
        text = open(log, encoding="utf-8", errors="replace").read() if os.path.exists(log) else ""
    result = _CBC_RESULT.search(text)
    message = result.group(1).strip() if result else pulp.LpStatus[problem.status]
    sol = problem.sol_status
    has_sol = sol in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    if "time" in message.lower() and "limit" in message.lower():
        term = TerminationCondition.time_limit
    elif problem.status == pulp.LpStatusOptimal and sol == pulp.LpSolutionOptimal:
        term = TerminationCondition.optimal
    elif problem.status == pulp.LpStatusInfeasible or "infeasible" in message.lower():
        term = TerminationCondition.infeasible
        has_sol = False
    elif has_sol:
        term = TerminationCondition.feasible
    else:
        term = TerminationCondition.error
    obj = float(pulp.value(problem.objective)) if has_sol else float("nan")
    bound_m = _CBC_BOUND.search(text)
    gap_m = _CBC_GAP.search(text)
    if bound_m:
        bound = float(bound_m.group(1))
    else:
        # CBC prints no bound when it proves optimality: the bound is the objective itself.
        bound = obj if term == TerminationCondition.optimal else float("nan")
    if gap_m:
        gap = float(gap_m.group(1))
    elif has_sol and np.isfinite(bound):
        gap = abs(obj - bound) / max(abs(obj), 1e-12)
    else:
        gap = float("nan")
    return PhaseResult(phase, _status(term, has_sol), term, message, obj, bound, gap,
                       time.perf_counter() - t0)


def _with_solution(m: PlanModel, solver: str, phases: list[PhaseResult],
                   runtime: float) -> SolveResult:
    last = phases[-1]
    term, message = last.termination, last.message
    has_sol = last.status != SolverStatus.error and term != TerminationCondition.infeasible \
        and np.isfinite(last.objective)
    chosen = np.zeros(0, dtype=np.int64)
    ttft_x, tpot_x = {}, {}
    carbon = float("nan")
    owned = (None, None)
    if has_sol and last.name == "carbon":
        vals = np.array([v.varValue or 0.0 for v in m.choose])
        chosen = np.flatnonzero(vals > 0.5)
        ttft_x = {t: float(v.varValue or 0.0) for t, v in m.ttft_excess.items()}
        tpot_x = {t: float(v.varValue or 0.0) for t, v in m.tpot_excess.items()}
        carbon = float(pulp.value(m.carbon))
        if m.owned_replicas is not None:
            owned = (int(round(m.owned_replicas.varValue or 0.0)),
                     int(round(m.owned_drives.varValue or 0.0)))
        windows = m.candidates["window"].to_numpy()[chosen]
        if len(np.unique(windows)) != len(windows) or \
                len(windows) != m.candidates["window"].nunique():
            term, message = TerminationCondition.error, \
                f"{message}; solution does not pick one config per window"
            chosen = np.zeros(0, dtype=np.int64)
    return SolveResult(solver=solver, status=term, termination=message, objective=carbon,
                       best_bound=last.best_bound, mip_gap=last.mip_gap, runtime_s=runtime,
                       chosen=chosen, ttft_excess=ttft_x, tpot_excess=tpot_x,
                       phases=tuple(phases), owned_replicas=owned[0], owned_drives=owned[1])
