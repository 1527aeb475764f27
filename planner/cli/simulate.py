"""`greencache simulate` and `greencache compare`: what schedules really deliver, by replay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from planner.cli.common import app, console, err_console, handle_errors


def _setup(summary: Path, trace: Optional[Path], grid: Optional[str], seed: Optional[int],
           status):
    from planner.plan_files import scenario_from_summary
    from planner.workload.prepare import prepare_replay

    opt = scenario_from_summary(summary, trace=str(trace) if trace else None, grid=grid,
                                seed=seed)
    return prepare_replay(opt, progress=lambda m: status.update(f"{m}…"))


@app.command("simulate")
@handle_errors
def simulate(
    schedule: Annotated[Path, typer.Option(
        help="Schedule to replay (schedule.csv of a plan).", show_default=False)],
    trace: Annotated[Optional[Path], typer.Option(
        help="Trace to replay.", show_default="the plan's, from summary.json")] = None,
    summary: Annotated[Optional[Path], typer.Option(
        help="The plan's summary.json (scenario).", show_default="beside the schedule")] = None,
    grid: Annotated[Optional[str], typer.Option(
        help="Grid for the carbon accounting.", show_default="the plan's")] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Reuse-model seed.", show_default="the plan's")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Output folder.", show_default="replay/ beside the schedule")] = None,
):
    """Replay every request of the trace through the cluster the schedule describes.

    Per window: the SSD cache at the scheduled size (a grown cache starts empty, a shrunk one
    evicts), session-affine routing to the scheduled replicas, each replica simulated request by
    request; then SLO attainment, p90 latencies, energy and carbon beside the planner's
    prediction. Writes replay.csv and replay.json.
    """
    from planner.outputs import OutputSet, check_output_folder
    from planner.plan_files import read_schedule
    from planner.replay_run import replay_csv, replay_schedule, replay_summary

    sched = read_schedule(schedule)
    summary = summary or schedule.parent / "summary.json"
    out = out or schedule.parent / "replay"
    check_output_folder(out)
    with err_console.status("replaying…") as status:
        setup = _setup(summary, trace, grid, seed, status)
        status.update("replaying…")
        result = replay_schedule(setup, sched)
    files = OutputSet(out)
    files.add_text("replay.csv", replay_csv(result.windows))
    data = replay_summary(result, setup.options, str(schedule))
    files.add_text("replay.json", json.dumps(data, indent=2) + "\n")
    written = files.commit()
    console.print(data["explanation"])
    for note in data["notes"]:
        console.print(f"[dim]note: {note}[/]")
    for p in written:
        console.print(f"wrote {p}")


@app.command("compare")
@handle_errors
def compare(
    plan: Annotated[Path, typer.Option(
        help="A plan's output folder: schedule.csv, summary.json and baselines/.",
        show_default=True)] = Path("out"),
    trace: Annotated[Optional[Path], typer.Option(
        help="Trace to replay.", show_default="the plan's")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Output folder.", show_default="compare/ inside the plan folder")] = None,
):
    """Judge the plan and its baselines by replay on the same trace and grid.

    (a) no SSD tier, (b) a fixed cache at the largest size, (c) the best single cache size,
    (d) the plan, each with replicas sized to the SLO. Writes compare.csv (per day
    and total), compare.json and compare.png; reductions are the plan's against (b) and (a).
    A plan made on forecasts adds (e) the plan of the same windows with perfect foresight,
    each strategy's regret against it (carbon %, SLO attainment points), and the forecasts'
    accuracy (forecast_accuracy.csv: MAPE, pinball loss, p90 coverage, per day and lead time).
    """
    from planner.outputs import OutputSet, check_output_folder
    from planner.plan_files import read_schedule
    from planner.replay_run import STRATEGIES, compare as run_compare
    from planner.report_html import compare_png

    paths = {"plan": plan / "schedule.csv"}
    paths.update({name: plan / "baselines" / f"{name}.csv" for name, _ in STRATEGIES
                  if name != "plan"})
    schedules = {name: read_schedule(p) for name, p in paths.items() if p.exists()
                 or name == "plan"}
    out = out or plan / "compare"
    check_output_folder(out)
    with err_console.status("comparing…") as status:
        setup = _setup(plan / "summary.json", trace, None, None, status)
        results, table = run_compare(setup, schedules,
                                     progress=lambda m: status.update(f"{m}…"))
    totals = table[table["day"] == "total"]
    data = {"plan": str(plan), "scenario": setup.options.as_dict(),
            "strategies": {r.strategy: {k: (None if isinstance(v, float) and v != v else v)
                                        for k, v in r._asdict().items()
                                        if k not in ("strategy", "Index")}
                           for r in totals.itertuples()},
            "notes": sorted({n for r in results.values() for n in r.notes} | set(setup.notes))}
    accuracy = None
    if (plan / "forecast.csv").exists():
        # A plan made on forecasts: how good they were, beside what they cost (the regret).
        from planner.foresight.forecast_accuracy import accuracy_table
        from planner.plan_files import read_forecast

        accuracy = accuracy_table(read_forecast(plan / "forecast.csv"))
        total = accuracy[accuracy["scope"] == "total"].iloc[0]
        data["forecast_accuracy"] = {k: (None if isinstance(v, float) and v != v else v)
                                     for k, v in total.items() if k not in ("scope", "key")}
    files = OutputSet(out)
    files.add_text("compare.csv", table.to_csv(index=False, float_format="%.6g",
                                               lineterminator="\n"))
    if accuracy is not None:
        files.add_text("forecast_accuracy.csv", accuracy.to_csv(
            index=False, float_format="%.6g", lineterminator="\n"))
    files.add_text("compare.json", json.dumps(data, indent=2, default=float) + "\n")
    files.add_bytes("compare.png", compare_png(table))
    written = files.commit()

    regret = "carbon_regret_pct" in totals.columns
    t = Table(title="Replayed deployments", title_justify="left")
    for col in ("strategy", "requests", "within SLO", "kgCO2e", "predicted", "vs (b) %",
                "vs (a) %") + (("regret %", "SLO regret pts") if regret else ()):
        t.add_column(col, justify="left" if col == "strategy" else "right")
    for r in totals.itertuples():
        extra = () if not regret else tuple(
            "" if v != v else f"{v:.2f}" for v in (r.carbon_regret_pct, r.slo_regret_points))
        t.add_row(r.label, f"{r.requests:,}", f"{r.slo_attainment:.1%}", f"{r.total_kgco2e:.3f}",
                  f"{r.predicted_total_kgco2e:.3f}",
                  f"{getattr(r, 'reduction_vs_max_cache_pct', float('nan')):.2f}",
                  f"{getattr(r, 'reduction_vs_no_cache_pct', float('nan')):.2f}", *extra)
    console.print(t)
    if accuracy is not None:
        a = data["forecast_accuracy"]
        covered = [k for k in a if k.endswith("_coverage")]
        console.print(
            f"forecasts ({a['windows']} windows): request-rate MAPE {a['rate_mape_pct']:.1f} % "
            f"(median), carbon-intensity MAPE {a['ci_gco2_per_kwh_mape_pct']:.1f} %"
            + "".join(f", {k.removeprefix('rate_').removesuffix('_coverage')} covered "
                      f"{100 * a[k]:.0f} % of windows" for k in covered)
            + "; per day and by lead time in forecast_accuracy.csv")
    for p in written:
        console.print(f"wrote {p}")
