"""Measured points → the planner's profile table (planner/perf/measured_table.py)."""

import json

import numpy as np
import pytest

from planner.errors import InputDataError
from planner.perf.measured_table import MeasuredPoint, build_table
from planner.perf.profile import read_profile, table_name, write_profile

META = {"model": "llama-3-8b", "gpu": "h200", "tp": 1, "ssd": "nvme-gen4",
        "drives_per_replica": 1, "workload_shape": {"name": "fixed-lengths"},
        "provenance": {"source": "test points"}}


def _point(rate, hit, i, o, scale=1.0, stable=True):
    # latency grows with the rate and falls with the hit rate; lone requests at rate 0
    base = 0.05 * (1 + rate) * (1 - 0.5 * hit) * scale * i / 512
    return MeasuredPoint.from_samples(rate, hit, i, o, ttft_s=[base, 1.5 * base, 2 * base],
                                      tpot_s=[0.01, 0.012, 0.02], gpu_power_w=100 + 20 * rate,
                                      stable=stable)


def _grid(caps):
    pts = []
    for (h, i, o), rates in caps.items():
        pts += [_point(r, h, i, o, stable=r <= 4) for r in (0,) + rates]
    return pts


def test_table_from_points_reads_back_in_the_planner(tmp_path):
    caps = {(h, i, o): (1.0, 2.0, 4.0, 8.0) for h in (0.0, 0.9) for i in (512, 2048)
            for o in (64, 256)}
    frame, meta = build_table(_grid(caps), META, generated="2026-11-30")
    path = tmp_path / f"{table_name('llama-3-8b', 'h200', 1, 'nvme-gen4', 'fixed-lengths')}.csv"
    write_profile(frame, meta, path)
    t = read_profile(path)
    assert not t.modelled
    # the 8 req/s points are unstable: capacity 4, load fractions 0, 1/4, 1/2, 1
    assert list(t.axes[0]) == [0.0, 0.25, 0.5, 1.0]
    assert len(meta["left_out_above_capacity"]) == 8 and meta["interpolated_cells"] == 0
    # a measured point comes back exactly (p90 of three samples, linear: 1.9 × base)
    look = t.lookup(np.array([2.0]), 0.0, 512, 64)
    assert look.p90_ttft_s[0] == pytest.approx(0.05 * 3 * 1.9, rel=1e-5)
    assert look.gpu_power_w[0] == pytest.approx(140.0, rel=1e-5)
    assert json.loads(path.with_suffix(".meta.json").read_text())["points"][0]["rate_rps"] == 0


def test_mixes_with_other_capacities_are_interpolated_onto_shared_load_fractions():
    caps = {(h, i, o): ((1.0, 2.0, 4.0) if h == 0 else (1.0, 3.0, 4.0))
            for h in (0.0, 0.5) for i in (512, 1024) for o in (64, 128)}
    frame, meta = build_table(_grid(caps), META, generated="2026-11-30")
    # union of 1/4, 1/2, 3/4 and 1: each mix misses one of 1/2 and 3/4
    assert sorted(frame.load_fraction.unique()) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert meta["interpolated_cells"] == 8
    row = frame[(frame.hit_rate == 0) & (frame.load_fraction == 0.75)
                & (frame.mean_input_tokens == 512) & (frame.mean_output_tokens == 64)].iloc[0]
    # power linear between the measured 2 and 4 req/s points (140 W, 180 W)
    assert row.gpu_power_w == pytest.approx(160.0)


def test_missing_lone_point_and_single_token_value_are_named():
    caps = {(h, 512, o): (1.0, 2.0) for h in (0.0, 0.5) for o in (64, 128)}
    with pytest.raises(InputDataError, match="mean prompt"):
        build_table(_grid(caps), META)
    caps = {(h, i, o): (1.0, 2.0) for h in (0.0, 0.5) for i in (512, 1024) for o in (64, 128)}
    pts = [p for p in _grid(caps) if not (p.rate_rps == 0 and p.hit_rate == 0.5)]
    with pytest.raises(InputDataError, match="lone-request"):
        build_table(pts, META)
