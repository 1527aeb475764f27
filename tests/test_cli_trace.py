"""`greencache trace inspect` and `trace hitcurve` through typer's CliRunner."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.workload.curve_output import CSV_COLUMNS
from planner.workload.hitcurve import window_hit_curves
from planner.workload.readers import read_trace

EX = Path(__file__).resolve().parent.parent / "examples"
MOONCAKE = str(EX / "conversation_trace.jsonl")
AZURE = str(EX / "AzureLLMInferenceTrace_code.csv")
runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["trace", *map(str, args)])


def test_inspect_mooncake():
    r = run("inspect", MOONCAKE, "--window", "15min", "--start", "2024-03-01T10:00Z")
    assert r.exit_code == 0, r.output
    assert "12,031" in r.output and "182,790 distinct" in r.output
    assert "37.4% of prompt tokens" in r.output
    # 182,790 blocks × 512 tokens × 327,680 B/token (Llama-3-70B)
    assert f"{182_790 * 512 * 327_680 / 1e12:,.2f} TB" in r.output
    assert "2024-03-01 10:45" in r.output and "modelled" not in r.output


def test_inspect_azure_is_labelled_modelled():
    r = run("inspect", AZURE, "--model", "llama-3-8b")
    assert r.exit_code == 0, r.output
    assert "reusable token share (modelled)" in r.output
    assert "8,819" in r.output and "synthesised by the session-reuse model" in r.output


def test_hitcurve_exact_csv_matches_library(tmp_path):
    out, png = tmp_path / "c.csv", tmp_path / "c.png"
    r = run("hitcurve", MOONCAKE, "--out", out, "--plot", png, "--window", "15min",
            "--capacities", "0,512,1e6,5e7")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert tuple(df.columns) == CSV_COLUMNS
    assert len(df) == 4 * 4 and set(df["source"]) == {"trace-lru-exact"}
    trace = read_trace(MOONCAKE)
    window = (trace.arrival_s // 900).astype(int)
    want = window_hit_curves(trace, window, 4, [0, 512, 1_000_000, 50_000_000])
    assert np.allclose(df["token_hit_rate"].to_numpy().reshape(4, 4), want.token_hit, atol=5e-7)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hitcurve_is_byte_identical_across_runs(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for target in (a, b):
        assert run("hitcurve", AZURE, "--out", target, "--seed", "3").exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    df = pd.read_csv(a)
    assert set(df["source"]) == {"modelled-sessions"} and df["modelled"].all()


def test_hitcurve_sampled_and_lcs(tmp_path):
    r = run("hitcurve", MOONCAKE, "--out", tmp_path / "s.csv", "--sample", "0.05")
    assert r.exit_code == 0, r.output
    assert set(pd.read_csv(tmp_path / "s.csv")["source"]) == {"trace-lru-shards-5%"}
    r = run("hitcurve", MOONCAKE, "--out", tmp_path / "l.csv", "--policy", "lcs",
            "--capacities", "0,5e6", "--ci", "300")
    assert r.exit_code == 0, r.output
    assert set(pd.read_csv(tmp_path / "l.csv")["source"]) == {"trace-lcs"}
    assert "repays" in r.output


@pytest.mark.parametrize("args, code, message", [
    (["--sample", "0"], 2, "--sample must be in (0, 1]"),
    (["--sample", "1.5"], 2, "--sample must be in (0, 1]"),
    (["--policy", "fifo"], 2, "fifo"),
    (["--capacities", "10,abc"], 2, "'abc' is not a number"),
    (["--window", "7 parsecs"], 2, "cannot read window length"),
    (["--plot", "x.jpg"], 2, ".png"),
    (["--model", "gpt-9"], 2, "unknown model"),
])
def test_hitcurve_usage_errors(tmp_path, args, code, message):
    out = tmp_path / "c.csv"
    r = run("hitcurve", MOONCAKE, "--out", out, *args)
    assert r.exit_code == code, r.output
    assert message in " ".join(r.output.split())
    assert not out.exists()


def test_input_errors(tmp_path):
    r = run("hitcurve", tmp_path / "missing.jsonl", "--out", tmp_path / "c.csv")
    assert r.exit_code == 3 and "does not exist" in r.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp": 0, "input_length": 600, "output_length": 3, "hash_ids": [1, 2]}\n'
                   '{"timestamp": 1, "input_length": "x"}\n')
    r = run("inspect", bad)
    assert r.exit_code == 3 and "line 2" in r.output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = run("hitcurve", empty, "--out", tmp_path / "c.csv")
    assert r.exit_code == 3 and "empty" in r.output
    r = run("inspect", MOONCAKE, "--reuse-model", tmp_path / "none.json")
    assert r.exit_code == 0  # the trace has prefixes: the reuse model is not read
    r = run("inspect", AZURE, "--reuse-model", tmp_path / "none.json")
    assert r.exit_code == 3 and "does not exist" in r.output
    assert not (tmp_path / "c.csv").exists()
