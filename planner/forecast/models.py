"""The forecast models, by name: each fits one series and predicts h windows ahead.

A model takes the training values (finite, oldest first), the window length and h, and gives
the point forecast and the rate quantiles asked for. The names are the library's
``FORECAST_MODELS`` (choices.py); ``auto`` is not a model but a choice among these
(select.py).
"""

from __future__ import annotations

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


def predict(name: str, y: np.ndarray, step: pd.Timedelta, h: int,
            quantiles) -> tuple[str, Prediction]:
    """The named model's forecast, or seasonal naive's when that model cannot fit ``y`` (too
    short, or its fit failed); returns the name of the model that made it."""
    model = MODELS[name]
    if len(y) >= model.min_windows(step):
        got = model.predict(y, step, h, quantiles)
        if got is not None:
            return name, got
    return SEASONAL_NAIVE, MODELS[SEASONAL_NAIVE].predict(y, step, h, quantiles)
