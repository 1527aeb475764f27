"""Profile lookup: exact on grid points, interpolation at equal utilisation between mixes."""

import itertools

import numpy as np
import pandas as pd
import pytest

from planner.errors import InputDataError
from planner.perf.profile import COLUMNS, ProfileTable

RATES = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
META = {"model": "m", "gpu": "g", "tp": 1, "ssd": "s", "drives_per_replica": 1,
        "method": "test", "modelled": True}


def cap_of(h, i, o):
    # capacity halves when the prompt doubles and doubles when everything is cached
    return 8.0 * (1000 / i) * (1 + h)


def table(cap=cap_of) -> ProfileTable:
    rows = []
    for r, h, i, o in itertools.product(RATES, (0.0, 1.0), (1000.0, 2000.0), (100.0, 200.0)):
        c = cap(h, i, o)
        st = r <= c
        lat = 0.1 * i / 1000 / (1 - 0.9 * r / c) if st else np.nan
        rows.append(dict(rate_rps=r, hit_rate=h, mean_input_tokens=i, mean_output_tokens=o,
                         stable=int(st), p50_ttft_s=lat, p90_ttft_s=lat, p99_ttft_s=lat,
                         p50_tpot_s=lat / 10 if st else np.nan, p90_tpot_s=lat / 10 if st else np.nan,
                         p99_tpot_s=lat / 10 if st else np.nan, gpu_power_w=100 + 50 * min(r / c, 1),
                         ssd_read_gbps=r * h, ssd_write_gbps=r * (1 - h)))
    return ProfileTable(pd.DataFrame(rows, columns=list(COLUMNS)), META)


def test_exact_on_grid_points():
    t = table()
    f = t.frame
    look = t.lookup(f["rate_rps"].to_numpy(), f["hit_rate"].to_numpy(),
                    f["mean_input_tokens"].to_numpy(), f["mean_output_tokens"].to_numpy())
    st = f["stable"].to_numpy() == 1
    assert np.array_equal(look.stable, st)
    assert np.allclose(look.p90_ttft_s[st], f["p90_ttft_s"][st])
    assert np.allclose(look.gpu_power_w, np.where(st, f["gpu_power_w"], look.gpu_power_w))
    assert (look.p90_ttft_s[~st] >= 1e5).all()


def test_capacity_interpolates_between_mixes():
    t = table()
    # prompt 1414 (log-midpoint of 1000 and 2000): corner capacities 8 and 4 (last stable rates)
    r = np.linspace(0, 8, 801)
    look = t.lookup(r, 0.0, np.sqrt(1000 * 2000), 100.0)
    cap = r[look.stable].max()
    assert cap == pytest.approx(np.sqrt(8 * 4), abs=0.01)
    # latencies rise with the load and are finite only where stable
    v = look.p90_ttft_s[look.stable]
    assert np.all(np.diff(v) >= -1e-12)
    # the old rule (every corner stable at the same absolute rate) would stop at 4
    assert cap > 4.0


def test_never_beyond_last_stable_rate_and_axis():
    t = table()
    look = t.lookup(np.array([8.0, 8.01, 1e6]), 0.0, 1000.0, 100.0)
    assert list(look.stable) == [True, False, False]
    look = t.lookup(np.array([16.0, 16.5]), 1.0, 1000.0, 100.0)   # capacity 16 > axis max 8
    assert not look.stable.any()


def test_zero_load_always_reads_the_first_row():
    t = table()
    look = t.lookup(np.zeros(3), np.array([0.0, 0.5, 1.0]), 1500.0, 150.0)
    assert look.stable.all()
    assert np.allclose(look.gpu_power_w, 100.0)


def test_broken_stable_run_and_empty_cells_rejected():
    t = table()
    f = t.frame.copy()
    # a stable row beyond an unstable one is not trusted: capacity stops at the break
    m = (f.hit_rate == 0) & (f.mean_input_tokens == 1000) & (f.mean_output_tokens == 100)
    f.loc[m & (f.rate_rps == 3.0), "stable"] = 0
    look = ProfileTable(f, META).lookup(np.array([2.0, 4.0]), 0.0, 1000.0, 100.0)
    assert list(look.stable) == [True, False]
    g = t.frame.copy()
    g.loc[m & (g.rate_rps == 2.0), "p90_ttft_s"] = np.nan
    with pytest.raises(InputDataError, match="empty stable cells"):
        ProfileTable(g, META)
