"""Profile lookup: exact on grid points, interpolation at equal utilisation between mixes."""

import itertools

import numpy as np
import pandas as pd
import pytest

from planner.errors import InputDataError
from planner.perf.profile import COLUMNS, ProfileTable

LOADS = (0.0, 0.25, 0.5, 0.75, 1.0)
META = {"model": "m", "gpu": "g", "tp": 1, "ssd": "s", "drives_per_replica": 1,
        "method": "test", "modelled": True, "workload_shape": {"name": "test"}}


def cap_of(h, i, o):
    # capacity halves when the prompt doubles and doubles when everything is cached
    return 8.0 * (1000 / i) * (1 + h)


def lat(lf, i):
    return 0.1 * i / 1000 / (1 - 0.9 * lf)


def frame(cap=cap_of) -> pd.DataFrame:
    rows = []
    for lf, h, i, o in itertools.product(LOADS, (0.0, 1.0), (1000.0, 2000.0), (100.0, 200.0)):
        c = cap(h, i, o)
        v = lat(lf, i)
        rows.append(dict(load_fraction=lf, hit_rate=h, mean_input_tokens=i, mean_output_tokens=o,
                         rate_rps=lf * c, p50_ttft_s=v, p90_ttft_s=v, p99_ttft_s=v,
                         p50_tpot_s=v / 10, p90_tpot_s=v / 10, p99_tpot_s=v / 10,
                         gpu_power_w=100 + 50 * lf, ssd_read_gbps=lf * c * h,
                         ssd_write_gbps=lf * c * (1 - h)))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def table(cap=cap_of) -> ProfileTable:
    return ProfileTable(frame(cap), META)


def test_exact_on_grid_points():
    t = table()
    f = t.frame
    look = t.lookup(f["rate_rps"].to_numpy(), f["hit_rate"].to_numpy(),
                    f["mean_input_tokens"].to_numpy(), f["mean_output_tokens"].to_numpy())
    assert look.stable.all()
    assert np.allclose(look.p90_ttft_s, f["p90_ttft_s"])
    assert np.allclose(look.gpu_power_w, f["gpu_power_w"])


def test_capacity_interpolates_service_time_linearly_in_tokens():
    t = table()
    # prompt 1500: halfway between the 1000- and 2000-token mixes (capacities 8 and 4), so the
    # time per request at capacity is halfway between 1/8 and 1/4 s
    assert t.capacity(0.0, 1500.0, 100.0)[0] == pytest.approx(1 / (0.5 / 8 + 0.5 / 4))
    r = np.linspace(0, 8, 801)
    look = t.lookup(r, 0.0, 1500.0, 100.0)
    assert r[look.stable].max() == pytest.approx(1 / (0.5 / 8 + 0.5 / 4), abs=0.01)
    # latencies rise with the load; a rate axis shared by both mixes would have capped the
    # query at the smaller capacity, 4
    v = look.p90_ttft_s[look.stable]
    assert np.all(np.diff(v) >= -1e-12)


def test_corners_are_read_at_the_same_utilisation():
    t = table()
    c = t.capacity(0.0, 1500.0, 100.0)[0]
    look = t.lookup(np.array([0.5 * c]), 0.0, 1500.0, 100.0)
    # both corners at load fraction 0.5, mixed geometrically with log-token weights
    w = np.log(1500 / 1000) / np.log(2)
    assert look.p90_ttft_s[0] == pytest.approx(lat(0.5, 1000) ** (1 - w) * lat(0.5, 2000) ** w)
    # latency proportional to the prompt is then read exactly between the mixes
    assert look.p90_ttft_s[0] == pytest.approx(lat(0.5, 1500))


def test_beyond_capacity_is_unstable_with_power_at_capacity():
    t = table()
    look = t.lookup(np.array([8.0, 8.01, 1e6]), 0.0, 1000.0, 100.0)
    assert list(look.stable) == [True, False, False]
    assert (look.p90_ttft_s[1:] >= 1e5).all()
    assert np.allclose(look.gpu_power_w, 150.0)


def test_zero_load_always_reads_the_first_row():
    t = table()
    look = t.lookup(np.zeros(3), np.array([0.0, 0.5, 1.0]), 1500.0, 150.0)
    assert look.stable.all()
    assert np.allclose(look.gpu_power_w, 100.0)


def test_bad_tables_rejected_with_one_sentence():
    f = frame()
    old = f.drop(columns="load_fraction").assign(stable=1)
    with pytest.raises(InputDataError, match="old layout"):
        ProfileTable(old, META)
    g = f.copy()
    g.loc[g.index[10], "rate_rps"] *= 1.5  # a row at load fraction 0.25
    with pytest.raises(InputDataError, match="load_fraction times"):
        ProfileTable(g, META)
    g = f.copy()
    g.loc[g.index[7], "p90_ttft_s"] = np.nan
    with pytest.raises(InputDataError, match="empty cells"):
        ProfileTable(g, META)
    with pytest.raises(InputDataError, match="capacity"):
        ProfileTable(frame(lambda h, i, o: 0.0), META)
    with pytest.raises(InputDataError, match="workload_shape"):
        ProfileTable(f, {k: v for k, v in META.items() if k != "workload_shape"})


def test_arrow_reads_a_shipped_table_as_pandas_does_and_leaves_the_rest_to_it(tmp_path):
    # Profile tables are parsed by Arrow where every cell is a number or blank; anything else
    # is read by pandas, so that ProfileTable names the bad cell in the same words.
    import io
    import json

    from planner.perf.profile import _arrow_frame, read_profile, tables_dir

    path = sorted(tables_dir().glob("*.csv"))[0]
    data = path.read_bytes()
    meta = json.loads(path.with_suffix(".meta.json").read_text())
    fast = _arrow_frame(data)
    assert fast is not None
    a = ProfileTable(fast, meta).frame
    b = ProfileTable(pd.read_csv(io.BytesIO(data)), meta).frame
    assert list(a.columns) == list(b.columns)
    for c in a.columns:
        np.testing.assert_array_equal(a[c].to_numpy(dtype=float), b[c].to_numpy(dtype=float))
    lines = data.decode().splitlines()
    cells = lines[2].split(",")
    cells[COLUMNS.index("p90_ttft_s")] = "fast"
    bad = tmp_path / path.name
    bad.write_text("\n".join(lines[:2] + [",".join(cells)] + lines[3:]) + "\n")
    bad.with_suffix(".meta.json").write_text(json.dumps(meta))
    assert _arrow_frame(bad.read_bytes()) is None
    with pytest.raises(InputDataError, match=r"line 3: p90_ttft_s must be a finite number, "
                                             r"got 'fast'"):
        read_profile(bad)
    for header in ("extra," + lines[0], '"load_fraction"' + lines[0][len("load_fraction"):]):
        assert _arrow_frame((header + "\n" + "\n".join(lines[1:])).encode()) is None
