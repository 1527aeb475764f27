"""Certificate: the plan's configuration is feasible for the plan's model and optimal within the
reported MIP gap.

By default (:func:`certify_recorded`), from what the plan recorded, without re-deriving the
candidates: the schedule is read against the model's rows (``feasible.py``: SLO rows, dwell,
daily changes, warm-up transitions), each scheduled configuration must be among the rows the
model held, and its objective must be within the gap of the lower bound that the recorded
value function proves (:func:`planner.optimize.value.verify`, every window at once). Where the
plan recorded no value function (owned capacity, an attainment budget, best-effort windows, a
rolling horizon), the model is rebuilt from the recorded table and :func:`certify` runs on it.

:func:`certify` (``--full``, and that fallback): the model is rebuilt by
``plan_solve.plan_model``, the function the plan itself solves, so every constraint the plan
has (SLO rows, owned capacity, dwell, daily change limit, start costs, ties, whatever the
scenario switches on) is covered. Two solves of it:

* **constraints hold**: the choice variables fixed to the schedule's configurations; the model
  must stay feasible (the other variables, slack or coupling, free to take any value the
  constraints allow: a solve with the choices fixed; a model of choice variables alone is
  evaluated row by row instead). Rows that are violated by the fixed choices alone are named
  with their left- and right-hand sides; otherwise the solver's irreducible infeasible subset
  is.
* **optimal within the gap**: the model solved afresh the way the plan solves it (the chain
  programme where it applies, else the MILP). With f the plan's objective (carbon plus the
  tie terms, from the fixed solve) and b the fresh solve's best bound, (f − b) / |f| must not
  exceed the reported MIP gap (or the scenario's ``--mip-gap``, whichever is larger). With
  best-effort windows the SLO excess is compared first, as the plan solves it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pulp

from planner import candidate_record
from planner.check import feasible
from planner.check.arithmetic import Rederived, window_labels
from planner.check.plan_folder import PlanFolder
from planner.check.results import CheckReport
from planner.errors import InputDataError
from planner.optimize.diagnostics import iis, precheck
from planner.optimize import value
from planner.optimize.model import PlanModel, models_warmup
from planner.optimize.slo import best_attainment, planned_slos
from planner.optimize.solve import solve
from planner.plan_solve import plan_model, solve_plan_model

GROUP = "certificate"
FEASIBILITY_TOL = 1e-7      # the solvers' own primal feasibility tolerance on rows


def violated_rows(m: PlanModel, values: dict[str, float]) -> list[str]:
    """Rows whose variables are all in ``values`` and that those values violate."""
    out = []
    for row in m.problem.constraints():
        name = row.name
        if not all(v.name in values for v in row.keys()):
            continue
        lhs = sum(coef * values[v.name] for v, coef in row.items())
        rhs = -row.constant
        if row.sense == pulp.LpConstraintLE:
            excess = lhs - rhs
        elif row.sense == pulp.LpConstraintGE:
            excess = rhs - lhs
        else:
            excess = abs(lhs - rhs)
        if excess > FEASIBILITY_TOL * max(1.0, abs(rhs)):
            op = {pulp.LpConstraintLE: "≤", pulp.LpConstraintGE: "≥"}.get(row.sense, "=")
            out.append(f"{name}: {lhs:.6g} {op} {rhs:.6g} does not hold")
    return out


def only_choices(m: PlanModel, values: dict[str, float]) -> bool:
    """Whether the choice variables are the model's only variables (rows and objective)."""
    return all(v.name in values for v in m.problem.objective.keys()) and all(
        v.name in values for row in m.problem.constraints() for v in row.keys())


def certify(plan: PlanFolder, red: Rederived, report: CheckReport) -> None:
    opt = red.options
    frame = red.candidates.frame
    labels = window_labels(red.stats["window_start"])
    # As the plan decides them (plan.run_plan): windows planned best-effort, and whether an
    # attainment budget is out of reach.
    ttft_bound, tpot_bound = planned_slos(opt)
    requests = red.stats["requests"].to_numpy(dtype=float)
    bad = [d for d in precheck(frame, len(red.stats), labels, ttft_bound, tpot_bound)
           if not d.feasible]
    budget = opt.slo_attainment is not None
    if budget:
        bad = [d for d in bad if d.binding == "capacity"]
    if bad and not opt.allow_slo_violation:
        for d in bad:
            report.add(GROUP, f"window {labels[d.window]}", False,
                       d.sentence(ttft_bound, tpot_bound, opt.max_replicas))
        return
    short = budget and best_attainment(frame, requests) < opt.slo_attainment - 1e-12
    soft = [d.window for d in bad]
    model = plan_model(frame, opt, red.coupling, soft, requests=requests, attainment_short=short,
                       keep=red.chosen)
    cand = model.candidates
    key = {(int(t), int(n), int(round(c)), int(p)): i for i, (t, n, c, p) in enumerate(zip(
        cand["window"], cand["replicas"], cand["cache_gb"], cand["prev_level"]))}
    picked = [key.get((int(t), int(n), int(round(c)), int(p))) for t, n, c, p in zip(
        red.chosen["window"], red.chosen["replicas"], red.chosen["cache_gb"],
        red.chosen["prev_level"])]
    outside = [t for t, k in enumerate(picked) if k is None]
    for t in outside:
        row = red.chosen.iloc[t]
        # The model leaves out configurations that miss the SLO in windows that must meet it;
        # such a choice breaks that window's SLO row.
        missed = [(name, row[col], slo) for name, col, slo in (
            ("slo_ttft", "p90_ttft_s", ttft_bound), ("slo_tpot", "p90_tpot_s", tpot_bound))
            if not budget and t not in soft and row[col] > slo]
        for name, value, slo in missed:
            report.add(GROUP, f"constraint {name}(t={t})", False,
                       f"{name}(t={t}): {value:.6g} ≤ {slo:.6g} does not hold "
                       f"(window {labels[t]})")
        if not missed:
            report.add(GROUP, f"window {labels[t]}", False,
                       "the scheduled configuration is not among the model's candidates "
                       "(dominated by one with less carbon and no worse p90s): the plan is not "
                       "optimal")
    if outside:
        return

    pick = np.zeros(len(model.choose))
    pick[picked] = 1.0
    values = {v.name: float(x) for v, x in zip(model.choose, pick)}
    rows_all = model.problem.constraints()
    families = sorted({row.name.split("(")[0] for row in rows_all})
    mine_excess = None
    if only_choices(model, values):
        # Every row and objective term is a choice variable: the schedule fixes them all, so
        # the rows are evaluated as they stand, without a solve.
        rows = violated_rows(model, values)
        objective = model.problem.objective
        plan_obj = sum(c * values[v.name] for v, c in objective.items()) + objective.constant
    else:
        # Other variables (levels, changes, starts, owned fleet, slack) take whatever values
        # the rows allow: the model with the choices fixed must stay feasible.
        bounds = [(v.lowBound, v.upBound) for v in model.choose]
        for v, x in zip(model.choose, pick):
            v.lowBound = v.upBound = float(x)
        try:
            r_fixed = solve(model, opt.solver, opt.time_limit_s, opt.mip_gap)
            rows = []
            plan_obj = r_fixed.phases[-1].objective if r_fixed.phases else float("nan")
            if soft and r_fixed.has_solution:
                mine_excess = float(pulp.value(model.excess()))
            if not (r_fixed.status == "optimal" and r_fixed.has_solution):
                rows = violated_rows(model, values)
                if not rows and r_fixed.status == "infeasible":
                    # With the choices fixed, the relaxation's infeasible subset names the
                    # rows (dwell, daily changes, owned fleet …) the schedule breaks.
                    names = iis(model)
                    rows = [f"infeasible with the schedule's configurations; irreducible "
                            f"infeasible subset: {', '.join(names[:12]) or 'not available'}"]
                if not rows:
                    rows = [f"{r_fixed.solver} could not evaluate the schedule's "
                            f"configurations: {r_fixed.termination}"]
        finally:
            for v, (lo, up) in zip(model.choose, bounds):
                v.lowBound, v.upBound = lo, up
    if rows:
        for row in rows:
            head = row.split(":")[0]
            report.add(GROUP, f"constraint {head}" if "(" in head else "constraints", False, row)
        return
    report.add(GROUP, "constraints", True,
               f"the schedule's configurations satisfy every row of the model "
               f"({len(rows_all)} rows: {', '.join(families)})")

    _objective(plan, red, report)

    r = solve_plan_model(model, opt)
    if not r.has_solution:
        report.add(GROUP, "optimality", False, f"the re-solve found no solution "
                                               f"({r.status}: {r.termination})")
        return
    if mine_excess is not None:
        best = float(pulp.value(model.excess()))
        if mine_excess > best * (1 + 1e-6) + 1e-6:
            report.add(GROUP, "optimality", False,
                       f"the schedule's relative SLO excess {mine_excess:.6g} exceeds the least "
                       f"reachable {best:.6g}")
            return
    last = r.phases[-1]
    bound = last.best_bound if np.isfinite(last.best_bound) else last.objective
    gap, allowed, ok = _relative_gap(plan, opt, plan_obj, bound)
    report.add(GROUP, "optimality", ok,
               f"objective {plan_obj:.6f} (carbon and tie terms), re-solved optimum "
               f"{last.objective:.6f} (bound {bound:.6f}): gap {gap:.2e} "
               + ("within" if ok else "exceeds")
               + f" the allowed {allowed:.2e} ({r.solver}, {r.method}, {r.status})")


def _objective(plan: PlanFolder, red: Rederived, report: CheckReport) -> None:
    """summary.json's solver objective against the charged schedule's carbon."""
    recorded = plan.summary.get("solver", {}).get("objective_kgco2e")
    carbon = float(red.charged["total_kgco2e"].sum())
    if isinstance(recorded, (int, float)):
        same = abs(recorded - carbon) <= 1e-7 * max(1.0, abs(carbon))
        report.add(GROUP, "objective", same,
                   f"summary.json's objective {recorded:.6f} kgCO2e "
                   + ("equals" if same else "≠") + f" the schedule's carbon {carbon:.6f}")
    else:
        report.add(GROUP, "objective", False, "summary.json records no solver objective")


def _relative_gap(plan: PlanFolder, opt, objective: float, bound: float):
    """(gap, allowed, within): the schedule's objective over a proven lower bound, relative,
    against the reported MIP gap or the scenario's --mip-gap, whichever is larger."""
    reported = plan.summary.get("solver", {}).get("mip_gap")
    allowed = max(float(reported) if isinstance(reported, (int, float)) else 0.0, opt.mip_gap)
    gap = (objective - bound) / max(abs(objective), 1e-12)
    return gap, allowed, gap <= allowed + 1e-9


def certify_recorded(plan: PlanFolder, red: Rederived, report: CheckReport,
                     values: Path | None) -> None:
    """The certificate from the recorded candidate table (``red.candidates``), without
    re-deriving the candidates: the schedule against the model's rows, read off the schedule;
    its objective against the lower bound the recorded value function ``values`` proves
    (:mod:`planner.optimize.value`, verified for every window) where the plan recorded one,
    else against a re-solve of the model built from the recorded table (:func:`certify`)."""
    opt = red.options
    table = red.candidates.frame
    W = len(red.stats)
    labels = red.labels
    bounds = planned_slos(opt)
    within = (table["p90_ttft_s"].to_numpy() <= bounds[0]) & \
        (table["p90_tpot_s"].to_numpy() <= bounds[1])
    every_window = bool((np.bincount(table["window"].to_numpy()[within], minlength=W) > 0).all())
    if values is None or not every_window or \
            not value.applies(red.coupling, [], opt.slo_attainment) or opt.rolling_block:
        # An owned fleet, an attainment budget, windows that cannot meet the SLO or a rolling
        # horizon (no value function recorded): the model built from the recorded table,
        # re-solved.
        certify(plan, red, report)
        return
    soft: list[int] = []
    rows = red.chosen
    model_rows = candidate_record.model_rows(table, table["in_model"].to_numpy(), bounds)
    warmup_rows = models_warmup(model_rows, red.coupling)
    slo = feasible.slo_rows(rows, bounds, soft, labels)
    for line in slo:
        report.add(GROUP, f"constraint {line.split(':')[0]}", False, line)
    coupled = feasible.coupling_rows(rows, red.coupling, warmup_rows, (None, None))
    if coupled:
        report.add(GROUP, "constraints", False, "infeasible with the schedule's "
                   "configurations: " + "; ".join(coupled[:12])
                   + (f" … and {len(coupled) - 12} more" if len(coupled) > 12 else ""))
    if slo or coupled:
        return
    cp = red.coupling
    families = ["one_config", "slo_ttft", "slo_tpot"] + (
        ["dwell"] if cp.dwell_windows > 1 else []) + (
        ["changes_per_day"] if cp.max_changes_per_day is not None else []) + (
        ["grow_from", "warm_at"] if warmup_rows else [])
    report.add(GROUP, "constraints", True, "the schedule's configurations satisfy every row "
               f"of the model ({', '.join(families)}), read off the schedule")

    outside = np.flatnonzero(candidate_record.find(model_rows, rows) < 0)
    for t in outside:
        report.add(GROUP, f"window {labels[t]}", False,
                   "the scheduled configuration is not among the model's candidates "
                   "(dominated by one with less carbon and no worse p90s): the plan is not "
                   "optimal")
    if len(outside):
        return
    _objective(plan, red, report)
    S = candidate_record.value_states(model_rows, cp, W)
    try:
        recorded = candidate_record.read_values(values, S)
    except InputDataError as e:
        report.add(GROUP, "optimality", False, f"the value function cannot be read: {e}")
        return
    bound, lowered = value.verify(S, recorded)
    mine = value.schedule_objective(rows, cp)
    gap, allowed, ok = _relative_gap(plan, opt, mine, bound)
    report.add(GROUP, "optimality", ok,
               f"objective {mine:.6f} (carbon and tie terms), lower bound {bound:.6f} from the "
               f"recorded value function, verified for all {W} windows"
               + (f" (lowered by {lowered:.3g} where it claimed more than its windows allow)"
                  if lowered else "")
               + f": gap {gap:.2e} " + ("within" if ok else "exceeds")
               + f" the allowed {allowed:.2e}")
