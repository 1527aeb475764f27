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
from planner.forecast.frame import CI, HISTORY_COLUMNS, INPUT_MEAN, MAX_TRAIN, OUTPUT_MEAN, RATE
from planner.grid import CarbonSeries, window_intensity
from planner.workload.rates import RateSeries
from planner.workload.trace import Trace
from planner.workload.windows import make_windows, parse_window


def _text(step: pd.Timedelta) -> str:
    return f"{step / pd.Timedelta(minutes=1):g}-minute"


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
    if np.any(b1 - b0 > step.value):
        raise InputDataError(f"{series.name}'s bins are longer than the {_text(step)} windows; "
                             "use a window at least as long as the bins")
    # A bin that straddles a window edge (Azure's 10-s counts are centred on their
    # timestamps) is split in proportion to its time on each side: its requests are spread
    # uniformly over it, as the rate-series synthesis spreads them.
    w0, w1 = b0 // step.value, (b1 - 1) // step.value
    edge = w1 * step.value
    part = np.where(w1 > w0, b1 - edge, 0)             # ns of each bin in its second window
    first, n = int(w0[0]), int(w1[-1] - w0[0]) + 1
    i0, i1 = (w0 - first).astype(np.int64), (w1 - first).astype(np.int64)
    share = part / (b1 - b0)
    c = series.counts.astype(float)
    counts = np.bincount(i0, weights=c * (1 - share), minlength=n) + \
        np.bincount(i1, weights=c * share, minlength=n)
    covered = np.bincount(i0, weights=(b1 - b0 - part) / 1e9, minlength=n) + \
        np.bincount(i1, weights=part / 1e9, minlength=n)
    # Each window is clipped to the bins that touch it (the first and last, as a plan clips
    # a trace's).
    edges = (first + np.arange(n)) * step.value
    starts = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    ends = np.zeros(n, dtype=np.int64)
    for i in (i0, i1):
        np.minimum.at(starts, i, b0)
        np.maximum.at(ends, i, b1)
    hole = covered == 0
    starts = np.where(hole, edges, np.maximum(starts, edges))
    ends = np.where(hole, edges + step.value, np.minimum(ends, edges + step.value))
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
    wi = None if grid is None else window_intensity(grid, starts, ends)
    frame[CI] = np.nan if wi is None else wi.values
    before = None if grid is None else _before(grid, starts, ends, step)
    if before is not None:
        frame = pd.concat([before, frame])
    frame = frame[list(HISTORY_COLUMNS)]
    # How the grid was read (aligned to another year …), for callers to pass on.
    frame.attrs["notes"] = () if wi is None else tuple(wi.notes)
    return frame


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
    if begin >= first:          # pandas gives [first] for begin == first despite "left"
        return None
    ext = pd.date_range(begin, first, freq=step, inclusive="left")
    try:
        both = window_intensity(grid, ext.append(starts), (ext + step).append(ends))
    except InputDataError:
        return None
    if both.aligned != own.aligned:
        return None
    nan = np.full(len(ext), np.nan)
    return pd.DataFrame({RATE: nan, INPUT_MEAN: nan, OUTPUT_MEAN: nan,
                         CI: both.values[:len(ext)]}, index=pd.DatetimeIndex(ext, name="window_start"))
