"""The forecast models, by name: each fits one series and predicts h windows ahead.

A model takes the training values (finite, oldest first), the window length and h, and gives
the point forecast and the rate quantiles asked for. The names are the library's
``FORECAST_MODELS`` (choices.py); ``auto`` is not a model but a choice among these
(select.py).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from planner.forecast.frame import DAY, season_windows
from planner.forecast import statistical
from planner.forecast.quantiles import residual_quantiles
from planner.forecast.seasonal import naive_residuals, naive_season, seasonal_naive

SEASONAL_NAIVE = "seasonal-naive"


@dataclass(frozen=True)
class Prediction:
    """``point[k]`` and ``quantiles[q][k]`` for the k-th window after the history (k from 0)."""

    point: np.ndarray
    quantiles: dict


@dataclass(frozen=True)
class Model:
    name: str
    min_days: float                 # history it needs, in days
    predict: Callable[[np.ndarray, pd.Timedelta, int, tuple], Prediction | None]

    def min_windows(self, step: pd.Timedelta) -> int:
        return int(round(self.min_days * season_windows(step, DAY)))


def _seasonal_naive(y, step, h, quantiles) -> Prediction:
    m = naive_season(len(y), step)
    point = seasonal_naive(y, m, h)
    return Prediction(point, residual_quantiles(point, naive_residuals(y, m), quantiles))


def _statistical(fit):
    def predict(y, step, h, quantiles) -> Prediction | None:
        got = fit(y, step, h, quantiles)
        return None if got is None else Prediction(*got)
    return predict


# Seasonal models need two seasons of history to tell a season from noise.
MODELS: dict[str, Model] = {
    SEASONAL_NAIVE: Model(SEASONAL_NAIVE, 1.0, _seasonal_naive),
    "auto-ets": Model("auto-ets", 2.0, _statistical(statistical.auto_ets)),
    "auto-arima": Model("auto-arima", 2.0, _statistical(statistical.auto_arima)),
    "mstl": Model("mstl", 2.0, _statistical(statistical.mstl)),
}


# What ``auto`` chooses among: the baseline and the one model that captures both the daily and
# the weekly season. AutoETS (seasons up to 24 windows in statsforecast) and AutoARIMA (a weekly
# season of 168 windows is impractical to fit) see the day only, and on the shipped series
# they were slower and no more accurate (docs/forecast.md); they stay available by name.
AUTO_CANDIDATES = (SEASONAL_NAIVE, "mstl")


# The statistical fits made in this process, newest last, by model, window and training values.
# A rolling plan's decision scores ``auto``'s holdout on the very values the decision a day
# before was fitted on (select.py), and the grid study fits MSTL on the values ``auto`` then
# picks it for: the fit is made once. A fit's first h windows and its intervals do not depend
# on how far ahead it was asked (statsforecast forecasts each step alike; tested), so a fit
# of more windows and quantiles serves one of fewer. Seasonal naive costs less than a lookup.
_FITS: OrderedDict = OrderedDict()
FITS_KEPT = 64          # a week of decisions × 4 columns × 2 fits, with room
_COUNTS = {"fitted": 0, "reused": 0}


def fit_counts() -> dict:
    """How many statistical fits this process made, and how many times one served again."""
    return dict(_COUNTS)


def clear_fits() -> None:
    """Forget every fit made (the next forecast fits afresh)."""
    _FITS.clear()


def fitted(model: Model, y: np.ndarray, step: pd.Timedelta, h: int,
           quantiles) -> Prediction | None:
    """``model.predict(y, step, h, quantiles)``, fitted once per training series."""
    if model.name == SEASONAL_NAIVE:
        return model.predict(y, step, h, quantiles)
    y = np.ascontiguousarray(y, dtype=float)
    key = (model.name, step.value, y.tobytes())
    want = frozenset(quantiles)
    made = _FITS.get(key)
    if made is None or made[0] < h or not want <= made[1]:
        fit_h, fit_qs = (h, want) if made is None else (max(h, made[0]), want | made[1])
        made = (fit_h, fit_qs, model.predict(y, step, fit_h, tuple(sorted(fit_qs))))
        _COUNTS["fitted"] += 1
    else:
        _COUNTS["reused"] += 1
    _FITS[key] = made
    _FITS.move_to_end(key)
    while len(_FITS) > FITS_KEPT:
        _FITS.popitem(last=False)
    got = made[2]
    if got is None:
        return None
    return Prediction(got.point[:h].copy(),
                      {q: v[:h].copy() for q, v in got.quantiles.items() if q in want})


def predict(name: str, y: np.ndarray, step: pd.Timedelta, h: int,
            quantiles) -> tuple[str, Prediction]:
    """The named model's forecast, or seasonal naive's when that model cannot fit ``y`` (too
    short, or its fit failed); returns the name of the model that made it."""
    model = MODELS[name]
    if len(y) >= model.min_windows(step):
        got = fitted(model, y, step, h, quantiles)
        if got is not None:
            return name, got
    return SEASONAL_NAIVE, MODELS[SEASONAL_NAIVE].predict(y, step, h, quantiles)
