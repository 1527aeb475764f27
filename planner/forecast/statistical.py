"""statsforecast's AutoETS, AutoARIMA and MSTL on one series, with their prediction intervals.

Each model is fitted on the training values and asked for the central intervals whose ends
are the requested rate quantiles (quantiles.py). A fit that fails or predicts non-finite
values returns None, and the caller falls back to seasonal naive (and says so in the frame's
``model`` column).

Settings, and why:
- AutoETS: daily season. statsforecast fits seasonal ETS only up to a season of 24, so for
  windows shorter than an hour it is not offered (``min_days`` stays but ``fits`` says no).
- AutoARIMA: daily season, stepwise search limited to p, q ≤ 2, P, Q ≤ 1 and 20 models, with
  the CSS approximation. The defaults (p, q ≤ 5, 94 models, exact likelihood) take minutes on
  four weeks of hourly windows and were no more accurate on the shipped data.
- MSTL: daily and weekly seasons once the history holds two weeks, daily before; its trend
  is forecast by AutoETS without a season (statsforecast's default). STL's trend and low-pass
  smoothers are evaluated every few points and interpolated between, as R's ``stl`` (under the
  MSTL of R's forecast package, where the method comes from) does by default: a jump of a
  tenth of the smoother's span, ⌈span/10⌉. statsforecast passes one set of STL options to
  every season, so the jumps are the daily season's (5 and 3 windows for hourly windows); the
  weekly season's smoothers, 7 times longer, are evaluated more densely than R would. The
  seasonal smoother is evaluated at every point: a weekly cycle-subseries holds only as many
  points as there are weeks (2–4), and skipping every other one moved MSTL's day-ahead MAPE
  by 0.2 points on two grids. Without jumps the weekly STL is most of a fit's time; with
  them a fit takes about two thirds as long (docs/forecast.md, "Speed").
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from planner.forecast.frame import DAY, WEEK, season_windows
from planner.forecast.quantiles import interval_level

MAX_ETS_SEASON = 24


def _levels(quantiles) -> list:
    levels = sorted({interval_level(q) for q in quantiles if q != 0.5})
    return [int(v) if float(v).is_integer() else v for v in levels]


def _key(q: float) -> str:
    lv = interval_level(q)
    lv = int(lv) if float(lv).is_integer() else lv
    return f"{'hi' if q > 0.5 else 'lo'}-{lv}"


def _run(model, y: np.ndarray, h: int, quantiles):
    """(point, {q: values}) of a statsforecast model, or None when the fit fails."""
    levels = _levels(quantiles)
    try:
        with warnings.catch_warnings():
            # convergence notes of the optimiser: the fit is still used when its forecast is
            # finite, and judged on the holdout like any other
            warnings.simplefilter("ignore")
            out = model.forecast(y=np.asarray(y, dtype=float), h=h, level=levels or None)
    except Exception:          # noqa: BLE001  (any failure of a third-party fit)
        return None
    point = np.asarray(out["mean"], dtype=float)
    qs = {q: np.asarray(out[_key(q)], dtype=float) for q in quantiles if q != 0.5}
    if not np.isfinite(point).all() or any(not np.isfinite(v).all() for v in qs.values()):
        return None
    return point, qs


def auto_ets(y, step: pd.Timedelta, h: int, quantiles):
    from statsforecast.models import AutoETS   # here, not at the top: its import takes seconds

    m = season_windows(step, DAY)
    if m > MAX_ETS_SEASON:
        return None
    return _run(AutoETS(season_length=m), y, h, quantiles)


def auto_arima(y, step: pd.Timedelta, h: int, quantiles):
    from statsforecast.models import AutoARIMA  # here, not at the top: its import takes seconds

    m = season_windows(step, DAY)
    return _run(AutoARIMA(season_length=m, max_p=2, max_q=2, max_P=1, max_Q=1, nmodels=20,
                          approximation=True), y, h, quantiles)


def _odd(n: float) -> int:
    n = int(np.ceil(n))
    return n + (n % 2 == 0)


def stl_jumps(period: int, seasonal: int) -> dict:
    """R's ``stl`` jumps, ⌈span/10⌉, for the seasonal, trend and low-pass smoothers of a season
    of ``period`` windows smoothed over ``seasonal`` cycles; the spans are statsmodels' (and
    R's) defaults: trend the odd number ≥ 1.5·period / (1 − 1.5/seasonal), low pass the odd
    number > period."""
    trend = _odd(1.5 * period / (1 - 1.5 / seasonal))
    low_pass = _odd(period + 1)
    return {"seasonal_jump": -(-seasonal // 10), "trend_jump": -(-trend // 10),
            "low_pass_jump": -(-low_pass // 10)}


# statsforecast's seasonal span of the shortest season (R's: 7 + 4 · 1 cycles).
DAILY_SEASONAL_SPAN = 11


def mstl(y, step: pd.Timedelta, h: int, quantiles):
    from statsforecast.models import MSTL       # here, not at the top: its import takes seconds

    day, week = season_windows(step, DAY), season_windows(step, WEEK)
    seasons = [day, week] if len(y) >= 2 * week else [day]
    jumps = stl_jumps(day, DAILY_SEASONAL_SPAN)
    jumps["seasonal_jump"] = 1
    return _run(MSTL(season_length=seasons, stl_kwargs=jumps), y, h, quantiles)
