"""The plan's solve stage: candidates → the coupled model → its optimum → charged schedule.

The model is solved by the exact dynamic programme of :mod:`planner.optimize.argmin` (one per
owned fleet; an attainment budget by Lagrangian relaxation, with the MILP only to close a gap
the relaxation leaves), which reaches the MILP's optimum and schedule (tested) in a fraction of
its time; by the MILP where best-effort windows or a best-effort attainment shortfall are
planned. ``--rolling-block`` solves a long horizon in blocks instead
(:mod:`planner.optimize.rolling`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Callable

import numpy as np
import pandas as pd

from planner.config import PlanOptions
from planner.errors import InfeasibleError, SolverError
from planner.optimize.argmin import Chain, chain_applicable, solve_chain
from planner.catalog import Hardware
from planner.optimize.candidates import CandidateSet, build_candidates, prune_extra_replicas
from planner.optimize.incumbent import drop_beyond_incumbent
from planner.optimize.replica_bound import least_no_cache_replicas, replica_bound
from planner.perf.profile import ProfileTable
from planner.workload.curves import HitCurves
from planner.workload.windows import LoadBuckets, parse_window
from planner.optimize.charges import charge
from planner.optimize.coupling import Coupling, build_coupling
from planner.optimize.diagnostics import WindowDiagnosis, iis, precheck
from planner.optimize.model import PlanModel, build_model
from planner.optimize.rolling import solve_rolling
from planner.optimize.slo import best_attainment, model_options, planned_slos
from planner.optimize.solve import SolveResult, TerminationCondition, solve


# Below this many candidates the MILP is solved whole: the incumbent's chains cost more than
# they save.
INCUMBENT_MIN_CANDIDATES = 2_000


@dataclass
class Solved:
    source: PlanModel | Callable[[], PlanModel]   # the model, or how to build it
    result: SolveResult
    chosen: pd.DataFrame      # one charged row per window, sorted by window
    kept: pd.DataFrame | None = None   # the candidates the model holds (model_candidates)

    @cached_property
    def model(self) -> PlanModel:
        """The MILP of the solve (built on first use when the chain programme solved it
        without one: ``--write-model``, an infeasibility report)."""
        return self.source() if callable(self.source) else self.source


def plan_candidates(opt: PlanOptions, stats: pd.DataFrame, hits: HitCurves, ci: np.ndarray,
                    profile: ProfileTable, hw: Hardware, cache_levels_gb: np.ndarray,
                    buckets: LoadBuckets | None, prune: bool = True,
                    only: pd.DataFrame | None = None) -> CandidateSet:
    """The plan's candidate table from its window inputs: the one call that both the plan and
    ``greencache check`` (which re-derives a plan's numbers from its window_inputs.json) make.
    Replica counts the model provably never needs are not built
    (:mod:`planner.optimize.replica_bound`); plans on forecasts build them all (each
    decision's model also holds windows these are not, whose carbon sets the tie rule's scale).
    ``only`` (window, replicas, level, prev_level) computes just those configurations, unpruned
    (:func:`build_candidates`).

    An attainment budget first builds the counts its relaxation without the budget (and
    without the per-window rows the budget replaces) can need. When every schedule of those
    candidates keeps the budget (:func:`budget_holds_everywhere`), the relaxation's optimum,
    which they hold, keeps it too and is the budget model's optimum: they are the table. Else
    every count is built."""
    bound = None
    budget = opt.slo_attainment is not None
    if only is not None:
        prune = False
    if prune and opt.foresight != "forecast":
        coupling = coupling_for(opt, stats, ci, hw, parse_window(opt.window), stats.iloc[:0])
        slos = (np.inf, np.inf) if budget else planned_slos(opt)
        bound = replica_bound(
            coupling, hw, profile, stats, ci, *slos,
            least_no_cache_replicas(profile, stats, buckets, cache_levels_gb, opt.headroom,
                                    opt.max_replicas), opt.tie_tolerance)
    build = lambda b: build_candidates(  # noqa: E731
        stats, hits, ci, profile, hw, cache_levels_gb, opt.max_replicas, opt.slo_ttft_s,
        opt.slo_tpot_s, headroom=opt.headroom, prune=prune, buckets=buckets, warmup=opt.warmup,
        bound=b, only=only)
    cands = build(bound)
    if bound is not None and budget and not budget_holds_everywhere(
            cands.frame, stats["requests"].to_numpy(dtype=float), opt.slo_attainment):
        cands = build(None)
    return cands


def budget_holds_everywhere(cands: pd.DataFrame, requests: np.ndarray, target: float) -> bool:
    """Whether every schedule of ``cands`` keeps the attainment budget: each window at its
    candidate of least within-SLO share still reaches ``target``."""
    r = np.asarray(requests, dtype=float)
    worst = cands.groupby("window")["within_slo_share"].min()
    if len(worst) < len(r):
        return False
    total = float(r.sum())
    return total == 0 or float((r[worst.index.to_numpy()] * worst.to_numpy()).sum()) \
        >= target * total * (1 + 1e-12)


def screen_windows(candidates: pd.DataFrame, stats: pd.DataFrame, labels: list[str],
                   opt: PlanOptions, where: str = "") -> tuple[list[WindowDiagnosis], list[int],
                                                               bool]:
    """Before solving: every window's diagnosis, the windows planned best-effort and whether
    the attainment budget is out of reach. A window no configuration can serve, or (without
    --allow-slo-violation) one that cannot meet the SLO or a budget out of reach, is an
    InfeasibleError naming them; ``where`` says which decision, for rolling plans."""
    ttft_bound, tpot_bound = planned_slos(opt)
    requests = stats["requests"].to_numpy(dtype=float)
    diagnoses = precheck(candidates, len(stats), labels, ttft_bound, tpot_bound)
    bad = [d for d in diagnoses if not d.feasible]
    overloaded = [d for d in bad if d.binding == "capacity"]
    budget = opt.slo_attainment is not None
    if budget:
        bad = overloaded    # the budget replaces the per-window rows
    if overloaded or (bad and not opt.allow_slo_violation):
        lines = [d.sentence(ttft_bound, tpot_bound, opt.max_replicas) for d in bad]
        what = "cannot serve the load" if overloaded else "cannot meet the SLO" + (
            f" less the {opt.slo_margin:.0%} planning margin (--slo-margin)"
            if opt.slo_margin else "")
        hint = "" if overloaded else "; --allow-slo-violation plans them best-effort"
        raise InfeasibleError(f"{len(bad)} of {len(stats)} window(s){where} {what}{hint}",
                              lines[:20]
                              + ([f"… and {len(lines) - 20} more"] if len(lines) > 20 else []))
    short = budget and best_attainment(candidates, requests) < opt.slo_attainment - 1e-12
    if short and not opt.allow_slo_violation:
        raise InfeasibleError(
            f"no schedule keeps {100 * opt.slo_attainment:.1f} % of the requests within both "
            f"SLOs; the best reaches {100 * best_attainment(candidates, requests):.2f} % "
            "(--allow-slo-violation plans the best reachable)", [])
    return diagnoses, [d.window for d in bad], short


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
        tie_tolerance=opt.tie_tolerance, max_replicas=opt.max_replicas, warmup=opt.warmup)


def schedule_coupling(opt: PlanOptions, schedule: pd.DataFrame, ci: np.ndarray, hw) -> Coupling:
    """The coupling a replay charges a schedule with: the scenario's starts and capacity
    accounting over the schedule's own windows (the tie rule, which only orders equal plans,
    left out)."""
    start = pd.DatetimeIndex(schedule["window_start"])
    end = pd.DatetimeIndex(schedule["window_end"])
    stats = pd.DataFrame({"window_start": start,
                          "hours": (end - start).total_seconds().to_numpy() / 3600.0})
    length = end[0] - start[0] if len(start) else pd.Timedelta(hours=1)
    return coupling_for(replace(opt, tie_tolerance=0.0), stats, ci, hw, length, pd.DataFrame())


def solve_candidates(candidates: pd.DataFrame, opt: PlanOptions, coupling: Coupling,
                     soft_windows=(), name: str = "greencache_plan", requests=None,
                     attainment_short: bool = False) -> Solved:
    """Solve the plan by the dynamic programme (no MILP is built) or, for best-effort plans,
    the MILP; ``--rolling-block`` in blocks.

    Per-window p90 mode: in windows that must meet the SLO (less the margin), candidates that
    miss it are dropped first: they could only be chosen at zero weight, and without them the
    relaxation cannot mix a fast and a slow candidate into a fractional "on average within
    SLO" one, which keeps the LP bound tight (the SLO rows stay, and name the window if the
    model is infeasible). Budget mode (``--slo-attainment``, ``requests`` per window) keeps
    every candidate: a slower one may pay for a faster one elsewhere; ``attainment_short``
    plans the best reachable attainment first."""
    ttft_bound, tpot_bound = planned_slos(opt)
    rolling = 0 < opt.rolling_block < candidates["window"].nunique() and \
        opt.slo_attainment is None
    # No incumbent bound here: the programme's time follows the windows more than the
    # candidates, so the incumbent's own programmes would cost more than they save (rolling
    # blocks are programmes too), and the MILP is left to best-effort plans, which it does
    # not apply to.
    programme = not soft_windows and not attainment_short and not rolling
    kept = model_candidates(candidates, opt, coupling, soft_windows,
                            requests=requests).reset_index(drop=True)
    build = lambda: build_model(kept, ttft_bound, tpot_bound,  # noqa: E731
                                soft_windows=soft_windows, coupling=coupling, name=name,
                                **model_options(opt, requests, attainment_short))
    soft = [t for t in soft_windows if t in set(kept["window"].tolist())]
    if programme:
        # The programme reads the candidates only: no MILP is built for it.
        budget = opt.slo_attainment is not None
        chain = Chain(kept, coupling, ttft_bound, tpot_bound, attainment=opt.slo_attainment,
                      requests=np.asarray(requests, dtype=float) if budget else None)
        result, rows = solve_chain(chain, opt.solver, opt.mip_gap, opt.time_limit_s), \
            chain.candidates
        solved = Solved(build, result, pd.DataFrame(), kept)
    elif rolling and not soft_windows:
        # Each block is a programme of its own: no MILP of the whole horizon is built.
        result, rows = solve_rolling(kept, ttft_bound, tpot_bound, coupling, opt.rolling_block,
                                     opt.rolling_overlap, opt.solver, opt.time_limit_s,
                                     opt.mip_gap), kept
        solved = Solved(build, result, pd.DataFrame(), kept)
    else:
        model = build()
        solved = Solved(model, solve_plan_model(model, opt), pd.DataFrame(), kept)
        result, rows = solved.result, model.candidates
    if result.has_solution:
        solved.chosen = charge(rows.iloc[result.chosen], coupling, result.owned_replicas,
                               result.owned_drives)
    return solved


def model_candidates(candidates: pd.DataFrame, opt: PlanOptions, coupling: Coupling,
                     soft_windows=(), keep: pd.DataFrame | None = None,
                     incumbent: bool = False, requests=None) -> pd.DataFrame:
    """The candidates the model holds (:func:`solve_candidates` says why): in per-window p90
    mode those within the planned SLO bounds (all of a soft window's), less the replica counts
    :func:`prune_extra_replicas` proves useless, and with ``incumbent`` (a whole horizon's
    model, nothing held fixed) those no schedule within the MIP gap can use; ``keep`` (rows
    with window, replicas, level and prev_level) stay all the same. Under an attainment budget
    those no schedule within the budget and the MIP gap can use, when a schedule holding one
    level keeps the budget (``requests`` per window)."""
    if opt.slo_attainment is not None:
        if incumbent and requests is not None and len(candidates) > INCUMBENT_MIN_CANDIDATES:
            r = np.asarray(requests, dtype=float)
            miss = r[candidates["window"].to_numpy()] * \
                (1.0 - candidates["within_slo_share"].to_numpy())
            candidates = drop_beyond_incumbent(
                candidates, coupling, *planned_slos(opt), opt.mip_gap, keep, miss=miss,
                budget=(1.0 - opt.slo_attainment) * float(r.sum()))
        return candidates
    ttft_bound, tpot_bound = planned_slos(opt)
    soft = set(soft_windows)
    ok = (candidates["p90_ttft_s"].to_numpy() <= ttft_bound) & \
        (candidates["p90_tpot_s"].to_numpy() <= tpot_bound)
    candidates = prune_extra_replicas(
        candidates[ok | candidates["window"].isin(soft).to_numpy()], coupling, soft)
    if incumbent and coupling.needs_milp() and not soft and \
            len(candidates) > INCUMBENT_MIN_CANDIDATES:
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
    return build_model(model_candidates(candidates, opt, coupling, soft_windows, keep,
                                        incumbent=True, requests=requests),
                       ttft_bound, tpot_bound, soft_windows=soft_windows, coupling=coupling,
                       name=name, **model_options(opt, requests, attainment_short))


def solve_plan_model(model: PlanModel, opt: PlanOptions) -> SolveResult:
    """The chain programme where it applies, else the MILP (as a rolling horizon with
    ``--rolling-block``, per-window p90 mode without best-effort windows)."""
    if 0 < opt.rolling_block < len(model.groups) and not model.soft_windows \
            and opt.slo_attainment is None:
        return solve_rolling(model.candidates, model.slo_ttft_s, model.slo_tpot_s,
                             model.coupling, opt.rolling_block, opt.rolling_overlap, opt.solver,
                             opt.time_limit_s, opt.mip_gap)
    if chain_applicable(model):
        return solve_chain(model, opt.solver, opt.mip_gap, opt.time_limit_s)
    return solve(model, opt.solver, opt.time_limit_s, opt.mip_gap)


def check_solved(solved: Solved) -> None:
    """Raise unless the plan was solved to optimality. The MILP is built only to explain an
    infeasible one (most plans are solved by the chain programme and never build it)."""
    result = solved.result
    if result.status == TerminationCondition.optimal and result.has_solution:
        return
    if result.status == TerminationCondition.infeasible:
        model = solved.model
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
