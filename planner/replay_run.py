"""Replaying a plan's outputs: the scenario from its summary, the replay's inputs from the one
workload-preparation path (:func:`planner.workload.prepare.prepare_replay`), then
:func:`planner.evaluate.replay` per schedule.

``simulate`` replays one schedule; ``compare`` replays the plan and its three baselines
(written by ``plan`` under ``baselines/``) on the same trace and reports what each delivers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.config import PlanOptions
from planner.evaluate import ReplayResult, replay
from planner.grid import window_intensity
from planner.plan_solve import schedule_coupling
from planner.schedule import window_csv
from planner.workload.prepare import ReplaySetup

STRATEGIES = (("no_cache", "(a) no SSD tier"), ("max_cache", "(b) fixed cache, largest size"),
              ("static_cache", "(c) best single cache size"), ("plan", "(d) the plan"),
              ("perfect_foresight", "(e) the plan with perfect foresight"))


def replay_schedule(setup: ReplaySetup, schedule: pd.DataFrame, progress=None) -> ReplayResult:
    opt = setup.options
    wi = window_intensity(setup.series, pd.DatetimeIndex(schedule["window_start"]),
                          pd.DatetimeIndex(schedule["window_end"]))
    coupling = schedule_coupling(opt, schedule, wi.values, setup.hardware)
    result = replay(setup.trace, schedule, wi.values, setup.hardware, setup.replica_model,
                    setup.kv_bytes_per_token, opt.slo_ttft_s, opt.slo_tpot_s,
                    policy=opt.eviction, lcs=setup.eviction(wi.values), progress=progress,
                    coupling=coupling)
    result.notes.extend(wi.notes)
    return result


# --------------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------------

_DECIMALS = {"predicted_hit_rate": 4, "replayed_hit_rate": 4, "predicted_p90_ttft_s": 4,
             "replayed_p90_ttft_s": 4, "predicted_p90_tpot_s": 5, "replayed_p90_tpot_s": 5,
             "predicted_slo_attainment": 4, "slo_attainment": 4, "energy_kwh": 4,
             "predicted_energy_kwh": 4,
             "operational_kgco2e": 5, "embodied_kgco2e": 5, "total_kgco2e": 5,
             "predicted_total_kgco2e": 5, "cache_gb": 0}


def replay_csv(frame: pd.DataFrame) -> str:
    return window_csv(frame, _DECIMALS, frame.columns)


def _round(obj):
    if isinstance(obj, float):
        return None if not np.isfinite(obj) else round(obj, 6)
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v) for v in obj]
    return obj


def replay_summary(result: ReplayResult, opt: PlanOptions, schedule_path: str) -> dict:
    t = result.totals
    expl = (f"Replayed {t['requests']:,} requests: {100 * t['slo_attainment']:.1f} % within both "
            f"SLOs (predicted {100 * t['predicted_slo_attainment']:.1f} %; p90 TTFT "
            f"{t['p90_ttft_s']:.3f} s, p90 TPOT {t['p90_tpot_s']:.4f} s); "
            f"{t['total_kgco2e']:.3f} kgCO2e replayed against {t['predicted_total_kgco2e']:.3f} "
            f"predicted; the planner's p90 TTFT is within 15 % of the replay in "
            f"{100 * t['windows_p90_ttft_within_15pct']:.0f} % of the windows.")
    return _round({"schedule": schedule_path, "scenario": opt.as_dict(), "totals": t,
                   "explanation": expl, "notes": result.notes})


def daily(frame: pd.DataFrame) -> pd.DataFrame:
    """Per UTC day: requests, share within the SLO, energy and carbon (replayed)."""
    day = pd.DatetimeIndex(frame["window_start"]).tz_convert("UTC").strftime("%Y-%m-%d")
    df = frame.assign(day=day, met=frame["slo_attainment"] * frame["requests"])
    out = df.groupby("day", sort=True).agg(requests=("requests", "sum"), met=("met", "sum"),
                                           energy_kwh=("energy_kwh", "sum"),
                                           total_kgco2e=("total_kgco2e", "sum"),
                                           predicted_total_kgco2e=("predicted_total_kgco2e",
                                                                   "sum"))
    out["slo_attainment"] = out["met"] / out["requests"].clip(lower=1)
    return out.drop(columns="met")


def compare(setup: ReplaySetup, schedules: dict[str, pd.DataFrame], progress=None):
    """Replay every strategy's schedule; per day and in total, the carbon each emits and the
    plan's reduction against (b) the fixed largest cache and (a) no SSD tier."""
    results = {}
    for name, sched in schedules.items():
        if progress:
            progress(f"replaying {name}")
        results[name] = replay_schedule(setup, sched)
    days = {name: daily(r.windows) for name, r in results.items()}
    rows = []
    for name, label in STRATEGIES:
        if name not in days:
            continue
        d = days[name]
        for day, r in list(d.iterrows()) + [("total", d.sum(numeric_only=True))]:
            total = float(r["total_kgco2e"])
            req = int(r["requests"])
            att = (float(r["slo_attainment"]) if day != "total" else
                   results[name].totals["slo_attainment"])
            entry = {"strategy": name, "label": label, "day": day, "requests": req,
                     "slo_attainment": att, "energy_kwh": float(r["energy_kwh"]),
                     "total_kgco2e": total,
                     "predicted_total_kgco2e": float(r["predicted_total_kgco2e"])}
            for ref in ("max_cache", "no_cache"):
                if ref in days:
                    base = float(days[ref]["total_kgco2e"].sum() if day == "total"
                                 else days[ref].loc[day, "total_kgco2e"])
                    entry[f"reduction_vs_{ref}_pct"] = 100.0 * (1 - total / base) if base else 0.0
            if "perfect_foresight" in days:
                # Regret: what not knowing the future cost, against the plan that knew it.
                pf = days["perfect_foresight"]
                base = float(pf["total_kgco2e"].sum() if day == "total"
                             else pf.loc[day, "total_kgco2e"])
                base_att = (results["perfect_foresight"].totals["slo_attainment"]
                            if day == "total" else float(pf.loc[day, "slo_attainment"]))
                entry["carbon_regret_pct"] = 100.0 * (total / base - 1) if base else 0.0
                entry["slo_regret_points"] = 100.0 * (base_att - att)
            rows.append(entry)
    return results, pd.DataFrame(rows)
