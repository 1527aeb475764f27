from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import InputDataError, UsageError
from planner.workload.load import load_workload
from planner.workload.rates import read_rate_series, synthesize
from planner.workload.readers import read_trace

EX = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def counts_file(tmp_path):
    lines = (EX / "invocations_ten_second_Conversation.csv").read_text().splitlines()[:121]
    p = tmp_path / "invocations_ten_second_Conversation.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_shipped_rate_series_totals():
    # Totals from SOURCES.md: every request counted.
    assert read_rate_series(EX / "invocations_ten_second_Conversation.csv").total == 27_303_999
    assert read_rate_series(EX / "invocations_ten_second_Coding.csv").total == 16_803_695
    assert read_rate_series(EX / "burstgpt_hourly.csv").total == 154_219
    sg = read_rate_series(EX / "servegen_aggregate_rate_10min_derived.csv", column="m-mid")
    assert any("84 gap window(s)" in n for n in sg.notes)


def test_synthesis_keeps_counts_bins_and_is_deterministic(counts_file):
    s = read_rate_series(counts_file)
    a, b = synthesize(s, seed=3), synthesize(s, seed=3)
    assert len(a) == s.total
    assert np.array_equal(a.arrival_s, b.arrival_s) and np.array_equal(a.input_tokens,
                                                                       b.input_tokens)
    assert not np.array_equal(a.arrival_s, synthesize(s, seed=4).arrival_s)
    # Row T counts [T-5 s, T+5 s); the first row is the half bin [T0, T0+5 s).
    first = int(s.counts[0])
    assert np.all(a.arrival_s[:first] < 5.0)
    assert np.all(np.diff(a.arrival_s) >= 0)
    conv = read_trace(EX / "AzureLLMInferenceTrace_conv.csv")
    assert set(np.unique(a.input_tokens)) <= set(np.unique(conv.input_tokens))


def test_scale_keeps_the_rounded_total(counts_file):
    s = read_rate_series(counts_file)
    for scale in (0.01, 0.37, 2.5):
        assert s.integer_counts(scale).sum() == round(s.total * scale)
    with pytest.raises(UsageError):
        s.integer_counts(0)


def test_synth_file_reads_back_as_the_same_requests(counts_file, tmp_path):
    out = tmp_path / "week.csv"
    r = CliRunner().invoke(app, ["trace", "synth", str(counts_file), "--out", str(out),
                                 "--seed", "5", "--scale", "0.5"])
    assert r.exit_code == 0, r.output
    back = read_trace(out)
    mem = load_workload(counts_file, scale=0.5, seed=5)
    assert len(back) == len(mem)
    assert np.array_equal(back.input_tokens, mem.input_tokens)
    shift = (back.start - mem.start).total_seconds()
    assert np.allclose(back.arrival_s + shift, mem.arrival_s, atol=2e-6)


def test_rate_series_errors(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("Time,TIMESTAMP\n2024-05-12 00:00:00,10\n2024-05-12 00:00:10,x\n")
    with pytest.raises(InputDataError, match="line 3: TIMESTAMP must be a whole number"):
        read_rate_series(p)
    with pytest.raises(UsageError, match="--scale applies to rate series"):
        load_workload(EX / "AzureLLMInferenceTrace_conv.csv", scale=2.0)
    with pytest.raises(UsageError, match="ServeGen models"):
        read_rate_series(EX / "servegen_aggregate_rate_10min_derived.csv", column="nope")
    r = CliRunner().invoke(app, ["trace", "synth", str(EX / "burstgpt_hourly.csv"), "--out",
                                 str(tmp_path / "b.csv")])
    assert r.exit_code == 2 and "--start" in r.output
    assert not (tmp_path / "b.csv").exists()
