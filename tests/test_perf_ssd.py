import pytest

from planner.perf.spec import build_spec
from planner.perf.ssd import best_loaded_tokens

# prefill compute of n new tokens after k cached ones: t0 + a n + b n (k + (n + 1)/2) + c (n + k)
T0, A, B, C, LAYERS = 0.01, 1e-4, 1e-9, 1e-8, 80


def compute_s(prompt, k):
    n = prompt - k
    return T0 + A * n + B * n * (k + (n + 1) / 2) + C * (n + k)


def test_fast_tier_loads_every_cached_token_overlapped_with_the_new_ones():
    """T_hit = max(T_load, T_new) + min(T_load, T_new) / L: between the larger and the sum."""
    prompt, cached, per_token = 4096.0, 3072.0, 1e-7
    k, t = best_loaded_tokens(prompt, cached, per_token, T0, A, B, C, LAYERS)
    load, new = cached * per_token, compute_s(prompt, cached)
    assert k == cached
    assert t == pytest.approx(max(load, new) + min(load, new) / LAYERS)
    assert max(load, new) < t < load + new < compute_s(prompt, 0)


def test_slow_tier_loads_up_to_where_loading_meets_computing():
    prompt, cached, per_token = 4096.0, 3072.0, 1e-4
    k, t = best_loaded_tokens(prompt, cached, per_token, T0, A, B, C, LAYERS)
    assert 0 < k < cached
    assert k * per_token == pytest.approx(compute_s(prompt, k), rel=1e-6)
    assert t < compute_s(prompt, 0)
    # a queue wait longer than recomputing everything: nothing is loaded
    k, t = best_loaded_tokens(prompt, cached, per_token, T0, A, B, C, LAYERS, 1.0)
    assert k == 0 and t == pytest.approx(compute_s(prompt, 0))


def test_striped_bandwidth_limited_by_drives_and_pcie():
    s4 = build_spec("llama-3-70b", "h100-sxm", 4, "nvme-gen4")
    assert s4.drives == 4
    assert s4.kv_load_bytes_per_s == pytest.approx(4 * 7.0e9)
    many = build_spec("llama-3-70b", "h100-sxm", 4, "nvme-gen5", drives=32)
    assert many.kv_load_bytes_per_s == pytest.approx(4 * 50e9)   # PCIe bound
    assert s4.kv_bytes_per_token == 327_680
