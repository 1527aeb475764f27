import numpy as np
import pytest

from planner.errors import UsageError
from planner.perf.iteration import IterationModel, prior_params
from planner.perf.params import load_params
from planner.perf.spec import build_spec


def model(name="llama-3-70b", gpu="h100-sxm", tp=4, precision="bf16"):
    spec = build_spec(name, gpu, tp, "nvme-gen4", precision=precision)
    return IterationModel(spec, load_params().device(gpu))


def test_prefill_grows_with_tokens_and_quadratic_attention():
    m = model()
    p = np.array([128, 512, 2048, 8192, 16384])
    t = m.prefill(1, p).time_s
    assert np.all(np.diff(t) > 0)
    # per-token cost rises with length: attention is quadratic in the prompt
    per_token = t / p
    assert per_token[-1] > per_token[-2]


def test_decode_memory_bound_floor():
    m = model()
    s = m.spec
    # a decode step can never beat streaming the weights once at peak HBM bandwidth
    floor = s.weight_bytes_per_gpu / s.hbm_bytes_per_s
    t = m.decode(np.array([1, 8, 64]), 1024).time_s
    assert np.all(t > floor)
    assert np.all(np.diff(t) >= 0)
    # longer contexts read more KV
    assert m.decode(32, 8192).time_s > m.decode(32, 1024).time_s


def test_cached_prefix_is_cheaper_than_recompute():
    m = model()
    assert m.prefill(1, 8192, 6144).time_s < m.prefill(1, 8192, 0).time_s


def test_fp8_faster_than_bf16_and_a100_has_no_fp8():
    assert model(precision="fp8").prefill(1, 4096).time_s < model().prefill(1, 4096).time_s
    with pytest.raises(UsageError):
        build_spec("llama-3-8b", "a100-80gb", 1, "nvme-gen4", precision="fp8")


def test_spec_validation():
    with pytest.raises(UsageError):
        build_spec("llama-3-70b", "h100-sxm", 3, "nvme-gen4")
    with pytest.raises(UsageError):
        build_spec("no-such-model", "h100-sxm", 1, "nvme-gen4")
    with pytest.raises(UsageError):
        build_spec("llama-3-70b", "h100-sxm", 1, "nvme-gen4").kv_capacity_tokens(8192)


def test_kv_capacity_reasonable():
    s = build_spec("llama-3-8b", "h100-sxm", 1, "nvme-gen4")
    cap = s.kv_capacity_tokens(8192)
    # (0.9 × 80 GB − 16 GB weights − activations) / 128 KiB per token
    assert 300_000 < cap < 450_000


def test_prior_params_roundtrip():
    p = prior_params("h100-sxm", 900)
    assert type(p).from_dict(p.to_dict()) == p
