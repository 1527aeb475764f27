"""forecast.csv: beside a plan made on forecasts, per planned window the forecast it was
decided on and what then happened.

Columns: ``window_start``, ``issued_at`` (the decision's time, ISO 8601 UTC), ``lead_h`` (hours
from the decision to the window's start), ``model`` (the forecasting model that made it),
``rate_pNN`` (forecast request rate at each quantile asked for, req/s),
``input_tokens_mean``, ``output_tokens_mean``, ``ci_gco2_per_kwh`` (forecast), then the actuals
``actual_rate``, ``actual_input_tokens_mean``, ``actual_output_tokens_mean``,
``actual_ci_gco2_per_kwh``. ``plan_files.read_forecast`` reads it back.
"""

from __future__ import annotations

import pandas as pd

FILE_NAME = "forecast.csv"
# Decimals per kind of column: byte-identical files across platforms.
_DECIMALS = {"lead_h": 4, "rate": 6, "tokens": 3, "ci": 4}


def _decimals(col: str) -> int | None:
    if col == "lead_h":
        return _DECIMALS["lead_h"]
    if col.startswith(("rate_p", "actual_rate")):
        return _DECIMALS["rate"]
    if "tokens" in col:
        return _DECIMALS["tokens"]
    if "ci_gco2" in col:
        return _DECIMALS["ci"]
    return None


def forecast_csv(frame: pd.DataFrame) -> str:
    """The forecast table (RollingPlan.forecast_table) as CSV text."""
    df = frame.copy()
    for col in ("window_start", "issued_at"):
        df[col] = pd.DatetimeIndex(df[col]).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    for col in df.columns:
        d = _decimals(col)
        if d is not None:
            df[col] = [f"{v:.{d}f}" for v in df[col].to_numpy(dtype=float)]
    return df.to_csv(index=False, lineterminator="\n")
