"""Warm-up hit rates H_t(c′→c) against the replay's capacity-schedule cache, exactly."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from planner.errors import UsageError
from planner.workload.eviction import simulate_cache
from planner.workload.hitcurve import window_hit_curves
from planner.workload.readers import read_trace
from planner.workload.windows import make_windows

from test_hitcurve_exact import make_trace, session_traces

EX = Path(__file__).resolve().parent.parent / "examples"


def replayed_rates(trace, window, n_windows, caps_tokens, prev, cur, t):
    """Token hit rate of window t when the replay's cache runs capacity ``prev`` (tokens) in
    every window before t and ``cur`` from t on: the production replay cache, not a copy."""
    bt = trace.block_tokens
    per_window = np.array([prev // bt] * t + [cur // bt] * (n_windows - t))
    cached = simulate_cache(trace, per_window, request_window=window)
    prompt = np.bincount(window, weights=trace.input_tokens, minlength=n_windows)
    hit = np.bincount(window, weights=cached, minlength=n_windows)
    return hit[t] / prompt[t] if prompt[t] > 0 else 0.0


def check_against_replay(trace, window, n_windows, caps):
    curves = window_hit_curves(trace, window, n_windows, caps, warmup=True)
    g = curves.grown_token_hit
    for t in range(1, n_windows):
        for i, prev in enumerate(caps):
            for j, cur in enumerate(caps):
                assert g[t, i, j] == replayed_rates(trace, window, n_windows, caps, prev, cur,
                                                    t), (t, prev, cur)
    return curves


@st.composite
def sorted_random_traces(draw):
    """Arbitrary block lists (repeats inside a request, partial blocks), windows in time order
    as the planner's windows are."""
    n = draw(st.integers(1, 40))
    alphabet = draw(st.integers(1, 30))
    bt = draw(st.sampled_from([1, 4, 16]))
    blocks = draw(st.lists(st.lists(st.integers(0, alphabet - 1), min_size=0, max_size=8),
                           min_size=n, max_size=n))
    inputs = draw(st.lists(st.integers(1, 10 * bt), min_size=n, max_size=n))
    n_windows = draw(st.integers(1, 4))
    window = np.sort(draw(st.lists(st.integers(0, n_windows - 1), min_size=n, max_size=n)))
    caps = draw(st.lists(st.integers(0, 40 * bt), min_size=1, max_size=4, unique=True))
    return make_trace(blocks, inputs, bt), window, n_windows, caps


@settings(max_examples=120, deadline=None)
@given(sorted_random_traces())
def test_grown_equals_replay_on_random_traces(case):
    check_against_replay(*case)


@settings(max_examples=120, deadline=None)
@given(session_traces())
def test_grown_equals_replay_on_session_traces(case):
    trace, window, n_windows, caps = case
    check_against_replay(trace, window, n_windows, sorted(set(caps)))


@settings(max_examples=60, deadline=None)
@given(session_traces())
def test_warm_part_is_the_stack_curve_and_shrinks_are_warm(case):
    trace, window, n_windows, caps = case
    warm = window_hit_curves(trace, window, n_windows, caps)
    both = window_hit_curves(trace, window, n_windows, caps, warmup=True)
    assert np.array_equal(both.token_hit, warm.token_hit)
    assert np.array_equal(both.request_hit, warm.request_hit)
    c = np.asarray(caps)
    g = both.grown_token_hit
    for i in range(len(c)):
        for j in range(len(c)):
            if c[i] // 16 >= c[j] // 16:   # shrink (or equal): LRU inclusion keeps LRU(c)
                assert np.array_equal(g[:, i, j], warm.token_hit[:, j])
            else:                          # grow: never above warm, monotone in c′
                assert np.all(g[:, i, j] <= warm.token_hit[:, j])
    order = np.argsort(c, kind="stable")
    assert np.all(np.diff(g[:, order, :], axis=1) >= 0)


def test_hand_computed_grow():
    # Window 0 references blocks 1, 2 (one request) then 3. Window 1 asks 1,2 twice.
    trace = make_trace([[1, 2], [3], [1, 2], [1, 2]], [2, 1, 2, 2], block_tokens=1)
    window = np.array([0, 0, 1, 1])
    caps = [0, 1, 3]
    g = window_hit_curves(trace, window, 2, caps, warmup=True).grown_token_hit
    # Warm at 3 blocks: both requests of window 1 hit fully (4 of 4 tokens).
    assert g[1, 2, 2] == 1.0
    # Grown 1 → 3: only block 3 was cached; the first request misses, the second hits all.
    assert g[1, 1, 2] == 0.5
    # Grown 0 → 3: empty at the start; the same.
    assert g[1, 0, 2] == 0.5
    # Shrunk 3 → 1: LRU(1) holds block 3, so the first request misses; it leaves block 1 (its
    # blocks are referenced last to first), on which the second hits: 1 of 4 tokens.
    assert g[1, 2, 1] == 0.25


def test_shipped_mooncake_grows_equal_replay():
    trace = read_trace(EX / "conversation_trace.jsonl").with_start(
        pd.Timestamp("2024-01-01", tz="UTC"))
    wins = make_windows(trace, pd.Timedelta("15min"))
    caps = [0, 512 * 2000, 512 * 20000, 512 * 150000]
    curves = window_hit_curves(trace, wins.request_window, wins.n, caps, warmup=True)
    g = curves.grown_token_hit
    for t, i, j in ((1, 0, 3), (2, 1, 2), (3, 2, 3), (2, 3, 1)):
        assert g[t, i, j] == replayed_rates(trace, wins.request_window, wins.n, caps, caps[i],
                                            caps[j], t)
    # A cold start costs this trace hits (golden direction, not value: the trace reuses a lot).
    assert g[1, 0, 3] < curves.token_hit[1, 3]


def test_sampled_warmup_is_refused():
    trace = make_trace([[1, 2]], [2], block_tokens=1)
    with pytest.raises(UsageError):
        window_hit_curves(trace, np.zeros(1, dtype=int), 1, [1], warmup=True, sample_rate=0.5)


def test_lcs_grown_is_the_lcs_curve_less_the_lru_deficit():
    from test_eviction import lcs_params

    trace = read_trace(EX / "conversation_trace.jsonl")
    window = (trace.arrival_s // 900).astype(int)
    n = int(window.max()) + 1
    caps = [0, 512 * 2000, 512 * 40000]
    params = lcs_params(np.full(n, 56.0), kv=327_680, embodied=0.46, joules=0.35)
    lcs = window_hit_curves(trace, window, n, caps, policy="lcs", lcs=params, warmup=True)
    lru = window_hit_curves(trace, window, n, caps, warmup=True)
    want = np.clip(lcs.token_hit[:, None, :] - (lru.token_hit[:, None, :]
                                                - lru.grown_token_hit), 0, 1)
    assert np.allclose(lcs.grown_token_hit, want, rtol=0, atol=1e-12)
    assert any("modelled" in note and "LCS" in note for note in lcs.notes)
    # The deficit is real on this trace: a cold 40k-block cache loses hits in window 1.
    assert lcs.grown_token_hit[1, 0, 2] < lcs.token_hit[1, 2]


@settings(max_examples=150, deadline=None)
@given(sorted_random_traces(), st.integers(0, 6))
def test_trees_kept_small_give_the_same_histograms(case, slots):
    """The pass forgets blocks deeper than every capacity when its trees fill (``slots`` at
    its least, it does so at almost every window start): nothing it counts changes."""
    from planner.workload.stackdist import dense_codes
    from planner.workload.warmup import warmup_histograms

    trace, window, n_windows, caps = case
    thresholds = np.unique(np.asarray(caps) // trace.block_tokens).astype(float)
    ids, n_unique = dense_codes(trace.block_ids)
    args = (trace.block_offsets, ids, n_unique, trace.input_tokens, window, n_windows,
            trace.block_tokens, thresholds)
    whole, small = warmup_histograms(*args), warmup_histograms(*args, slots=slots)
    for name in ("token_hits", "request_hits", "warm_token_hits", "warm_request_hits"):
        np.testing.assert_array_equal(getattr(small, name), getattr(whole, name), err_msg=name)
