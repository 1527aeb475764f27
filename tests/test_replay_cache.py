"""The experiment's replay cache: a schedule is replayed once per workload, the cache stays
bounded, and a different workload never reuses another's replay."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from planner import experiment
from planner.config import PlanOptions


def fake(monkeypatch):
    calls = []

    def serve(trace, schedule, hardware, sim, kv, policy, lcs=None):
        calls.append((schedule["cache_gb"].tolist(), policy, lcs))
        return SimpleNamespace(hours=np.ones(len(schedule)))

    def account(served, trace, schedule, ci, hardware, slo_ttft, slo_tpot):
        return SimpleNamespace(windows=schedule, totals={"slo": slo_ttft}, served=served)

    monkeypatch.setattr(experiment, "serve", serve)
    monkeypatch.setattr(experiment, "account", account)
    monkeypatch.setattr(experiment, "SimulatedReplica", lambda *a: None)
    return calls


def sched(cache):
    return pd.DataFrame({"replicas": [2, 3], "cache_gb": [cache, cache]})


def test_replays_are_cached_per_workload_and_bounded(monkeypatch):
    calls = fake(monkeypatch)
    result = SimpleNamespace(inputs=SimpleNamespace(trace=None, hardware=None, ci=None,
                                                    kv_bytes_per_token=1, eviction=None))
    opt = PlanOptions(trace="week.csv", grid="FR")
    r = experiment.Replayer(lambda m: None, keep=2)
    a, b, c = sched(0.0), sched(8000.0), sched(64000.0)
    first = r(result, a, opt)
    # another grid or SLO: the same replay, accounted anew
    again = r(result, a, replace(opt, grid="DE", slo_ttft_s=5.0))
    assert len(calls) == 1 and again.totals == {"slo": 5.0} and first.totals == {"slo": 2.0}
    r(result, b, opt)
    r(result, a, opt)              # still cached: a was used more recently than b
    assert len(calls) == 2
    r(result, c, opt)              # evicts b, the least recently used
    r(result, b, opt)
    assert len(calls) == 4 and len(r.cache) == 2
    r(result, a, replace(opt, scale=0.5))   # another workload: replayed, never shared
    assert len(calls) == 5


def test_lcs_replays_evict_by_the_plans_parameters_and_are_not_shared_across_grids(monkeypatch):
    calls = fake(monkeypatch)
    params = object()   # the plan's LcsParams, passed through as they are
    result = SimpleNamespace(inputs=SimpleNamespace(trace=None, hardware=None, ci=None,
                                                    kv_bytes_per_token=1, eviction=params))
    opt = PlanOptions(trace="week.csv", grid="FR", eviction="lcs")
    r = experiment.Replayer(lambda m: None, keep=4)
    r(result, sched(8000.0), opt)
    assert calls[-1][1:] == ("lcs", params)
    r(result, sched(8000.0), replace(opt, slo_ttft_s=5.0))    # same grid: cached
    assert len(calls) == 1
    r(result, sched(8000.0), replace(opt, grid="DE"))         # LCS depends on the grid
    assert len(calls) == 2
