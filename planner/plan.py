"""The plan pipeline: load inputs, build candidates, solve, assemble schedule and summary.

Each stage is a call into the module that owns it; this file only wires them together and
collects what the summary must report about each.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner import __version__, schedule as schedule_mod, window_inputs
from planner.catalog import Hardware, load_catalog
from planner.config import PlanOptions
from planner.errors import InfeasibleError, SolverError
from planner.optimize.candidates import CandidateSet, build_candidates
from planner.optimize.diagnostics import WindowDiagnosis, iis, precheck
from planner.optimize.model import PlanModel, build_model
from planner.optimize.solve import SolveResult, solve
from planner.paths import rel_path as _rel, sha256_file
from planner.perf.profile import ProfileTable
from planner.workload.hitcurve import HitCurves
from planner.workload.windows import LoadBuckets
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
    window_record: str = ""     # window_inputs.json: what `greencache check` re-derives from


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
    cands = plan_candidates(opt, stats, inputs.hits, inputs.ci, inputs.profile, inputs.hardware,
                            inputs.cache_levels_gb, inputs.buckets)
    diagnoses = precheck(cands.frame, len(stats), labels, opt.slo_ttft_s, opt.slo_tpot_s)
    bad = [d for d in diagnoses if not d.feasible]
    overloaded = [d for d in bad if d.binding == "capacity"]
    if overloaded or (bad and not opt.allow_slo_violation):
        lines = [d.sentence(opt.slo_ttft_s, opt.slo_tpot_s, opt.max_replicas) for d in bad]
        what = "cannot serve the load" if overloaded else "cannot meet the SLO"
        hint = "" if overloaded else "; --allow-slo-violation plans them best-effort"
        raise InfeasibleError(f"{len(bad)} of {len(stats)} window(s) {what}{hint}", lines[:20]
                              + ([f"… and {len(lines) - 20} more"] if len(lines) > 20 else []))

    progress("solving the plan")
    model = plan_model(cands.frame, opt, soft_windows=[d.window for d in bad])
    result = solve(model, opt.solver, opt.time_limit_s, opt.mip_gap)
    check_solved(result, model)
    chosen = model.candidates.iloc[result.chosen]

    progress("solving the baselines")
    baselines = solve_baselines(cands.frame, opt, inputs.cache_levels_gb)
    sources = [inputs.hits.source] * len(stats)
    sched = schedule_mod.assemble(stats, inputs.ci, chosen, sources, opt.slo_ttft_s,
                                  opt.slo_tpot_s)
    for b in baselines.values():
        if "chosen" in b:
            b["schedule"] = schedule_mod.assemble(stats, inputs.ci, b["chosen"], sources,
                                                  opt.slo_ttft_s, opt.slo_tpot_s)
    record = window_inputs.to_json(stats, inputs.hits, inputs.buckets)
    summary = build_summary(inputs, cands, result, chosen, sched, baselines, record)
    return PlanResult(inputs, cands, diagnoses, model, result, sched, chosen, summary, baselines,
                      record)


def plan_candidates(opt: PlanOptions, stats: pd.DataFrame, hits: HitCurves, ci: np.ndarray,
                    profile: ProfileTable, hw: Hardware, cache_levels_gb: np.ndarray,
                    buckets: LoadBuckets | None, prune: bool = True) -> CandidateSet:
    """The plan's candidate table from its window inputs: the one call that both the plan and
    ``greencache check`` (which re-derives a plan's numbers from its window_inputs.json) make."""
    return build_candidates(stats, hits, ci, profile, hw, cache_levels_gb, opt.max_replicas,
                            prune=prune, buckets=buckets)


def plan_model(frame: pd.DataFrame, opt: PlanOptions, soft_windows=()) -> PlanModel:
    """The plan's MILP for a candidate table under the scenario's options; ``greencache check``
    certifies a plan against the model this builds."""
    return build_model(frame, opt.slo_ttft_s, opt.slo_tpot_s, soft_windows=soft_windows)


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


def solve_baselines(cands: pd.DataFrame, opt: PlanOptions, levels_gb: np.ndarray) -> dict:
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
        per_level[level_gb] = solve_fixed_level(sub, opt, level_gb)
    solved = [b for b in per_level.values() if "total_kgco2e" in b]
    out = {"no_cache": per_level[0.0] if 0.0 in per_level else
           {"status": "not a level", "note": "0 is not among --cache-levels"},
           "max_cache": per_level[float(levels_gb.max())]}
    out["static_cache"] = min(solved, key=lambda b: (b["slo_violated_windows"],
                                                     b["total_kgco2e"])) if solved else \
        {"status": "unservable", "note": "no cache size serves every window"}
    return out


def solve_fixed_level(sub: pd.DataFrame, opt: PlanOptions, level_gb: float) -> dict:
    n = int(sub["window"].max()) + 1
    soft = [d.window for d in precheck(sub, n, [str(t) for t in range(n)], opt.slo_ttft_s,
                                       opt.slo_tpot_s) if not d.feasible]
    m = build_model(sub, opt.slo_ttft_s, opt.slo_tpot_s, soft_windows=soft,
                    name=f"baseline_{level_gb:g}GB")
    r = solve(m, opt.solver, opt.time_limit_s, opt.mip_gap)
    if not r.has_solution:
        return {"cache_gb": level_gb, "status": r.status, "note": r.termination}
    ch = m.candidates.iloc[r.chosen]
    viol = int(sum(1 for t in r.ttft_excess
                   if r.ttft_excess[t] > 1e-9 or r.tpot_excess[t] > 1e-9))
    return {"cache_gb": level_gb, "status": r.status, "chosen": ch,
            "slo_violated_windows": viol, **_totals(ch)}


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
                  chosen: pd.DataFrame, sched: pd.DataFrame, baselines: dict,
                  window_record: str) -> dict:
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
            # Derived from the trace by the plan itself (written beside the schedule).
            "window_inputs": {"path": window_inputs.FILE_NAME,
                              "sha256": hashlib.sha256(window_record.encode()).hexdigest()},
        },
        "windows": {"count": int(len(sched)), "hours": _r(hours.sum()),
                    "slo_met": int(sched["slo_met"].sum()),
                    "slo_violated": int((~sched["slo_met"]).sum())},
        "totals": {**{k: _r(v) for k, v in tot.items()}, "by_component_kgco2e": comp,
                   "gpu_hours": _r((chosen["gpus"].to_numpy() * hours).sum()),
                   "cache_tb_hours": _r((chosen["cache_gb"].to_numpy() / 1000 * hours).sum())},
        "explanation": explain(tot, comp, base_out),
        "solver": {k: v for k, v in result.as_dict().items() if k != "runtime_s"},
        "candidates": {"considered": int(len(cands.frame) + cands.pruned + cands.unstable),
                       "unstable": cands.unstable, "pruned_dominated": cands.pruned,
                       "in_model": int(len(cands.frame))},
        "baselines": base_out,
        "modelled": {
            "hit_rate": ("from prefix hashes in the trace" if not inputs.hits.modelled else
                         "modelled: prefixes synthesised by the reuse model"),
            "hit_rate_source": inputs.hits.source,
            "latency_and_power": (f"modelled: profile table ({inputs.profile.meta.get('method')})"
                                  if inputs.profile.modelled else "measured profile table"),
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
