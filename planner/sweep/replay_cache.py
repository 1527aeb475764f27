"""Replays of schedules, cached per workload and schedule within one process.

What a schedule serves depends on the workload and the hardware, not on the grid or the SLO:
points of a sweep that differ only there (zones, SSD embodied levels) reuse the baselines'
replays and account their carbon anew (:func:`planner.evaluate.serve` once, then
:func:`planner.evaluate.account`). Each Ray worker process keeps its own cache: of every
schedule it replayed, the per-window results and the request statistics under each SLO it was
accounted on (:class:`planner.evaluate.Latencies`: kilobytes). Every request's own latencies
(about 0.9 GB for a 27M-request week) are dropped once those statistics are taken: a schedule
met again under a new SLO is replayed again, which in a sweep is rare (another SLO changes the
replicas a plan and its baselines need).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from planner.config import PlanOptions
from planner.evaluate import Latencies, Served, SimulatedReplica, account, latencies, serve
from planner.plan import PlanResult
from planner.plan_solve import schedule_coupling
from planner.workload.prepare import workload_key


@dataclass
class Replayed:
    """What a sweep keeps of one replay: per-window results, totals, window hours."""

    windows: pd.DataFrame
    totals: dict
    hours: np.ndarray


@dataclass
class _Entry:
    windows: Served                        # the per-window fields only
    by_slo: dict[tuple, Latencies] = field(default_factory=dict)


class Replayer:
    """Replays schedules, caching what each (replicas, cache) sequence served."""

    def __init__(self):
        self.entries: dict = {}
        self.sims: dict = {}
        self.seconds = 0.0
        self.served = 0                          # schedules replayed (not from the cache)

    @staticmethod
    def full_key(schedule: pd.DataFrame, opt: PlanOptions, lcs: bool = False) -> tuple:
        """What a replay's result depends on: hardware, workload, schedule (and under LCS,
        which evicts by the grid's carbon intensity, the grid)."""
        lcs_key = (opt.grid, opt.ci_basis, opt.levels.ssd_embodied, opt.pue) if lcs else None
        return (opt.gpu, opt.tp, opt.ssd, workload_key(opt), lcs_key,
                schedule["replicas"].to_numpy().tobytes(),
                schedule["cache_gb"].to_numpy().tobytes())

    def __call__(self, result: PlanResult, schedule: pd.DataFrame, opt: PlanOptions) -> Replayed:
        inputs = result.inputs
        key = self.full_key(schedule, opt, lcs=inputs.eviction is not None)
        slo = (opt.slo_ttft_s, opt.slo_tpot_s)
        entry = self.entries.get(key)
        if entry is None or slo not in entry.by_slo:
            sim_key = (opt.model, opt.gpu, opt.tp, opt.ssd)
            if sim_key not in self.sims:
                self.sims[sim_key] = SimulatedReplica(*sim_key)
            t0 = time.perf_counter()
            served = serve(inputs.trace, schedule, inputs.hardware, self.sims[sim_key],
                           inputs.kv_bytes_per_token, policy=opt.eviction, lcs=inputs.eviction)
            self.seconds += time.perf_counter() - t0
            self.served += 1
            entry = self.entries.setdefault(key, _Entry(replace(
                served, request_window=None, cached_tokens=None, ttft_s=None, tpot_s=None)))
            entry.by_slo[slo] = latencies(served, inputs.trace, len(schedule), *slo)
            del served
        r = account(entry.windows, inputs.trace, schedule, inputs.ci, inputs.hardware, *slo,
                    lat=entry.by_slo[slo],
                    coupling=schedule_coupling(opt, schedule, inputs.ci, inputs.hardware))
        return Replayed(r.windows, r.totals, r.served.hours)
