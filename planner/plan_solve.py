"""The plan's solve stage: candidates → the coupled model → its optimum → charged schedule.

The model is solved by the MILP when anything couples windows beyond their neighbour and the
owned fleet (minimum dwell, daily change limit, best-effort windows, an attainment budget),
else by the exact chain programme of :mod:`planner.optimize.argmin` (one chain per owned
fleet), which reaches the same optimum and schedule (tested) in a fraction of the time. ``--rolling-block`` solves a long horizon's MILP in
blocks instead (:mod:`planner.optimize.rolling`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np
import pandas as pd

from planner.config import PlanOptions
from planner.errors import InfeasibleError, SolverError
from planner.optimize.argmin import Chain, chain_applicable, solve_chain
from planner.optimize.candidates import prune_extra_replicas
from planner.optimize.charges import charge
from planner.optimize.coupling import Coupling, build_coupling
from planner.optimize.diagnostics import iis
from planner.optimize.incumbent import drop_beyond_incumbent
from planner.optimize.model import PlanModel, build_model
from planner.optimize.rolling import solve_rolling
from planner.optimize.slo import model_options, planned_slos
from planner.optimize.solve import SolveResult, TerminationCondition, solve


# Below this many candidates the MILP is solved whole: the incumbent's chains cost more than
# they save.
INCUMBENT_MIN_CANDIDATES = 2_000


@dataclass
class Solved:
    result: SolveResult
    chosen: pd.DataFrame      # one charged row per window, sorted by window
    build: Callable[[], PlanModel] = field(repr=False)

    @cached_property
    def model(self) -> PlanModel:
        """The MILP of the solve (built on first use when the chain programme solved it
        without one: ``--write-model``, an infeasibility report)."""
        return self.build()


def plan_coupling(inputs, opt: PlanOptions, candidates: pd.DataFrame) -> Coupling:
    """The scenario's coupling data for these windows and candidates."""
    return coupling_for(opt, inputs.windowing.stats, inputs.ci, inputs.hardware,
                        inputs.windowing.length, candidates)


def coupling_for(opt: PlanOptions, stats: pd.DataFrame, ci: np.ndarray, hw, length: pd.Timedelta,
                 candidates: pd.DataFrame) -> Coupling:
    """:func:`plan_coupling` from the window statistics themselves (``greencache check`` has
    them from window_inputs.json, not from a trace)."""
    window_h = float(length / pd.Timedelta(hours=1))
    return build_coupling(
        stats, ci, hw, candidates,
        capacity=opt.capacity, pool_return=opt.pool_return, owned_idle=opt.owned_idle,
        window_h=window_h, min_dwell_h=opt.min_dwell_hours(),
        max_changes_per_day=opt.max_changes_per_day, weight_load_s=opt.weight_load_s,
        tie_tolerance=opt.tie_tolerance, max_replicas=opt.max_replicas)


def solve_candidates(candidates: pd.DataFrame, opt: PlanOptions, coupling: Coupling,
                     soft_windows=(), name: str = "greencache_plan", requests=None,
                     attainment_short: bool = False) -> Solved:
    """Build the model and solve it by the chain programme or the MILP, whichever applies.

    Per-window p90 mode: in windows that must meet the SLO (less the margin), candidates that
    miss it are dropped first: they could only be chosen at zero weight, and without them the
    relaxation cannot mix a fast and a slow candidate into a fractional "on average within
    SLO" one, which keeps the LP bound tight (the SLO rows stay, and name the window if the
    model is infeasible). Budget mode (``--slo-attainment``, ``requests`` per window) keeps
    every candidate: a slower one may pay for a faster one elsewhere; ``attainment_short``
    plans the best reachable attainment first. Where the MILP is needed, candidates that no
    schedule within the MIP gap can use are dropped too (:mod:`planner.optimize.incumbent`)."""
    ttft_bound, tpot_bound = planned_slos(opt)
    kept = model_candidates(candidates, opt, coupling, soft_windows).reset_index(drop=True)
    build = lambda: build_model(kept, ttft_bound, tpot_bound,  # noqa: E731
                                soft_windows=soft_windows, coupling=coupling, name=name,
                                **model_options(opt, requests, attainment_short))
    soft = [t for t in soft_windows if t in set(kept["window"].tolist())]
    if not coupling.needs_milp() and not soft and opt.slo_attainment is None:
        # The chain programme reads the candidates only: no MILP is built for it.
        chain = Chain(kept, coupling, ttft_bound, tpot_bound)
        result, rows = solve_chain(chain, opt.solver), chain.candidates
        solved = Solved(result, pd.DataFrame(), build)
    else:
        model = build()
        solved = Solved(solve_plan_model(model, opt), pd.DataFrame(), lambda: model)
        result, rows = solved.result, model.candidates
    if result.has_solution:
        solved.chosen = charge(rows.iloc[result.chosen], coupling, result.owned_replicas,
                               result.owned_drives)
    return solved


def model_candidates(candidates: pd.DataFrame, opt: PlanOptions, coupling: Coupling,
                     soft_windows=(), keep: pd.DataFrame | None = None) -> pd.DataFrame:
    """The candidates the plan's model holds (:func:`solve_candidates` says which are dropped
    and why); ``keep`` (rows with window, replicas, level and prev_level) stay among those the
    incumbent bound would drop."""
    if opt.slo_attainment is not None:
        return candidates
    ttft_bound, tpot_bound = planned_slos(opt)
    soft = set(soft_windows)
    ok = (candidates["p90_ttft_s"].to_numpy() <= ttft_bound) & \
        (candidates["p90_tpot_s"].to_numpy() <= tpot_bound)
    candidates = prune_extra_replicas(
        candidates[ok | candidates["window"].isin(soft).to_numpy()], coupling, soft)
    if coupling.needs_milp() and not soft and len(candidates) > INCUMBENT_MIN_CANDIDATES:
        candidates = drop_beyond_incumbent(candidates, coupling, ttft_bound, tpot_bound,
                                           opt.mip_gap, keep)
    return candidates


def plan_model(candidates: pd.DataFrame, opt: PlanOptions, coupling: Coupling, soft_windows=(),
               name: str = "greencache_plan", requests=None,
               attainment_short: bool = False, keep: pd.DataFrame | None = None) -> PlanModel:
    """The plan's model of these candidates; ``greencache check`` certifies a plan against it,
    keeping the schedule's own configurations (``keep``) among those the incumbent bound would
    drop, so that the schedule's rows are evaluated as they are."""
    ttft_bound, tpot_bound = planned_slos(opt)
    return build_model(model_candidates(candidates, opt, coupling, soft_windows, keep),
                       ttft_bound, tpot_bound, soft_windows=soft_windows, coupling=coupling,
                       name=name, **model_options(opt, requests, attainment_short))


def solve_plan_model(model: PlanModel, opt: PlanOptions) -> SolveResult:
    """The chain programme where it applies, else the MILP (as a rolling horizon with
    ``--rolling-block``, per-window p90 mode without best-effort windows)."""
    if chain_applicable(model):
        return solve_chain(model, opt.solver)
    if 0 < opt.rolling_block < len(model.groups) and not model.soft_windows \
            and opt.slo_attainment is None:
        return solve_rolling(model.candidates, model.slo_ttft_s, model.slo_tpot_s,
                             model.coupling, opt.rolling_block, opt.rolling_overlap, opt.solver,
                             opt.time_limit_s, opt.mip_gap)
    return solve(model, opt.solver, opt.time_limit_s, opt.mip_gap)


def check_solved(result: SolveResult, model: PlanModel) -> None:
    if result.status == TerminationCondition.optimal and result.has_solution:
        return
    if result.status == TerminationCondition.infeasible:
        names = iis(model) if not model.coupling.needs_milp() else []
        raise InfeasibleError(
            "the solver found the plan infeasible although every window passed the pre-check"
            + ("" if not model.coupling.needs_milp() else
               " (the minimum dwell or the daily change limit cannot be kept with these "
               "windows' SLO: loosen --min-dwell or --max-changes-per-day)"),
            [f"irreducible infeasible subset: {', '.join(names[:12]) or 'not available'}"])
    if result.status == TerminationCondition.time_limit:
        raise SolverError(f"{result.solver} stopped at its time limit with gap "
                          f"{result.mip_gap:.2%} ({result.termination}); raise --time-limit")
    raise SolverError(f"{result.solver} did not solve the plan: {result.termination}")
