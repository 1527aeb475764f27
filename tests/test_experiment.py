"""The sweep's replay cache: a schedule is replayed once per workload, the cache stays
bounded, and a different workload never reuses another's replay."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from planner.evaluate import Served
from planner.sweep import replay_cache
from planner.config import PlanOptions


def fake(monkeypatch):
    calls = []

    def serve(trace, schedule, hardware, sim, kv, policy, lcs=None):
        calls.append((schedule["cache_gb"].tolist(), policy, lcs))
        w, one = np.ones(len(schedule)), np.ones(3)
        return Served(np.zeros(3, dtype=np.int64), one, one, one, w, w, w, w)

    def latencies(served, trace, windows, slo_ttft, slo_tpot):
        # computed from the requests' own results, which only a fresh replay holds
        assert served.ttft_s is not None
        return SimpleNamespace(slo=slo_ttft)

    def account(served, trace, schedule, ci, hardware, slo_ttft, slo_tpot, lat, coupling):
        return SimpleNamespace(windows=schedule, totals={"slo": lat.slo}, served=served)

    monkeypatch.setattr(replay_cache, "serve", serve)
    monkeypatch.setattr(replay_cache, "latencies", latencies)
    monkeypatch.setattr(replay_cache, "account", account)
    monkeypatch.setattr(replay_cache, "schedule_coupling", lambda *a: None)
    monkeypatch.setattr(replay_cache, "SimulatedReplica", lambda *a: None)
    return calls


def sched(cache):
    return pd.DataFrame({"replicas": [2, 3], "cache_gb": [cache, cache]})


def test_replays_are_cached_per_workload_and_slo_and_keep_no_requests(monkeypatch):
    calls = fake(monkeypatch)
    result = SimpleNamespace(inputs=SimpleNamespace(trace=None, hardware=None, ci=None,
                                                    kv_bytes_per_token=1, eviction=None))
    opt = PlanOptions(trace="week.csv", grid="FR")
    r = replay_cache.Replayer()
    a, b = sched(0.0), sched(8000.0)
    first = r(result, a, opt)
    # another grid: the same replay, accounted anew
    again = r(result, a, replace(opt, grid="DE"))
    assert len(calls) == 1 and again.totals == {"slo": 2.0} == first.totals
    r(result, b, opt)
    assert len(calls) == 2
    # only per-window results are kept, never the requests' own
    assert all(e.windows.ttft_s is None and e.windows.request_window is None
               for e in r.entries.values())
    assert r(result, a, replace(opt, grid="GB")).totals == {"slo": 2.0} and len(calls) == 2
    # a new SLO needs the requests' latencies: replayed once, then kept as statistics
    assert r(result, a, replace(opt, slo_ttft_s=1.0)).totals == {"slo": 1.0}
    assert len(calls) == 3
    r(result, a, replace(opt, slo_ttft_s=1.0, grid="DE"))
    r(result, a, opt)
    assert len(calls) == 3 and len(r.entries) == 2
    r(result, a, replace(opt, scale=0.5))   # another workload: replayed, never shared
    assert len(calls) == 4


def test_lcs_replays_evict_by_the_plans_parameters_and_are_not_shared_across_grids(monkeypatch):
    calls = fake(monkeypatch)
    params = object()   # the plan's LcsParams, passed through as they are
    result = SimpleNamespace(inputs=SimpleNamespace(trace=None, hardware=None, ci=None,
                                                    kv_bytes_per_token=1, eviction=params))
    opt = PlanOptions(trace="week.csv", grid="FR", eviction="lcs")
    r = replay_cache.Replayer()
    r(result, sched(8000.0), opt)
    assert calls[-1][1:] == ("lcs", params)
    r(result, sched(8000.0), opt)                             # same grid: cached
    assert len(calls) == 1
    r(result, sched(8000.0), replace(opt, grid="DE"))         # LCS depends on the grid
    assert len(calls) == 2


def test_the_experiment_file_expands_to_its_study():
    """examples/experiment.toml (`make experiment`): 12 zones × 3 SSD embodied levels, the base
    (FR, central) among them, and twelve one-at-a-time variants, of which the two SSD levels are
    points of the axes already: 46 points, checked and keyed without running any."""
    from pathlib import Path

    from planner.sweep.driver import plan_sweep

    spec, points = plan_sweep(Path(__file__).resolve().parent.parent / "examples"
                              / "experiment.toml")
    assert len(points) == 36 + 10 and len({p.key for p in points}) == 46
    base = points[0]
    assert base.roles == ["base", "axes"] and base.options.grid == "FR"
    assert base.options.levels.ssd_embodied == "central" and base.options.scale == 1.0
    variants = {p.variant: p for p in points if p.variant}
    assert len(variants) == 12
    per_window = variants["per-window plan (no dwell, no change limit, no warm-up)"].options
    assert (per_window.min_dwell, per_window.max_changes_per_day, per_window.warmup) == (
        "0", None, False)
    assert variants["owned capacity"].options.capacity == "owned"
    assert variants["SLO attainment budget 0.9"].options.slo_attainment == 0.9
    assert variants["SSD embodied high"].roles == ["axes", "variant"]
    assert variants["load x0.25"].options.scale == 0.25
    assert variants["reuse: no multi-turn sessions"].options.reuse_model.endswith(
        "reuse-no-sessions.json")
    assert max(variants["cache levels up to 8 TB instead of 64 TB"].options.cache_levels_tb) == 8
