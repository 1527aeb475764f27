"""The one workload-preparation path: a plan and its replay see the same workload."""

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.config import PlanOptions
from planner.choices import POLICIES as EVICTION_POLICIES
from planner.grid import load_grid, window_intensity
from planner.workload.prepare import default_start, load_inputs, place_trace, prepare_replay
from planner.workload.readers import read_trace

EX = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def small_azure(tmp_path_factory):
    """The first 1,500 requests of the Azure conversation trace (no prefixes recorded, so both
    sides synthesise them)."""
    lines = (EX / "AzureLLMInferenceTrace_conv.csv").read_text().splitlines()[:1501]
    path = tmp_path_factory.mktemp("prepare") / "conv_small.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("policy", EVICTION_POLICIES)
def test_plan_and_replay_see_the_same_prefixes_and_eviction_parameters(small_azure, policy):
    opt = PlanOptions(trace=str(small_azure), eviction=policy, window="15min",
                      cache_levels_tb=(0.0, 0.5), workload_shape="azure-conv")
    plan = load_inputs(opt)
    setup = prepare_replay(opt)
    a, b = plan.trace, setup.trace
    assert a.prefix_source == b.prefix_source == "modelled"
    np.testing.assert_array_equal(a.block_offsets, b.block_offsets)
    np.testing.assert_array_equal(a.block_ids, b.block_ids)
    np.testing.assert_array_equal(a.session_ids, b.session_ids)
    assert a.start == b.start
    # The replay's carbon intensity comes from the schedule's windows, which are the plan's.
    st = plan.windowing.stats
    ci = window_intensity(setup.series, pd.DatetimeIndex(st["window_start"]),
                          pd.DatetimeIndex(st["window_end"])).values
    replayed = setup.eviction(ci)
    if policy == "lru":
        assert plan.eviction is None and replayed is None
        return
    for f in fields(plan.eviction):
        np.testing.assert_allclose(np.asarray(getattr(plan.eviction, f.name), dtype=float),
                                   np.asarray(getattr(replayed, f.name), dtype=float),
                                   rtol=1e-12, err_msg=f.name)


def test_relative_traces_are_placed_at_the_grids_last_year_everywhere():
    trace = read_trace(EX / "conversation_trace.jsonl")
    series = load_grid("FR")
    placed = place_trace(trace, None, series)
    assert placed.start == pd.Timestamp(f"{series.years[-1]}-01-01T00:00Z")
    assert placed.start == default_start(series)
    from typer.testing import CliRunner

    from planner.cli import app

    r = CliRunner().invoke(app, ["trace", "inspect", str(EX / "conversation_trace.jsonl"),
                                 "--window", "1h"])
    assert r.exit_code == 0, r.output
    assert f"{series.years[-1]}-01-01 00:00:00 →" in r.output


@pytest.mark.parametrize("policy", EVICTION_POLICIES)
def test_a_plan_that_lets_go_of_the_blocks_has_the_same_inputs(small_azure, policy):
    """``keep_blocks=False`` (the plan command) numbers the blocks densely and drops them after
    the curves: curves, windows and bursts are those of the inputs that keep them."""
    opt = PlanOptions(trace=str(small_azure), eviction=policy, window="15min",
                      cache_levels_tb=(0.0, 0.5, 1.0), workload_shape="azure-conv")
    kept, lean = load_inputs(opt), load_inputs(opt, keep_blocks=False)
    assert lean.trace.block_ids is None and lean.trace.session_ids is None
    assert lean.trace.prefix_source == kept.trace.prefix_source == "modelled"
    for name in ("token_hit", "request_hit", "grown_token_hit", "grown_request_hit"):
        np.testing.assert_array_equal(getattr(lean.hits, name), getattr(kept.hits, name))
    pd.testing.assert_frame_equal(lean.windowing.stats, kept.windowing.stats)
    np.testing.assert_array_equal(lean.buckets.rate_rps, kept.buckets.rate_rps)
    np.testing.assert_array_equal(lean.buckets.request_share, kept.buckets.request_share)
