"""`greencache sweep` on local Ray: the shipped small sweep, its cache (a re-run runs nothing,
a changed axis runs only its new points, a half-written entry runs again), failed points,
and the sweep file's checks. Ray starts once for the module."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
import ray
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import EXIT_INFEASIBLE, EXIT_INPUT, EXIT_POINTS_FAILED, EXIT_USAGE
from planner.sweep.figures import pareto_front
from planner.sweep.keys import point_key
from planner.sweep.runner import start_ray
from planner.sweep.spec import STRATEGIES

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "examples" / "sweep-small.toml"
runner = CliRunner()


@pytest.fixture(scope="module")
def local_ray():
    started = start_ray(None, 2)
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def small(local_ray, tmp_path_factory):
    """The shipped small sweep, run once into a fresh cache."""
    tmp = tmp_path_factory.mktemp("sweep")
    cache = tmp / "cache"
    r = runner.invoke(app, ["sweep", str(SMALL), "--out", str(tmp / "out"), "--cache",
                            str(cache)])
    assert r.exit_code == 0, r.output
    return tmp, cache, r


def sweep(args):
    return runner.invoke(app, ["sweep", *map(str, args)])


def test_small_sweep_writes_one_row_per_point_and_every_figure(small):
    tmp, _, r = small
    assert "6 point(s): 0 from the cache, 6 to run" in r.output
    out = tmp / "out"
    frame = pd.read_csv(out / "results.csv")
    assert len(frame) == 6 and (frame["status"] == "ok").all()
    assert sorted(zip(frame["grid"], frame["ssd_embodied"])) == sorted(
        (g, s) for g in ("FR", "DE", "US-CAL-CISO") for s in ("low", "high"))
    parquet = pd.read_parquet(out / "results.parquet")
    assert list(parquet.columns) == list(frame.columns) and len(parquet) == 6
    # The CSV holds six significant digits, the Parquet file the full values.
    numbers = parquet.select_dtypes("number").columns
    pd.testing.assert_frame_equal(frame[numbers], parquet[numbers], check_dtype=False,
                                  rtol=1e-5)
    for name in ("heatmap.png", "pareto.png", "tornado.png", "timeline.png", "README.md"):
        assert (out / name).stat().st_size > 0, name
    # The optimiser's plan is no worse than any baseline it was compared with (predicted, up to
    # the tie tolerance), and every deployment keeps most requests within SLO in replay.
    for b in ("no_cache", "max_cache", "static_cache"):
        assert (frame["plan_predicted_kgco2e"]
                <= frame[f"{b}_predicted_kgco2e"] * (1 + 1e-3)).all()
    assert (frame["plan_slo_attainment"] > 0.9).all()
    # On the clean French grid the cited high SSD embodied carbon makes the fixed 64 TB cache
    # far dearer than the plan; at the low value the cache costs little either way.
    fr = frame[frame["grid"] == "FR"].set_index("ssd_embodied")
    assert fr.loc["high", "reduction_vs_max_cache_pct"] > fr.loc["low",
                                                                  "reduction_vs_max_cache_pct"] + 10
    page = (out / "README.md").read_text()
    assert "fixed 64 TB cache" in page and "4×h100-sxm" in page and "FR 2023" in page


def test_cached_rerun_runs_nothing_and_writes_the_same_bytes(small):
    tmp, cache, _ = small
    r = sweep([SMALL, "--out", tmp / "again", "--cache", cache])
    assert r.exit_code == 0, r.output
    assert "6 point(s): 6 from the cache, 0 to run" in r.output
    for f in (tmp / "out").iterdir():
        assert f.read_bytes() == (tmp / "again" / f.name).read_bytes(), f.name


def test_changed_axis_runs_only_new_points_and_a_broken_entry_runs_again(small, tmp_path):
    out, shared, _ = small
    cache = tmp_path / "cache"
    shutil.copytree(shared, cache)
    spec = tmp_path / "sweep.toml"
    spec.write_text(SMALL.read_text().replace(
        'scenario = "scenario-fr.toml"', f'scenario = "{ROOT / "examples" / "scenario-fr.toml"}"')
        .replace('"US-CAL-CISO"', '"GB"'))
    # An entry cut short (as by a kill mid-write without the atomic rename) counts as absent.
    fr = pd.read_csv(out / "out" / "results.csv").query("grid == 'FR'")["key"].iloc[0]
    victim = next(cache.rglob(f"{fr}*.json"))
    victim.write_text(victim.read_text()[:100])
    r = sweep([spec, "--out", tmp_path / "out", "--cache", cache])
    assert r.exit_code == 0, r.output
    # GB low and high are new, the cut entry's point runs again, the other three are cached
    # (the US-CAL-CISO points are no longer in the sweep).
    assert "6 point(s): 3 from the cache, 3 to run" in r.output
    assert victim.read_text().endswith("}\n")


def test_a_failed_point_is_recorded_and_the_sweep_goes_on(local_ray, tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text(f'[sweep]\nscenario = "{ROOT / "examples" / "scenario-fr.toml"}"\n'
                    'strategies = ["plan"]\n[axes]\nslo_ttft = [2.0, 0.01]\n')
    r = sweep([spec, "--out", tmp_path / "out", "--cache", tmp_path / "cache"])
    assert r.exit_code == EXIT_POINTS_FAILED, r.output
    frame = pd.read_csv(tmp_path / "out" / "results.csv").set_index("slo_ttft")
    assert frame.loc[2.0, "status"] == "ok" and frame.loc[0.01, "status"] == "failed"
    assert frame.loc[0.01, "exit_code"] == EXIT_INFEASIBLE
    assert "cannot meet the SLO" in frame.loc[0.01, "error"]
    assert "Failed points" in (tmp_path / "out" / "README.md").read_text()
    # A failed point is not cached: the next run tries it again.
    r = sweep([spec, "--out", tmp_path / "out", "--cache", tmp_path / "cache"])
    assert "2 point(s): 1 from the cache, 1 to run" in r.output


@pytest.mark.parametrize("text, words", [
    ("[sweep]\nname = 'x'\ncolour = 1\n", "sweep.colour"),
    ("[axes]\ngrids = ['FR']\n", "axes.grids"),
    ("[axes]\nslo_ttft = ['fast']\n", "axes.slo_ttft"),
    ("[axes]\nslo_ttft = []\n", "axes.slo_ttft"),
    ("[axes]\ngrid = ['FR', 'FR']\n", "axes.grid lists a value twice"),
    ("[base]\nwindw = '1h'\n", "windw"),
    ("[[variants]]\nset = {slo_ttft = 1.0}\n", "variants[0].label"),
    ("[[variants]]\nlabel = 'a'\nset = {slo_ttft = 'x'}\n", "slo_ttft"),
    ("[sweep]\nstrategies = ['plan', 'fixed']\n", "sweep.strategies"),
    ("[sweep]\nstrategies = ['no_cache']\n", "must include plan"),
    ("[sweep]\nmemory_gb = -1\n", "sweep.memory_gb"),
    ("[axes]\nslo_ttft = [2.0, -1.0]\n", "point slo_ttft=-1"),
    ("[axes]\ngrid = ['FR', 'NOWHERE']\n", "point grid=NOWHERE"),
    ("[axes]\ngpu = ['h100-sxm', 'z80']\n", "point gpu=z80"),
    ("extra = 1\n", "unknown key extra"),
])
def test_every_key_and_value_is_checked_before_work(tmp_path, text, words):
    spec = tmp_path / "sweep.toml"
    trace = f'trace = "{ROOT / "examples" / "AzureLLMInferenceTrace_conv.csv"}"\n'
    spec.write_text(text + trace if text.startswith("[base]") else text + "\n[base]\n" + trace)
    r = sweep([spec, "--out", tmp_path / "out", "--cache", tmp_path / "cache"])
    assert r.exit_code == EXIT_INPUT, r.output
    assert words in r.output and "Traceback" not in r.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_workers_and_address_are_usage_errors_together(tmp_path):
    r = sweep([SMALL, "--out", tmp_path / "out", "--workers", "2", "--address", "auto"])
    assert r.exit_code == EXIT_USAGE and "--workers" in r.output


def test_a_point_key_follows_file_contents_not_their_paths(tmp_path):
    from planner.scenario import plan_options

    trace = ROOT / "examples" / "AzureLLMInferenceTrace_conv.csv"
    copy = tmp_path / "elsewhere.csv"
    shutil.copy(trace, copy)
    key = lambda p, **kw: point_key(plan_options({"trace": str(p), **kw}), STRATEGIES)  # noqa
    assert key(trace) == key(copy)
    assert key(trace) != key(trace, grid="DE")
    assert point_key(plan_options({"trace": str(trace)}), ("plan",)) != key(trace)
    copy.write_text(copy.read_text().replace("\n", "\r\n", 1))
    assert key(trace) != key(copy)


def test_pareto_front_keeps_only_points_nothing_beats():
    import numpy as np

    att = np.array([0.90, 0.95, 0.99, 0.95, 0.80])
    kg = np.array([1.0, 1.2, 2.0, 1.5, 1.1])
    # (0.95, 1.5) is beaten by (0.95, 1.2); (0.80, 1.1) by (0.90, 1.0).
    assert sorted(pareto_front(att, kg).tolist()) == [0, 1, 2]
