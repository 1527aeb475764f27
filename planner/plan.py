"""The plan pipeline: load inputs, build candidates, solve, assemble schedule and summary.

Each stage is a call into the module that owns it (inputs: workload/prepare.py, solve:
plan_solve.py, baselines: baselines.py, summary: summary.py, provisioning: provisioning.py);
this file only wires them together. ``plan_candidates`` (plan_solve.py) is re-exported: it is
the call ``greencache check`` makes too. A plan on forecasts (``--foresight forecast``) is solved
decision by decision by :mod:`planner.foresight.decide`, and judged against the plan of the
same windows made with perfect foresight, written beside it as a baseline.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd

from planner import candidate_record, schedule as schedule_mod, window_inputs
from planner.config import PlanOptions
from planner.baselines import solve_baselines, totals
from planner.foresight.decide import plan_on_forecasts
from planner.foresight.horizon import plan_horizon, planned_inputs
from planner.foresight.lookahead import forecast_lookahead
from planner.optimize.candidates import CandidateSet
from planner.optimize.diagnostics import WindowDiagnosis
from planner.optimize.model import PlanModel
from planner.optimize import value
from planner.optimize.slo import planned_slos, predicted_attainment
from planner.optimize.solve import SolveResult
from planner.plan_solve import (Solved, check_solved, plan_candidates, plan_coupling,
                                screen_windows, solve_candidates)
from planner.provisioning import provisioning
from planner.summary import build_summary
from planner.workload.prepare import PlanInputs, Progress, _noop, load_inputs


@dataclass
class PlanResult:
    inputs: PlanInputs
    candidates: CandidateSet
    diagnoses: list[WindowDiagnosis]
    solved: Solved
    solve: SolveResult
    schedule: pd.DataFrame
    chosen: pd.DataFrame
    summary: dict
    baselines: dict
    provisioning: dict
    window_record: str = ""     # window_inputs.json: what `greencache check` re-derives from
    forecast: pd.DataFrame | None = None   # forecast.csv (--foresight forecast)
    # candidates.npy, value_function.npy: what `greencache check` certifies from
    records: dict[str, bytes] = field(default_factory=dict)

    @property
    def model(self) -> PlanModel:
        """The plan's MILP, built on first use (``--write-model``): the chain programme solves
        most plans without one, and building it costs more than solving them."""
        return self.solved.model


# --------------------------------------------------------------------------------------------
# the pipeline
# --------------------------------------------------------------------------------------------

def run_plan(opt: PlanOptions, progress: Progress = _noop,
             reuse: PlanInputs | None = None, foresee=forecast_lookahead,
             keep_blocks: bool = True) -> PlanResult:
    """The plan of the scenario. With ``--foresight forecast`` each decision's window inputs
    come from ``foresee(inputs)`` (:mod:`planner.foresight.lookahead`): forecasts by default;
    the actuals (``actual_lookahead``) measure the rolling decisions without forecast error.
    ``keep_blocks`` false: the result's trace holds no prefix blocks (it cannot be replayed;
    :func:`load_inputs`)."""
    inputs = load_inputs(opt, progress, reuse, keep_blocks)
    opt = inputs.options.validate()
    horizon = plan_horizon(inputs.windowing, opt)
    actual = planned_inputs(inputs, horizon)
    rolling = None
    if opt.foresight == "forecast":
        progress("planning on forecasts")
        rolling = plan_on_forecasts(inputs, horizon, foresee(inputs), progress)
        planned, cands, diagnoses = rolling.inputs, rolling.candidates, []
        solved = Solved(rolling.model, rolling.result, rolling.chosen)
        coupling = rolling.coupling
    else:
        planned = actual
        cands, diagnoses, solved, coupling = solve_perfect(actual, opt, progress)
    chosen = solved.chosen
    stats = planned.windowing.stats
    requests = stats["requests"].to_numpy(dtype=float)

    progress("solving the baselines")
    baselines = solve_baselines(rolling.committed if rolling else cands.frame, opt,
                                inputs.cache_levels_gb, coupling, requests)
    if rolling is not None:
        progress("solving the perfect-foresight plan")
        p_cands, _, p_solved, _ = solve_perfect(actual, opt, progress)
        baselines["perfect_foresight"] = {
            "status": p_solved.result.status.value, "chosen": p_solved.chosen,
            "predicted_slo_attainment": predicted_attainment(
                p_solved.chosen, actual.windowing.stats["requests"].to_numpy(dtype=float)),
            **totals(p_solved.chosen)}
    sources = [inputs.hits.source] * len(stats)
    sched = schedule_mod.assemble(stats, planned.ci, chosen, sources, opt.slo_ttft_s,
                                  opt.slo_tpot_s)
    for name, b in baselines.items():
        if "chosen" in b:
            base = actual if name == "perfect_foresight" else planned
            b["schedule"] = schedule_mod.assemble(base.windowing.stats, base.ci, b["chosen"],
                                                  sources, opt.slo_ttft_s, opt.slo_tpot_s)
    prov = provisioning(chosen, stats["hours"].to_numpy(dtype=float), inputs.hardware,
                        opt.capacity, solved.result.owned_replicas, solved.result.owned_drives)
    record = window_inputs.to_json(stats, planned.hits, planned.buckets)
    summary = build_summary(planned, cands, solved.result, chosen, sched, baselines, prov)
    if horizon.first:
        summary["windows"]["plan_from"] = stats["window_start"].iloc[0].isoformat()
        summary["windows"]["history_windows"] = horizon.first
    if rolling is not None:
        summary["foresight"] = rolling.summary()
        # Predicted on the actuals against the plan's forecasts: not a reduction to quote
        # (``compare`` replays both on the trace).
        summary["baselines"]["perfect_foresight"].pop("reduction_pct", None)
        summary["candidates"] = {"committed_windows_warm": int(len(rolling.committed)),
                                 **rolling.candidate_counts}
    # Derived from the trace by the plan itself and written beside the schedule.
    summary["inputs"]["window_inputs"] = {
        "path": window_inputs.FILE_NAME, "sha256": hashlib.sha256(record.encode()).hexdigest()}
    records = {}
    if rolling is None and solved.kept is not None:
        # The candidate table as the model saw it and, where it covers the scenario, the
        # model's value function: check certifies optimality from them.
        soft = [d.window for d in diagnoses if not d.feasible]
        records = candidate_record.records(
            cands.frame, solved.kept, coupling, planned_slos(opt), len(stats),
            value.applies(coupling, soft, opt.slo_attainment) and not opt.rolling_block)
        for key, name in (("candidates", candidate_record.FILE_NAME),
                          ("value_function", candidate_record.VALUE_FILE)):
            if name in records:
                summary["inputs"][key] = {
                    "path": name, "sha256": hashlib.sha256(records[name]).hexdigest()}
    return PlanResult(planned, cands, diagnoses, solved, solved.result, sched, chosen,
                      summary, baselines, prov, record,
                      None if rolling is None else rolling.forecast_table(actual), records)


def solve_perfect(inputs: PlanInputs, opt: PlanOptions, progress: Progress = _noop):
    """The plan that knows its windows: candidates, diagnoses, the solved model and its
    coupling, for ``inputs`` (the planned windows)."""
    stats = inputs.windowing.stats
    progress("building candidates")
    cands = plan_candidates(opt, stats, inputs.hits, inputs.ci, inputs.profile, inputs.hardware,
                            inputs.cache_levels_gb, inputs.buckets)
    diagnoses, soft, short = screen_windows(cands.frame, stats, inputs.windowing.labels(), opt)
    progress("solving the plan")
    coupling = plan_coupling(inputs, opt, cands.frame)
    solved = solve_candidates(cands.frame, opt, coupling, soft_windows=soft,
                              requests=stats["requests"].to_numpy(dtype=float),
                              attainment_short=short)
    check_solved(solved)
    return cands, diagnoses, solved, coupling
