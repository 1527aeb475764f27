"""The ``forecast`` command's work: read the history, forecast the horizon, set the actuals
beside it and score both the chosen model and seasonal naive.

Every option is checked before the trace is read; the forecast frame and its scores are
returned as data for the command to print and write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from planner.choices import FORECAST_MODELS
from planner.errors import InputDataError, UsageError
from planner.forecast.accuracy import point_accuracy, rate_accuracy
from planner.forecast.ci_file import read_ci_forecast
from planner.forecast.frame import HISTORY_COLUMNS, POINT_COLUMNS, RATE, utc
from planner.forecast.history import rate_history, window_history
from planner.forecast.models import SEASONAL_NAIVE
from planner.forecast.windows import forecast_windows
from planner.grid import load_grid
from planner.workload.windows import parse_duration, parse_window

MAX_HORIZON = pd.Timedelta(days=14)
QUANTILES = (0.5, 0.9)


@dataclass(frozen=True)
class ForecastRequest:
    """What ``greencache forecast`` was asked (paths as given; one of trace and rates)."""

    cutoff: str
    horizon: str = "48h"
    window: str = "1h"
    model: str = "auto"
    trace: str | None = None
    rates: str | None = None
    trace_format: str | None = None
    series: str | None = None
    start: str | None = None
    grid: str = "FR"
    ci_basis: str = "lifecycle"
    ci_forecast: str | None = None


@dataclass
class ForecastRun:
    frame: pd.DataFrame                 # forecast.csv: forecasts with the actuals beside them
    history: pd.DataFrame               # the windows before the cutoff (for the figure)
    accuracy: pd.DataFrame              # per model and lead band, where actuals exist
    model: str                          # the model the rate was forecast with
    notes: list[str] = field(default_factory=list)


def checked(req: ForecastRequest):
    """(cutoff, horizon windows, window length): every option checked, nothing read."""
    if (req.trace is None) == (req.rates is None):
        raise UsageError("give the history as exactly one of --trace and --rates")
    if req.model not in FORECAST_MODELS:
        raise UsageError(f"unknown forecast model {req.model!r}; choose one of "
                         f"{', '.join(FORECAST_MODELS)}")
    step = parse_window(req.window)
    if pd.Timedelta(days=1) % step != pd.Timedelta(0):
        raise UsageError(f"--window {req.window} must divide a day, so days and weeks are "
                         "whole seasons of windows")
    span = parse_duration(req.horizon, "--horizon")
    if span % step != pd.Timedelta(0):
        raise UsageError(f"--horizon {req.horizon} is not a whole number of {req.window} "
                         "windows")
    if span > MAX_HORIZON:
        raise UsageError(f"--horizon {req.horizon} is longer than the 14 days a forecast covers")
    try:
        cutoff = utc(req.cutoff)
    except (ValueError, TypeError):
        raise UsageError(f"cannot read --cutoff {req.cutoff!r}; write e.g. 2024-05-14T00:00Z") \
            from None
    if cutoff.value % step.value:
        raise UsageError(f"--cutoff {req.cutoff} is not on a {req.window} window boundary")
    horizon = pd.date_range(cutoff, periods=int(span // step), freq=step)
    return cutoff, horizon, step


def read_history(req: ForecastRequest, step: pd.Timedelta, series) -> tuple[pd.DataFrame, list]:
    """The history frame of the trace (or rate series) with the grid's carbon intensity."""
    from planner.workload.prepare import default_start, place_trace

    if req.trace is not None:
        from planner.workload.load import load_workload

        trace = load_workload(req.trace, req.trace_format, series=req.series)
        trace = place_trace(trace, req.start, series)
        return window_history(trace, series, step), list(trace.notes)
    from planner.workload.rates import read_rate_series

    rs = read_rate_series(Path(req.rates), req.trace_format, req.series)
    start = default_start(series) if req.start is None else utc(req.start)
    note = [] if rs.start is not None else [
        f"{rs.name} has no dates; it was placed at {start:%Y-%m-%dT%H:%MZ}"
        + (" (--start)" if req.start else " (the start of the grid series' last year)")]
    if rs.start is not None and req.start is not None:
        raise UsageError(f"--start applies to series without dates; {rs.name} has dates")
    return rate_history(rs, start, series, step), note


def run_forecast(req: ForecastRequest) -> ForecastRun:
    cutoff, horizon, step = checked(req)
    ci_fc = read_ci_forecast(Path(req.ci_forecast), req.ci_basis) if req.ci_forecast else None
    series = load_grid(req.grid, req.ci_basis)
    history, notes = read_history(req, step, series)
    notes = list(series.notes) + notes + list(history.attrs.get("notes", ()))
    load = history[np.isfinite(history[RATE].to_numpy())]
    first, end = load.index[0], load.index[-1] + step
    if not first < cutoff <= end:
        raise InputDataError(f"--cutoff {cutoff:%Y-%m-%dT%H:%MZ} is outside the data, which "
                             f"runs from {first:%Y-%m-%dT%H:%MZ} to {end:%Y-%m-%dT%H:%MZ}")
    chosen = forecast_windows(history, cutoff, horizon, model=req.model, quantiles=QUANTILES,
                              ci_forecast=ci_fc)
    frame = chosen.copy()
    actual = history.reindex(horizon)
    for col in HISTORY_COLUMNS:
        frame[f"{col}_actual"] = actual[col].to_numpy()
    scores = [_scores(frame, chosen["model"].iloc[0], "chosen")]
    if req.model != SEASONAL_NAIVE:
        naive = forecast_windows(history, cutoff, horizon, model=SEASONAL_NAIVE,
                                 quantiles=QUANTILES, ci_forecast=ci_fc)
        for col in HISTORY_COLUMNS:
            naive[f"{col}_actual"] = frame[f"{col}_actual"]
        scores.append(_scores(naive, SEASONAL_NAIVE, "baseline"))
    models = ", ".join(f"{c} by {m}" for c, m in chosen.attrs.get("models", {}).items() if m)
    notes.append(f"forecast with --model {req.model}: {models}")
    if ci_fc is not None:
        notes.append(f"carbon intensity from {req.ci_forecast}: for each window the latest "
                     f"forecast issued before {cutoff:%Y-%m-%dT%H:%MZ}")
    if frame[f"{RATE}_actual"].isna().all():
        notes.append("the data ends at the cutoff: no actuals to score the forecast on")
    past = history.loc[history.index < cutoff]
    return ForecastRun(frame, past, pd.concat(scores, ignore_index=True),
                       str(chosen["model"].iloc[0]), notes)


def _scores(frame: pd.DataFrame, model: str, role: str) -> pd.DataFrame:
    """Rate scores per lead band, with the carbon-intensity and token MAPE beside them."""
    rate = rate_accuracy(frame, QUANTILES, f"{RATE}_actual")
    for col in POINT_COLUMNS:
        pa = point_accuracy(frame, col, f"{col}_actual").set_index("lead")["mape_pct"]
        rate[f"mape_{col}_pct"] = rate["lead"].map(pa).to_numpy(dtype=float)
    rate.insert(0, "model", model)
    rate.insert(1, "role", role)
    return rate[rate["windows"] > 0]
