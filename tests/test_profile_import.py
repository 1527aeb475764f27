"""`greencache profile import`: each tool's result file, what it lacks, the table it builds.

Fixtures (tests/fixtures/benchmark_results/README.md says which is which): the guidellm report
was produced by guidellm 0.8.1 itself; the vLLM and genai-perf files are written to their
tools' source formats. Expected numbers are read from the fixture files themselves.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import InputDataError
from planner.perf.imports import read_results
from planner.perf.profile import available_shapes, load_profile, read_profile

runner = CliRunner()
FIX = Path(__file__).parent / "fixtures" / "benchmark_results"
REPLICA = ["--model", "llama-3-8b", "--gpu", "h100-sxm", "--tp", "1", "--ssd", "nvme-gen4"]
NAME = "llama-3-8b__h100-sxm-tp1__nvme-gen4__measured"


def _text(res) -> str:
    """The command's output with the terminal's line wrapping undone."""
    return " ".join(res.output.split())


def _json(name):
    return json.loads((FIX / name).read_text())


def test_vllm_bench_serve_result():
    raw = _json("vllm-bench-serve-4qps.json")
    (run,) = read_results(FIX / "vllm-bench-serve-4qps.json")
    assert run.tool == "vllm-bench" and run.version == raw["version"]
    assert run.rate_rps == raw["request_rate"] and "configured" in run.rate_from
    assert run.mean_input_tokens == raw["total_input_tokens"] / raw["completed"]
    assert run.mean_output_tokens == raw["total_output_tokens"] / raw["completed"]
    assert run.ttft_s == pytest.approx((raw["median_ttft_ms"] / 1e3, raw["p90_ttft_ms"] / 1e3,
                                        raw["p99_ttft_ms"] / 1e3))
    assert run.tpot_s[1] == pytest.approx(raw["p90_tpot_ms"] / 1e3)
    assert run.gpu_power_w is None and run.hit_rate is None
    assert any("hit rate 0 assumed" in m for m in run.missing)
    assert any(m.startswith("GPU power: not recorded") for m in run.missing)


def test_vllm_percentiles_from_the_per_request_lists():
    raw = _json("vllm-bench-serve-detailed.json")
    (run,) = read_results(FIX / "vllm-bench-serve-detailed.json", "vllm-bench")
    ttft = np.array(raw["ttfts"])
    tpot = (np.array(raw["latencies"]) - ttft) / (np.array(raw["output_lens"]) - 1)
    assert run.ttft_s == pytest.approx(tuple(np.percentile(ttft, (50, 90, 99))))
    assert run.tpot_s == pytest.approx(tuple(np.percentile(tpot, (50, 90, 99))))
    assert any("--save-detailed" in n for n in run.notes)
    assert run.version is None and any("version" in m for m in run.missing)


def test_guidellm_report_made_by_guidellm():
    raw = _json("guidellm-0.8.1-benchmarks.json")
    runs = read_results(FIX / "guidellm-0.8.1-benchmarks.json")
    assert len(runs) == len(raw["benchmarks"]) == 2
    for run, bench in zip(runs, raw["benchmarks"]):
        m = bench["metrics"]
        assert run.tool == "guidellm" and run.version == "0.8.1"
        assert run.rate_rps == bench["config"]["strategy"]["rate"]
        assert run.ttft_s[1] == pytest.approx(
            m["time_to_first_token_ms"]["successful"]["percentiles"]["p90"] / 1e3)
        assert run.tpot_s[2] == pytest.approx(
            m["inter_token_latency_ms"]["successful"]["percentiles"]["p99"] / 1e3)
        assert run.mean_input_tokens == m["prompt_token_count"]["successful"]["mean"]
        assert run.requests == m["request_totals"]["successful"]


def test_genai_perf_json_and_csv():
    raw = _json("profile_export_genai_perf.json")
    (run,) = read_results(FIX / "profile_export_genai_perf.json")
    assert run.rate_rps == raw["input_config"]["perf_analyzer"]["stimulus"]["request_rate"]
    assert run.gpu_power_w == raw["telemetry_stats"]["gpu_power_usage"]["gpu0"]["avg"]
    assert run.tpot_s[1] == pytest.approx(raw["inter_token_latency"]["p90"] / 1e3)
    assert not any(m.startswith("GPU power") for m in run.missing)
    (csv_run,) = read_results(FIX / "profile_export_genai_perf.csv", "genai-perf")
    # the CSV has no configuration: the rate is the measured throughput
    assert csv_run.rate_rps == 5.95 and "measured" in csv_run.rate_from
    assert csv_run.ttft_s == pytest.approx((0.034, 0.0579, 0.086))   # its TTFT row, in ms
    assert csv_run.mean_input_tokens == 1024 and csv_run.gpu_power_w is None


def test_missing_essentials_are_one_sentence_exit_3(tmp_path):
    res = runner.invoke(app, ["profile", "import", str(FIX / "vllm-bench-serve-p99-only.json"),
                              *REPLICA, "--out", str(tmp_path)])
    assert res.exit_code == 3
    assert "lacks 'p90_ttft_ms'" in _text(res) and "--metric-percentiles 50,90,99" in _text(res)
    res = runner.invoke(app, ["profile", "import", str(FIX / "README.md"), *REPLICA,
                              "--out", str(tmp_path)])
    assert res.exit_code == 3 and "none of the result files" in _text(res)
    raw = _json("profile_export_genai_perf.json")
    del raw["inter_token_latency"]          # what a non-streaming genai-perf run writes
    bad = tmp_path / "non_streaming_genai_perf.json"
    bad.write_text(json.dumps(raw))
    res = runner.invoke(app, ["profile", "import", str(bad), *REPLICA, "--out", str(tmp_path)])
    assert res.exit_code == 3 and "'inter_token_latency'" in _text(res) \
        and "--streaming" in _text(res)
    res = runner.invoke(app, ["profile", "import", str(FIX / "vllm-bench-serve-2qps.json"),
                              "--format", "guidellm", *REPLICA, "--out", str(tmp_path)])
    assert res.exit_code == 3 and "is a vllm-bench result, not guidellm" in _text(res)
    res = runner.invoke(app, ["profile", "import", str(FIX / "vllm-bench-serve-2qps.json"),
                              "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--model" in _text(res)
    assert not list(tmp_path.glob("*.csv"))


def test_import_builds_a_table_the_planner_reads(tmp_path):
    files = [str(FIX / f) for f in ("vllm-bench-serve-2qps.json", "vllm-bench-serve-4qps.json",
                                    "vllm-bench-serve-8qps.json",
                                    "profile_export_genai_perf.json",
                                    "profile_export_genai_perf.csv")]
    args = ["profile", "import", *files, *REPLICA, "--out", str(tmp_path / "a"),
            "--date", "2026-11-30"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "missing — hit rate" in _text(res) and "hit rate 0 assumed" in _text(res)
    # found by `plan --profile-dir`'s lookup, and each run reads back its own p90s
    assert available_shapes("llama-3-8b", "h100-sxm", 1, "nvme-gen4", tmp_path / "a") == \
        ["measured"]
    table = load_profile("llama-3-8b", "h100-sxm", 1, "nvme-gen4", tmp_path / "a", "measured")
    for f in files:
        (run,) = read_results(f)
        look = table.lookup(np.array([run.rate_rps]), 0.0, run.mean_input_tokens,
                            run.mean_output_tokens)
        assert look.p90_ttft_s[0] == pytest.approx(run.ttft_s[1], rel=1e-5)
        assert look.p90_tpot_s[0] == pytest.approx(run.tpot_s[1], rel=1e-5)
    # a measured power is the table's; hit rate 1 reads as hit rate 0 (no cache benefit)
    assert table.lookup(np.array([5.0]), 0.0, 1024, 128).gpu_power_w[0] == \
        pytest.approx(412.6, rel=1e-5)
    assert table.lookup(np.array([4.0]), 1.0, 1024, 128).p90_ttft_s[0] == \
        pytest.approx(0.0493, rel=1e-5)
    meta = table.meta
    assert meta["modelled"] is True and meta["method"].startswith("measured")
    assert [f["file"] for f in meta["provenance"]["files"]] == files
    # same inputs, same bytes, from another folder
    res = runner.invoke(app, [*args[:-4], "--out", str(tmp_path / "b"), "--date", "2026-11-30"])
    assert res.exit_code == 0
    for ext in (".csv", ".meta.json"):
        assert (tmp_path / "a" / (NAME + ext)).read_bytes() == \
            (tmp_path / "b" / (NAME + ext)).read_bytes()


def test_into_extends_and_replaces_a_file(tmp_path):
    base = ["profile", "import", *REPLICA, "--out", str(tmp_path), "--date", "2026-11-30"]
    assert runner.invoke(app, base[:2] + [str(FIX / "vllm-bench-serve-2qps.json")] + base[2:]) \
        .exit_code == 0
    path = tmp_path / f"{NAME}.csv"
    res = runner.invoke(app, ["profile", "import", str(FIX / "vllm-bench-serve-4qps.json"),
                              str(FIX / "vllm-bench-serve-2qps.json"), "--into", str(path),
                              "--out", str(tmp_path), "--date", "2026-11-30"])
    assert res.exit_code == 0, res.output
    files = [f["file"] for f in read_profile(path).meta["provenance"]["files"]]
    assert sorted(files) == sorted(str(FIX / f) for f in ("vllm-bench-serve-2qps.json",
                                                          "vllm-bench-serve-4qps.json"))
    shipped = Path(load_profile("llama-3-8b", "h100-sxm", 1, "nvme-gen4").source)
    res = runner.invoke(app, ["profile", "import", str(FIX / "vllm-bench-serve-8qps.json"),
                              "--into", str(shipped), "--out", str(tmp_path)])
    assert res.exit_code == 3 and "not built by `greencache profile import`" in _text(res)


def test_two_runs_at_one_rate_are_refused():
    runs = read_results(FIX / "vllm-bench-serve-2qps.json") * 2
    from planner.perf.imports.table import measured_points

    with pytest.raises(InputDataError, match="both at 2 req/s"):
        measured_points(runs, None)


def test_fixture_readme_labels_every_file():
    readme = (FIX / "README.md").read_text()
    for f in FIX.iterdir():
        if f.name != "README.md":
            assert f"`{f.name}`" in readme, f.name
    assert "produced by guidellm 0.8.1" in readme
    assert "not produced by the tool" in readme

