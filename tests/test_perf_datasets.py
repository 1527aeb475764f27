"""Readers of the measured data: shipped files load, broken ones fail with one sentence."""

import shutil

import pytest

from planner.errors import InputDataError
from planner.perf import datasets as ds


def test_shipped_measured_data_load():
    sw = ds.load_splitwise()
    assert set(sw["gpu"]) == {"a100-80gb", "h100-sxm"} and len(sw) == 114
    assert (sw["ttft_s"] > 0).all() and (sw["runs"] >= 5).all()
    v = ds.load_vidur_mlp()
    assert set(v["op"]) == set(ds.VIDUR_GEMM_OPS) | {"elementwise"}
    ar = ds.load_vidur_allreduce()
    assert set(ar["tp"]) == {2, 4, 8}
    own = ds.load_own_h100()
    assert len(own["prefill"]) == 20 and len(own["decode"]) == 24 and len(own["power"]) == 8


def test_missing_file(tmp_path):
    with pytest.raises(InputDataError, match="does not exist"):
        ds.load_splitwise(tmp_path / "nope.csv")
    with pytest.raises(InputDataError, match="no Vidur"):
        ds.load_vidur_mlp(tmp_path)


def test_missing_column_and_bad_value_name_the_line(tmp_path):
    src = ds.measured_dir() / "splitwise-sim" / "perf_model.csv"
    lines = src.read_text().splitlines()
    p = tmp_path / "perf_model.csv"
    p.write_text("\n".join([lines[0].replace("prompt_time", "ptime")] + lines[1:5]) + "\n")
    with pytest.raises(InputDataError, match="lacks column"):
        ds.load_splitwise(p)
    bad = lines[3].split(",")
    bad[7] = "-4"   # prompt_time
    p.write_text("\n".join(lines[:3] + [",".join(bad)] + lines[4:8]) + "\n")
    with pytest.raises(InputDataError, match="line 4: prompt_time must be a positive number"):
        ds.load_splitwise(p)


def test_own_measurements_validated(tmp_path):
    root = tmp_path / "own"
    shutil.copytree(ds.measured_dir() / ds.OWN_H100, root)
    text = (root / "decode.csv").read_text().splitlines()
    cells = text[2].split(",")
    cells[2] = "nan"
    (root / "decode.csv").write_text("\n".join(text[:2] + [",".join(cells)] + text[3:]) + "\n")
    with pytest.raises(InputDataError, match="line 3: time_s"):
        ds.load_own_h100(root)
