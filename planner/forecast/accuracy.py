"""How good a forecast was, once the actuals are known: the measures ``compare`` reports.

* MAPE, %: mean of |actual − forecast| / actual over the windows whose actual is above zero
  (a window without requests has no percentage error);
* pinball loss of a quantile forecast f_q: mean of max(q · (a − f_q), (q − 1) · (a − f_q)), in
  the series' units (the proper score of a quantile: a forecast that is too low costs q per
  unit, too high 1 − q);
* coverage of an upper quantile: the share of windows whose actual is at or below it (a
  calibrated p90 covers 90 % of them).
"""

from __future__ import annotations

import numpy as np


def mape(actual, forecast) -> float:
    a, f = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    ok = a > 0
    return float(100.0 * np.mean(np.abs(a[ok] - f[ok]) / a[ok])) if ok.any() else float("nan")


def pinball_loss(actual, forecast, q: float) -> float:
    d = np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float)
    return float(np.mean(np.maximum(q * d, (q - 1.0) * d))) if d.size else float("nan")


def coverage(actual, upper) -> float:
    a, u = np.asarray(actual, dtype=float), np.asarray(upper, dtype=float)
    return float(np.mean(a <= u)) if a.size else float("nan")
