"""Trace formats: Qwen/Bailian JSONL, block sizes, timestamp units, prompts beyond context."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.config import PlanOptions
from planner.errors import InputDataError, UsageError
from planner.workload.hitcurve import window_hit_curves
from planner.workload.prepare import load_inputs
from planner.workload.readers import detect_format, read_trace

EX = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def bailian_records():
    """Two sessions in the published Qwen/Bailian schema (qwen_traceA_blksz_16.jsonl): chat 1
    → 3 → 5 (three turns), chat 2 → 4; 16-token blocks, timestamps in seconds."""
    def rec(chat, parent, t, n_in, turn, ids):
        return {"chat_id": chat, "parent_chat_id": parent, "timestamp": t, "input_length": n_in,
                "output_length": 20, "type": "text", "turn": turn, "hash_ids": ids}
    return [rec(1, -1, 0.0, 40, 1, [10, 11, 12]),
            rec(2, -1, 1.5, 20, 1, [20, 21]),
            rec(3, 1, 4.0, 70, 2, [10, 11, 12, 13, 14]),
            rec(4, 2, 6.25, 33, 2, [20, 21, 22]),
            rec(5, 3, 9.0, 100, 3, [10, 11, 12, 13, 14, 15, 16])]


def test_bailian_is_detected_by_its_keys_with_its_blocks_units_and_sessions(tmp_path):
    p = write_jsonl(tmp_path / "qwen.jsonl", bailian_records())
    assert detect_format(p) == "bailian"
    t = read_trace(p)
    assert t.source_format == "bailian" and t.block_tokens == 16 and t.start is None
    np.testing.assert_allclose(t.arrival_s, [0.0, 1.5, 4.0, 6.25, 9.0])
    assert t.session_ids.tolist() == [0, 1, 0, 1, 0]
    assert t.blocks_of(4).tolist() == [10, 11, 12, 13, 14, 15, 16]
    r = runner.invoke(app, ["trace", "inspect", str(p), "--window", "1h"])
    assert r.exit_code == 0, r.output
    assert "bailian" in r.output and "16-token blocks" in r.output


def test_bailian_refuses_more_blocks_than_its_16_token_blocks_allow(tmp_path):
    recs = bailian_records()
    recs[1]["hash_ids"] = [20, 21, 22]          # 20 tokens fill at most two 16-token blocks
    p = write_jsonl(tmp_path / "qwen.jsonl", recs)
    with pytest.raises(InputDataError, match="line 2: 3 hash_ids for 20 input tokens; at most 2 "
                                             "blocks of 16 tokens"):
        read_trace(p)


def aligned_mooncake(tmp_path, n=3000):
    """The first ``n`` requests of the shipped Mooncake trace with every prompt a whole number
    of its 512-token blocks, and the same trace re-blocked into 16-token hash ids (each
    512-token id split into 32)."""
    lines = (EX / "conversation_trace.jsonl").read_text().splitlines()[:n]
    coarse, fine = [], []
    for line in lines:
        r = json.loads(line)
        r["input_length"] = 512 * len(r["hash_ids"])
        coarse.append(r)
        fine.append({**r, "hash_ids": [h * 32 + k for h in r["hash_ids"] for k in range(32)]})
    return (write_jsonl(tmp_path / "coarse.jsonl", coarse),
            write_jsonl(tmp_path / "fine.jsonl", fine))


def test_a_trace_and_its_reblocked_copy_give_identical_hit_curves(tmp_path):
    coarse_path, fine_path = aligned_mooncake(tmp_path)
    coarse = read_trace(coarse_path)
    fine = read_trace(fine_path, block_size=16)
    assert coarse.block_tokens == 512 and fine.block_tokens == 16
    window = (coarse.arrival_s // 600).astype(np.int64)      # 10-minute windows
    caps = np.array([0, 512, 64 * 512, 1000 * 512, 20_000 * 512])
    a = window_hit_curves(coarse, window, int(window.max()) + 1, caps)
    b = window_hit_curves(fine, window, int(window.max()) + 1, caps)
    assert a.token_hit[:, -1].max() > 0.2       # the curves are not trivially zero
    np.testing.assert_array_equal(a.token_hit, b.token_hit)
    np.testing.assert_array_equal(a.request_hit, b.request_hit)


def test_block_size_needs_hash_ids(tmp_path):
    with pytest.raises(UsageError, match="--block-size applies to traces with hash ids"):
        read_trace(EX / "AzureLLMInferenceTrace_conv.csv", block_size=16)


def test_timestamps_implausible_for_the_unit_are_refused(tmp_path):
    # 300 requests 5 ms apart written in seconds, as a Mooncake trace (whose unit is ms): read
    # as milliseconds they would arrive 200,000 a second.
    recs = [{"timestamp": round(0.005 * i, 3), "input_length": 600, "output_length": 5,
             "hash_ids": [i, i + 1]} for i in range(300)]
    p = write_jsonl(tmp_path / "seconds.jsonl", recs)
    with pytest.raises(InputDataError, match=r"timestamps in milliseconds .*req/s on average.*"
                                             r"pass --timestamp-unit"):
        read_trace(p)
    t = read_trace(p, timestamp_unit="s")
    assert t.duration_s == pytest.approx(1.495)
    long = write_jsonl(tmp_path / "long.jsonl", [
        {"timestamp": 0, "input_length": 600, "output_length": 5},
        {"timestamp": 40_000_000, "input_length": 600, "output_length": 5}])
    with pytest.raises(InputDataError, match="longer than a year"):
        read_trace(long, timestamp_unit="s")
    r = runner.invoke(app, ["trace", "inspect", str(p)])
    assert r.exit_code == 3 and "--timestamp-unit" in r.output
    r = runner.invoke(app, ["trace", "inspect", str(EX / "AzureLLMInferenceTrace_conv.csv"),
                            "--timestamp-unit", "s"])
    assert r.exit_code == 2 and "ISO 8601" in r.output


@pytest.fixture
def over_context(tmp_path):
    """400 Azure requests of which 3 have prompts beyond Llama-3-70B's 131,072-token context."""
    lines = (EX / "AzureLLMInferenceTrace_conv.csv").read_text().splitlines()[:401]
    for i in (10, 200, 350):
        ts, _, gen = lines[i].split(",")
        lines[i] = f"{ts},200000,{gen}"
    path = tmp_path / "over.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_drop_over_context_drops_counts_and_says_so(over_context, tmp_path):
    with pytest.raises(InputDataError, match="3 requests are; --drop-over-context drops them"):
        load_inputs(PlanOptions(trace=str(over_context)))
    out = tmp_path / "out"
    r = runner.invoke(app, ["plan", "--trace", str(over_context), "--drop-over-context",
                            "--window", "15min", "--workload-shape", "azure-conv",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "3 of 400 requests" in " ".join(r.output.split())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"]["trace"]["dropped_over_context"] == 3
    assert summary["inputs"]["trace"]["requests"] == 397
    assert summary["scenario"]["drop_over_context"] is True
    r = runner.invoke(app, ["plan", "--trace", str(over_context), "--out", str(out)])
    assert r.exit_code == 3 and "--drop-over-context" in r.output
