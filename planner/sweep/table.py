"""The results table: one row per point (``results.csv``, ``results.parquet``).

Columns, in order: the point (``point``, its ``key``, ``label``, ``roles``, ``variant``,
``group``); its inputs (every scenario key the sweep varies, then the zone, its mean carbon
intensity over the windows and the trace's request count); ``status`` (``ok`` or ``failed``)
with ``exit_code`` and ``error``; the plan's predicted and replayed totals, energy, replayed
and predicted SLO attainment and p90s; each replayed baseline's total and attainment; the
plan's reductions against each baseline, replayed and predicted (percent); reconfigurations;
provisioning (fleet, committed embodied carbon, SSD life).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from planner.scenario import OPTION_KEYS, PATH_KEYS
from planner.sweep.points import Point, show_value
from planner.sweep.spec import STRATEGIES

BASELINES = tuple(s for s in STRATEGIES if s != "plan")
PLAN_FIELDS = ("predicted_kgco2e", "replayed_kgco2e", "operational_kgco2e", "embodied_kgco2e",
               "energy_kwh", "slo_attainment", "predicted_slo_attainment", "p90_ttft_s",
               "p90_tpot_s", "cache_tb_hours", "gpu_hours", "peak_replicas")


def _pct(a, b) -> float:
    if a is None or b is None or not b:
        return float("nan")
    return 100.0 * (1.0 - a / b)


def input_columns(points: list[Point]) -> list[str]:
    """The scenario keys that differ between points, in the order the sweep names them."""
    keys: list[str] = []
    for p in points:
        for k in p.axes:
            if k not in keys:
                keys.append(k)
    dicts = [p.options.as_dict() for p in points]
    for key, name in OPTION_KEYS.items():
        if key not in keys and len({repr(d.get(name)) for d in dicts}) > 1:
            keys.append(key)
    level_names = sorted({n for d in dicts for n in d["levels"]})
    for n in level_names:
        if n not in keys and len({d["levels"][n] for d in dicts}) > 1:
            keys.append(n)
    return keys


def _input_value(p: Point, key: str):
    d = p.options.as_dict()
    if key in OPTION_KEYS:
        v = d[OPTION_KEYS[key]]
    else:
        v = d["levels"][key]
    if isinstance(v, list):
        return show_value(tuple(v))
    if key in PATH_KEYS or (key == "grid" and v and "/" in v):
        return show_value(v)
    return v


def row(i: int, p: Point, inputs: list[str], result: dict | None, error: dict | None) -> dict:
    r = {"point": i, "key": p.key[:16], "label": p.label, "roles": ";".join(p.roles),
         "variant": p.variant, "group": p.group}
    for k in inputs:
        r[k] = _input_value(p, k)
    labels = (result or {}).get("labels", {})
    r.update({"zone": labels.get("zone"), "mean_gco2_per_kwh": labels.get("mean_gco2_per_kwh"),
              "requests": labels.get("requests")})
    r.update({"status": "failed" if error else "ok",
              "exit_code": error["exit_code"] if error else 0,
              "error": error["error"] if error else ""})
    st = (result or {}).get("strategies", {})
    plan = st.get("plan", {})
    for f in PLAN_FIELDS:
        r[f"plan_{f}"] = plan.get(f)
    for b in BASELINES:
        s = st.get(b, {})
        r[f"{b}_replayed_kgco2e"] = s.get("replayed_kgco2e")
        r[f"{b}_predicted_kgco2e"] = s.get("predicted_kgco2e")
        r[f"{b}_slo_attainment"] = s.get("slo_attainment")
    for b in BASELINES:
        s = st.get(b, {})
        r[f"reduction_vs_{b}_pct"] = _pct(plan.get("replayed_kgco2e"), s.get("replayed_kgco2e"))
        r[f"predicted_reduction_vs_{b}_pct"] = _pct(plan.get("predicted_kgco2e"),
                                                    s.get("predicted_kgco2e"))
    prov = (result or {}).get("provisioning", {})
    for k, v in prov.get("reconfigurations", {}).items():
        r[k] = v
    for k, v in prov.get("fleet", {}).items():
        r[f"fleet_{k}"] = v
    r["embodied_committed_kgco2e"] = prov.get("embodied_committed_kgco2e")
    r["ssd_expected_life_years"] = prov.get("ssd_expected_life_years")
    return r


RECONFIG = ("cache_level_changes", "cache_grows", "cache_shrinks", "replica_changes",
            "replicas_started")
FLEET = ("replicas", "gpus", "servers", "gpus_per_server", "ssd_drives", "ssd_physical_tb",
         "peak_cache_tb")


def results_frame(points: list[Point], results: list[dict | None],
                  errors: list[dict | None]) -> pd.DataFrame:
    inputs = input_columns(points)
    rows = [row(i, p, inputs, r, e) for i, (p, r, e) in enumerate(zip(points, results, errors))]
    frame = pd.DataFrame(rows)
    # The same columns whether or not a point failed (a failed point has no provisioning).
    for c in RECONFIG + tuple(f"fleet_{k}" for k in FLEET):
        if c not in frame:
            frame[c] = np.nan
    head = [c for c in frame.columns if c not in RECONFIG and not c.startswith("fleet_")
            and c not in ("embodied_committed_kgco2e", "ssd_expected_life_years")]
    tail = list(RECONFIG) + [f"fleet_{k}" for k in FLEET] + ["embodied_committed_kgco2e",
                                                             "ssd_expected_life_years"]
    frame = frame[head + tail]
    for c in frame.columns:
        if frame[c].dtype == object and c not in ("label", "roles", "variant", "group", "status",
                                                  "error", "key"):
            # Mixed None/number columns (a failed point) become floats, others stay as they are.
            try:
                frame[c] = pd.to_numeric(frame[c])
            except (ValueError, TypeError):
                frame[c] = frame[c].astype(str).where(frame[c].notna(), "")
    return frame


def to_csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def to_parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, engine="pyarrow", compression="zstd")
    return buf.getvalue()
