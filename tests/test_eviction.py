"""LRU and LCS simulations against plain Python references, and against the stack curves."""

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from planner.errors import InputDataError, UsageError
from planner.workload.eviction import LcsParams, simulate_cache
from planner.workload.hitcurve import window_hit_curves
from planner.workload.readers import read_trace

from test_hitcurve_exact import make_trace

EX = Path(__file__).resolve().parent.parent / "examples"


def served(n_in, j, bt):
    return min(j * bt, n_in)


def ref_lru(trace, caps):
    cache: OrderedDict[int, None] = OrderedDict()
    out = []
    for i in range(len(trace)):
        cap = int(caps[i])
        while len(cache) > cap:
            cache.popitem(last=False)
        blocks = [int(b) for b in trace.blocks_of(i)]
        j = 0
        while j < len(blocks) and blocks[j] in cache:
            j += 1
        out.append(served(int(trace.input_tokens[i]), j, trace.block_tokens))
        if cap == 0:
            continue
        for b in reversed(blocks):
            if b in cache:
                cache.move_to_end(b)
            else:
                cache[b] = None
                if len(cache) > cap:
                    cache.popitem(last=False)
    return np.array(out)


def ref_lcs(trace, caps, saving_per_token, holding_per_s):
    """Evict the block with the least net saving S - k·(now - t_last), by a linear scan."""
    inv_k = 1.0 / holding_per_s
    cache: dict[int, list] = {}  # block -> [saved, last_use, seq]
    counter = 0
    out = []

    def evict():
        victim = min(cache, key=lambda b: (cache[b][1] + cache[b][0] * inv_k, cache[b][2]))
        del cache[victim]

    for i in range(len(trace)):
        cap, now = int(caps[i]), float(trace.arrival_s[i])
        while len(cache) > cap:
            evict()
        blocks = [int(b) for b in trace.blocks_of(i)]
        n_in = int(trace.input_tokens[i])
        j = 0
        while j < len(blocks) and blocks[j] in cache:
            tok = min(trace.block_tokens, max(0, n_in - j * trace.block_tokens))
            cache[blocks[j]][0] += tok * saving_per_token[i]
            j += 1
        out.append(served(n_in, j, trace.block_tokens))
        if cap == 0:
            continue
        for b in reversed(blocks):
            counter += 1
            if b in cache:
                cache[b][1], cache[b][2] = now, counter
            else:
                cache[b] = [0.0, now, counter]
            while len(cache) > cap:
                evict()
    return np.array(out)


@st.composite
def traces_with_schedules(draw):
    n = draw(st.integers(1, 50))
    alphabet = draw(st.integers(1, 25))
    blocks = draw(st.lists(st.lists(st.integers(0, alphabet - 1), max_size=6),
                           min_size=n, max_size=n))
    inputs = draw(st.lists(st.integers(1, 100), min_size=n, max_size=n))
    gaps = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 7.0, 60.0]), min_size=n, max_size=n))
    caps = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    ci = draw(st.lists(st.floats(0, 800), min_size=n, max_size=n))
    trace = make_trace(blocks, inputs, 16, arrivals=np.cumsum(gaps))
    return trace, np.array(caps), np.array(ci)


def lcs_params(ci, kv=1e5, embodied=0.5, joules=0.3):
    return LcsParams(kv_bytes_per_token=kv, ssd_embodied_g_per_gb_h=embodied,
                     prefill_j_per_token=joules, pue=1.2, ci_g_per_kwh=ci)


@settings(max_examples=200, deadline=None)
@given(traces_with_schedules())
def test_lru_schedule_matches_reference(case):
    trace, caps, _ = case
    assert np.array_equal(simulate_cache(trace, caps, policy="lru"), ref_lru(trace, caps))


@settings(max_examples=200, deadline=None)
@given(traces_with_schedules(), st.sampled_from([1e2, 1e5, 1e9]))
def test_lcs_schedule_matches_reference(case, kv):
    trace, caps, ci = case
    # One window per request, so the carbon intensity changes request by request.
    window = np.arange(len(trace))
    params = lcs_params(ci, kv=kv)
    got = simulate_cache(trace, caps, request_window=window, policy="lcs", lcs=params)
    saving = params.saving_g_per_token(window, len(trace))
    want = ref_lcs(trace, caps, saving, params.holding_g_per_block_s(trace.block_tokens))
    assert np.array_equal(got, want)


def test_constant_lru_matches_the_stack_curves():
    trace = read_trace(EX / "conversation_trace.jsonl")
    window = (trace.arrival_s // 900).astype(int)
    caps_tokens = [0, 512 * 500, 512 * 20_000, 512 * 90_000]
    curves = window_hit_curves(trace, window, window.max() + 1, caps_tokens)
    for c, cap in enumerate(caps_tokens):
        hits = simulate_cache(trace, cap // 512)
        per_window = np.bincount(window, weights=hits) / np.bincount(window,
                                                                     weights=trace.input_tokens)
        assert np.array_equal(per_window, curves.token_hit[:, c])


def test_lru_curve_via_simulation_equals_stack_pass():
    from planner.workload.eviction import policy_window_hits

    trace = read_trace(EX / "conversation_trace.jsonl")
    window = (trace.arrival_s // 900).astype(int)
    caps = np.array([0.0, 300.0, 5000.0, 60000.0])
    tok, req = policy_window_hits(trace, window, window.max() + 1, caps, "lru")
    curves = window_hit_curves(trace, window, window.max() + 1, (caps * 512).astype(int))
    prompt = np.bincount(window, weights=trace.input_tokens)
    assert np.array_equal(tok / prompt[:, None], curves.token_hit)


def test_grown_cache_starts_empty_and_shrunk_cache_evicts():
    # The same two-block prompt four times; capacity 2, then 0 (flush), then 2 again.
    trace = make_trace([[1, 2]] * 4, [1024] * 4)
    hits = simulate_cache(trace, [2, 2, 0, 2], policy="lru")
    assert hits.tolist() == [0, 1024, 0, 0]
    # Per window: window 1 shrinks to one block, the parent (block 1) survives under LRU.
    trace = make_trace([[1, 2], [1, 2], [1, 2]], [1024] * 3)
    hits = simulate_cache(trace, [2, 1], request_window=np.array([0, 1, 1]))
    assert hits.tolist() == [0, 512, 512]


def test_lcs_keeps_the_block_that_paid_for_itself():
    # Block 1 is hit twice; block 2 never. A one-block cache under LCS keeps block 1 although
    # block 2 is more recent; LRU keeps block 2.
    trace = make_trace([[1], [1], [2], [1]], [512] * 4, arrivals=[0, 1, 2, 3])
    params = lcs_params(300.0)
    assert simulate_cache(trace, 1, policy="lru").tolist() == [0, 512, 0, 0]
    assert simulate_cache(trace, 1, policy="lcs", lcs=params).tolist() == [0, 512, 0, 512]


def test_lcs_forgets_savings_once_idle_storage_has_cost_as_much():
    # With holding this expensive, one hit pays for well under one second of storage, so after
    # the 100 s pause the newer block wins, as under LRU.
    trace = make_trace([[1], [1], [2], [1]], [512] * 4, arrivals=[0, 1, 101, 102])
    params = lcs_params(300.0, kv=1e12, embodied=1e3)
    assert params.break_even_hours(512, 300.0) * 3600 < 1
    assert simulate_cache(trace, 1, policy="lcs", lcs=params).tolist() == [0, 512, 0, 0]


def test_lcs_curves_and_labels():
    trace = read_trace(EX / "conversation_trace.jsonl")
    window = (trace.arrival_s // 900).astype(int)
    n = window.max() + 1
    caps = [0, 512 * 2000, 512 * 40000]
    params = lcs_params(np.full(n, 56.0), kv=327_680, embodied=0.46, joules=0.35)
    curves = window_hit_curves(trace, window, n, caps, policy="lcs", lcs=params)
    assert curves.source == "trace-lcs" and not curves.modelled
    assert np.all(curves.token_hit[:, 0] == 0)
    assert np.all((curves.token_hit >= 0) & (curves.token_hit <= 1))
    mini = window_hit_curves(trace, window, n, caps, policy="lcs", lcs=params, sample_rate=0.1)
    assert mini.source == "trace-lcs-shards-10%"
    assert np.abs(mini.token_hit - curves.token_hit).mean() < 0.02


def test_errors():
    trace = make_trace([[1]], [10])
    with pytest.raises(UsageError, match="LcsParams"):
        simulate_cache(trace, 1, policy="lcs")
    with pytest.raises(UsageError, match="policy"):
        simulate_cache(trace, 1, policy="mru")
    with pytest.raises(UsageError, match="one capacity per request"):
        simulate_cache(trace, [1, 2, 3])
    with pytest.raises(InputDataError, match="positive"):
        lcs_params(50.0, joules=0.0)
    with pytest.raises(InputDataError, match="carbon intensity"):
        lcs_params(-5.0)
    with pytest.raises(UsageError, match="windows"):
        simulate_cache(trace, [1], request_window=np.array([3]))
