"""`greencache forecast`: forecast the windows after a cutoff and score the forecast on what
happened."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from planner.choices import CiBasis, ForecastModel, WorkloadFormat
from planner.cli.common import app, console, err_console, handle_errors
from planner.outputs import OutputSet, check_output_folder

INPUTS, FORECAST, OUTPUT = "Inputs", "Forecast", "Output"


@app.command()
@handle_errors
def forecast(
    cutoff: Annotated[str, typer.Option(
        help="Issue time (ISO 8601, UTC, on a window boundary): only data before it is used.",
        show_default=False, rich_help_panel=FORECAST)],
    trace: Annotated[Optional[Path], typer.Option(
        help="History as a request trace (or a rate series, synthesised as `plan` does).",
        show_default=False, rich_help_panel=INPUTS)] = None,
    rates: Annotated[Optional[Path], typer.Option(
        help="History as a rate series (Azure 2024 10-s counts, BurstGPT, ServeGen), read "
             "without synthesising requests; token lengths are then unknown.",
        show_default=False, rich_help_panel=INPUTS)] = None,
    trace_format: Annotated[Optional[WorkloadFormat], typer.Option(
        help="Override format detection.", show_default="detected",
        rich_help_panel=INPUTS)] = None,
    series: Annotated[Optional[str], typer.Option(
        help="Rate series only: BurstGPT log type (conversation, api, all) or ServeGen model.",
        show_default="conversation, m-large", rich_help_panel=INPUTS)] = None,
    start: Annotated[Optional[str], typer.Option(
        help="Start time (ISO 8601, UTC) for histories without dates.",
        show_default="the grid series' last year, 1 Jan", rich_help_panel=INPUTS)] = None,
    grid: Annotated[str, typer.Option(
        help="Grid zone code or CSV file: the carbon-intensity history.", show_default=True,
        rich_help_panel=INPUTS)] = "FR",
    ci_basis: Annotated[CiBasis, typer.Option(
        help="Carbon-intensity basis: lifecycle (Electricity Maps LCA) or direct.",
        show_default=True, rich_help_panel=INPUTS)] = CiBasis.lifecycle,
    ci_forecast: Annotated[Optional[Path], typer.Option(
        help="External carbon-intensity forecasts: the grid file's columns plus issued_at; "
             "each window takes the latest issued before the cutoff.", show_default=False,
        rich_help_panel=INPUTS)] = None,
    horizon: Annotated[str, typer.Option(
        help="How far ahead to forecast: 24h, 48h, 7d … (whole windows, at most 14 days).",
        show_default=True, rich_help_panel=FORECAST)] = "48h",
    window: Annotated[str, typer.Option(
        help="Window length (divides a day).", show_default=True,
        rich_help_panel=FORECAST)] = "1h",
    model: Annotated[ForecastModel, typer.Option(
        help="Forecast model; auto picks by the error on the history's last day, never worse "
             "than seasonal naive there.", show_default=True,
        rich_help_panel=FORECAST)] = ForecastModel.auto,
    out: Annotated[Path, typer.Option(
        help="Output folder.", show_default=True, rich_help_panel=OUTPUT)] = Path("forecast-out"),
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print no table.", rich_help_panel=OUTPUT)] = False,
):
    """Forecast request rate (p50, p90), mean token lengths and carbon intensity for each window
    after --cutoff; write forecast.csv, accuracy.csv and forecast.png.

    Where the data goes on past the cutoff, the actuals are written beside the forecast and the
    forecast is scored (MAPE, pinball loss, p90 coverage by lead time), with seasonal naive's
    scores beside it.
    """
    # Imported here, not at the top, so that --help does not load pandas.
    from planner.forecast.files import accuracy_csv, forecast_csv, forecast_png
    from planner.forecast.run import ForecastRequest, checked, run_forecast

    req = ForecastRequest(
        cutoff=cutoff, horizon=horizon, window=window, model=model.value,
        trace=None if trace is None else str(trace), rates=None if rates is None else str(rates),
        trace_format=None if trace_format is None else trace_format.value, series=series,
        start=start, grid=grid, ci_basis=ci_basis.value,
        ci_forecast=None if ci_forecast is None else str(ci_forecast))
    checked(req)
    check_output_folder(out)
    with err_console.status("forecasting…"):
        run = run_forecast(req)
    title = (f"{Path(req.trace or req.rates).name}, grid {grid}: forecast issued "
             f"{run.frame.index[0]:%Y-%m-%d %H:%M} UTC, rate by {run.model}")
    files = OutputSet(out)
    files.add_text("forecast.csv", forecast_csv(run.frame))
    files.add_text("accuracy.csv", accuracy_csv(run.accuracy))
    files.add_bytes("forecast.png", forecast_png(run.frame, run.history, title))
    written = files.commit()
    if quiet:
        return
    for note in run.notes:
        console.print(f"note: {note}", soft_wrap=True)
    if len(run.accuracy):
        console.print(accuracy_table(run.accuracy))
    for p in written:
        console.print(f"wrote {p}")


def accuracy_table(acc) -> Table:
    t = Table(title="Forecast accuracy on the actuals (rate: requests/s)", title_justify="left")
    cols = [("role", "role"), ("model", "rate model"), ("lead", "lead"), ("windows", "windows"),
            ("mape_p50_pct", "rate MAPE %"), ("pinball_p50", "pinball p50"),
            ("pinball_p90", "pinball p90"), ("coverage_p90_pct", "p90 coverage %"),
            ("mape_ci_gco2_per_kwh_pct", "CI MAPE %")]
    for _, name in cols:
        t.add_column(name, justify="left" if name in ("role", "rate model", "lead") else "right")
    for _, row in acc.iterrows():
        t.add_row(*[_cell(row[k]) for k, _ in cols])
    return t


def _cell(v) -> str:
    if isinstance(v, str):
        return v
    if v != v:          # NaN
        return "–"
    return f"{v:,.0f}" if float(v).is_integer() and abs(v) >= 1 else f"{v:.3g}"
