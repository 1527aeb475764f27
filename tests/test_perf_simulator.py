"""The replica simulator: determinism, conservation, physical behaviour, input validation."""

import numpy as np
import pytest

from planner.errors import InputDataError
from planner.perf.iteration import IterationModel
from planner.perf.params import load_params
from planner.perf.replay import replay_replica
from planner.perf.simulator import replica_costs, simulate
from planner.perf.spec import build_spec

PARAMS = load_params()


def costs(model="llama-3-8b", gpu="h100-sxm", tp=1, ssd="nvme-gen4", drives=None, **kw):
    spec = build_spec(model, gpu, tp, ssd, drives)
    return replica_costs(IterationModel(spec, PARAMS.device(gpu)), PARAMS.power, **kw), spec


def stream(n=600, rate=5.0, mean_in=1024, mean_out=128, hit=0.0, seed=3):
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1 / rate, n))
    pr = np.maximum(1, np.rint(mean_in * np.exp(0.9 * rng.standard_normal(n) - 0.4))).astype(int)
    pr = np.minimum(pr, 30000)
    out = np.maximum(1, np.rint(mean_out * np.exp(0.9 * rng.standard_normal(n) - 0.4))).astype(int)
    return arr, pr, np.floor(hit * pr).astype(int), out


def test_deterministic():
    c, _ = costs()
    s = stream()
    a, _, _ = simulate(c, *s)
    b, _, _ = simulate(c, *s)
    assert np.array_equal(a.ttft_s, b.ttft_s) and np.array_equal(a.tpot_s, b.tpot_s, equal_nan=True)
    assert a.gpu_energy_j == b.gpu_energy_j and a.ssd_write_bytes == b.ssd_write_bytes


def test_lone_request_matches_iteration_model():
    c, spec = costs()
    m = IterationModel(spec, PARAMS.device("h100-sxm"))
    run, _, _ = simulate(c, [0.0], [2000], [0], [11])
    # one prefill iteration (2000 tokens fit the 8192-token budget) emits the first token
    expect = float(m.prefill(1, 2000).time_s)
    assert run.ttft_s[0] == pytest.approx(expect, rel=1e-9)
    # then 10 decode steps at contexts 2001..2010
    steps = sum(float(m.decode(1, 2000 + k).time_s) for k in range(1, 11))
    assert run.tpot_s[0] == pytest.approx(steps / 10, rel=1e-9)


def test_energy_conservation():
    c, spec = costs()
    run, _, _ = simulate(c, *stream())
    idle = run.span_s - run.busy_s
    busy_energy = run.gpu_energy_j - spec.loaded_idle_w * idle
    # every busy second draws between loaded-idle and TDP
    assert spec.loaded_idle_w * run.busy_s <= busy_energy <= spec.tdp_w * run.busy_s
    assert 0 < run.busy_s <= run.span_s
    assert spec.loaded_idle_w < run.mean_gpu_power_w < spec.tdp_w


def test_latency_grows_with_load():
    c, _ = costs()
    p = [simulate(c, *stream(rate=r))[0].percentiles() for r in (1.0, 6.0, 12.0)]
    ttft = [x["ttft_s"][1] for x in p]
    tpot = [x["tpot_s"][1] for x in p]
    assert ttft[0] <= ttft[1] <= ttft[2] and tpot[0] <= tpot[1] <= tpot[2]


def test_hits_on_a_fast_tier_cut_ttft_and_read_bytes():
    c, spec = costs(ssd="nvme-gen5", drives=4)
    cold, _, _ = simulate(c, *stream(hit=0.0))
    warm, _, _ = simulate(c, *stream(hit=0.8))
    assert np.percentile(warm.ttft_s, 90) < np.percentile(cold.ttft_s, 90)
    assert cold.ssd_read_bytes == 0 and warm.ssd_read_bytes > 0
    # every loaded token moved kv_bytes_per_token bytes; admissions write the uncached rest
    assert warm.ssd_read_bytes == pytest.approx(warm.loaded_tokens.sum() * spec.kv_bytes_per_token)
    assert warm.ssd_write_bytes < cold.ssd_write_bytes


def test_no_drives_means_recompute():
    c, _ = costs(drives=0)
    run, _, _ = simulate(c, *stream(hit=0.9))
    assert run.ssd_read_bytes == 0 and run.ssd_write_bytes == 0


def test_slow_tier_recomputes_rather_than_waits():
    # 70B on 8 GPUs with one Gen4 drive: loading a long prefix is slower than recomputing it
    c, spec = costs("llama-3-70b", "h100-sxm", 8, "nvme-gen4", drives=1)
    s = stream(n=200, rate=0.5, mean_in=8000, hit=1.0)
    run, _, _ = simulate(c, *s)
    assert np.all(run.loaded_tokens < s[2])


@pytest.mark.parametrize("bad", [
    dict(arrival=[1.0, 0.5]), dict(prompt=[0, 10]), dict(cached=[20, 0]), dict(output=[1, -1]),
    dict(arrival=[0.0, np.nan])])
def test_input_validation(bad):
    c, _ = costs()
    a = dict(arrival=[0.0, 1.0], prompt=[10, 10], cached=[0, 0], output=[5, 5])
    a.update(bad)
    with pytest.raises(InputDataError):
        simulate(c, a["arrival"], a["prompt"], a["cached"], a["output"])


def test_replay_public_call():
    arr, pr, ca, out = stream(n=300, rate=2.0, hit=0.5)
    run = replay_replica(arr, pr, ca, out, model="llama-3-70b", gpu="h100-sxm", tp=4,
                         ssd="nvme-gen4")
    assert run.ttft_s.shape == (300,) and np.all(run.ttft_s > 0)
    assert run.tp == 4 and run.gpu_energy_j > 0 and run.ssd_read_bytes > 0
    again = replay_replica(arr, pr, ca, out, model="llama-3-70b", gpu="h100-sxm", tp=4,
                           ssd="nvme-gen4")
    assert np.array_equal(run.finish_s, again.finish_s)


@pytest.mark.parametrize("prompt,cached,out,ssd,drives", [
    (2000, 0, 11, "nvme-gen4", None), (20000, 0, 3, "nvme-gen4", None),
    (9000, 8000, 40, "nvme-gen4", None), (9000, 8000, 40, "nvme-gen5", 8),
    (300, 299, 1, "nvme-gen4", None)])
def test_lone_closed_form_matches_simulator(prompt, cached, out, ssd, drives):
    from planner.perf.simulator import _lone

    c, _ = costs(ssd=ssd, drives=drives)
    run, _, _ = simulate(c, [0.0], [prompt], [cached], [out])
    ttft, tpot = _lone(prompt, cached, out, c.base_t, c.lm_t, c.scalars, c.token_budget)
    assert ttft == pytest.approx(run.ttft_s[0], rel=1e-12)
    if out > 1:
        assert tpot == pytest.approx(run.tpot_s[0], rel=1e-9)
    else:
        assert np.isnan(tpot) and np.isnan(run.tpot_s[0])
