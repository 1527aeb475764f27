"""Workload shapes fitted from a user's trace: `profile fit-shape`, `profile synth --shape
SHAPE.json` and `plan --auto-profile`."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from even_trace import write_even_trace
from planner.cli import app
from planner.paths import sha256_file
from planner.perf import shape_fit, synth
from planner.perf.shape_fit import cached_table, fit_trace_shape, token_axes
from planner.perf.shapes import read_shape, shapes_dir
from planner.window_inputs import read as read_window_inputs
from planner.workload.load import load_workload

EX = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


def test_fit_shape_reproduces_the_shipped_shape_of_the_same_trace(tmp_path):
    out = tmp_path / "moon.json"
    r = runner.invoke(app, ["profile", "fit-shape", str(EX / "conversation_trace.jsonl"),
                            "--out", str(out), "--name", "Mooncake conv"])
    assert r.exit_code == 0, r.output
    fitted = read_shape(out)
    shipped = read_shape(shapes_dir() / "mooncake-conv.json")
    assert fitted.name == "mooncake-conv"
    # the same method as scripts/fit_workload_shapes.py (an hour-long trace: 600 s warm-up)
    assert fitted.input_quantiles == shipped.input_quantiles
    assert fitted.output_quantiles == shipped.output_quantiles
    assert fitted.reuse_quantiles == shipped.reuse_quantiles
    r = runner.invoke(app, ["profile", "fit-shape", str(EX / "conversation_trace.jsonl"),
                            "--out", str(tmp_path / "x.txt")])
    assert r.exit_code == 2


def test_synth_takes_a_shape_file_and_names_the_table_after_it(tmp_path):
    shape = tmp_path / "mine.json"
    assert runner.invoke(app, ["profile", "fit-shape", str(EX / "AzureLLMInferenceTrace_code.csv"),
                               "--out", str(shape), "--name", "my-code"]).exit_code == 0
    r = runner.invoke(app, ["profile", "synth", "--model", "llama-3-70b", "--gpu", "h100-sxm",
                            "--tp", "4", "--ssd", "nvme-gen4", "--shape", str(shape),
                            "--out", str(tmp_path / "t"), "--loads", "0,1", "--hit-rates", "0,1",
                            "--inputs", "128,1024", "--outputs", "16,128", "--requests", "200",
                            "--date", "2026-11-24"])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "t" / "llama-3-70b__h100-sxm-tp4__nvme-gen4__my-code.meta.json")
                      .read_text())
    assert meta["workload_shape"]["name"] == "my-code" and meta["options"]["shape"] == "my-code"


@pytest.fixture
def odd_trace(tmp_path):
    """600 requests over 20 minutes whose prompts spread evenly over 2,000–4,000 tokens:
    narrower than every shipped shape."""
    return write_even_trace(tmp_path / "odd.csv", 600, seed=7)


def test_auto_profile_fits_builds_caches_and_reuses_the_table(odd_trace, tmp_path, monkeypatch):
    # A coarser grid than the shipped tables' keeps the test in seconds; the path is the same.
    monkeypatch.setattr(synth, "LOAD_AXIS", (0.0, 0.5, 1.0))
    monkeypatch.setattr(shape_fit, "HIT_AXIS", (0.0, 1.0))
    monkeypatch.setattr(synth, "REQUESTS", 200)
    monkeypatch.setenv("GREENCACHE_CACHE", str(tmp_path / "cache"))
    base = ["plan", "--trace", str(odd_trace), "--start", "2023-03-01T00:00Z", "--window", "10min"]
    r = runner.invoke(app, base + ["--out", str(tmp_path / "a")])
    assert r.exit_code == 3, r.output
    assert not (tmp_path / "a").exists()
    text = " ".join(r.output.split())
    assert "no available workload shape fits" in text and "--auto-profile" in text
    assert f"greencache profile fit-shape {odd_trace}" in text
    # the grid --auto-profile builds (hit rates as patched above): odd_trace's windows
    # average ≈ 3,000-token prompts and ≈ 120-token outputs
    assert "--hit-rates 0,1 --inputs 2048,4096 --outputs 64,128 " in text
    assert "--workload-shape" in text
    forced = runner.invoke(app, base + ["--workload-shape", "azure-conv",
                                        "--out", str(tmp_path / "f")])
    assert forced.exit_code == 0, forced.output
    assert "is far from the trace's lengths" in " ".join(forced.output.split())
    r = runner.invoke(app, base + ["--auto-profile", "--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    shape = summary["inputs"]["profile"]["workload_shape"]
    assert shape["name"] == "odd" and shape["chosen"].startswith("auto-profile")
    assert shape["distance"] < 0.05 < min(shape["distances"].values())
    # too few requests after the warm-up to fit its reuse (hits spread evenly): no warm reuse
    # to compare windows with (tests/test_cold_windows.py has one that has)
    assert "warm_reuse" not in shape
    assert read_window_inputs(tmp_path / "b" / "window_inputs.json").hits.warm_share is None
    tables = list((tmp_path / "cache" / "tables").glob("*/*.csv"))
    assert [p.name for p in tables] == ["llama-3-70b__h100-sxm-tp4__nvme-gen4__odd.csv"]
    stamp = tables[0].stat().st_mtime_ns
    r = runner.invoke(app, base + ["--auto-profile", "--out", str(tmp_path / "c")])
    assert r.exit_code == 0 and tables[0].stat().st_mtime_ns == stamp
    assert (tmp_path / "b" / "schedule.csv").read_bytes() == \
        (tmp_path / "c" / "schedule.csv").read_bytes()


def test_fitted_token_axes_bracket_the_windows_past_the_shipped_tops():
    # Mooncake's synthetic trace at 5-min windows: mean prompts 11,685–20,166 tokens (above
    # the shipped tables' top of 16,384), mean outputs 48–196
    assert token_axes([11685, 12975, 17363, 20166], [196, 184, 118, 48], 131072) == \
        ((8192, 16384, 32768), (32, 64, 128, 256))
    # one window: still two values on each axis
    assert token_axes([15325], [149], 131072) == ((8192, 16384), (128, 256))
    assert token_axes([16384], [16], 131072) == ((8192, 16384), (16, 32))
    # below the shipped bottoms the axis starts there (the plan then refuses the window)
    assert token_axes([40], [3], 131072) == ((128, 256), (16, 32))
    # never past the first doubling at or above the context (prompts) or half of it (outputs)
    assert token_axes([200000], [90000], 131072) == ((65536, 131072), (32768, 65536))


def test_auto_profile_table_covers_the_windows_and_is_found_again(odd_trace, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setattr(synth, "LOAD_AXIS", (0.0, 0.5, 1.0))
    monkeypatch.setattr(shape_fit, "HIT_AXIS", (0.0, 1.0))
    monkeypatch.setattr(synth, "REQUESTS", 200)
    monkeypatch.setenv("GREENCACHE_CACHE", str(tmp_path / "cache"))
    base = ["plan", "--trace", str(odd_trace), "--start", "2023-03-01T00:00Z", "--auto-profile"]
    r = runner.invoke(app, base + ["--window", "10min", "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    tables = list((tmp_path / "cache" / "tables").glob("*/*.meta.json"))
    assert len(tables) == 1
    meta = json.loads(tables[0].read_text())
    # odd_trace's windows average ≈ 3,000-token prompts and ≈ 120-token outputs
    assert meta["options"]["input_axis"] == [2048, 4096]
    assert meta["options"]["output_axis"] == [64, 128]
    assert meta["options"]["hit_axis"] == [0.0, 1.0]
    # an hour's window needs no other mixes: the table is found, not built again
    r = runner.invoke(app, base + ["--window", "1h", "--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "cache" / "tables").glob("*/*.meta.json"))) == 1
    # a table whose axes reach further serves narrower windows too
    shape = fit_trace_shape(load_workload(str(odd_trace)), "odd", odd_trace.name,
                            sha256_file(odd_trace))
    monkeypatch.setattr(synth, "synthesize", None)      # building again would fail
    folder = cached_table(shape, "llama-3-70b", "h100-sxm", 4, "nvme-gen4",
                          window_inputs=[2500], window_outputs=[100])
    assert folder == tables[0].parent
