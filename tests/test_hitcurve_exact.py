"""The exact stack-distance curves must equal the plain LRU simulation, bit for bit."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from planner.errors import InputDataError, UsageError
from planner.workload.hitcurve import simulate_lru_prefix, window_hit_curves
from planner.workload.readers import read_trace
from planner.workload.trace import PREFIX_FROM_TRACE, Trace
from planner.workload.windows import make_windows

EX = Path(__file__).resolve().parent.parent / "examples"


def make_trace(blocks: list[list[int]], inputs: list[int], block_tokens: int = 512,
               arrivals=None) -> Trace:
    n = len(blocks)
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blocks])
    ids = np.array([x for b in blocks for x in b], dtype=np.int64)
    arrival = np.arange(n, dtype=float) if arrivals is None else np.asarray(arrivals, float)
    return Trace(arrival_s=arrival, input_tokens=np.asarray(inputs, dtype=np.int64),
                 output_tokens=np.ones(n, dtype=np.int64), start=None, name="t",
                 source_format="generic", block_offsets=offsets, block_ids=ids,
                 block_tokens=block_tokens, prefix_source=PREFIX_FROM_TRACE)


@st.composite
def random_traces(draw):
    """Arbitrary block lists (not prefix-consistent, repeats inside a request allowed)."""
    n = draw(st.integers(1, 40))
    alphabet = draw(st.integers(1, 30))
    bt = draw(st.sampled_from([1, 4, 16, 512]))
    blocks = draw(st.lists(st.lists(st.integers(0, alphabet - 1), min_size=0, max_size=8),
                           min_size=n, max_size=n))
    inputs = draw(st.lists(st.integers(1, 10 * bt), min_size=n, max_size=n))
    n_windows = draw(st.integers(1, 4))
    window = draw(st.lists(st.integers(-1, n_windows - 1), min_size=n, max_size=n))
    caps = draw(st.lists(st.integers(0, 40 * bt), min_size=1, max_size=6))
    return make_trace(blocks, inputs, bt), np.array(window), n_windows, caps


@st.composite
def session_traces(draw):
    """Prefix-consistent traces: turns extend an earlier prompt, some share a system block."""
    n = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    prompts: list[list[int]] = []
    next_id = 10
    for _ in range(n):
        if prompts and rng.random() < 0.5:
            parent = prompts[rng.integers(len(prompts))]
            keep = parent[: rng.integers(0, len(parent) + 1)]
        else:
            keep = [int(rng.integers(0, 3))] if rng.random() < 0.5 else []
        new = list(range(next_id, next_id + int(rng.integers(0, 5))))
        next_id += len(new)
        prompts.append(keep + new)
    inputs = [max(1, 16 * len(p) - int(rng.integers(0, 16))) for p in prompts]
    caps = draw(st.lists(st.integers(0, 50 * 16), min_size=1, max_size=5))
    windows = np.minimum(np.arange(n) // 7, 3)
    return make_trace(prompts, inputs, 16), windows, int(windows.max()) + 1, caps


@settings(max_examples=200, deadline=None)
@given(random_traces())
def test_exact_equals_reference_on_random_traces(case):
    trace, window, n_windows, caps = case
    fast = window_hit_curves(trace, window, n_windows, caps)
    ref = simulate_lru_prefix(trace, window, n_windows, caps)
    assert np.array_equal(fast.token_hit, ref.token_hit)
    assert np.array_equal(fast.request_hit, ref.request_hit)
    assert np.array_equal(fast.capacities_tokens, ref.capacities_tokens)


@settings(max_examples=200, deadline=None)
@given(session_traces())
def test_exact_equals_reference_on_session_traces(case):
    trace, window, n_windows, caps = case
    fast = window_hit_curves(trace, window, n_windows, caps)
    ref = simulate_lru_prefix(trace, window, n_windows, caps)
    assert np.array_equal(fast.token_hit, ref.token_hit)
    assert np.array_equal(fast.request_hit, ref.request_hit)


def test_hand_computed_example():
    # Request 2 repeats request 0's prompt; request 1 pushes one unrelated block between them.
    trace = make_trace([[1, 2], [3], [1, 2]], [1024, 300, 1000])
    window = np.array([0, 0, 1])
    curves = window_hit_curves(trace, window, 2, [0, 512, 1024, 1536, 4096])
    # Before request 2 the LRU stack is 3, 1, 2: block 1 at depth 2, block 2 at depth 3.
    assert curves.token_hit[1].tolist() == [0.0, 0.0, 512 / 1000, 1.0, 1.0]
    assert curves.request_hit[1].tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert curves.token_hit[0].tolist() == [0.0] * 5


def test_shipped_mooncake_matches_reference():
    trace = read_trace(EX / "conversation_trace.jsonl").with_start(
        pd.Timestamp("2024-01-01", tz="UTC"))
    wins = make_windows(trace, pd.Timedelta("15min"))
    caps = [0, 512, 512 * 1000, 512 * 20000, 512 * 150000]
    fast = window_hit_curves(trace, wins.request_window, wins.n, caps)
    ref = simulate_lru_prefix(trace, wins.request_window, wins.n, caps)
    assert np.array_equal(fast.token_hit, ref.token_hit)
    assert np.array_equal(fast.request_hit, ref.request_hit)
    assert fast.source == "trace-lru-exact" and not fast.modelled
    # A larger LRU cache never hits less (inclusion), and this trace reuses a lot.
    assert np.all(np.diff(fast.token_hit, axis=1) >= 0)
    assert fast.token_hit[-1, -1] > 0.3


def test_progress_reports_every_reference():
    trace = make_trace([[1, 2, 3]] * 50, [1536] * 50)
    seen = []
    window_hit_curves(trace, np.zeros(50, dtype=int), 1, [1024],
                      progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (150, 150)


def test_errors():
    trace = make_trace([[1]], [10])
    bare = Trace(arrival_s=np.zeros(1), input_tokens=np.ones(1, dtype=np.int64),
                 output_tokens=np.ones(1, dtype=np.int64), start=None, name="azure.csv",
                 source_format="azure")
    with pytest.raises(InputDataError, match="no prefix blocks"):
        window_hit_curves(bare, np.zeros(1, dtype=int), 1, [512])
    with pytest.raises(UsageError, match="policy"):
        window_hit_curves(trace, np.zeros(1, dtype=int), 1, [512], policy="fifo")
    with pytest.raises(UsageError, match="capacities"):
        window_hit_curves(trace, np.zeros(1, dtype=int), 1, [-5])
    with pytest.raises(InputDataError, match="window list is empty"):
        window_hit_curves(trace, np.zeros(1, dtype=int), 0, [512])
