"""External carbon-intensity forecasts (Electricity Maps, WattTime …) and their use.

The file has a grid file's columns (an Electricity Maps export, or ``timestamp,gco2_per_kwh``)
plus ``issued_at``: when that forecast was published. Several issues may forecast the same
hour. A decision at time d uses, for each window, the latest forecast issued strictly before d,
so no forecast published at or after the decision can reach it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputDataError
from planner.grid import MAX_CI, electricity_maps_columns
from planner.input_files import (FIRST_YEAR, LAST_YEAR, first_out_of_range, quote, read_text,
                                  unreadable_timestamp)

ISSUED = "issued_at"
COLUMNS = (ISSUED, "timestamp", "ci_gco2_per_kwh")   # the frame read_ci_forecast returns


def read_ci_forecast(path: Path, basis: str = "lifecycle") -> pd.DataFrame:
    """The forecasts of a file, one row per (issued_at, timestamp), sorted; every row checked
    with its line number (exit 3)."""
    path = Path(path)
    text = read_text(path, "carbon-intensity forecast file")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as e:
        raise InputDataError(f"cannot read carbon-intensity forecast file {path}: "
                             f"{str(e).splitlines()[0]}") from None
    except pd.errors.EmptyDataError:
        raise InputDataError(f"carbon-intensity forecast file {path} is empty") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    cols = list(frame.columns)
    issued = next((c for c in cols if c.lower() == ISSUED), None)
    em = electricity_maps_columns(cols)
    if em is not None and em.get(basis) is not None:
        time_col, value_col = em["time"], em[basis]
    elif "timestamp" in cols and "gco2_per_kwh" in cols:
        time_col, value_col = "timestamp", "gco2_per_kwh"
    else:
        raise InputDataError(f"{path}: expected a grid file's columns ('timestamp,gco2_per_kwh' "
                             f"or an Electricity Maps export with a {basis} carbon-intensity "
                             "column) plus 'issued_at'")
    if issued is None:
        raise InputDataError(f"{path}: no 'issued_at' column saying when each forecast was "
                             "published")
    if len(frame) == 0:
        raise InputDataError(f"carbon-intensity forecast file {path} has no rows")
    times = {}
    for col in (issued, time_col):
        t = pd.to_datetime(frame[col], format="ISO8601", utc=True, errors="coerce")
        bad = t.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputDataError(unreadable_timestamp(f"{path}, line {i + 2}", frame[col].iloc[i],
                                                      col))
        i = first_out_of_range(t)
        if i is not None:
            raise InputDataError(f"{path}, line {i + 2}: {col} {quote(frame[col].iloc[i])} is "
                                 f"outside {FIRST_YEAR}..{LAST_YEAR}")
        times[col] = pd.DatetimeIndex(t).as_unit("ns")
    raw = frame[value_col].str.strip()
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0) | (values > MAX_CI)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(f"{path}, line {i + 2}: carbon intensity "
                             f"{quote(frame[value_col].iloc[i])} is not a number of gCO2e/kWh "
                             f"within 0..{MAX_CI:.0f}")
    out = pd.DataFrame({ISSUED: times[issued], "timestamp": times[time_col],
                        "ci_gco2_per_kwh": values})
    dup = out.duplicated([ISSUED, "timestamp"]).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputDataError(f"{path}, line {i + 2}: the forecast issued at "
                             f"{out[ISSUED].iloc[i]} for {out['timestamp'].iloc[i]} appears twice")
    return out.sort_values([ISSUED, "timestamp"], kind="stable").reset_index(drop=True)


def external_ci(forecasts: pd.DataFrame, horizon: pd.DatetimeIndex, step: pd.Timedelta,
                decided_at: pd.Timestamp) -> np.ndarray:
    """Each horizon window's carbon intensity from the latest forecast issued before
    ``decided_at``: the mean of the forecast values whose time falls in the window (or, for a
    window shorter than the forecast's step, of the one it lies in)."""
    missing = [c for c in COLUMNS if c not in forecasts.columns]
    if missing:
        raise InputDataError(f"the carbon-intensity forecast has no column {missing[0]!r}")
    usable = forecasts[pd.DatetimeIndex(forecasts[ISSUED]) < decided_at]
    if len(usable) == 0:
        raise InputDataError(f"no carbon-intensity forecast was issued before "
                             f"{decided_at:%Y-%m-%dT%H:%MZ}")
    latest = (usable.sort_values([ISSUED, "timestamp"], kind="stable")
              .drop_duplicates("timestamp", keep="last").sort_values("timestamp"))
    t = pd.DatetimeIndex(latest["timestamp"]).as_unit("ns").asi8
    v = latest["ci_gco2_per_kwh"].to_numpy(dtype=float)
    own = int(np.diff(t).min()) if len(t) > 1 else pd.Timedelta(hours=1).value
    s = pd.DatetimeIndex(horizon).as_unit("ns").asi8
    lo = s - (s - t[0]) % own if own > step.value else s    # the forecast step holding s
    hi = s + step.value
    a, b = np.searchsorted(t, lo, "left"), np.searchsorted(t, hi, "left")
    empty = b <= a
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputDataError(f"no carbon-intensity forecast issued before "
                             f"{decided_at:%Y-%m-%dT%H:%MZ} covers the window starting "
                             f"{horizon[i]:%Y-%m-%dT%H:%MZ}")
    cum = np.concatenate(([0.0], np.cumsum(v)))
    return (cum[b] - cum[a]) / (b - a)
