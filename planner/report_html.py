"""A self-contained HTML report of a plan (and, when given, its replay and comparison).

Figures are drawn with matplotlib and embedded as inline SVG, so the page needs no network and
no side files. SVG ids and metadata are fixed, so the same inputs give the same bytes.
"""

from __future__ import annotations

import html
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner.plan_files import read_forecast, read_schedule, read_summary, read_window_table

COLOURS = {"op_gpu": "#d62728", "op_host": "#ff9896", "op_ssd": "#ffbb78",
           "emb_gpu": "#1f77b4", "emb_host": "#aec7e8", "emb_ssd": "#2ca02c"}
LABELS = {"op_gpu": "operational: GPUs", "op_host": "operational: host",
          "op_ssd": "operational: SSDs", "emb_gpu": "embodied: GPUs",
          "emb_host": "embodied: host", "emb_ssd": "embodied: SSDs"}


@dataclass
class PlanOutputs:
    schedule: pd.DataFrame
    summary: dict
    components: pd.DataFrame | None
    folder: Path
    forecast: pd.DataFrame | None = None     # forecast.csv of a plan made on forecasts


def load_plan_outputs(folder: Path) -> PlanOutputs:
    """schedule.csv, summary.json and (when present) components.csv, each checked against its
    schema: the report may be asked to render hand-edited files."""
    folder = Path(folder)
    sched = read_schedule(folder / "schedule.csv")
    summary = read_summary(folder / "summary.json")
    comp_path = folder / "components.csv"
    comp = None
    if comp_path.exists():
        comp = read_window_table(comp_path, "components",
                                 [f"{k}_kgco2e" for k in COLOURS])
    fc_path = folder / "forecast.csv"
    forecast = read_forecast(fc_path) if fc_path.exists() else None
    return PlanOutputs(sched, summary, comp, folder, forecast)


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------

def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _setup():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # parse_math off: labels come from files (baseline names, strategy labels), and a '$' in
    # one must be drawn as a '$', not fail as bad mathtext.
    plt.rcParams.update({"svg.hashsalt": "greencache", "font.size": 9, "text.parse_math": False,
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def fig_timeline(sched: pd.DataFrame) -> str:
    """Carbon intensity, replicas and cache size (with hit rate) over time."""
    plt = _setup()
    fig, axes = plt.subplots(3, 1, figsize=(9, 5.8), sharex=True, layout="constrained")
    # Step plots hold each value until the window's end: repeat the last value at the end.
    x = pd.concat([sched["window_start"], sched["window_end"].iloc[-1:]]).dt.tz_convert(
        "UTC").dt.tz_localize(None)
    sched = pd.concat([sched, sched.iloc[-1:]], ignore_index=True)
    axes[0].plot(x, sched["ci_gco2_per_kwh"], color="#444", drawstyle="steps-post")
    axes[0].set_ylabel("gCO2e/kWh")
    axes[0].set_title("grid carbon intensity", loc="left")
    axes[1].plot(x, sched["replicas"], color="#d62728", drawstyle="steps-post")
    axes[1].set_ylabel("replicas")
    axes[1].set_title("replicas", loc="left")
    axes[2].plot(x, sched["cache_gb"] / 1000, color="#2ca02c", drawstyle="steps-post",
                 label="cache (TB)")
    axes[2].set_ylabel("cache TB")
    twin = axes[2].twinx()
    twin.plot(x, 100 * sched["hit_rate"], color="#1f77b4", lw=0.8, drawstyle="steps-post",
              label="hit rate (%)")
    twin.set_ylabel("hit %")
    twin.set_ylim(0, 100)
    twin.spines["right"].set_visible(True)
    axes[2].set_title("SSD cache size (green, TB) and token hit rate (blue, %)", loc="left")
    for label in axes[2].get_xticklabels():
        label.set_rotation(30)
        label.set_ha("right")
    return _svg(fig)


def fig_forecast(fc: pd.DataFrame) -> str:
    """What each decision forecast against what happened: request rate (median and the upper
    quantiles) and grid carbon intensity; dotted lines mark the decisions."""
    plt = _setup()
    fig, axes = plt.subplots(2, 1, figsize=(9, 4.6), sharex=True, layout="constrained")
    x = fc["window_start"].dt.tz_convert("UTC").dt.tz_localize(None)
    quantiles = sorted(c for c in fc.columns if c.startswith("rate_p"))
    axes[0].plot(x, fc["actual_rate"], color="#222", lw=1.0, drawstyle="steps-post",
                 label="actual")
    for col, colour in zip(quantiles, ("#1f77b4", "#ff7f0e", "#d62728", "#9467bd")):
        axes[0].plot(x, fc[col], color=colour, lw=0.9, drawstyle="steps-post",
                     label=f"forecast {col.removeprefix('rate_')}")
    axes[0].set_ylabel("req/s")
    axes[0].set_title("request rate: forecast against actual", loc="left")
    axes[0].legend(loc="upper right", fontsize=7, ncol=len(quantiles) + 1, frameon=False)
    axes[1].plot(x, fc["actual_ci_gco2_per_kwh"], color="#222", lw=1.0,
                 drawstyle="steps-post", label="actual")
    axes[1].plot(x, fc["ci_gco2_per_kwh"], color="#2ca02c", lw=0.9, drawstyle="steps-post",
                 label="forecast")
    axes[1].set_ylabel("gCO2e/kWh")
    axes[1].set_title("grid carbon intensity: forecast against actual", loc="left")
    axes[1].legend(loc="upper right", fontsize=7, ncol=2, frameon=False)
    for issued in fc["issued_at"].drop_duplicates().dt.tz_convert("UTC").dt.tz_localize(None):
        for ax in axes:
            ax.axvline(issued, color="#999", lw=0.6, ls=":")
    for label in axes[1].get_xticklabels():
        label.set_rotation(30)
        label.set_ha("right")
    return _svg(fig)


def fig_carbon_stack(sched: pd.DataFrame, comp: pd.DataFrame) -> str:
    """kgCO2e per window stacked by source."""
    plt = _setup()
    fig, ax = plt.subplots(figsize=(9, 3.2), layout="constrained")
    x = np.arange(len(comp))
    bottom = np.zeros(len(comp))
    for key in COLOURS:
        vals = comp[f"{key}_kgco2e"].to_numpy(dtype=float)
        ax.bar(x, vals, bottom=bottom, color=COLOURS[key], width=1.0, label=LABELS[key])
        bottom += vals
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(sched["window_start"].dt.strftime("%m-%d %H:%M").to_numpy()[::step],
                       rotation=30, ha="right")
    ax.set_ylabel("kgCO2e per window")
    ax.legend(ncol=3, fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(0, 1.25))
    return _svg(fig)


def fig_baselines(summary: dict) -> str:
    """The plan against its baselines, operational and embodied."""
    plt = _setup()
    names, op, emb = ["plan"], [summary["totals"]["operational_kgco2e"]], \
        [summary["totals"]["embodied_kgco2e"]]
    for name, b in summary.get("baselines", {}).items():
        if "total_kgco2e" in b:
            names.append(name.replace("_", " "))
            op.append(b["operational_kgco2e"])
            emb.append(b["embodied_kgco2e"])
    fig, ax = plt.subplots(figsize=(6, 2.8), layout="constrained")
    y = np.arange(len(names))
    ax.barh(y, op, color="#d62728", label="operational")
    ax.barh(y, emb, left=op, color="#1f77b4", label="embodied")
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xlabel("kgCO2e over the horizon")
    ax.legend(frameon=False, fontsize=7)
    return _svg(fig)


def fig_predicted_vs_replayed(replay: pd.DataFrame) -> str:
    """Per-window p90 TTFT and TPOT: planner prediction against replay."""
    plt = _setup()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), layout="constrained")
    for ax, metric, unit in ((axes[0], "ttft", "s"), (axes[1], "tpot", "s")):
        p = replay[f"predicted_p90_{metric}_s"].to_numpy(dtype=float)
        r = replay[f"replayed_p90_{metric}_s"].to_numpy(dtype=float)
        ax.scatter(p, r, s=10, color="#1f77b4")
        hi = float(np.nanmax(np.concatenate([p, r]))) * 1.05 if len(p) else 1.0
        ax.plot([0, hi], [0, hi], color="#888", lw=0.8, ls="--")
        ax.set_xlim(0, hi)
        ax.set_ylim(0, hi)
        ax.set_xlabel(f"predicted p90 {metric.upper()} ({unit})")
        ax.set_ylabel(f"replayed p90 {metric.upper()} ({unit})")
    return _svg(fig)


def _compare_figure(table: pd.DataFrame):
    """Per day: replayed kgCO2e of each strategy (bars) and its share within the SLO."""
    plt = _setup()
    days = [d for d in table["day"].unique() if d != "total"]
    strategies = list(dict.fromkeys(table["strategy"]))
    colours = {"no_cache": "#999999", "max_cache": "#ff7f0e", "static_cache": "#9467bd",
               "plan": "#2ca02c"}
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, layout="constrained",
                                  height_ratios=(3, 1.4))
    width = 0.8 / max(len(strategies), 1)
    x = np.arange(len(days))
    for i, name in enumerate(strategies):
        sub = table[(table["strategy"] == name) & (table["day"] != "total")].set_index("day")
        label = sub["label"].iloc[0] if len(sub) else name
        ax.bar(x + i * width, sub.loc[days, "total_kgco2e"], width, label=label,
               color=colours.get(name))
        ax2.plot(x + 0.4 - width / 2, 100 * sub.loc[days, "slo_attainment"], marker="o", ms=3,
                 color=colours.get(name))
    ax.set_ylabel("kgCO2e per day (replayed)")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    ax2.set_ylabel("% within SLO")
    ax2.set_xticks(x + 0.4 - width / 2)
    ax2.set_xticklabels(days, rotation=30, ha="right")
    return fig


def compare_png(table: pd.DataFrame) -> bytes:
    import matplotlib.pyplot as plt

    fig = _compare_figure(table)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def compare_svg(table: pd.DataFrame) -> str:
    return _svg(_compare_figure(table))


# --------------------------------------------------------------------------------------------
# page
# --------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:2em auto;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right}
th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}.note{color:#666;font-size:.85em}
.modelled{background:#fff7e0;border-left:4px solid #e0a800;padding:.5em 1em;font-size:.9em}
svg{max-width:100%;height:auto}
"""


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(value) -> str:
    """Two decimals, or blank where the column does not apply (NaN)."""
    return "" if value is None or not np.isfinite(value) else f"{value:.2f}"


def _e(value) -> str:
    """Any value that came from a file, as HTML text."""
    return html.escape(str(value))


def render(plan: PlanOutputs, replay: pd.DataFrame | None = None,
           replay_summary: dict | None = None, comparison: pd.DataFrame | None = None) -> str:
    s, sched = plan.summary, plan.schedule
    sc = s.get("scenario", {})
    grid = s["inputs"]["grid"]
    tot = s["totals"]
    title = (f"{sc.get('model')} on {sc.get('tp')}×{sc.get('gpu')}, {sc.get('ssd')} — grid "
             f"{grid['zone']} ({grid['basis']})")
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>greencache report — {_e(title)}</title><style>{_CSS}</style>"
             f"</head><body><h1>greencache plan report</h1><p>{_e(title)}; "
             f"trace <code>{_e(s['inputs']['trace']['path'])}</code>, "
             f"{s['windows']['count']} window(s), {s['windows']['hours']:.2f} h. SLO p90 TTFT ≤ "
             f"{_e(sc.get('slo_ttft_s'))} s, p90 TPOT ≤ {_e(sc.get('slo_tpot_s'))} s.</p>"]
    m = s.get("modelled", {})
    parts.append(f"<div class='modelled'><b>What is modelled.</b> Hit rate: "
                 f"{_e(m.get('hit_rate'))} ({_e(m.get('hit_rate_source'))})."
                 f" Latency and power: {_e(m.get('latency_and_power'))}.</div>")
    parts.append("<h2>Totals</h2>")
    parts.append(f"<p>{_e(s.get('explanation', ''))}</p>")
    rows = [["plan", f"{tot['total_kgco2e']:.3f}", f"{tot['operational_kgco2e']:.3f}",
             f"{tot['embodied_kgco2e']:.3f}", f"{tot['energy_kwh']:.1f}", "", str(
                 s['windows']['slo_violated'])]]
    for name, b in s.get("baselines", {}).items():
        if "total_kgco2e" in b:
            rows.append([name, f"{b['total_kgco2e']:.3f}", f"{b['operational_kgco2e']:.3f}",
                         f"{b['embodied_kgco2e']:.3f}", f"{b['energy_kwh']:.1f}",
                         f"{b.get('reduction_pct', 0):.2f}", str(b.get("slo_violated_windows", 0))])
        else:
            rows.append([name, str(b.get("status", "")), "", "", "", "", ""])
    parts.append(_table(rows, ["", "total kgCO2e", "operational", "embodied", "energy kWh",
                               "plan saves %", "windows missing SLO"]))
    parts.append(fig_baselines(s))
    if "provisioning" in s:
        from planner.provisioning import provisioning_rows

        parts.append("<h2>Provisioning and reconfigurations</h2>")
        parts.append(_table([[label, value] for label, value in
                             provisioning_rows(s["provisioning"])], ["", ""]))
        changes = [[r.window_start.strftime("%Y-%m-%d %H:%M"), r.action]
                   for r in sched.iloc[1:].itertuples() if r.action != "keep"]
        if changes:
            parts.append(_table(changes[:200], ["window (UTC)", "reconfiguration"]))
    parts.append("<h2>Carbon intensity, replicas and cache over time</h2>")
    parts.append(fig_timeline(sched))
    if plan.components is not None and len(plan.components) == len(sched):
        parts.append("<h2>Carbon by source</h2>")
        parts.append(fig_carbon_stack(sched, plan.components))
    if plan.forecast is not None:
        fs = s.get("foresight", {})
        parts.append("<h2>Forecast against actual</h2>")
        parts.append(f"<p>Planned on forecasts ({_e(fs.get('forecast_model'))}): a decision "
                     f"every {_e(fs.get('decide_every'))}, each solving the next "
                     f"{_e(fs.get('lookahead'))}; capacity sized on the "
                     f"{_e(fs.get('load_quantile'))} quantile of the load forecast. Hit curves: "
                     f"{_e(fs.get('hit_curves'))}.</p>")
        parts.append(fig_forecast(plan.forecast))
    if replay is not None:
        parts.append("<h2>Predicted against replayed latency</h2>")
        if replay_summary:
            parts.append(f"<p>{_e(replay_summary.get('explanation', ''))}</p>")
        parts.append(fig_predicted_vs_replayed(replay))
    if comparison is not None:
        parts.append("<h2>Deployments judged by replay</h2>")
        tot = comparison[comparison["day"] == "total"]
        rows = [[r.label, f"{r.requests:,}", f"{r.slo_attainment:.1%}", f"{r.total_kgco2e:.3f}",
                 f"{r.predicted_total_kgco2e:.3f}",
                 f"{getattr(r, 'reduction_vs_max_cache_pct', float('nan')):.2f}",
                 f"{getattr(r, 'reduction_vs_no_cache_pct', float('nan')):.2f}",
                 _number(getattr(r, "carbon_regret_pct", float("nan"))),
                 _number(getattr(r, "slo_regret_points", float("nan")))]
                for r in tot.itertuples()]
        parts.append(_table(rows, ["strategy", "requests", "within SLO", "replayed kgCO2e",
                                   "predicted kgCO2e", "plan saves vs (b) %",
                                   "plan saves vs (a) %", "carbon regret %",
                                   "SLO regret points"]))
        parts.append(compare_svg(comparison))
    parts.append("<h2>Schedule</h2>")
    cols = ["window_start", "rate_rps", "ci_gco2_per_kwh", "replicas", "cache_gb", "hit_rate",
            "p90_ttft_s", "p90_tpot_s", "slo_met", "total_kgco2e", "action"]
    shown = sched if len(sched) <= 200 else sched.iloc[:200]
    rows = [[r.window_start.strftime("%Y-%m-%d %H:%M"), f"{r.rate_rps:.2f}",
             f"{r.ci_gco2_per_kwh:.0f}", r.replicas, f"{r.cache_gb / 1000:g}",
             f"{r.hit_rate:.1%}", f"{r.p90_ttft_s:.3f}", f"{r.p90_tpot_s:.4f}",
             "yes" if r.slo_met else "NO", f"{r.total_kgco2e:.3f}", r.action]
            for r in shown.itertuples()]
    parts.append(_table(rows, ["window (UTC)", "req/s", "gCO2/kWh", "replicas", "cache TB",
                               "hit", "p90 TTFT s", "p90 TPOT s", "SLO", "kgCO2e", "action"]))
    if len(sched) > 200:
        parts.append(f"<p class='note'>first 200 of {len(sched)} windows; all in schedule.csv</p>")
    parts.append("<h2>Inputs and notes</h2><ul>")
    for key in ("trace", "profile", "catalog"):
        info = s["inputs"][key]
        parts.append(f"<li>{key}: <code>{_e(info['path'])}</code> sha256 "
                     f"<code>{_e(info['sha256'][:16])}…</code></li>")
    parts.append(f"<li>grid: {_e(grid['zone'])}, {_e(grid.get('attribution') or '')}</li>")
    for note in s.get("notes", []):
        parts.append(f"<li class='note'>{_e(note)}</li>")
    parts.append("</ul></body></html>\n")
    return "".join(parts)
