"""Solving a PlanModel with HiGHS (default) or CBC; the outcome is returned as data."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pulp

from planner.errors import UsageError
from planner.optimize.model import PlanModel

SOLVERS = ("highs", "cbc")


@dataclass(frozen=True)
class SolveResult:
    """What the solver said, never None: a failed solve still has a status and a message."""

    solver: str
    status: str                 # optimal | feasible | infeasible | time_limit | error
    termination: str            # the solver's own words
    objective: float            # NaN without a solution
    best_bound: float           # NaN when the solver gives none
    mip_gap: float              # relative; 0 when proven optimal, NaN without a solution
    runtime_s: float
    chosen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ttft_excess: dict = field(default_factory=dict)
    tpot_excess: dict = field(default_factory=dict)

    @property
    def has_solution(self) -> bool:
        return self.status in ("optimal", "feasible", "time_limit") and len(self.chosen) > 0

    def as_dict(self) -> dict:
        def num(x):
            return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)
        return {"solver": self.solver, "status": self.status, "termination": self.termination,
                "objective_kgco2e": num(self.objective), "best_bound": num(self.best_bound),
                "mip_gap": num(self.mip_gap), "runtime_s": round(self.runtime_s, 4)}


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


def solve(m: PlanModel, solver: str = "highs", time_limit_s: float = 300.0,
          mip_gap: float = 1e-6, threads: int | None = None) -> SolveResult:
    """Least carbon; with soft windows or an attainment shortfall, lexicographically: least
    SLO excess first (phase 1), then least carbon within that excess (phase 2,
    ``slo_excess_budget``)."""
    if solver not in SOLVERS:
        raise UsageError(f"unknown solver {solver!r}; choose highs or cbc")
    run = _solve_highs if solver == "highs" else _solve_cbc
    t0 = time.perf_counter()
    if m.best_effort:
        m.problem.setObjective(m.excess())
        first = run(m, time_limit_s, mip_gap, threads)
        if not first[-1]:
            return _with_solution(m, solver, first, time.perf_counter() - t0)
        best = float(pulp.value(m.excess()))
        # The slack absorbs the solvers' feasibility tolerance (1e-7 on rows) in the excess.
        m.problem += (m.excess() <= best * (1 + 1e-6) + 1e-6, "slo_excess_budget")
        m.problem.setObjective(m.carbon)
    result = run(m, time_limit_s, mip_gap, threads)
    return _with_solution(m, solver, result, time.perf_counter() - t0)


def _solve_highs(m: PlanModel, time_limit_s, mip_gap, threads):
    import highspy

    backend = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=mip_gap,
                         threads=threads or 1)
    with quiet_stdout():
        m.problem.solve(backend)
    h = m.problem.solverModel
    status = h.getModelStatus()
    info = h.getInfo()
    name = h.modelStatusToString(status)
    S = highspy.HighsModelStatus
    if status == S.kOptimal:
        st = "optimal"
    elif status in (S.kInfeasible, S.kUnboundedOrInfeasible):
        st = "infeasible"
    elif status == S.kTimeLimit:
        st = "time_limit"
    else:
        st = "error"
    has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
    obj = float(info.objective_function_value) if has_sol else float("nan")
    bound = float(info.mip_dual_bound) if has_sol else float("nan")
    gap = float(info.mip_gap) if has_sol else float("nan")
    if st == "optimal" and has_sol and not np.isfinite(gap):
        gap = 0.0
    return st, name, obj, bound, gap, has_sol


_CBC_GAP = re.compile(r"Gap:\s+([-+0-9.eE]+)")
_CBC_BOUND = re.compile(r"Lower bound:\s+([-+0-9.eE]+)")
_CBC_RESULT = re.compile(r"Result - (.+)")


def _solve_cbc(m: PlanModel, time_limit_s, mip_gap, threads):
    with tempfile.TemporaryDirectory(prefix="greencache-cbc-") as tmp:
        log = os.path.join(tmp, "cbc.log")
        with warnings.catch_warnings():
            # PuLP 3.3 deprecates its bundled CBC in favour of the `pulp[cbc]` extra; the
            # bundled binary is what constraints.txt pins and what CI has.
            warnings.simplefilter("ignore", DeprecationWarning)
            backend = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, gapRel=mip_gap,
                                        threads=threads, logPath=log, keepFiles=False)
        m.problem.solve(backend)
        text = open(log, encoding="utf-8", errors="replace").read() if os.path.exists(log) else ""
    result = _CBC_RESULT.search(text)
    termination = result.group(1).strip() if result else pulp.LpStatus[m.problem.status]
    sol = m.problem.sol_status
    has_sol = sol in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    if "time" in termination.lower() and "limit" in termination.lower():
        st = "time_limit"
    elif m.problem.status == pulp.LpStatusOptimal and sol == pulp.LpSolutionOptimal:
        st = "optimal"
    elif m.problem.status == pulp.LpStatusInfeasible or "infeasible" in termination.lower():
        st = "infeasible"
        has_sol = False
    elif has_sol:
        st = "feasible"
    else:
        st = "error"
    obj = float(pulp.value(m.problem.objective)) if has_sol else float("nan")
    bound_m = _CBC_BOUND.search(text)
    gap_m = _CBC_GAP.search(text)
    if bound_m:
        bound = float(bound_m.group(1))
    else:
        # CBC prints no bound when it proves optimality: the bound is the objective itself.
        bound = obj if st == "optimal" else float("nan")
    if gap_m:
        gap = float(gap_m.group(1))
    elif has_sol and np.isfinite(bound):
        gap = abs(obj - bound) / max(abs(obj), 1e-12)
    else:
        gap = float("nan")
    return st, termination, obj, bound, gap, has_sol


def _with_solution(m: PlanModel, solver: str, result, runtime) -> SolveResult:
    st, termination, obj, bound, gap, has_sol = result
    chosen = np.zeros(0, dtype=np.int64)
    ttft_x, tpot_x = {}, {}
    if has_sol:
        vals = np.array([v.varValue or 0.0 for v in m.choose])
        chosen = np.flatnonzero(vals > 0.5)
        ttft_x = {t: float(v.varValue or 0.0) for t, v in m.ttft_excess.items()}
        tpot_x = {t: float(v.varValue or 0.0) for t, v in m.tpot_excess.items()}
        windows = m.candidates["window"].to_numpy()[chosen]
        if len(np.unique(windows)) != len(windows) or \
                len(windows) != m.candidates["window"].nunique():
            st, termination = "error", f"{termination}; solution does not pick one config per window"
            chosen = np.zeros(0, dtype=np.int64)
    return SolveResult(solver=solver, status=st, termination=termination, objective=obj, best_bound=bound,
                       mip_gap=gap, runtime_s=runtime, chosen=chosen, ttft_excess=ttft_x,
                       tpot_excess=tpot_x)
