"""``forecast_windows``: every window of a horizon, forecast from the history before it.

The leakage guard lives here, not in callers: a history window counts only once it has ended
by the issue time (``window_start + window <= issued_at``), so no caller can hand the forecast
a value it could not have known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.choices import FORECAST_MODELS
from planner.errors import InputDataError, UsageError
from planner.forecast.ci_file import external_ci
from planner.forecast.daytype import SIMILAR_DAY_SUFFIX, similar_days
from planner.forecast.frame import (CI, DAY, MAX_TRAIN, POINT_COLUMNS, RATE, check_history,
                                    check_horizon, check_quantiles, forecast_columns,
                                    quantile_column, recent, utc, window_step)
from planner.forecast.models import MODELS, SEASONAL_NAIVE, predict
from planner.forecast.quantiles import ordered
from planner.forecast.select import choose

AUTO = "auto"


def forecast_windows(history: pd.DataFrame, issued_at: pd.Timestamp,
                     horizon: pd.DatetimeIndex, *, model: str = AUTO,
                     quantiles: tuple[float, ...] = (0.5, 0.9),
                     ci_forecast: pd.DataFrame | None = None) -> pd.DataFrame:
    """Forecast request rate (its quantiles), mean token lengths and carbon intensity for each
    window of ``horizon``, from the rows of ``history`` that ended by ``issued_at``.

    ``model``: one of FORECAST_MODELS; ``auto`` picks per column (select.py). The rate needs
    the model's history and raises otherwise; a token or carbon column with less history than
    the model needs falls back to seasonal naive, and is NaN with less than a day. With
    ``ci_forecast`` (ci_file.py) carbon intensity is the latest external forecast issued before
    ``issued_at`` instead of a model's. Deterministic: same inputs, same frame.
    """
    if model not in FORECAST_MODELS:
        raise UsageError(f"unknown forecast model {model!r}; choose one of "
                         f"{', '.join(FORECAST_MODELS)}")
    qs = check_quantiles(quantiles)
    issued_at = utc(issued_at)
    horizon = pd.DatetimeIndex(horizon)
    step = check_horizon(horizon, issued_at, check_history(history))
    known = _known(history, step, issued_at)
    k = _steps_ahead(known, horizon, step, issued_at)

    out = pd.DataFrame(index=pd.DatetimeIndex(horizon, name="window_start"))
    out["lead_h"] = (horizon - issued_at) / pd.Timedelta(hours=1)
    y = _training(known[RATE] if len(known) else pd.Series(dtype=float), step)
    rate_model = _model_for(y, step, model)
    need = MODELS[rate_model].min_windows(step)
    if y is None or len(y) < need:
        have = 0 if y is None else len(y)
        raise InputDataError(
            f"forecasting the request rate with {model} needs at least "
            f"{_duration(need * step)} of history before {issued_at:%Y-%m-%dT%H:%MZ}; the "
            f"history has {_duration(have * step)}")
    rate_model, pred = predict(rate_model, recent(y, step), step, int(k.max()), qs)
    by_q = {q: pred.quantiles.get(q, pred.point) if q != 0.5 else pred.point for q in qs}
    # Under auto, days of the other type than the history's last (a weekend after weekdays)
    # come from the latest day of their type while there is no weekly season (daytype.py).
    similar = None if model != AUTO else similar_days(y, known.index[-1], step, int(k.max()))
    if similar is not None:
        by_q = _with_similar_days(by_q, pred.point, similar)
        rate_model = f"{rate_model}{SIMILAR_DAY_SUFFIX}"
    by_q = ordered(by_q)
    for q in qs:
        out[quantile_column(q)] = by_q[q][k - 1]
    used = {RATE: rate_model}
    for col in POINT_COLUMNS:
        if col == CI and ci_forecast is not None:
            out[col] = external_ci(ci_forecast, horizon, step, issued_at)
            used[col] = "external"
            continue
        out[col], used[col] = _point(known[col] if len(known) else None, step, model, k)
    out["model"] = rate_model
    out = out[forecast_columns(qs)]
    out.attrs["models"] = used          # the model of every column (None: nothing known)
    return out


def forecast_series(values: pd.Series, issued_at: pd.Timestamp, horizon: pd.DatetimeIndex, *,
                    model: str = AUTO) -> tuple[np.ndarray, str | None]:
    """One point column (carbon intensity, say) forecast for ``horizon`` as
    :func:`forecast_windows` forecasts it, from a series indexed by UTC window starts; returns
    the values and the model that made them (NaN and None with less than a day known)."""
    if model not in FORECAST_MODELS:
        raise UsageError(f"unknown forecast model {model!r}; choose one of "
                         f"{', '.join(FORECAST_MODELS)}")
    issued_at = utc(issued_at)
    horizon = pd.DatetimeIndex(horizon)
    step = check_horizon(horizon, issued_at, window_step(pd.DatetimeIndex(values.index),
                                                         "history"))
    known = _known(values, step, issued_at)
    k = _steps_ahead(known, horizon, step, issued_at)
    return _point(known if len(known) else None, step, model, k)


def _with_similar_days(by_q: dict, point: np.ndarray, similar: np.ndarray) -> dict:
    """Each quantile's windows where ``similar`` is known replaced by the similar day's value
    times the model's relative spread there (q / point; 1 where the point is not positive)."""
    use = np.isfinite(similar)
    out = {}
    for q, v in by_q.items():
        ratio = np.divide(v, point, out=np.ones_like(point, dtype=float), where=point > 0)
        out[q] = np.where(use, similar * ratio, v)
    return out


def _known(history, step: pd.Timedelta, issued_at: pd.Timestamp):
    """The rows whose window ended by ``issued_at``: the leakage guard."""
    return history.loc[history.index + step <= issued_at]


def _steps_ahead(known: pd.DataFrame, horizon: pd.DatetimeIndex, step: pd.Timedelta,
                 issued_at: pd.Timestamp) -> np.ndarray:
    """k ≥ 1 for each horizon window: how many windows after the last known one it starts."""
    if len(known) == 0:
        return np.ones(len(horizon), dtype=int)
    gap = horizon - known.index[-1]
    if (gap % step != pd.Timedelta(0)).any():
        raise UsageError(f"the horizon's windows do not line up with the history's "
                         f"{step} windows")
    return np.asarray(gap // step, dtype=int)


def _training(col: pd.Series | None, step: pd.Timedelta) -> np.ndarray | None:
    """The column's values over the last MAX_TRAIN and the day before it (``auto`` scores its
    models on the last day, fitted on the MAX_TRAIN before it), from its first known value on:
    inner unknowns (an empty window's token mean) interpolated, trailing ones held. None if no
    value is known."""
    if col is None or len(col) == 0:
        return None
    full = col.reindex(pd.date_range(col.index[0], col.index[-1], freq=step))
    full = full.iloc[-int((MAX_TRAIN + DAY) // step):]
    v = full.to_numpy(dtype=float)
    ok = np.isfinite(v)
    if not ok.any():
        return None
    v = v[int(np.argmax(ok)):]
    ok = np.isfinite(v)
    if not ok.all():
        x = np.arange(len(v))
        v = np.interp(x, x[ok], v[ok])        # holds the last known value past the end
    return v


def _model_for(y: np.ndarray | None, step: pd.Timedelta, model: str) -> str:
    if model != AUTO:
        return model
    if y is None or len(y) < MODELS[SEASONAL_NAIVE].min_windows(step) + int(DAY // step):
        return SEASONAL_NAIVE
    return choose(y, step)


def _point(col: pd.Series | None, step: pd.Timedelta, model: str, k: np.ndarray):
    """(values, model name) of a token or carbon column; NaN and None without a day known."""
    y = _training(col, step)
    if y is None or len(y) < MODELS[SEASONAL_NAIVE].min_windows(step):
        return np.full(len(k), np.nan), None
    name, pred = predict(_model_for(y, step, model), recent(y, step), step, int(k.max()), ())
    return np.maximum(pred.point, 0.0)[k - 1], name


def _duration(td: pd.Timedelta) -> str:
    hours = td / pd.Timedelta(hours=1)
    if hours < 24:
        return f"{hours:g} h"
    return f"{hours / 24:g} day" + ("" if hours == 24 else "s")
