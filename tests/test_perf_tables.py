"""The shipped profile tables keep the planner's contract and behave physically."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.perf.profile import AXES, COLUMNS, load_profile, read_profile, tables_dir

TABLES = sorted(tables_dir().glob("*.csv"))


def test_required_tables_shipped():
    names = {p.stem for p in TABLES}
    for ssd in ("nvme-gen4", "nvme-gen5"):
        assert f"llama-3-70b__h100-sxm-tp4__{ssd}" in names
        assert f"llama-3-8b__h100-sxm-tp1__{ssd}" in names


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_table_contract(path: Path):
    t = read_profile(path)
    assert list(pd.read_csv(path, nrows=1).columns) == list(COLUMNS)
    (in_lo, in_hi), (out_lo, out_hi) = t.token_range()
    assert in_lo <= 128 and in_hi >= 16384 and out_lo <= 16 and out_hi >= 1024
    assert t.axes[0][0] == 0 and t.axes[1][0] == 0 and t.axes[1][-1] == 1
    meta = json.loads(path.with_suffix(".meta.json").read_text())
    assert meta["modelled"] is True and meta["generated"] and meta["inputs"]
    assert path.stat().st_size < 1_100_000
    f = t.frame
    stable = f["stable"] == 1
    lat = [c for c in COLUMNS if c.endswith("_s")]
    assert f.loc[stable, lat].notna().all().all()
    assert f.loc[~stable, lat].isna().all().all()
    assert (f["gpu_power_w"] > 0).all()


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_latency_nondecreasing_in_load_and_unstable_beyond_knee(path: Path):
    f = read_profile(path).frame
    for _, g in f.groupby(list(AXES[1:])):
        g = g.sort_values("rate_rps")
        st = g["stable"].to_numpy()
        # once unstable, every higher rate is unstable (no extrapolation past the knee)
        assert np.all(np.diff(st) <= 0)
        s = g[st == 1]
        for c in ("p90_ttft_s", "p90_tpot_s"):
            v = s[c].to_numpy()
            assert np.all(np.diff(v) >= -0.02 * v[:-1] - 1e-6), c


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_idle_power_at_zero_load(path: Path):
    t = read_profile(path)
    f = t.frame
    zero = f[f["rate_rps"] == 0]
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


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_ttft_nonincreasing_in_hit_rate(path: Path):
    # the engine loads a prefix only when that beats recomputing it, so more hits never hurt
    f = read_profile(path).frame
    f = f[f["stable"] == 1]
    for _, g in f.groupby(["rate_rps", "mean_input_tokens", "mean_output_tokens"]):
        v = g.sort_values("hit_rate")["p50_ttft_s"].to_numpy()
        assert np.all(np.diff(v) <= 0.02 * v[:-1] + 1e-6)
