"""The frames forecasting reads and writes, and the checks every caller's frame goes through.

A *history* frame has one row per planning window, indexed by ``window_start`` (UTC, a regular
step equal to the window length) with the columns of :data:`HISTORY_COLUMNS`; NaN marks a value
that is not known (a window before the trace began, a grid hour not in the series). A forecast
frame is indexed by the horizon's window starts and has :func:`forecast_columns`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.errors import InputDataError, UsageError

RATE = "rate"                           # requests per second over the window
INPUT_MEAN = "input_tokens_mean"        # mean prompt tokens of the window's requests
OUTPUT_MEAN = "output_tokens_mean"      # mean generated tokens
CI = "ci_gco2_per_kwh"                  # grid carbon intensity over the window
HISTORY_COLUMNS = (RATE, INPUT_MEAN, OUTPUT_MEAN, CI)
# Columns forecast as a single (point) value; the rate is forecast with quantiles.
POINT_COLUMNS = (INPUT_MEAN, OUTPUT_MEAN, CI)
DAY = pd.Timedelta(days=1)
WEEK = pd.Timedelta(days=7)
# Models are fitted on at most the last four weeks: enough for two weekly seasons with room,
# and it keeps a fit on years of hourly carbon intensity as fast as one on a week of load.
MAX_TRAIN = pd.Timedelta(days=28)


def quantile_column(q: float) -> str:
    """``rate_pNN`` with NN = round(100 q)."""
    return f"{RATE}_p{round(100 * q)}"


def check_quantiles(quantiles) -> tuple[float, ...]:
    """The requested quantiles, sorted; each strictly inside (0, 1), named uniquely."""
    qs = tuple(sorted(float(q) for q in quantiles))
    if not qs:
        raise UsageError("ask for at least one rate quantile")
    bad = [q for q in qs if not 0.0 < q < 1.0]
    if bad:
        raise UsageError(f"rate quantile {bad[0]:g} is outside (0, 1)")
    names = [quantile_column(q) for q in qs]
    if len(set(names)) != len(names):
        raise UsageError(f"rate quantiles {', '.join(f'{q:g}' for q in qs)} round to the same "
                         "percentile")
    return qs


def forecast_columns(quantiles) -> list[str]:
    return (["lead_h"] + [quantile_column(q) for q in quantiles]
            + list(POINT_COLUMNS) + ["model"])


def window_step(index: pd.DatetimeIndex, what: str) -> pd.Timedelta | None:
    """The regular step of a UTC window index (None for fewer than two rows)."""
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None \
            or str(index.tz) not in ("UTC", "utc"):
        raise InputDataError(f"the {what} must be indexed by UTC window starts")
    if len(index) < 2:
        return None
    d = np.diff(index.as_unit("ns").asi8)
    if d.min() <= 0 or d.min() != d.max():
        raise InputDataError(f"the {what}'s window starts are not one regular step apart")
    return pd.Timedelta(int(d[0]), unit="ns")


def recent(y: np.ndarray, step: pd.Timedelta) -> np.ndarray:
    """The last MAX_TRAIN of ``y``: what a model is fitted on."""
    return y[-int(MAX_TRAIN // step):]


def season_windows(step: pd.Timedelta, period: pd.Timedelta) -> int:
    """Windows in one season (a day or a week); the window must divide a day."""
    if DAY % step != pd.Timedelta(0):
        raise UsageError(f"forecast windows must divide a day; {step} does not")
    return int(period // step)


def check_history(history: pd.DataFrame) -> pd.Timedelta | None:
    """Validate a history frame's index and columns; its window step (None if one row)."""
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise InputDataError(f"the history has no column {missing[0]!r}")
    return window_step(pd.DatetimeIndex(history.index) if isinstance(history.index, pd.DatetimeIndex)
                       else history.index, "history")


def check_horizon(horizon: pd.DatetimeIndex, issued_at: pd.Timestamp,
                  step: pd.Timedelta | None) -> pd.Timedelta:
    """Validate the horizon against the issue time and the history's step; the step."""
    if len(horizon) == 0:
        raise UsageError("the forecast horizon has no windows")
    own = window_step(horizon, "horizon")
    if own is not None and step is not None and own != step:
        raise UsageError(f"the horizon's windows ({own}) differ from the history's ({step})")
    step = step or own
    if step is None:
        raise InputDataError("the history needs at least two windows to tell the window length")
    if horizon[0] < issued_at:
        raise UsageError(f"the horizon starts at {horizon[0]}, before the forecast is issued "
                         f"({issued_at})")
    return step


def utc(ts) -> pd.Timestamp:
    """A timestamp in UTC (a naive one is read as UTC)."""
    ts = pd.Timestamp(ts)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).as_unit("ns")
