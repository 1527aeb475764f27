"""Replays of schedules, cached per workload and schedule within one process.

What a schedule serves depends on the workload and the hardware, not on the grid or the SLO:
points of a sweep that differ only there (zones, SSD embodied levels, SLOs) reuse the
baselines' replays and account their carbon anew (:func:`planner.evaluate.serve` once, then
:func:`planner.evaluate.account`). Each Ray worker process keeps its own cache.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.config import PlanOptions
from planner.evaluate import SimulatedReplica, account, serve
from planner.plan import PlanResult
from planner.workload.prepare import workload_key


@dataclass
class Replayed:
    """What a sweep keeps of one replay: per-window results, totals, window hours (the
    per-request latencies, ≈ 0.9 GB for a 27M-request week, stay in the bounded cache)."""

    windows: pd.DataFrame
    totals: dict
    hours: np.ndarray


class Replayer:
    """Replays schedules, caching what each (replicas, cache) sequence served.

    The cache keeps the ``keep`` most recently used results: each holds every request's
    latencies, so a few of a full week's fill gigabytes."""

    def __init__(self, keep: int = 2):
        self.cache: OrderedDict = OrderedDict()
        self.keep = keep
        self.sims: dict = {}
        self.seconds = 0.0

    def __call__(self, result: PlanResult, schedule: pd.DataFrame, opt: PlanOptions) -> Replayed:
        inputs = result.inputs
        # LCS evicts by the grid's carbon intensity, so under it the grid is part of the key.
        lcs_key = ((opt.grid, opt.ci_basis, opt.levels.ssd_embodied, opt.pue)
                   if inputs.eviction is not None else None)
        key = (opt.gpu, opt.tp, opt.ssd, workload_key(opt), lcs_key,
               schedule["replicas"].to_numpy().tobytes(),
               schedule["cache_gb"].to_numpy().tobytes())
        if key in self.cache:
            self.cache.move_to_end(key)
        else:
            sim_key = (opt.model, opt.gpu, opt.tp, opt.ssd)
            if sim_key not in self.sims:
                self.sims[sim_key] = SimulatedReplica(*sim_key)
            t0 = time.perf_counter()
            self.cache[key] = serve(inputs.trace, schedule, inputs.hardware, self.sims[sim_key],
                                    inputs.kv_bytes_per_token, policy=opt.eviction,
                                    lcs=inputs.eviction)
            self.seconds += time.perf_counter() - t0
            while len(self.cache) > self.keep:
                self.cache.popitem(last=False)
        r = account(self.cache[key], inputs.trace, schedule, inputs.ci, inputs.hardware,
                    opt.slo_ttft_s, opt.slo_tpot_s)
        return Replayed(r.windows, r.totals, r.served.hours)
