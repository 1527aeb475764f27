"""How good a forecast was, once the actuals are known: MAPE, pinball loss and interval
coverage, overall and by lead time.

Shared by ``forecast`` (its accuracy table) and ``compare`` (plans made on forecasts, through
``foresight/forecast_accuracy.py``). Windows whose actual or forecast is unknown (NaN) are left
out of every measure.

* MAPE, %: mean of |actual − forecast| / actual over the windows whose actual is above zero
  (a window without requests has no percentage error);
* pinball loss of a quantile forecast f_q: mean of max(q · (a − f_q), (q − 1) · (a − f_q)), in
  the series' units (the proper score of a quantile: a forecast that is too low costs q per
  unit, too high 1 − q);
* coverage of an upper quantile: the share (0–1) of windows whose actual is at or below it (a
  calibrated p90 covers 90 % of them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Lead-time bands (hours from issue to window start) of the forecast command's table,
# left-closed: [0, 6), [6, 12), …
LEAD_BANDS = (0.0, 6.0, 12.0, 24.0, 48.0, 72.0, 168.0)
ALL = "all"


def _known(actual, forecast):
    a, f = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    ok = np.isfinite(a) & np.isfinite(f)
    return a[ok], f[ok]


def mape(actual, forecast) -> float:
    a, f = _known(actual, forecast)
    ok = a > 0
    return float(100.0 * np.mean(np.abs(a[ok] - f[ok]) / a[ok])) if ok.any() else float("nan")


def pinball_loss(actual, forecast, q: float) -> float:
    a, f = _known(actual, forecast)
    d = a - f
    return float(np.mean(np.maximum(q * d, (q - 1.0) * d))) if d.size else float("nan")


def coverage(actual, upper) -> float:
    a, u = _known(actual, upper)
    return float(np.mean(a <= u)) if a.size else float("nan")


def band_labels(lead_h) -> np.ndarray:
    """'0-6h', '6-12h', … for each lead time (the last band is open: '168h+')."""
    lead = np.asarray(lead_h, dtype=float)
    edges = np.asarray(LEAD_BANDS)
    i = np.clip(np.searchsorted(edges, lead, side="right") - 1, 0, len(edges) - 1)
    names = [f"{edges[k]:g}-{edges[k + 1]:g}h" for k in range(len(edges) - 1)] + \
        [f"{edges[-1]:g}h+"]
    return np.asarray(names, dtype=object)[i]


def rate_accuracy(frame: pd.DataFrame, quantiles, actual: str = "rate_actual") -> pd.DataFrame:
    """Per lead band and over all windows: windows scored, MAPE of the p50, pinball loss of
    every quantile and coverage (%) of every quantile above the median. ``frame`` has
    ``lead_h``, the ``rate_pNN`` columns and ``actual``."""
    from planner.forecast.frame import quantile_column

    known = frame[np.isfinite(frame[actual].to_numpy(dtype=float))]
    bands = band_labels(known["lead_h"])
    rows = []
    for band in list(dict.fromkeys(bands)) + [ALL]:
        part = known if band == ALL else known[bands == band]
        a = part[actual]
        row = {"lead": band, "windows": len(part),
               "mape_p50_pct": mape(a, part[quantile_column(0.5)]) if 0.5 in quantiles
               else float("nan")}
        for q in quantiles:
            row[f"pinball_p{round(100 * q)}"] = pinball_loss(a, part[quantile_column(q)], q)
        for q in quantiles:
            if q > 0.5:
                row[f"coverage_p{round(100 * q)}_pct"] = 100.0 * coverage(
                    a, part[quantile_column(q)])
        rows.append(row)
    return pd.DataFrame(rows)


def point_accuracy(frame: pd.DataFrame, column: str, actual: str) -> pd.DataFrame:
    """MAPE of a point column (tokens, carbon intensity) per lead band and over all."""
    known = frame[np.isfinite(frame[actual].to_numpy(dtype=float))]
    bands = band_labels(known["lead_h"])
    rows = [{"lead": b, "windows": int((bands == b).sum()),
             "mape_pct": mape(known[actual][bands == b], known[column][bands == b])}
            for b in dict.fromkeys(bands)]
    rows.append({"lead": ALL, "windows": len(known), "mape_pct": mape(known[actual],
                                                                      known[column])})
    return pd.DataFrame(rows)
