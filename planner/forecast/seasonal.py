"""Seasonal naive: next week's window is this week's, or tomorrow's is today's.

The baseline every other model must beat. The season is a week once the history holds two
(so a week-old value is not the only sample of its weekday), else a day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.forecast.frame import DAY, WEEK, season_windows


def naive_season(n: int, step: pd.Timedelta) -> int:
    """The season, in windows, for a history of ``n`` windows: weekly from two weeks on."""
    week = season_windows(step, WEEK)
    return week if n >= 2 * week else season_windows(step, DAY)


def seasonal_naive(y: np.ndarray, m: int, h: int) -> np.ndarray:
    """ŷ[n-1+k] = y[n-1+k − m·⌈k/m⌉] for k = 1..h: the last season, repeated."""
    n = len(y)
    k = np.arange(1, h + 1)
    return np.asarray(y, dtype=float)[n - 1 + k - m * np.ceil(k / m).astype(int)]


def naive_residuals(y: np.ndarray, m: int) -> np.ndarray:
    """In-sample errors y[t] − y[t−m]: what the forecast one season ahead missed by."""
    y = np.asarray(y, dtype=float)
    return y[m:] - y[:-m]
