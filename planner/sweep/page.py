"""A sweep's page (``README.md`` in its output folder): setup, the base point's deployments
and days, every point, the sensitivity, failures and figures. Every number comes from the
points' records (the same as ``results.csv``); every label (hardware, largest cache, grid and
its years, trace) from the points' own scenario.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from planner.sweep.figures import fixed_label, fmt
from planner.sweep.points import Point, show_value
from planner.sweep.sensitivity import base_index, ranges
from planner.sweep.spec import SweepSpec

NAMES = {"no_cache": "(a) no SSD tier", "static_cache": "(c) best single size",
         "plan": "(d) the plan"}


def strategy_name(k: str, fixed: str) -> str:
    return "(b) " + fixed if k == "max_cache" else NAMES[k]


def _setup(spec: SweepSpec, points: list[Point], rec: dict, base: Point) -> list[str]:
    opt = base.options
    lab = rec["labels"]
    peak = rec["strategies"]["plan"]["peak_replicas"]
    levels = ", ".join(f"{x:g}" for x in opt.cache_levels_tb)
    aligned = (" (the trace's dates are aligned to the same month, day and hour of the "
               "series' year)") if lab["aligned_to_series_year"] else ""
    axes = "; ".join(f"{k}: {', '.join(show_value(v) for v in values)}"
                     for k, values in spec.axes.items()) or "none"
    return [
        "## Setup", "",
        f"* Load: {Path(lab['trace']).name} ({lab['requests']:,} requests"
        + (f", scale {opt.scale:g}" if opt.scale != 1 else "")
        + f"), {lab['windows']} windows of {opt.window}; hit rates {lab['hit_rate_source']}"
        f"; latencies from the {lab['workload_shape']} workload shape's table (modelled).",
        f"* Deployment: {opt.model} on {opt.tp}×{opt.gpu} replicas, {opt.ssd} SSD tier, at most "
        f"{opt.max_replicas} replicas; the base plan peaks at {peak} replica(s) "
        f"({peak * opt.tp} GPUs).",
        f"* SLO: p90 TTFT ≤ {opt.slo_ttft_s:g} s, p90 TPOT ≤ {opt.slo_tpot_s:g} s; cache levels "
        f"{levels} TB; capacity {opt.capacity}; SSD embodied {opt.levels.ssd_embodied}.",
        f"* Grid: {lab['zone']} {lab['grid_years']}, {opt.ci_basis} basis{aligned}.",
        f"* Points: {len(points)} (axes: {axes}; {len(spec.variants)} variant(s)); deployments "
        f"replayed at every point: {', '.join(spec.strategies)}.",
        "* Every deployment is judged by replaying every request through the replica simulator "
        "(session-affine routing, the scheduled cache with its own eviction, the planner's "
        "carbon accounting).", ""]


def _base(rec: dict, base: Point, fixed: str, strategies) -> list[str]:
    st = rec["strategies"]
    lines = [f"## Base point: {base.label}", "",
             "| deployment | replayed kgCO2e | predicted kgCO2e | within SLO | cache TB·h | "
             "GPU·h | cache changes |", "|---|---|---|---|---|---|---|"]
    for k in strategies:
        if k in st and "replayed_kgco2e" in st[k]:
            r = st[k]
            lines.append(f"| {strategy_name(k, fixed)} | {fmt(r['replayed_kgco2e'], 3)} | "
                         f"{fmt(r['predicted_kgco2e'], 3)} | {fmt(100 * r['slo_attainment'])} % | "
                         f"{fmt(r['cache_tb_hours'], 0)} | {fmt(r['gpu_hours'], 0)} | "
                         f"{r['cache_changes']} |")
    p = st["plan"]

    def red(ref, field="replayed_kgco2e"):
        if ref not in st or st[ref].get(field) in (None, 0) or p.get(field) is None:
            return None
        return 100 * (1 - p[field] / st[ref][field])

    lines += ["", f"The plan emits {fmt(red('max_cache'))} % less than the {fixed} "
              f"(predicted {fmt(red('max_cache', 'predicted_kgco2e'))} %), "
              f"{fmt(red('no_cache'))} % less than no SSD tier and {fmt(red('static_cache'))} % "
              f"less than the best single cache size, with {fmt(100 * p['slo_attainment'])} % of "
              "requests within both SLOs (replayed).", ""]
    days = pd.DataFrame(rec["days"])
    if not days.empty and days["day"].nunique() > 1:
        piv = days.pivot(index="day", columns="strategy", values="total_kgco2e")
        att = days[days.strategy == "plan"].set_index("day")
        cols = [k for k in ("plan", "max_cache", "no_cache") if k in piv]
        lines += ["Per day (replayed):", "",
                  "| day | requests | " + " | ".join(f"{strategy_name(k, fixed)} kgCO2e"
                                                     for k in cols)
                  + " | plan vs fixed % | plan within SLO |",
                  "|" + "---|" * (len(cols) + 4)]
        for day, r in piv.iterrows():
            vs = 100 * (1 - r["plan"] / r["max_cache"]) if "max_cache" in r and r["max_cache"] \
                else None
            lines.append(f"| {day} | {int(att.loc[day, 'requests']):,} | "
                         + " | ".join(fmt(r[k], 2) for k in cols)
                         + f" | {fmt(vs)} | {fmt(100 * att.loc[day, 'slo_attainment'])} % |")
        lines.append("")
    return lines


def _points_table(frame: pd.DataFrame, fixed: str) -> list[str]:
    lines = ["## Points", "",
             "| point | zone | mean gCO2e/kWh | plan vs fixed % | predicted % | plan vs no cache % "
             "| within SLO (plan / fixed) | cache TB·h | status |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, r in frame.iterrows():
        lines.append(f"| {r['label']} | {r['zone'] if isinstance(r['zone'], str) else '–'} | "
                     f"{fmt(r['mean_gco2_per_kwh'], 0)} | {fmt(r['reduction_vs_max_cache_pct'])} | "
                     f"{fmt(r['predicted_reduction_vs_max_cache_pct'])} | "
                     f"{fmt(r['reduction_vs_no_cache_pct'])} | "
                     f"{fmt(100 * r['plan_slo_attainment'])} / "
                     f"{fmt(100 * r['max_cache_slo_attainment'])} % | "
                     f"{fmt(r['plan_cache_tb_hours'], 0)} | {r['status']} |")
    ok = frame[(frame["status"] == "ok") & frame["roles"].str.contains("axes")]
    vs = ok["reduction_vs_max_cache_pct"].dropna()
    if len(vs):
        lines += ["", f"Over the {len(vs)} points of the axes the plan saves "
                  f"{fmt(float(vs.mean()))} % on average against the {fixed} "
                  f"(range {fmt(float(vs.min()))} to {fmt(float(vs.max()))} %, replayed)."]
    return lines + [""]


def render(spec: SweepSpec, points: list[Point], frame: pd.DataFrame,
           records: list[dict | None], figures: dict[str, bytes], fixed: str,
           base_value, sens, command: str) -> str:
    lines = [f"# {spec.name}", "",
             f"Regenerated by `{command}`; every number below comes from `results.csv` beside "
             "this file (one row per point; `results.parquet` holds the same table).", ""]
    b = base_index(points)
    rec = records[b] if b is not None else None
    if rec:
        lines += _setup(spec, points, rec, points[b])
        lines += _base(rec, points[b], fixed_label([rec]), spec.strategies)
        if "timeline.png" in figures:
            lines += ["![timeline](timeline.png)", ""]
    lines += _points_table(frame, fixed)
    for name, title in (("heatmap.png", "heatmap"), ("pareto.png", "pareto")):
        if name in figures:
            lines += [f"![{title}]({name})", ""]
    if sens:
        lines += ["## Sensitivity", "", f"Around the base point ({fmt(base_value)} % against the "
                  f"{fixed}, replayed):", "",
                  "| group | point | plan vs fixed % | change (pp) |", "|---|---|---|---|"]
        for e in sens:
            lines.append(f"| {e.group} | {e.label} | {fmt(e.value)} | "
                         f"{fmt(e.value - base_value)} |")
        top = ranges(base_value, sens)[:3]
        lines += ["", "The reduction moves most with: " + ", ".join(
            f"{g} ({fmt(lo - base_value)} to {fmt(hi - base_value)} pp)" for g, lo, hi, _, _ in top)
            + ".", ""]
        if "tornado.png" in figures:
            lines += ["![tornado](tornado.png)", ""]
    failed = frame[frame["status"] == "failed"]
    if len(failed):
        lines += ["## Failed points", ""]
        lines += [f"* {r['label']}: {r['error']} (exit {r['exit_code']})"
                  for _, r in failed.iterrows()]
        lines.append("")
    return "\n".join(lines)
