"""The windows a plan covers, and the decisions that cover them.

``--plan-from`` cuts the trace's windows at a window boundary: the plan covers the windows from
it on, and everything before it is history. The planned windows keep every input they have in
a plan of the whole trace (:func:`planned_inputs`): in particular their hit curves are those of
a cache that served the history, as a cache in service would have. So ``--foresight perfect``
with ``--plan-from`` solves today's plan on those windows alone.

With ``--foresight forecast`` decisions fall at ``--plan-from`` and every ``--decide-every``
after it; each solves the next ``--lookahead`` windows (cut at the end of the trace) and
commits the first ``--decide-every`` of them (:meth:`Horizon.decisions`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from planner.config import PlanOptions, duration_seconds, plan_from_time
from planner.errors import InputDataError, UsageError
from planner.workload.windows import LoadBuckets, Windowing

# Forecasts need a day of history: the seasonal-naive baseline every model must beat repeats
# the last day, and the hit curves and burst shapes of the lookahead are read from it.
MIN_HISTORY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Decision:
    """One decision, in planned-window indices: issued at the start of window ``start``, it
    solves windows ``start``..``solve_stop`` − 1 and commits ``start``..``commit_stop`` − 1."""

    start: int
    commit_stop: int
    solve_stop: int


@dataclass(frozen=True)
class Horizon:
    first: int            # the first planned window among the trace's windows
    windows: int          # how many windows are planned
    decide_every: int     # windows a decision commits (forecast)
    lookahead: int        # windows a decision solves (forecast)

    def decisions(self) -> list[Decision]:
        return [Decision(s, min(s + self.decide_every, self.windows),
                         min(s + self.lookahead, self.windows))
                for s in range(0, self.windows, self.decide_every)]


def plan_horizon(windowing: Windowing, opt: PlanOptions) -> Horizon:
    """The planned windows and decision cadence of the scenario, checked against the trace's
    windows: --plan-from on a window boundary inside them, with a day of history before it
    for forecasts."""
    starts = pd.DatetimeIndex(windowing.stats["window_start"])
    length = windowing.length
    every = ahead = windowing.n
    if opt.foresight == "forecast":
        step = int(length / pd.Timedelta(seconds=1))
        every = duration_seconds(opt.decide_every, "--decide-every") // step
        ahead = duration_seconds(opt.lookahead, "--lookahead") // step
    if opt.plan_from is None:
        return Horizon(0, windowing.n, every, ahead)
    ts = plan_from_time(opt.plan_from)
    if (ts - pd.Timestamp(0, tz="UTC")) % length != pd.Timedelta(0):
        raise UsageError(f"--plan-from {opt.plan_from} does not fall on a window boundary "
                         f"(a multiple of --window {opt.window} in UTC)")
    if not starts[0] <= ts <= starts[-1]:
        raise UsageError(f"--plan-from {opt.plan_from} is outside the trace's windows "
                         f"({starts[0]:%Y-%m-%dT%H:%MZ} to {starts[-1]:%Y-%m-%dT%H:%MZ})")
    first = int(np.searchsorted(starts, ts))
    # Counted in windows: the trace's first window is clipped to its first request.
    if opt.foresight == "forecast" and first * length < MIN_HISTORY:
        raise InputDataError(f"the trace holds {first * length / pd.Timedelta(hours=1):g} h "
                             f"of windows before --plan-from {opt.plan_from}; forecasts need "
                             f"at least {MIN_HISTORY / pd.Timedelta(hours=1):g} h of history")
    return Horizon(first, windowing.n - first, every, ahead)


def planned_inputs(inputs, horizon: Horizon):
    """The plan's inputs (workload/prepare.py's PlanInputs) restricted to the planned windows;
    the trace stays whole (it is the history). ``planned_from`` records the cut."""
    if horizon.first == 0:
        return inputs
    w = inputs.windowing
    keep = slice(horizon.first, None)
    windowing = Windowing(w.stats.iloc[keep].reset_index(drop=True),
                          w.request_window - horizon.first, w.length)
    return replace(inputs, windowing=windowing, ci=inputs.ci[keep],
                   hits=window_rows(inputs.hits, keep),
                   buckets=None if inputs.buckets is None else bucket_rows(inputs.buckets, keep),
                   planned_from=horizon.first)


def window_rows(hits, rows):
    """The hit curves of some windows (a slice or an index array)."""
    return replace(hits, token_hit=hits.token_hit[rows], request_hit=hits.request_hit[rows],
                   grown_token_hit=None if hits.grown_token_hit is None
                   else hits.grown_token_hit[rows],
                   grown_request_hit=None if hits.grown_request_hit is None
                   else hits.grown_request_hit[rows],
                   warm_share=None if hits.warm_share is None else hits.warm_share[rows])


def bucket_rows(buckets: LoadBuckets, rows) -> LoadBuckets:
    """The burst buckets of some windows (a slice or an index array)."""
    return LoadBuckets(buckets.rate_rps[rows], buckets.request_share[rows],
                       buckets.time_share[rows], buckets.sub_window_s)
