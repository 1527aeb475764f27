"""The plan pipeline: load inputs, build candidates, solve, assemble schedule and summary.

Each stage is a call into the module that owns it; this file only wires them together and
collects what the summary must report about each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner import __version__, schedule as schedule_mod
from planner.catalog import load_catalog
from planner.config import PlanOptions
from planner.errors import InfeasibleError, SolverError
from planner.optimize.candidates import CandidateSet, build_candidates
from planner.optimize.diagnostics import WindowDiagnosis, iis, precheck
from planner.optimize.model import PlanModel, build_model
from planner.optimize.slo import best_attainment, model_options, planned_slos, predicted_attainment
from planner.optimize.solve import SolveResult, solve
from planner.paths import rel_path as _rel, sha256_file
# Stage 1 (inputs) lives in the one workload-preparation module; its names stay importable
# from here for the later stages and their callers.
from planner.workload.prepare import (  # noqa: F401
    PlanInputs,
    Progress,
    _noop,
    load_inputs,
    workload_key,
)


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


# --------------------------------------------------------------------------------------------
# stage 2: optimise
# --------------------------------------------------------------------------------------------

def run_plan(opt: PlanOptions, progress: Progress = _noop,
             reuse: PlanInputs | None = None) -> PlanResult:
    inputs = load_inputs(opt, progress, reuse)
    opt = inputs.options.validate()
    stats = inputs.windowing.stats
    labels = inputs.windowing.labels()
    progress("building candidates")
    cands = build_candidates(stats, inputs.hits, inputs.ci, inputs.profile, inputs.hardware,
                             inputs.cache_levels_gb, opt.max_replicas, opt.slo_ttft_s,
                             opt.slo_tpot_s, headroom=opt.headroom, buckets=inputs.buckets)
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
    model = build_model(cands.frame, ttft_bound, tpot_bound,
                        soft_windows=[d.window for d in bad],
                        **model_options(opt, requests, short))
    result = solve(model, opt.solver, opt.time_limit_s, opt.mip_gap)
    check_solved(result, model)
    chosen = model.candidates.iloc[result.chosen]

    progress("solving the baselines")
    baselines = solve_baselines(cands.frame, opt, inputs.cache_levels_gb, requests)
    sources = [inputs.hits.source] * len(stats)
    sched = schedule_mod.assemble(stats, inputs.ci, chosen, sources, opt.slo_ttft_s,
                                  opt.slo_tpot_s)
    for b in baselines.values():
        if "chosen" in b:
            b["schedule"] = schedule_mod.assemble(stats, inputs.ci, b["chosen"], sources,
                                                  opt.slo_ttft_s, opt.slo_tpot_s)
    summary = build_summary(inputs, cands, result, chosen, sched, baselines)
    return PlanResult(inputs, cands, diagnoses, model, result, sched, chosen, summary, baselines)


def check_solved(result: SolveResult, model: PlanModel) -> None:
    if result.status == "optimal" and result.has_solution:
        return
    if result.status == "infeasible":
        names = iis(model)
        raise InfeasibleError(
            "the solver found the plan infeasible although every window passed the pre-check",
            [f"irreducible infeasible subset: {', '.join(names[:12]) or 'not available'}"])
    if result.status == "time_limit":
        raise SolverError(f"{result.solver} stopped at its time limit with gap "
                          f"{result.mip_gap:.2%} ({result.termination}); raise --time-limit")
    raise SolverError(f"{result.solver} did not solve the plan: {result.termination}")


def solve_baselines(cands: pd.DataFrame, opt: PlanOptions, levels_gb: np.ndarray,
                    requests: np.ndarray) -> dict:
    """The deployments the plan is compared against, on the same windows and candidates, each
    with its replica count still chosen per window to meet the SLO:

    * ``no_cache``: no SSD tier;
    * ``max_cache``: the largest level all the time (a fixed-size deployment);
    * ``static_cache``: the best single level for the whole horizon (what a planner that
      cannot resize would pick).

    Each fixed level is its own per-window MILP; the static choice is the best of them (fewest
    windows missing the SLO, then least carbon), which is exactly the optimum of the coupled
    MILP (``build_model(static_cache=True)``, tested equal) at a fraction of its solve time.
    They are solved best-effort (with slack), so a baseline that cannot meet the SLO is
    reported with its violations rather than dropped."""
    per_level = {}
    n_windows = cands["window"].nunique()
    for level_gb in sorted({float(x) for x in levels_gb}):
        sub = cands[np.isclose(cands["cache_gb"], level_gb)]
        if sub["window"].nunique() < n_windows:
            per_level[level_gb] = {"cache_gb": level_gb, "status": "unservable",
                                   "note": "some window has no stable configuration at "
                                           "this cache size"}
            continue
        per_level[level_gb] = solve_fixed_level(sub, opt, level_gb, requests)
    solved = [b for b in per_level.values() if "total_kgco2e" in b]
    out = {"no_cache": per_level[0.0] if 0.0 in per_level else
           {"status": "not a level", "note": "0 is not among --cache-levels"},
           "max_cache": per_level[float(levels_gb.max())]}
    target = opt.slo_attainment if opt.slo_attainment is not None else 0.0
    out["static_cache"] = min(solved, key=lambda b: (
        b["slo_violated_windows"], b["predicted_slo_attainment"] < target - 1e-9,
        b["total_kgco2e"])) if solved else \
        {"status": "unservable", "note": "no cache size serves every window"}
    return out


def solve_fixed_level(sub: pd.DataFrame, opt: PlanOptions, level_gb: float,
                      requests: np.ndarray) -> dict:
    """One cache level all the time, under the scenario's SLO mode, best-effort."""
    n = int(sub["window"].max()) + 1
    ttft_bound, tpot_bound = planned_slos(opt)
    budget = opt.slo_attainment is not None
    soft = [] if budget else [
        d.window for d in precheck(sub, n, [str(t) for t in range(n)], ttft_bound, tpot_bound)
        if not d.feasible]
    short = budget and best_attainment(sub, requests) < opt.slo_attainment - 1e-12
    m = build_model(sub, ttft_bound, tpot_bound, soft_windows=soft,
                    name=f"baseline_{level_gb:g}GB", **model_options(opt, requests, short))
    r = solve(m, opt.solver, opt.time_limit_s, opt.mip_gap)
    if not r.has_solution:
        return {"cache_gb": level_gb, "status": r.status, "note": r.termination}
    ch = m.candidates.iloc[r.chosen]
    viol = int(sum(1 for t in r.ttft_excess
                   if r.ttft_excess[t] > 1e-9 or r.tpot_excess[t] > 1e-9))
    return {"cache_gb": level_gb, "status": r.status, "chosen": ch,
            "slo_violated_windows": viol,
            "predicted_slo_attainment": predicted_attainment(ch, requests), **_totals(ch)}


def _totals(ch: pd.DataFrame) -> dict:
    return {
        "energy_kwh": float(ch["energy_kwh"].sum()),
        "operational_kgco2e": float(ch["operational_kgco2e"].sum()),
        "embodied_kgco2e": float(ch["embodied_kgco2e"].sum()),
        "total_kgco2e": float(ch["total_kgco2e"].sum()),
    }


# --------------------------------------------------------------------------------------------
# stage 3: summary
# --------------------------------------------------------------------------------------------

def _r(x: float, nd: int = 6) -> float:
    return float(round(float(x), nd))


def build_summary(inputs: PlanInputs, cands: CandidateSet, result: SolveResult,
                  chosen: pd.DataFrame, sched: pd.DataFrame, baselines: dict) -> dict:
    opt = inputs.options
    tot = _totals(chosen)
    comp = {k: _r(chosen[k].sum()) for k in ("op_gpu", "op_host", "op_ssd", "emb_gpu",
                                              "emb_host", "emb_ssd")}
    base_out = {}
    for name, b in baselines.items():
        entry = {k: v for k, v in b.items() if k not in ("chosen", "schedule")}
        if "total_kgco2e" in b and b["total_kgco2e"] > 0:
            entry["reduction_pct"] = _r(100.0 * (1 - tot["total_kgco2e"] / b["total_kgco2e"]), 3)
        base_out[name] = {k: (_r(v) if isinstance(v, float) else v) for k, v in entry.items()}
    trace = inputs.trace
    hours = inputs.windowing.stats["hours"].to_numpy()
    summary = {
        "greencache": {"version": __version__, "summary_schema": 1},
        "scenario": opt.as_dict(),
        "inputs": {
            "trace": {"path": _rel(Path(opt.trace)), "sha256": sha256_file(Path(opt.trace)),
                      "format": trace.source_format, "requests": int(len(trace)),
                      "dropped_over_context": inputs.dropped_over_context,
                      "block_tokens": int(trace.block_tokens),
                      "prefix_source": trace.prefix_source},
            "grid": inputs.grid_info,
            "profile": {"path": _rel(Path(inputs.profile.source)),
                        "sha256": sha256_file(Path(inputs.profile.source)),
                        "method": inputs.profile.meta.get("method"),
                        "modelled": inputs.profile.modelled,
                        "workload_shape": inputs.workload_shape},
            "catalog": {"path": _rel(load_catalog().path),
                        "sha256": sha256_file(load_catalog().path)},
        },
        "windows": {"count": int(len(sched)), "hours": _r(hours.sum()),
                    "slo_met": int(sched["slo_met"].sum()),
                    "slo_violated": int((~sched["slo_met"]).sum())},
        "slo": {"mode": ("attainment budget" if opt.slo_attainment is not None
                         else "per-window p90"),
                "slo_attainment": opt.slo_attainment,
                "planned_p90_bounds_s": (None if opt.slo_attainment is not None else
                                         [_r(x) for x in planned_slos(opt)]),
                "predicted_slo_attainment": _r(predicted_attainment(
                    chosen, inputs.windowing.stats["requests"].to_numpy())),
                "headroom": opt.headroom,
                "candidates_over_headroom": cands.over_headroom},
        "totals": {**{k: _r(v) for k, v in tot.items()}, "by_component_kgco2e": comp,
                   "gpu_hours": _r((chosen["gpus"].to_numpy() * hours).sum()),
                   "cache_tb_hours": _r((chosen["cache_gb"].to_numpy() / 1000 * hours).sum())},
        "explanation": explain(tot, comp, base_out),
        "solver": {k: v for k, v in result.as_dict().items() if k != "runtime_s"},
        "candidates": {"considered": int(len(cands.frame) + cands.pruned + cands.unstable
                                         + cands.over_headroom),
                       "unstable": cands.unstable, "over_headroom": cands.over_headroom, "pruned_dominated": cands.pruned,
                       "in_model": int(len(cands.frame))},
        "baselines": base_out,
        "modelled": {
            "hit_rate": ("from prefix hashes in the trace" if not inputs.hits.modelled else
                         "modelled: prefixes synthesised by the reuse model"),
            "hit_rate_source": inputs.hits.source,
            "latency_and_power": (f"modelled: profile table ({inputs.profile.meta.get('method')})"
                                  if inputs.profile.modelled else "measured profile table"),
            "within_slo_share": "modelled: each burst bucket's TTFT and TPOT distributions "
                                "through the table's p50, p90 and p99, taken independent "
                                "within a bucket",
        },
        "notes": list(inputs.notes),
        "run": {"solver_runtime_s": round(result.runtime_s, 4)},
    }
    return summary


def explain(tot: dict, comp: dict, baselines: dict) -> str:
    """One paragraph a planner can read: where the carbon goes and what caching changed."""
    total = tot["total_kgco2e"]
    op, emb = tot["operational_kgco2e"], tot["embodied_kgco2e"]
    share = 100 * op / total if total else 0
    text = (f"Total {total:.3f} kgCO2e: operational {op:.3f} ({share:.0f} %: GPUs "
            f"{comp['op_gpu']:.3f}, host {comp['op_host']:.3f}, SSD {comp['op_ssd']:.3f}) and "
            f"embodied {emb:.3f} (GPUs {comp['emb_gpu']:.3f}, host {comp['emb_host']:.3f}, "
            f"SSD {comp['emb_ssd']:.3f}).")
    for name, label in (("no_cache", "without an SSD tier"),
                        ("max_cache", "with the largest cache all the time"),
                        ("static_cache", "with the best single cache size")):
        b = baselines.get(name, {})
        if "reduction_pct" in b:
            text += (f" Against running {label} ({b['total_kgco2e']:.3f} kgCO2e) the plan "
                     f"saves {b['reduction_pct']:.2f} %.")
    return text
