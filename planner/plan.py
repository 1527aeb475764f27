"""The plan pipeline: load inputs, build candidates, solve, assemble schedule and summary.

Each stage is a call into the module that owns it (inputs: workload/prepare.py, solve:
plan_solve.py, baselines: baselines.py, summary: summary.py, provisioning: provisioning.py);
this file only wires them together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner import schedule as schedule_mod, window_inputs
from planner.catalog import Hardware
from planner.config import PlanOptions
from planner.errors import InfeasibleError
from planner.baselines import solve_baselines
from planner.optimize.candidates import CandidateSet, build_candidates
from planner.optimize.diagnostics import WindowDiagnosis, precheck
from planner.optimize.model import PlanModel
from planner.optimize.slo import best_attainment, planned_slos
from planner.optimize.solve import SolveResult
from planner.perf.profile import ProfileTable
from planner.optimize.replica_bound import least_no_cache_replicas, replica_bound
from planner.plan_solve import check_solved, coupling_for, plan_coupling, solve_candidates
from planner.provisioning import provisioning
from planner.summary import build_summary
from planner.workload.hitcurve import HitCurves
from planner.workload.windows import LoadBuckets, parse_window
from planner.workload.prepare import PlanInputs, Progress, _noop, load_inputs


@dataclass
class PlanResult:
    inputs: PlanInputs
    candidates: CandidateSet
    diagnoses: list[WindowDiagnosis]
    model: PlanModel
    solve: SolveResult
    schedule: pd.DataFrame
    chosen: pd.DataFrame
    summary: dict
    baselines: dict
    provisioning: dict
    window_record: str = ""     # window_inputs.json: what `greencache check` re-derives from


# --------------------------------------------------------------------------------------------
# the pipeline
# --------------------------------------------------------------------------------------------

def run_plan(opt: PlanOptions, progress: Progress = _noop,
             reuse: PlanInputs | None = None) -> PlanResult:
    inputs = load_inputs(opt, progress, reuse)
    opt = inputs.options.validate()
    stats = inputs.windowing.stats
    labels = inputs.windowing.labels()
    progress("building candidates")
    cands = plan_candidates(opt, stats, inputs.hits, inputs.ci, inputs.profile, inputs.hardware,
                            inputs.cache_levels_gb, inputs.buckets)
    ttft_bound, tpot_bound = planned_slos(opt)
    requests = stats["requests"].to_numpy(dtype=float)
    diagnoses = precheck(cands.frame, len(stats), labels, ttft_bound, tpot_bound)
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
        raise InfeasibleError(f"{len(bad)} of {len(stats)} window(s) {what}{hint}", lines[:20]
                              + ([f"… and {len(lines) - 20} more"] if len(lines) > 20 else []))
    short = budget and best_attainment(cands.frame, requests) < opt.slo_attainment - 1e-12
    if short and not opt.allow_slo_violation:
        raise InfeasibleError(
            f"no schedule keeps {100 * opt.slo_attainment:.1f} % of the requests within both "
            f"SLOs; the best reaches {100 * best_attainment(cands.frame, requests):.2f} % "
            "(--allow-slo-violation plans the best reachable)", [])

    progress("solving the plan")
    coupling = plan_coupling(inputs, opt, cands.frame)
    solved = solve_candidates(cands.frame, opt, coupling, soft_windows=[d.window for d in bad],
                              requests=requests, attainment_short=short)
    check_solved(solved.result, solved.model)
    chosen = solved.chosen

    progress("solving the baselines")
    baselines = solve_baselines(cands.frame, opt, inputs.cache_levels_gb, coupling,
                                requests)
    sources = [inputs.hits.source] * len(stats)
    sched = schedule_mod.assemble(stats, inputs.ci, chosen, sources, opt.slo_ttft_s,
                                  opt.slo_tpot_s)
    for b in baselines.values():
        if "chosen" in b:
            b["schedule"] = schedule_mod.assemble(stats, inputs.ci, b["chosen"], sources,
                                                  opt.slo_ttft_s, opt.slo_tpot_s)
    prov = provisioning(chosen, stats["hours"].to_numpy(dtype=float), inputs.hardware,
                        opt.capacity, solved.result.owned_replicas, solved.result.owned_drives)
    record = window_inputs.to_json(stats, inputs.hits, inputs.buckets)
    summary = build_summary(inputs, cands, solved.result, chosen, sched, baselines, prov)
    # Derived from the trace by the plan itself and written beside the schedule.
    summary["inputs"]["window_inputs"] = {
        "path": window_inputs.FILE_NAME, "sha256": hashlib.sha256(record.encode()).hexdigest()}
    return PlanResult(inputs, cands, diagnoses, solved.model, solved.result, sched, chosen,
                      summary, baselines, prov, record)


def plan_candidates(opt: PlanOptions, stats: pd.DataFrame, hits: HitCurves, ci: np.ndarray,
                    profile: ProfileTable, hw: Hardware, cache_levels_gb: np.ndarray,
                    buckets: LoadBuckets | None, prune: bool = True) -> CandidateSet:
    """The plan's candidate table from its window inputs: the one call that both the plan and
    ``greencache check`` (which re-derives a plan's numbers from its window_inputs.json) make.
    In per-window p90 mode replica counts the model provably never needs are not built
    (:mod:`planner.optimize.replica_bound`); an attainment budget reads them all."""
    bound = None
    if prune and opt.slo_attainment is None:
        coupling = coupling_for(opt, stats, ci, hw, parse_window(opt.window), stats.iloc[:0])
        bound = replica_bound(
            coupling, hw, profile, stats, ci, *planned_slos(opt),
            least_no_cache_replicas(profile, stats, buckets, cache_levels_gb, opt.headroom,
                                    opt.max_replicas), opt.tie_tolerance)
    return build_candidates(stats, hits, ci, profile, hw, cache_levels_gb, opt.max_replicas,
                            opt.slo_ttft_s, opt.slo_tpot_s, headroom=opt.headroom, prune=prune,
                            buckets=buckets, warmup=opt.warmup, bound=bound)
