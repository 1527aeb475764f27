"""One point of a sweep: a plan and its baselines (:func:`planner.plan.run_plan`), each
replayed request by request (:class:`planner.sweep.replay_cache.Replayer`), and what the
sweep keeps of them — a JSON-ready record of totals, provisioning, per-day carbon and the
timeline the page draws.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd

from planner.config import PlanOptions
from planner.errors import EXIT_INPUT, GreencacheError
from planner.plan import run_plan
from planner.replay_run import daily
from planner.sweep.replay_cache import Replayed, Replayer
from planner.workload.prepare import PlanInputs

# One per process: a Ray worker runs many points and reuses their replays.
REPLAYER = Replayer()
EXIT_INTERNAL = 1


def _float(x) -> float | None:
    x = float(x)
    return round(x, 9) if np.isfinite(x) else None


def _changes(values: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(values))) if len(values) > 1 else 0


def strategy_record(opt: PlanOptions, schedule: pd.DataFrame, r: Replayed | None,
                    predicted: dict) -> dict:
    """Predicted and replayed totals of one deployment and its use of capacity."""
    hours = (pd.DatetimeIndex(schedule["window_end"]) - pd.DatetimeIndex(
        schedule["window_start"])).total_seconds().to_numpy() / 3600.0
    rec = {"predicted_kgco2e": _float(schedule["total_kgco2e"].sum()),
           "predicted_slo_attainment": _float(predicted.get("predicted_slo_attainment", np.nan)),
           "cache_tb_hours": _float((schedule["cache_gb"] / 1000 * hours).sum()),
           "gpu_hours": _float((schedule["replicas"] * opt.tp * hours).sum()),
           "peak_replicas": int(schedule["replicas"].max()),
           "cache_changes": _changes(schedule["cache_gb"].to_numpy()),
           "replica_changes": _changes(schedule["replicas"].to_numpy())}
    if r is not None:
        t = r.totals
        rec.update({"replayed_kgco2e": _float(t["total_kgco2e"]),
                    "operational_kgco2e": _float(t["operational_kgco2e"]),
                    "embodied_kgco2e": _float(t["embodied_kgco2e"]),
                    "energy_kwh": _float(t["energy_kwh"]),
                    "slo_attainment": _float(t["slo_attainment"]),
                    "p90_ttft_s": _float(t["p90_ttft_s"]),
                    "p90_tpot_s": _float(t["p90_tpot_s"])})
    return rec


def _years(grid_info: dict) -> str:
    years = sorted({m for f in grid_info["files"] for m in re.findall(r"(?<!\d)(\d{4})(?!\d)",
                                                                          f["path"])})
    return "–".join([years[0], years[-1]]) if len(years) > 1 else (years[0] if years else "")


def run_point(opt: PlanOptions, strategies: tuple[str, ...],
              shared: PlanInputs | None = None) -> tuple[dict, dict]:
    """The point's record and its cost in seconds (plan, replay, total wall; cpu)."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = run_plan(opt, reuse=shared)
    t_plan = time.perf_counter() - t0
    opt = result.inputs.options
    schedules = {"plan": result.schedule}
    schedules.update({k: b["schedule"] for k, b in result.baselines.items() if "schedule" in b})
    replay_before = REPLAYER.seconds
    replays = {k: REPLAYER(result, schedules[k], opt) for k in strategies if k in schedules}
    predicted = {"plan": {"predicted_slo_attainment":
                          result.summary["slo"]["predicted_slo_attainment"]}}
    predicted.update(result.baselines)
    s = result.summary
    grid = s["inputs"]["grid"]
    rec = {
        "labels": {"zone": grid["zone"], "grid_years": _years(grid),
                   "aligned_to_series_year": bool(grid["aligned_to_series_year"]),
                   "mean_gco2_per_kwh": _float(grid["mean_gco2_per_kwh_over_windows"]),
                   "requests": int(s["inputs"]["trace"]["requests"]),
                   "trace": s["inputs"]["trace"]["path"],
                   "hit_rate_source": result.inputs.hits.source,
                   "workload_shape": result.inputs.workload_shape.get("name"),
                   "windows": int(len(result.schedule)),
                   "largest_cache_tb": _float(max(opt.cache_levels_tb))},
        "solver": {"status": str(s["solver"]["status"]),
                   "objective_kgco2e": _float(s["solver"]["objective_kgco2e"] or np.nan)},
        "strategies": {k: strategy_record(opt, schedules[k], replays.get(k), predicted.get(k, {}))
                       for k in schedules},
        "provisioning": {"fleet": result.provisioning["fleet"],
                         "reconfigurations": result.provisioning["reconfigurations"],
                         "embodied_committed_kgco2e":
                             result.provisioning["embodied_committed_kgco2e"]["total"],
                         "ssd_expected_life_years":
                             result.provisioning["ssd_wear"]["expected_life_years"]},
        "days": [{"strategy": k, "day": day, "requests": int(row["requests"]),
                  "slo_attainment": _float(row["slo_attainment"]),
                  "total_kgco2e": _float(row["total_kgco2e"])}
                 for k, r in replays.items() for day, row in daily(r.windows).iterrows()],
        "timeline": {
            "window_start": [str(x) for x in result.schedule["window_start"]],
            "ci_gco2_per_kwh": [_float(x) for x in result.schedule["ci_gco2_per_kwh"]],
            "rate_rps": [_float(x) for x in result.schedule["rate_rps"]],
            **{f"{k}_{c}": [_float(x) for x in schedules[k][c]]
               for k in ("plan", "max_cache") if k in schedules
               for c in ("cache_gb", "replicas")}},
    }
    seconds = {"plan": round(t_plan, 3), "replay": round(REPLAYER.seconds - replay_before, 3),
               "total": round(time.perf_counter() - t0, 3),
               # CPU time of this process: on a shared machine, what the point itself cost.
               "cpu": round(time.process_time() - cpu0, 3)}
    return rec, seconds


def failure(e: BaseException) -> dict:
    """A failed point as the sweep records it: the error's sentence and its exit code."""
    if isinstance(e, GreencacheError):
        return {"error": str(e), "exit_code": int(e.exit_code)}
    if isinstance(e, (OSError, UnicodeDecodeError)):
        return {"error": f"{type(e).__name__}: {e}", "exit_code": EXIT_INPUT}
    return {"error": f"{type(e).__name__}: {e}", "exit_code": EXIT_INTERNAL}
