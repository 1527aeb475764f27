"""Terminal rendering of a plan (rich): the schedule, the totals and what was modelled."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table

MAX_ROWS = 48


def _daily(schedule: pd.DataFrame) -> pd.DataFrame:
    """Long plans are shown per day: sums of carbon, ranges of replicas and cache."""
    df = schedule.copy()
    df["day"] = pd.DatetimeIndex(df["window_start"]).strftime("%Y-%m-%d")
    g = df.groupby("day", sort=True)
    return pd.DataFrame({
        "day": list(g.groups),
        "requests": g["requests"].sum().to_numpy(),
        "ci": g["ci_gco2_per_kwh"].mean().to_numpy(),
        "replicas": [f"{a}–{b}" if a != b else f"{a}" for a, b in
                     zip(g["replicas"].min(), g["replicas"].max())],
        "cache": [f"{a / 1000:g}–{b / 1000:g}" if a != b else f"{a / 1000:g}" for a, b in
                  zip(g["cache_gb"].min(), g["cache_gb"].max())],
        "hit": g["hit_rate"].mean().to_numpy(),
        "slo": g["slo_met"].all().to_numpy(),
        "total": g["total_kgco2e"].sum().to_numpy(),
    })


def plan_table(console: Console, result) -> None:
    sched, summary = result.schedule, result.summary
    opt = result.inputs.options
    title = (f"{opt.model} on {opt.tp}×{opt.gpu}, {opt.ssd}, grid {summary['inputs']['grid']['zone']}"
             f" ({summary['inputs']['grid']['basis']}), SLO p90 TTFT ≤ {opt.slo_ttft_s:g} s, "
             f"TPOT ≤ {opt.slo_tpot_s:g} s")
    if len(sched) <= MAX_ROWS:
        t = Table(title=title, title_justify="left")
        for col, just in (("window (UTC)", "left"), ("req/s", "right"), ("gCO2/kWh", "right"),
                          ("replicas", "right"), ("cache TB", "right"), ("hit", "right"),
                          ("p90 TTFT s", "right"), ("p90 TPOT s", "right"), ("SLO", "center"),
                          ("kgCO2e", "right"), ("action", "left")):
            t.add_column(col, justify=just)
        for r in sched.itertuples():
            t.add_row(f"{r.window_start:%m-%d %H:%M}–{r.window_end:%H:%M}", f"{r.rate_rps:.2f}",
                      f"{r.ci_gco2_per_kwh:.0f}", str(r.replicas), f"{r.cache_gb / 1000:g}",
                      f"{r.hit_rate:.1%}", f"{r.p90_ttft_s:.3f}", f"{r.p90_tpot_s:.4f}",
                      "ok" if r.slo_met else "[red]MISS[/]", f"{r.total_kgco2e:.3f}", r.action)
    else:
        t = Table(title=title + " (per day)", title_justify="left")
        for col in ("day", "requests", "gCO2/kWh", "replicas", "cache TB", "mean hit", "SLO",
                    "kgCO2e"):
            t.add_column(col, justify="left" if col == "day" else "right")
        for r in _daily(sched).itertuples():
            t.add_row(r.day, f"{r.requests:,}", f"{r.ci:.0f}", r.replicas, r.cache,
                      f"{r.hit:.1%}", "ok" if r.slo else "[red]MISS[/]", f"{r.total:.2f}")
    console.print(t)
    tot = summary["totals"]
    console.print(f"[bold]total {tot['total_kgco2e']:.3f} kgCO2e[/] = operational "
                  f"{tot['operational_kgco2e']:.3f} + embodied {tot['embodied_kgco2e']:.3f}; "
                  f"energy {tot['energy_kwh']:.2f} kWh")
    slo = summary["slo"]
    rule = (f"at least {100 * slo['slo_attainment']:.1f} % of requests within both SLOs "
            "(budget)" if slo["slo_attainment"] is not None else
            f"every window's p90s within {100 * (1 - opt.slo_margin):.0f} % of the SLOs")
    console.print(f"SLO: {rule}; predicted {100 * slo['predicted_slo_attainment']:.1f} % "
                  f"within both (modelled); headroom {opt.headroom:g} of replica capacity")
    for name, b in summary["baselines"].items():
        if name == "perfect_foresight" and "total_kgco2e" in b:
            # Predicted on the actuals, while the plan is predicted on its forecasts: only a
            # replay of both on the trace compares them.
            console.print(f"  perfect foresight (the same windows planned on the actuals): "
                          f"{b['total_kgco2e']:.3f} kgCO2e predicted; `greencache compare` "
                          "replays both and reports the regret")
        elif "total_kgco2e" in b:
            extra = (f", SLO missed in {b['slo_violated_windows']} window(s)"
                     if b.get("slo_violated_windows") else "")
            console.print(f"  vs {name}: {b['total_kgco2e']:.3f} kgCO2e → plan saves "
                          f"{b.get('reduction_pct', 0):.2f} %{extra}")
        else:
            console.print(f"  vs {name}: {b.get('status')} ({b.get('note', '')})")
    if "foresight" in summary:
        f = summary["foresight"]
        console.print(f"planned on forecasts ({f['forecast_model']}, rate at quantile "
                      f"{f['load_quantile']:g}): {len(f['decisions'])} decisions every "
                      f"{f['decide_every']}, each solving {f['lookahead']}; forecasts beside "
                      "the schedule in forecast.csv")
    s = summary["solver"]
    gap = "n/a" if s["mip_gap"] is None else f"{s['mip_gap']:.2g}"
    console.print(f"solver {s['solver']}: {s['status']}, objective "
                  f"{s['objective_kgco2e']:.4f}, gap {gap}, "
                  f"{summary['run']['solver_runtime_s']:.2f} s" if "run" in summary else "")
    if "provisioning" in summary:
        provisioning_table(console, summary["provisioning"])
    m = summary["modelled"]
    console.print(f"[dim]hit rate: {m['hit_rate']}; latency and power: {m['latency_and_power']}[/]")
    for note in summary["notes"]:
        console.print(f"[dim]note: {note}[/]")


def provisioning_table(console: Console, prov: dict) -> None:
    """What to buy (provisioning.json) as a two-column table."""
    from planner.provisioning import provisioning_rows

    t = Table(title="provisioning (what the plan needs)", title_justify="left")
    t.add_column("", justify="left")
    t.add_column("", justify="left")
    for label, value in provisioning_rows(prov):
        t.add_row(label, value)
    console.print(t)
