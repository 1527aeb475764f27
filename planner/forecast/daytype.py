"""Weekdays and weekend days, while the history is too short for a weekly season.

Request rates of services people use drop on Saturdays and Sundays (the 2024 Azure
conversation week: 28.7 and 29.8 req/s on its weekend days against 46–55 on its weekdays). A
weekly season needs two weeks of history to be told from noise (seasonal.py, statistical.py);
before that, a model fitted on the last days forecasts a Saturday after a week of work as
another weekday, and a Monday after a weekend as another Sunday. Short-term load forecasters
have long met this with the similar-day rule, and ``auto`` uses it for the request rate:

    a window whose day type (weekday, or Saturday and Sunday; UTC days, the trace's clock)
    differs from that of the history's last whole day takes the value of the most recent
    whole day of its own type, at the same time of day: ŷ(t) = y(s), s the latest time of day
    t's time on such a day;

its quantiles keep the model's relative spread at the same lead, ŷ_q(t) = ŷ(t) · m_q(t) / m(t)
(m the model's forecast). The other windows are the model's. A named model is used as it is,
so seasonal naive stays the plain baseline; with two weeks of history the weekly season takes
over and the rule is not used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.forecast.frame import DAY, WEEK, season_windows

WEEKEND_DAYS = (5, 6)                   # Saturday, Sunday (pandas' day of week, Monday = 0)
# Appended to the rate model's name where some of its windows were taken from a similar day
# (forecast.csv's ``model`` column: "mstl+similar-day").
SIMILAR_DAY_SUFFIX = "+similar-day"


def is_weekend(times: pd.DatetimeIndex) -> np.ndarray:
    return np.isin(times.dayofweek, WEEKEND_DAYS)


def similar_days(y: np.ndarray, last: pd.Timestamp, step: pd.Timedelta,
                 ahead: int) -> np.ndarray | None:
    """For the ``ahead`` windows after the history ``y`` (whose last window starts at
    ``last``), the similar-day value where the rule applies and NaN elsewhere; None when it
    applies nowhere (two weeks of history, no whole day, or every target day of the last whole
    day's type)."""
    per_day = season_windows(step, DAY)
    if len(y) >= 2 * season_windows(step, WEEK):
        return None
    times = pd.date_range(end=last, periods=len(y), freq=step)
    starts_day = np.asarray(times == times.floor("D"))
    if not starts_day.any():
        return None
    first = int(np.argmax(starts_day))              # the first window that starts a day
    whole = (len(y) - first) // per_day
    if whole == 0:
        return None
    days = np.asarray(y[first:first + whole * per_day], dtype=float).reshape(whole, per_day)
    weekend = is_weekend(times[first:first + whole * per_day:per_day])
    targets = pd.date_range(last + step, periods=ahead, freq=step)
    target_weekend = is_weekend(targets)
    other = target_weekend != weekend[-1]
    if not other.any():
        return None
    out = np.full(ahead, np.nan)
    slot = ((targets - targets.floor("D")) // step).to_numpy(dtype=int)
    for kind in (True, False):
        want = other & (target_weekend == kind)
        have = np.flatnonzero(weekend == kind)
        if want.any() and len(have):
            out[want] = days[have[-1], slot[want]]
    return None if np.isnan(out).all() else out
