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
    predict: Callable[[np.ndarray, pd.Timedelta, int, tuple], Prediction]

    def min_windows(self, step: pd.Timedelta) -> int:
        return int(round(self.min_days * season_windows(step, DAY)))


def _seasonal_naive(y, step, h, quantiles) -> Prediction:
    m = naive_season(len(y), step)
    point = seasonal_naive(y, m, h)
    return Prediction(point, residual_quantiles(point, naive_residuals(y, m), quantiles))


MODELS: dict[str, Model] = {
    SEASONAL_NAIVE: Model(SEASONAL_NAIVE, 1.0, _seasonal_naive),
}
