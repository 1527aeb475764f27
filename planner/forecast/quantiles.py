"""Rate quantiles: from a model's prediction intervals, or from its residuals.

statsforecast gives central intervals at a level L (%): the quantile q > 0.5 is the upper end
of the level 100·(2q − 1) interval and q < 0.5 the lower end of the level 100·(1 − 2q) one;
the median is the point forecast (its intervals are symmetric about it). Models without
intervals (seasonal naive) take the empirical quantiles of their in-sample errors, centred on
the median error so that the p50 is the point forecast itself.
"""

from __future__ import annotations

import numpy as np


def interval_level(q: float) -> float:
    """The central-interval level (%) whose lower or upper end is the quantile ``q``."""
    return round(100.0 * abs(2.0 * q - 1.0), 6)


def interval_key(q: float, model_name: str) -> str | None:
    """statsforecast's column for quantile ``q`` of ``model_name`` (None for the median)."""
    if q == 0.5:
        return None
    level = interval_level(q)
    return f"{model_name}-{'hi' if q > 0.5 else 'lo'}-{level:g}"


def residual_quantiles(point: np.ndarray, residuals: np.ndarray, quantiles) -> dict:
    """point + (Q_q(e) − Q_0.5(e)) for each q: the spread of past errors about the forecast."""
    e = np.asarray(residuals, dtype=float)
    e = e[np.isfinite(e)]
    if len(e) == 0:
        return {q: np.asarray(point, dtype=float).copy() for q in quantiles}
    mid = np.quantile(e, 0.5)
    return {q: point + (np.quantile(e, q) - mid) for q in quantiles}


def ordered(by_q: dict) -> dict:
    """Quantiles non-negative and non-decreasing in q (a rate cannot be below zero, and a
    higher quantile below a lower one would be a crossing of the fitted intervals)."""
    out, floor = {}, None
    for q in sorted(by_q):
        v = np.maximum(np.asarray(by_q[q], dtype=float), 0.0)
        if floor is not None:
            v = np.maximum(v, floor)
        out[q] = floor = v
    return out
