"""The accuracy of the forecasts a plan was decided on (its forecast.csv), per day, by lead
time and in total, as ``compare`` reports it beside the regret.

Per series (request rate at the median, mean prompt and output tokens, carbon intensity):
MAPE; for every rate quantile its pinball loss; for the p90 (and the quantile capacity was
sized on) the share of windows whose actual rate it covered. The measures themselves are
:mod:`planner.forecast.accuracy`'s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.forecast.accuracy import coverage, mape, pinball_loss

SERIES = (("rate", "rate_p50", "actual_rate"),
          ("input_tokens_mean", "input_tokens_mean", "actual_input_tokens_mean"),
          ("output_tokens_mean", "output_tokens_mean", "actual_output_tokens_mean"),
          ("ci_gco2_per_kwh", "ci_gco2_per_kwh", "actual_ci_gco2_per_kwh"))
# Lead times are reported in blocks of this many hours (a day-ahead decision: four blocks).
LEAD_BLOCK_H = 6


def _quantiles(fc: pd.DataFrame) -> list[tuple[float, str]]:
    cols = [c for c in fc.columns if c.startswith("rate_p")]
    return sorted((int(c.removeprefix("rate_p")) / 100.0, c) for c in cols)


def _row(part: pd.DataFrame, scope: str, key: str) -> dict:
    row = {"scope": scope, "key": key, "windows": int(len(part))}
    for name, col, actual in SERIES:
        row[f"{name}_mape_pct"] = mape(part[actual], part[col])
    for q, col in _quantiles(part):
        row[f"{col}_pinball"] = pinball_loss(part["actual_rate"], part[col], q)
        if q > 0.5:
            row[f"{col}_coverage"] = coverage(part["actual_rate"], part[col])
    return row


def accuracy_table(fc: pd.DataFrame) -> pd.DataFrame:
    """One row per day (of the window's start, UTC), per block of lead time, and in total."""
    day = pd.DatetimeIndex(fc["window_start"]).tz_convert("UTC").strftime("%Y-%m-%d")
    lead = (np.floor(fc["lead_h"].to_numpy(dtype=float) / LEAD_BLOCK_H) * LEAD_BLOCK_H) \
        .astype(int)
    rows = [_row(fc[day == d], "day", d) for d in sorted(set(day))]
    rows += [_row(fc[lead == h], "lead_h", f"{h}-{h + LEAD_BLOCK_H}")
             for h in sorted(set(lead))]
    rows.append(_row(fc, "total", "total"))
    return pd.DataFrame(rows)
