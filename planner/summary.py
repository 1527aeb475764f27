"""summary.json: what the plan chose, what it cost, against what, from which inputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from planner import __version__
from planner.baselines import totals as _totals
from planner.catalog import load_catalog
from planner.optimize.candidates import CandidateSet
from planner.optimize.slo import planned_slos, predicted_attainment
from planner.optimize.solve import SolveResult
from planner.paths import rel_path as _rel, sha256_file


def _r(x: float, nd: int = 6) -> float:
    return float(round(float(x), nd))


def build_summary(inputs, cands: CandidateSet, result: SolveResult, chosen: pd.DataFrame,
                  sched: pd.DataFrame, baselines: dict, provisioning: dict) -> dict:
    """The summary of a solved plan (``inputs`` is the pipeline's PlanInputs)."""
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
                      "prefix_source": trace.prefix_source,
                      "dropped_over_context": inputs.dropped_over_context,
                      "block_tokens": int(trace.block_tokens)},
            "grid": inputs.grid_info,
            "profile": {"path": _rel(Path(inputs.profile.source)),
                        "sha256": sha256_file(Path(inputs.profile.source)),
                        "method": inputs.profile.meta.get("method"),
                        "modelled": inputs.profile.modelled,
                        "workload_shape": inputs.workload_shape},
            "catalog": {"path": _rel(load_catalog().path),
                        "sha256": sha256_file(load_catalog().path)},
            **({"correction": {"path": _rel(Path(opt.correction)),
                               "sha256": sha256_file(Path(opt.correction))}}
               if opt.correction else {}),
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
        "provisioning": provisioning,
        "candidates": {"considered": int(len(cands.frame) + cands.pruned + cands.unstable
                                         + cands.over_headroom + cands.beyond_bound),
                       "unstable": cands.unstable, "over_headroom": cands.over_headroom,
                       "beyond_replica_bound": cands.beyond_bound,
                       "pruned_dominated": cands.pruned,
                       "in_model": int(len(cands.frame)),
                       "cold_start_in_model": int((cands.frame["prev_level"] >= 0).sum())},
        "baselines": base_out,
        "modelled": {
            "hit_rate": ("from prefix hashes in the trace" if not inputs.hits.modelled else
                         "modelled: prefixes synthesised by the reuse model"),
            "hit_rate_source": inputs.hits.source,
            "latency_and_power": (f"modelled: profile table ({inputs.profile.meta.get('method')})"
                                  if inputs.profile.modelled else "measured profile table")
            + (f", multiplied by the observed / expected factors of {opt.correction} "
               "(profile correct)" if opt.correction else ""),
            "within_slo_share": "modelled: each burst bucket's TTFT and TPOT distributions "
                                "through the table's p50, p90 and p99, taken independent "
                                "within a bucket",
        },
        "notes": list(inputs.notes),
        "run": {"solver_runtime_s": round(result.runtime_s, 4),
                "phase_runtimes_s": [round(p.runtime_s, 4) for p in result.phases]},
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
