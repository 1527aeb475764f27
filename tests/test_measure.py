"""`greencache profile measure` against the simulator-backed test server, a real process on
loopback: the TTFT/TPOT arithmetic against known delays, Ctrl-C keeping partial results, and
the measured table read by `plan --profile-dir` unchanged."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.measure.client import RequestRecord, _event
from planner.measure.counters import cache_reading, hit_rate_between, parse_prometheus
from planner.perf.profile import read_profile

ROOT = Path(__file__).resolve().parent.parent
TTFT, TPOT = 0.1, 0.01
runner = CliRunner()
NAME = "llama-3-8b__h200-tp1__nvme-gen4__fixed-lengths"


def _start(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "planner", "profile", "serve-sim", "--port",
                             "0", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=ROOT)
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise AssertionError(f"the test server did not start: {line}{proc.stdout.read()}")
    return proc, f"http://127.0.0.1:{m.group(1)}"


@pytest.fixture(scope="module")
def delays_server():
    proc, url = _start("--mode", "delays", "--ttft", str(TTFT), "--tpot", str(TPOT),
                       "--power-w", "123")
    yield url
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)


def _measure_args(url, out, *extra):
    return ["profile", "measure", "--endpoint", url, "--model", "llama-3-8b", "--gpu", "h200",
            "--power-url", f"{url}/metrics", "--rates", "4", "--reuse", "0,0.5",
            "--input-tokens", "64,128", "--output-tokens", "6,8", "--duration-per-point",
            "0.4s", "--lone-requests", "2", "--date", "2026-11-30", "--out", str(out), *extra]


@pytest.fixture(scope="module")
def measured(delays_server, tmp_path_factory):
    out = tmp_path_factory.mktemp("measured")
    r = runner.invoke(app, _measure_args(delays_server, out))
    assert r.exit_code == 0, r.output
    return out


def test_ttft_and_tpot_match_the_servers_known_delays(measured):
    rec = json.loads((measured / f"{NAME}.sweep.json").read_text())
    cols = rec["requests_columns"]
    rows = [dict(zip(cols, r)) for r in rec["requests"]]
    ttft = np.array([r["ttft_s"] for r in rows])
    tpot = np.array([r["tpot_s"] for r in rows])
    # the server cannot answer early; loopback and a busy CPU only add delay
    assert ttft.min() > TTFT - 0.002 and np.median(ttft) < TTFT + 0.05
    assert abs(np.median(tpot) - TPOT) < 0.0015
    # the server sends token k at TTFT + k · TPOT after the request (late, never early), and
    # the profiler's TTFT + (n − 1) · TPOT is the time of the last token it received
    n = np.array([r["output_tokens"] for r in rows])
    assert set(n) == {6, 8}
    assert np.all(ttft + (n - 1) * tpot > TTFT + (n - 1) * TPOT - 0.002)
    points = rec["points"]
    # the engine's counters agree with the prompts' construction: 32 of 64 and 64 of 128
    # words are whole 16-word blocks of the shared prefix
    for p in points:
        if p["status"] == "measured":
            assert p["engine_hit_rate"] == pytest.approx(p["intended_hit_rate"], abs=1e-9)
            assert p["gpu_power_w"] == pytest.approx(123.0)
    prov = rec["provenance"]
    assert prov["engine"]["engine"].startswith("greencache simulator-backed test server")
    assert prov["prefix_cache_metrics"].startswith("vllm:prefix_cache_hits_total")
    assert not prov["partial"]


def test_measured_table_reads_back_labelled_measured(measured):
    t = read_profile(measured / f"{NAME}.csv")
    assert not t.modelled and t.meta["method"].startswith("measured")
    assert list(t.axes[1]) == [0.0, 0.5]
    look = t.lookup(np.array([0.0]), 0.0, 64, 6)
    assert TTFT - 0.002 < look.p90_ttft_s[0] < TTFT + 0.1
    assert TPOT - 0.002 < look.p90_tpot_s[0] < TPOT + 0.01


def test_plan_reads_the_measured_table_unchanged(measured, tmp_path):
    # a one-hour trace whose windows' token means lie inside the measured axes
    rng = np.random.default_rng(1)
    with open(tmp_path / "t.jsonl", "w") as f:
        for k, ts in enumerate(np.sort(rng.uniform(0, 3600 * 1000, 400))):
            f.write(json.dumps({"timestamp": int(ts), "input_length": int(rng.integers(64, 129)),
                                "output_length": int(rng.integers(6, 9)),
                                "hash_ids": [int(k % 7), 100 + k]}) + "\n")
    r = runner.invoke(app, ["plan", "--trace", str(tmp_path / "t.jsonl"), "--start",
                            "2023-11-16T18:00Z", "--window", "15min", "--model", "llama-3-8b",
                            "--gpu", "h200", "--tp", "1", "--ssd", "nvme-gen4",
                            "--profile-dir", str(measured), "--out", str(tmp_path / "p"),
                            "--block-size", "32", "--no-timing"])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert s["inputs"]["profile"]["path"].endswith(f"{NAME}.csv")


def test_sigint_stops_and_keeps_the_finished_reuse_levels(delays_server, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = _measure_args(delays_server, tmp_path)
    args[args.index("--reuse") + 1] = "0,0.25,0.5,0.75"
    proc = subprocess.Popen([sys.executable, "-m", "planner", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    record = tmp_path / f"{NAME}.sweep.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if record.exists():
            try:
                done = json.loads(record.read_text())["provenance"]["finished_reuse_levels"]
            except ValueError:
                done = []
            if len(done) >= 2:
                break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert "partial (interrupted (Ctrl-C))" in output
    rec = json.loads(record.read_text())
    assert rec["provenance"]["partial"] and len(rec["provenance"]["finished_reuse_levels"]) < 4
    t = read_profile(tmp_path / f"{NAME}.csv")
    assert list(t.axes[1]) == rec["provenance"]["finished_reuse_levels"]
    assert any("partial" in n for n in t.meta["notes"])


def test_sse_events_and_prometheus_counters_are_parsed():
    rec = RequestRecord("p", 0, sent=10.0)
    assert not _event("completions", b": keep-alive", 10.1, rec)
    assert not _event("chat", b'data: {"choices":[{"delta":{"role":"assistant"}}]}', 10.1, rec)
    for k, t in enumerate((10.25, 10.30, 10.40)):
        _event("chat", b'data: {"choices":[{"delta":{"content":"x"}}]}', t, rec)
    _event("chat", b'data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3}}',
           10.5, rec)
    assert _event("chat", b"data: [DONE]", 10.5, rec)
    assert rec.ttft_s == pytest.approx(0.25) and rec.tpot_s == pytest.approx(0.075)
    before = cache_reading(parse_prometheus(
        'vllm:prefix_cache_hits_total{model_name="m"} 10\n'
        'vllm:prefix_cache_queries_total{model_name="m"} 100\n'))
    after = cache_reading(parse_prometheus(
        '# HELP x\nvllm:prefix_cache_hits_total{model_name="m"} 55\n'
        'vllm:prefix_cache_queries_total{model_name="m"} 200\n'))
    assert hit_rate_between(before, after) == pytest.approx(0.45)
    gauge = cache_reading(parse_prometheus('vllm:gpu_prefix_cache_hit_rate{a="b"} 0.3\n'))
    assert hit_rate_between(gauge, gauge) == pytest.approx(0.3)


def test_no_power_source_is_a_usage_error(tmp_path):
    r = runner.invoke(app, ["profile", "measure", "--endpoint", "http://10.0.0.1:1",
                            "--model", "llama-3-8b", "--gpu", "h200", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "no GPU power source" in r.output
    r = runner.invoke(app, ["profile", "measure", "--endpoint", "http://10.0.0.1:1",
                            "--model", "llama-3-8b", "--gpu", "h200", "--reuse", "0",
                            "--power-url", "http://10.0.0.1:1/metrics"])
    assert r.exit_code == 2 and "2 reuse levels" in r.output


def test_shipped_h200_table_is_measured_and_plans(tmp_path):
    folder = ROOT / "profiles" / "measured-tables"
    t = read_profile(folder / f"{NAME}.csv")
    prov = t.meta["provenance"]
    assert not t.modelled and not prov["partial"]
    assert prov["hardware"]["gpu_names"] == ["NVIDIA H200"]
    assert prov["engine"]["engine"].startswith("greencache minimal PyTorch server")
    # every point of the run was stable: no row interpolated, none left out
    assert t.meta["interpolated_cells"] == 0 and not t.meta["left_out_above_capacity"]
    rng = np.random.default_rng(2)
    with open(tmp_path / "t.jsonl", "w") as f:
        for k, ts in enumerate(np.sort(rng.uniform(0, 3600 * 1000, 2000))):
            f.write(json.dumps({"timestamp": int(ts),
                                "input_length": int(rng.integers(512, 2049)),
                                "output_length": int(rng.integers(16, 65)),
                                "hash_ids": [int(k % 5)]}) + "\n")
    r = runner.invoke(app, ["plan", "--trace", str(tmp_path / "t.jsonl"), "--start",
                            "2023-11-16T18:00Z", "--window", "30min", "--model", "llama-3-8b",
                            "--gpu", "h200", "--tp", "1", "--ssd", "nvme-gen4",
                            "--profile-dir", str(folder), "--out", str(tmp_path / "p"),
                            "--no-timing"])
    assert r.exit_code == 0, r.output


def test_profile_correct_reads_the_shipped_sweep_record(tmp_path):
    # the record's lone-request points (rate 0) are no load window; the loaded ones are
    folder = ROOT / "profiles" / "measured-tables"
    r = runner.invoke(app, ["profile", "correct", "--observed", str(folder / f"{NAME}.sweep.json"),
                            "--profile", str(ROOT / "profiles" / "tables" /
                                             "llama-3-8b__h200-tp1__nvme-gen4__azure-conv.csv"),
                            "--out", str(tmp_path / "c.json")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "c.json").exists()
