"""Regression against a reference plan (``--against``): not more carbon than the reference by
more than ``rtol``, no lower predicted SLO attainment, no window newly predicted to miss the
SLO; the per-window differences are listed in the report either way.

Attainment here is the planner's prediction: the share of requests in windows whose p90s meet
the SLO (``slo_met``). Windows are matched by their start time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.check.arithmetic import window_labels
from planner.check.plan_folder import PlanFolder
from planner.check.results import CheckReport

GROUP = "regression"


def _met(schedule: pd.DataFrame) -> np.ndarray:
    """Each window's slo_met as booleans (the schedule reader's, or its printed words)."""
    met = schedule["slo_met"]
    if met.dtype == bool:
        return met.to_numpy()
    return met.astype(str).str.lower().eq("true").to_numpy()


def attainment(schedule: pd.DataFrame) -> float:
    """Share of requests in windows predicted to meet the SLO (1 for an empty trace)."""
    req = schedule["requests"].to_numpy(dtype=float)
    met = _met(schedule)
    return float((req * met).sum() / req.sum()) if req.sum() > 0 else 1.0


def _total(plan: PlanFolder) -> float:
    value = plan.summary["totals"].get("total_kgco2e")
    return float(value) if isinstance(value, (int, float)) else \
        float(pd.to_numeric(plan.schedule["total_kgco2e"], errors="coerce").sum())


def window_differences(plan: PlanFolder, ref: PlanFolder) -> list[dict]:
    """One entry per window present in either plan, reference beside plan."""
    cols = ("replicas", "cache_gb", "slo_met", "total_kgco2e")

    def keyed(s: pd.DataFrame) -> dict[str, tuple]:
        """window start → the columns' values (plain Python: one dict look-up per window)."""
        keys = window_labels(s["window_start"])
        met = _met(s)
        values = [met.tolist() if c == "slo_met" else
                  pd.to_numeric(s[c], errors="coerce").to_numpy(dtype=float).tolist()
                  for c in cols]
        return dict(zip(keys, zip(*values)))
    a = keyed(plan.schedule)
    b = a if ref is plan else keyed(ref.schedule)
    none = (None,) * len(cols)
    rows = []
    for key in sorted(set(a) | set(b)):
        (rn, rc, rm, rt), (pn, pc, pm, pt) = b.get(key, none), a.get(key, none)
        rows.append({"window_start": key,
                     "replicas": {"reference": rn, "plan": pn},
                     "cache_gb": {"reference": rc, "plan": pc},
                     "slo_met": {"reference": rm, "plan": pm},
                     "total_kgco2e": {"reference": rt, "plan": pt, "difference":
                                      None if rt is None or pt is None else round(pt - rt, 6)}})
    return rows


def check_regression(plan: PlanFolder, ref: PlanFolder, rtol: float,
                     report: CheckReport) -> None:
    diffs = window_differences(plan, ref)
    report.window_differences = diffs
    only_ref = [d["window_start"] for d in diffs if d["replicas"]["plan"] is None]
    only_plan = [d["window_start"] for d in diffs if d["replicas"]["reference"] is None]
    same = not only_ref and not only_plan
    report.add(GROUP, "windows", same,
               f"the same {len(diffs)} windows" if same else
               f"{len(only_ref)} reference window(s) missing from the plan "
               f"({', '.join(only_ref[:3])}{' …' if len(only_ref) > 3 else ''}), "
               f"{len(only_plan)} window(s) only in the plan")

    mine, theirs = _total(plan), _total(ref)
    change = (mine - theirs) / abs(theirs) if theirs else (np.inf if mine > 0 else 0.0)
    report.add(GROUP, "total carbon", mine <= theirs * (1 + rtol) + 1e-12,
               f"{mine:.6f} kgCO2e against the reference's {theirs:.6f} ({change:+.2%}; "
               f"allowed +{rtol:.2%})")

    a_mine = attainment(plan.schedule)
    a_ref = a_mine if ref is plan else attainment(ref.schedule)
    report.add(GROUP, "attainment", a_mine >= a_ref - 1e-12,
               f"{a_mine:.2%} of requests in windows predicted within the SLO, reference "
               f"{a_ref:.2%}")

    newly = [d["window_start"] for d in diffs
             if d["slo_met"]["reference"] is True and d["slo_met"]["plan"] is False]
    for key in newly:
        report.add(GROUP, f"window {key}", False,
                   "newly predicted to miss the SLO (the reference meets it)")
    if not newly:
        report.add(GROUP, "windows missing the SLO", True,
                   "no window newly predicted to miss the SLO")
