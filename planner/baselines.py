"""The deployments a plan is compared against, on the same windows, candidates and accounting
(capacity mode, start costs, tie rule), each with its replica count still chosen per window:

* ``no_cache``: no SSD tier;
* ``max_cache``: the largest level all the time (a fixed-size deployment);
* ``static_cache``: the best single level for the whole horizon (what a planner that cannot
  resize would pick).

Each fixed level is solved on its own (a fixed level never changes, so dwell and daily change
limits do not bind); the static choice is the best of them (fewest windows missing the SLO,
then, under an attainment budget, whether it reaches it, then least carbon), which is exactly
the optimum of the static-cache MILP (``build_model(static_cache=True)``, tested equal) at a
fraction of its solve time. They are
solved best-effort (with slack), so a baseline that cannot meet the SLO is reported with its
violations rather than dropped.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from planner.config import PlanOptions
from planner.optimize.coupling import Coupling
from planner.optimize.diagnostics import precheck
from planner.optimize.slo import best_attainment, planned_slos, predicted_attainment
from planner.plan_solve import solve_candidates


def solve_baselines(cands: pd.DataFrame, opt: PlanOptions, levels_gb: np.ndarray,
                    coupling: Coupling, requests: np.ndarray) -> dict:
    per_level = {}
    n_windows = cands["window"].nunique()
    if "prev_level" in cands.columns:
        cands = cands[cands["prev_level"] < 0]  # a fixed level never grows: no cold starts
    fixed = replace(coupling, dwell_windows=1, max_changes_per_day=None)
    for level_gb in sorted({float(x) for x in levels_gb}):
        sub = cands[np.isclose(cands["cache_gb"], level_gb)]
        if sub["window"].nunique() < n_windows:
            per_level[level_gb] = {"cache_gb": level_gb, "status": "unservable",
                                   "note": "some window has no stable configuration at "
                                           "this cache size"}
            continue
        per_level[level_gb] = solve_fixed_level(sub, opt, level_gb, fixed, requests)
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
                      coupling: Coupling, requests: np.ndarray) -> dict:
    """One cache level all the time, under the scenario's SLO mode, best-effort."""
    n = int(sub["window"].max()) + 1
    ttft_bound, tpot_bound = planned_slos(opt)
    budget = opt.slo_attainment is not None
    soft = [] if budget else [
        d.window for d in precheck(sub, n, [str(t) for t in range(n)], ttft_bound, tpot_bound)
        if not d.feasible]
    short = budget and best_attainment(sub, requests) < opt.slo_attainment - 1e-12
    # One level never changes: the dwell and daily-limit rows hold whatever they say, and the
    # programme need not carry their states.
    coupling = replace(coupling, dwell_windows=1, max_changes_per_day=None)
    s = solve_candidates(sub, opt, coupling, soft_windows=soft, name=f"baseline_{level_gb:g}GB",
                         requests=requests, attainment_short=short)
    r = s.result
    if not r.has_solution:
        return {"cache_gb": level_gb, "status": r.status.value, "note": r.termination}
    viol = int(sum(1 for t in r.ttft_excess
                   if r.ttft_excess[t] > 1e-9 or r.tpot_excess[t] > 1e-9))
    out = {"cache_gb": level_gb, "status": r.status.value, "chosen": s.chosen,
           "slo_violated_windows": viol,
           "predicted_slo_attainment": predicted_attainment(s.chosen, requests),
           **totals(s.chosen)}
    if r.owned_replicas is not None:
        out["owned_replicas"], out["owned_drives"] = r.owned_replicas, r.owned_drives
    return out


def totals(ch: pd.DataFrame) -> dict:
    return {
        "energy_kwh": float(ch["energy_kwh"].sum()),
        "operational_kgco2e": float(ch["operational_kgco2e"].sum()),
        "embodied_kgco2e": float(ch["embodied_kgco2e"].sum()),
        "total_kgco2e": float(ch["total_kgco2e"].sum()),
    }
