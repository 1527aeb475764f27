"""History frames from a trace or a rate series, through the planner's own windowing.

The load columns come from ``workload/windows.make_windows`` (the windows ``plan`` cuts, first
and last clipped to the trace) and carbon intensity from ``grid.window_intensity`` (the same
values a plan reads, aligned to the series' year as a plan aligns them). A window's start is
its clock-aligned start, so the index is regular.

Carbon intensity is also known before the trace began: up to MAX_TRAIN of windows before the
first are prepended with NaN load, where the grid series gives them under the same alignment
as the trace's own windows (so the series a forecast reads runs on without a seam).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.errors import InputDataError
from planner.forecast.frame import CI, HISTORY_COLUMNS, INPUT_MEAN, OUTPUT_MEAN, RATE
from planner.forecast.windows import MAX_TRAIN
from planner.grid import CarbonSeries, window_intensity
from planner.workload.rates import RateSeries
from planner.workload.trace import Trace
from planner.workload.windows import make_windows, parse_window


def _length(window) -> pd.Timedelta:
    return parse_window(window) if isinstance(window, str) else pd.Timedelta(window)


def window_history(trace: Trace, grid: CarbonSeries | None,
                   window: str | pd.Timedelta) -> pd.DataFrame:
    """One row per planning window of ``trace``: rate, mean prompt and output tokens (NaN in a
    window without requests) and the grid's carbon intensity (NaN without a grid)."""
    step = _length(window)
    st = make_windows(trace, step).stats
    empty = st["requests"].to_numpy() == 0
    load = {RATE: st["rate_rps"].to_numpy(dtype=float),
            INPUT_MEAN: np.where(empty, np.nan, st["mean_input_tokens"].to_numpy(dtype=float)),
            OUTPUT_MEAN: np.where(empty, np.nan, st["mean_output_tokens"].to_numpy(dtype=float))}
    return _frame(pd.DatetimeIndex(st["window_start"]), pd.DatetimeIndex(st["window_end"]),
                  load, grid, step)


def rate_history(series: RateSeries, start: pd.Timestamp, grid: CarbonSeries | None,
                 window: str | pd.Timedelta) -> pd.DataFrame:
    """The history of a rate series placed at ``start`` (its own start when it has one): the
    rate of each window from the counts of the bins in it; token lengths are unknown (NaN), as
    a rate series does not record them."""
    step = _length(window)
    t0 = (series.start if series.start is not None else start).as_unit("ns").value
    b0 = t0 + np.round(series.bin_start_s * 1e9).astype(np.int64)
    b1 = b0 + np.round(series.bin_s * 1e9).astype(np.int64)
    w = b0 // step.value
    if np.any((b1 - 1) // step.value != w):
        raise InputDataError(f"{series.name}'s bins are longer than the {step} windows or "
                             "straddle them; use a window that is a multiple of the bins")
    first, n = int(w[0]), int(w[-1] - w[0]) + 1
    idx = (w - first).astype(np.int64)
    counts = np.bincount(idx, weights=series.counts.astype(float), minlength=n)
    covered = np.bincount(idx, weights=(b1 - b0) / 1e9, minlength=n)
    starts = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    ends = np.zeros(n, dtype=np.int64)
    np.minimum.at(starts, idx, b0)
    np.maximum.at(ends, idx, b1)
    hole = covered == 0
    edges = (first + np.arange(n)) * step.value
    starts = np.where(hole, edges, starts)
    ends = np.where(hole, edges + step.value, ends)
    rate = np.where(hole, np.nan, counts / np.maximum(covered, 1e-9))
    nan = np.full(n, np.nan)
    return _frame(pd.DatetimeIndex(starts).tz_localize("UTC"),
                  pd.DatetimeIndex(ends).tz_localize("UTC"),
                  {RATE: rate, INPUT_MEAN: nan, OUTPUT_MEAN: nan.copy()}, grid, step)


def _frame(starts: pd.DatetimeIndex, ends: pd.DatetimeIndex, load: dict,
           grid: CarbonSeries | None, step: pd.Timedelta) -> pd.DataFrame:
    aligned = pd.DatetimeIndex((starts.as_unit("ns").asi8 // step.value) * step.value) \
        .tz_localize("UTC")
    frame = pd.DataFrame(load, index=pd.DatetimeIndex(aligned, name="window_start"))
    frame[CI] = np.nan if grid is None else window_intensity(grid, starts, ends).values
    before = None if grid is None else _before(grid, starts, ends, step)
    if before is not None:
        frame = pd.concat([before, frame])
    return frame[list(HISTORY_COLUMNS)]


def _before(grid: CarbonSeries, starts: pd.DatetimeIndex, ends: pd.DatetimeIndex,
            step: pd.Timedelta) -> pd.DataFrame | None:
    """The carbon intensity of up to MAX_TRAIN of windows before ``starts[0]`` (NaN load),
    only where it is read under the same alignment as the windows themselves."""
    own = window_intensity(grid, starts, ends)
    first = pd.Timestamp((starts[0].value // step.value) * step.value, tz="UTC")
    begin = first - MAX_TRAIN
    if not own.aligned:
        series_start = grid.times[0].ceil(step) if grid.times[0].value % step.value else \
            grid.times[0]
        begin = max(begin, series_start)
    ext = pd.date_range(begin, first, freq=step, inclusive="left")
    ext = ext[ext < first]      # pandas gives [first] for begin == first despite "left"
    if len(ext) == 0:
        return None
    try:
        both = window_intensity(grid, ext.append(starts), (ext + step).append(ends))
    except InputDataError:
        return None
    if both.aligned != own.aligned:
        return None
    nan = np.full(len(ext), np.nan)
    return pd.DataFrame({RATE: nan, INPUT_MEAN: nan, OUTPUT_MEAN: nan,
                         CI: both.values[:len(ext)]}, index=pd.DatetimeIndex(ext, name="window_start"))
