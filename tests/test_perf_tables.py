"""The shipped profile tables keep the planner's contract and behave physically."""

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.perf.profile import AXES, COLUMNS, load_profile, read_profile, tables_dir

TABLES = sorted(tables_dir().glob("*.csv"))


@functools.lru_cache(maxsize=None)
def table(path: Path):
    return read_profile(path)


def test_required_tables_shipped():
    from planner.perf.shipped import shipped_configs
    from planner.perf.profile import table_name

    names = {p.stem for p in TABLES}
    want = {table_name(*c) for c in shipped_configs()}
    # 24 replica configurations with the default shape, the default replica with two more
    assert len(want) == 26 and want <= names


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_table_contract(path: Path):
    t = table(path)
    assert list(pd.read_csv(path, nrows=1).columns) == list(COLUMNS)
    (in_lo, in_hi), (out_lo, out_hi) = t.token_range()
    assert in_lo <= 128 and in_hi >= 16384 and out_lo <= 16 and out_hi >= 1024
    assert t.axes[0][0] == 0 and t.axes[0][-1] == 1 and t.axes[1][0] == 0 and t.axes[1][-1] == 1
    meta = json.loads(path.with_suffix(".meta.json").read_text())
    assert meta["modelled"] is True and meta["generated"] and meta["inputs"]
    assert path.stem.endswith("__" + meta["workload_shape"]["name"])
    assert len(meta["workload_shape"]["sha256"]) == 64
    # finite-run noise stays small below the stability limit: the running maximum over loads
    # raised the medians little there; the p90s of some mixes sit on their knee in the last
    # rows below capacity, where one run's tail scatters by tens of percent (on the shipped
    # tables the largest raise of a p90 is 0.78; a raise is conservative, and
    # bench/fidelity.py measures what the tables do to a plan)
    adj = meta["monotone_adjustment_max_below_capacity"]
    assert all(adj[c] < 0.10 for c in ("p50_ttft_s", "p50_tpot_s"))
    assert all(adj[c] < 1.0 for c in ("p90_ttft_s", "p90_tpot_s"))
    assert path.stat().st_size < 600_000
    f = t.frame
    assert f[list(COLUMNS)].notna().all().all()
    assert (f["gpu_power_w"] > 0).all()


def grid(t, col):
    """A column as an array over (load, hit, prompt, output), from the sorted frame."""
    return t.frame[col].to_numpy(dtype=float).reshape(tuple(len(a) for a in t.axes))


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_latency_nondecreasing_in_load(path: Path):
    t = table(path)
    for c in ("p90_ttft_s", "p90_tpot_s", "p50_ttft_s", "p99_ttft_s"):
        assert np.all(np.diff(grid(t, c), axis=0) >= 0), c
    # capacity grows with the hit rate (less prefill per request) on every token mix
    cap = grid(t, "rate_rps")[-1]
    assert np.all(np.diff(cap, axis=0) >= -0.02 * cap[:-1])


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_idle_power_at_zero_load(path: Path):
    t = table(path)
    f = t.frame
    zero = f[f["load_fraction"] == 0]
    from planner.catalog import load_catalog

    idle = load_catalog().gpu(t.meta["gpu"]).loaded_idle_w
    assert np.allclose(zero["gpu_power_w"], idle)
    assert (f["gpu_power_w"] <= load_catalog().gpu(t.meta["gpu"]).tdp_w + 1e-6).all()


def test_planner_lookup_call():
    t = load_profile("llama-3-70b", "h100-sxm", 4, "nvme-gen4")
    r = t.lookup(np.array([0.0, 0.5, 1e9]), 0.3, 1155.0, 211.0)
    assert r.stable[0] and not r.stable[-1]
    assert r.p90_ttft_s[1] >= r.p90_ttft_s[0] > 0
    assert r.gpu_power_w[1] > r.gpu_power_w[0]


def _loads_cheaper(meta) -> bool:
    """Loading a cached token takes less than half the time of recomputing it."""
    from planner.perf.iteration import IterationModel
    from planner.perf.params import load_params
    from planner.perf.spec import build_spec

    spec = build_spec(meta["model"], meta["gpu"], meta["tp"], meta["ssd"],
                      meta["drives_per_replica"], meta["precision"])
    m = IterationModel(spec, load_params().device(spec.gpu), meta["options"]["engine"])
    per_token = m.prefill_coefficients(meta["engine"]["token_budget"])[1]
    return spec.kv_bytes_per_token / spec.kv_load_bytes_per_s < 0.5 * per_token


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_ttft_nonincreasing_in_hit_rate(path: Path):
    """The engine loads a prefix only as far as that beats recomputing it, so more hits never
    slow a lone prefill; under load too where loads are clearly cheaper than recompute (on a
    slow tier the SSD queue of one request's load delays the next)."""
    t = table(path)
    # up to 0.9 of capacity: at the stability limit itself a finite run's p90 scatters by
    # orders of magnitude between neighbouring mixes (the queue may or may not have run away)
    loads = t.axes[0][t.axes[0] <= 0.9] if _loads_cheaper(t.meta) else t.axes[0][:1]
    for i in t.axes[2]:
        for o in t.axes[3]:
            # the same absolute loads (fractions of the no-cache capacity) at every hit rate
            rates = loads * t.capacity(0.0, i, o)[0]
            looks = [t.lookup(rates, h, i, o) for h in t.axes[1]]
            assert all(x.stable.all() for x in looks)
            # compared below the knee (every hit rate's p90 TTFT at most 3x its lone-request
            # value): past it a decode-heavy mix's queue runs away before its capacity, and
            # where exactly it does scatters between runs by more than the hits save
            p90 = np.array([x.p90_ttft_s for x in looks])
            calm = (p90 <= 3 * p90[:, :1]).all(axis=0)
            assert calm[:2].all(), (i, o)  # the filter never empties the comparison
            for c in ("p50_ttft_s", "p90_ttft_s"):
                v = np.array([getattr(x, c) for x in looks])[:, calm]
                assert np.all(np.diff(v, axis=0) <= 0.03 * v[:-1] + 1e-6), (c, i, o)
