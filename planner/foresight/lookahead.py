"""What a decision knows of the windows it solves: their inputs, as the plan's candidates read
them (window statistics, carbon intensity, hit curves, burst buckets).

A decision issued at the start of window ``a`` asks a :data:`Foresee` for windows ``a``..``b``
− 1 (indices among the trace's windows). Two answers exist:

* :func:`forecast_lookahead`, what an operator knows: from the windows before ``a`` only, the
  forecast (:mod:`planner.forecast`) of the request rate at ``--load-quantile``, of the mean
  prompt and output lengths and of the grid's carbon intensity. Hit curves (with their warm-up
  curves) and the shape of the bursts inside a window are not forecast by the library; they are
  taken seasonal-naive from the last day before ``a``: window t reads those of the latest
  window at the same time of day before ``a`` (t − 24 h, or t − 48 h on the lookahead's second
  day). A hit curve depends on the cache and on how prompts are reused, both of which change
  slowly, and on the load, which repeats daily; a burst shape is scaled to the forecast rate.
* :func:`actual_lookahead`, what perfect foresight knows: the windows' own inputs. Passed to
  the rolling plan it measures what rolling decisions cost on their own, without forecast
  error (the check "with the actuals as the forecast the rolling plan equals perfect
  foresight within the rolling horizon's gap").

Both also return what was forecast, per window (the rows of forecast.csv).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from planner.errors import InputDataError
from planner.forecast import forecast_windows, window_history
from planner.forecast.frame import POINT_COLUMNS, quantile_column
from planner.foresight.horizon import bucket_rows, window_rows
from planner.grid import load_grid
from planner.workload.curves import HitCurves
from planner.workload.windows import LoadBuckets



@dataclass(frozen=True)
class Lookahead:
    stats: pd.DataFrame            # the window-statistics columns (workload/windows.py)
    ci: np.ndarray                 # gCO2e/kWh per window
    hits: HitCurves
    buckets: LoadBuckets | None
    forecast: pd.DataFrame         # per window: issued_at, lead_h, model, rate_pNN, means


Foresee = Callable[[int, int], Lookahead]


def forecast_quantiles(load_quantile: float) -> tuple[float, ...]:
    """The quantiles a decision asks for: the median, the p90 (whose interval coverage
    ``compare`` reports) and the one capacity is sized on."""
    return tuple(sorted({0.5, 0.9, float(load_quantile)}))


def actual_frame(stats: pd.DataFrame, ci: np.ndarray, length: pd.Timedelta) -> pd.DataFrame:
    """What a plan's windows held, in the forecasts' columns: index window_start
    (clock-aligned: a first window clipped to the trace's first request at the start of its
    window), columns rate (req/s), input_tokens_mean, output_tokens_mean, ci_gco2_per_kwh."""
    starts = pd.DatetimeIndex(stats["window_start"]).floor(length)
    return pd.DataFrame({
        "rate": stats["rate_rps"].to_numpy(dtype=float),
        "input_tokens_mean": stats["mean_input_tokens"].to_numpy(dtype=float),
        "output_tokens_mean": stats["mean_output_tokens"].to_numpy(dtype=float),
        "ci_gco2_per_kwh": np.asarray(ci, dtype=float),
    }, index=pd.DatetimeIndex(starts, name="window_start"))


def actual_lookahead(inputs) -> Foresee:
    """The windows' own inputs (perfect foresight), from a plan's PlanInputs."""
    stats = inputs.windowing.stats
    hist = actual_frame(stats, inputs.ci, inputs.windowing.length)

    def foresee(a: int, b: int) -> Lookahead:
        rows = slice(a, b)
        issued = stats["window_start"].iloc[a]
        actual = hist.iloc[rows]
        fc = pd.DataFrame({
            "issued_at": issued,
            "lead_h": (actual.index - issued) / pd.Timedelta(hours=1),
            "model": "actual",
            **{quantile_column(q): actual["rate"].to_numpy()
               for q in forecast_quantiles(inputs.options.load_quantile)},
            **{c: actual[c].to_numpy() for c in POINT_COLUMNS},
        }, index=actual.index)
        return Lookahead(stats.iloc[rows].reset_index(drop=True), inputs.ci[rows],
                         window_rows(inputs.hits, rows),
                         None if inputs.buckets is None else bucket_rows(inputs.buckets, rows),
                         fc)

    return foresee


def forecast_lookahead(inputs, forecast=None) -> Foresee:
    """What an operator knows (module docstring), from a plan's PlanInputs; ``forecast`` is
    :func:`planner.forecast.forecast_windows` unless another function of its signature is
    given."""
    forecast = forecast or forecast_windows
    opt = inputs.options
    stats = inputs.windowing.stats
    # The trace's windows and the grid (from before the trace too) as forecasting reads them.
    hist = window_history(inputs.trace, load_grid(opt.grid, opt.ci_basis),
                          inputs.windowing.length)
    starts = pd.DatetimeIndex(stats["window_start"])
    per_day = int(pd.Timedelta(days=1) / inputs.windowing.length)
    q_col = quantile_column(opt.load_quantile)
    (in_lo, in_hi), (out_lo, out_hi) = inputs.profile.token_range()

    def foresee(a: int, b: int) -> Lookahead:
        issued = starts[a]
        fc = forecast(hist[hist.index < issued], issued, starts[a:b], model=opt.forecast_model,
                      quantiles=forecast_quantiles(opt.load_quantile))
        fc = fc.assign(issued_at=issued)
        cols = [q_col, *POINT_COLUMNS]
        unknown = ~np.isfinite(fc[cols].to_numpy(dtype=float))
        if unknown.any():
            col = cols[int(np.flatnonzero(unknown.any(axis=0))[0])]
            raise InputDataError(f"the decision at {issued:%Y-%m-%dT%H:%MZ} has no forecast of "
                                 f"{col} (too little history before it for "
                                 f"--forecast-model {opt.forecast_model})")
        hours = stats["hours"].to_numpy(dtype=float)[a:b]
        rate = np.clip(fc[q_col].to_numpy(dtype=float), 0.0, None)
        requests = np.rint(rate * hours * 3600.0).astype(np.int64)
        # A forecast mix outside the profile table is read at the table's edge (the table is
        # never extrapolated; such windows are rare and named in the plan's notes).
        mean_in = np.clip(fc["input_tokens_mean"].to_numpy(dtype=float), in_lo, in_hi)
        mean_out = np.clip(fc["output_tokens_mean"].to_numpy(dtype=float), out_lo, out_hi)
        la_stats = pd.DataFrame({
            "window_start": stats["window_start"].iloc[a:b].to_numpy(),
            "window_end": stats["window_end"].iloc[a:b].to_numpy(),
            "hours": hours, "requests": requests, "rate_rps": requests / (hours * 3600.0),
            "mean_input_tokens": mean_in, "mean_output_tokens": mean_out,
            "prompt_tokens": requests * mean_in, "output_tokens": requests * mean_out,
        })
        # Seasonal naive from the last day before the decision.
        t = np.arange(a, b)
        src = t - per_day * ((t - a) // per_day + 1)
        buckets = None
        if inputs.buckets is not None:
            buckets = scaled_buckets(bucket_rows(inputs.buckets, src),
                                     stats["rate_rps"].to_numpy(dtype=float)[src],
                                     la_stats["rate_rps"].to_numpy())
        ci = np.clip(fc["ci_gco2_per_kwh"].to_numpy(dtype=float), 0.0, None)
        return Lookahead(la_stats, ci, window_rows(inputs.hits, src), buckets, fc)

    return foresee


def scaled_buckets(shape: LoadBuckets, shape_rate: np.ndarray, rate: np.ndarray) -> LoadBuckets:
    """Burst buckets with the shape of ``shape`` (bucket rate over its window's mean) at the
    mean ``rate``; a shape window without requests gives a flat window."""
    busy = shape_rate > 0
    rel = np.where(busy[:, None], shape.rate_rps / np.where(busy, shape_rate, 1.0)[:, None], 1.0)
    req_share = np.where(busy[:, None], shape.request_share, shape.time_share)
    return LoadBuckets(rel * rate[:, None], req_share, shape.time_share, shape.sub_window_s)
