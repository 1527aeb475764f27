"""Windows colder than their trace once warm: the warm share per window and its reading.

A cache still warming serves a request's reusable prefix whole or not at all; the planner
reads such a window's TTFT as two groups of requests (planner/perf/mixture.py lookup_buckets,
planner/workload/prepare.py warm_shares)."""

import base64
import json

import numpy as np
import pandas as pd
import pytest

import synthetic_profile
from even_trace import write_even_trace
from planner.catalog import load_catalog, resolve
from planner.errors import InputDataError
from planner.optimize.candidates import build_candidates
from planner.perf.mixture import Z90
from planner.perf.profile import read_profile
from planner.window_inputs import read as read_window_inputs, to_json
from planner.workload.hitcurve import HitCurves
from planner.workload.prepare import warm_shares
from planner.workload.trace import PREFIX_FROM_TRACE, Trace
from planner.workload.windows import LoadBuckets, Windowing

LEVELS_GB = np.array([0.0, 1000.0, 4000.0])


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    d = tmp_path_factory.mktemp("profiles")
    synthetic_profile.write(d)
    return read_profile(next(d.glob("*.csv")))


def one_window(rate, hits=(0.0, 0.3, 0.5), warm=None, requests=3600):
    stats = pd.DataFrame({"hours": [1.0], "requests": [requests], "rate_rps": [rate],
                          "mean_input_tokens": [10000.0], "mean_output_tokens": [100.0]})
    stats["prompt_tokens"] = stats.requests * stats.mean_input_tokens
    stats["output_tokens"] = stats.requests * stats.mean_output_tokens
    hit = np.array([hits])
    return stats, HitCurves(LEVELS_GB.astype(np.int64), hit, hit, "test", modelled=True,
                            warm_share=None if warm is None else np.array([warm]))


def candidates(profile, stats, curves, buckets, slo_ttft=3.0, slo_tpot=0.0024):
    hw = resolve(load_catalog(), "h100-sxm", 4, "nvme-gen4")
    return build_candidates(stats, curves, np.array([50.0]), profile, hw, LEVELS_GB, 8,
                            slo_ttft, slo_tpot, prune=False, buckets=buckets).frame


def _quantile(p50, p90, p99, z):
    """The three-percentile quantile function share_below inverts (its docstring)."""
    l50, l90, l99 = np.log(p50), np.log(p90), np.log(p99)
    z99 = 2.3263478740408408
    return np.exp(np.where(z <= Z90, l50 + z * (l90 - l50) / Z90,
                           l90 + (z - Z90) * (l99 - l90) / (z99 - Z90)))


# ------------------------------------------------------------------ the warm share

def make_trace(blocks, inputs, arrivals, block_tokens=512) -> Trace:
    offsets = np.zeros(len(blocks) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blocks])
    return Trace(arrival_s=np.asarray(arrivals, float),
                 input_tokens=np.asarray(inputs, dtype=np.int64),
                 output_tokens=np.ones(len(blocks), dtype=np.int64), start=None, name="t",
                 source_format="generic", block_offsets=offsets,
                 block_ids=np.array([x for b in blocks for x in b], dtype=np.int64),
                 block_tokens=block_tokens, prefix_source=PREFIX_FROM_TRACE)


def test_warm_share_is_the_windows_reusable_share_over_the_traces_warm_one():
    # Window 0: two first-seen prompts (nothing reusable). Window 1: the first prompt again
    # (its 2 blocks, 1,024 tokens, all reusable) and a new one of 1,024 tokens: half of the
    # window's prompt tokens are reusable. Window 2: the first prompt's prefix (1 block) plus a
    # new block, and the second prompt whole: 512 + 1,024 of 2,048 tokens reusable, more
    # than the trace's warm share below (at most 1).
    tr = make_trace([[1, 2], [3, 4], [1, 2], [5, 6], [1, 7], [3, 4]],
                    [1024, 1024, 1024, 1024, 1024, 1024], [0, 1, 2, 3, 4, 5])
    w = Windowing(pd.DataFrame({"requests": [2, 2, 2]}), np.array([0, 0, 1, 1, 2, 2]),
                  pd.Timedelta("2s"))
    np.testing.assert_allclose(warm_shares(tr, w, 0.7), [0.0, 0.5 / 0.7, 1.0])
    np.testing.assert_allclose(warm_shares(tr, w, 0.8), [0.0, 0.5 / 0.8, 0.75 / 0.8])
    # a trace that never reuses once warm has no colder windows
    np.testing.assert_allclose(warm_shares(tr, w, 0.0), [1.0, 1.0, 1.0])


# ------------------------------------------------------------------ the reading

def test_cold_windows_tail_against_sampling_both_groups(profile):
    """The production candidates of a window with warm share φ against a direct computation:
    each request draws its load bucket by request share and whether it reuses (probability
    φ: hit rate h / φ, else 0), its TTFT from that group's distribution at the bucket's
    utilisation, then p90 and the share within the SLOs over all requests."""
    phi = 0.4
    rate = np.array([[1.0, 2.0, 3.0]])
    share = np.array([0.2, 0.3, 0.5])
    buckets = LoadBuckets(rate, share[None, :], np.array([[0.4, 0.3, 0.3]]), 60.0)
    # hit rates at most φ, as a window's are (no cache serves more than its reusable share)
    stats, curves = one_window(2.2, hits=(0.0, 0.2, 0.35), warm=phi)
    slo_ttft, slo_tpot = 1.2, 0.0024
    cands = candidates(profile, stats, curves, buckets, slo_ttft, slo_tpot)
    rng = np.random.default_rng(1)
    N = 200_000
    checked = 0
    rows = cands[cands.hit_rate > 0]
    for row in rows.iloc[np.linspace(0, len(rows) - 1, 5).astype(int)].itertuples():
        k = rng.choice(3, size=N, p=share)
        warm = rng.random(N) < phi
        h = np.where(warm, row.hit_rate / phi, 0.0)
        u = (rate[0] / row.replicas) / profile.capacity(np.full(3, row.hit_rate), 10000.0,
                                                        100.0)
        g = profile.lookup(u[k] * profile.capacity(h, 10000.0, 100.0), h, 10000.0, 100.0)
        z = rng.standard_normal(N)
        # p90: each group log-normal through its p50 and p90, as the mixture takes it
        lognormal = np.exp(np.log(g.p50_ttft_s) + z * np.log(g.p90_ttft_s / g.p50_ttft_s) / Z90)
        assert row.p90_ttft_s == pytest.approx(np.percentile(lognormal, 90), rel=0.01)
        # within both SLOs: TTFT from the request's group, TPOT from the window's hit rate
        mix = profile.lookup(rate[0][k] / row.replicas, np.full(N, row.hit_rate), 10000.0, 100.0)
        ttft = _quantile(g.p50_ttft_s, g.p90_ttft_s, g.p99_ttft_s, z)
        tpot = _quantile(mix.p50_tpot_s, mix.p90_tpot_s, mix.p99_tpot_s,
                         rng.standard_normal(N))
        direct = np.mean((ttft <= slo_ttft) & (tpot <= slo_tpot))
        assert row.within_slo_share == pytest.approx(direct, abs=5e-3)
        checked += 0.02 < direct < 0.98
    assert checked >= 3


def test_a_cold_window_reads_a_longer_tail_and_a_warm_one_reads_as_before(profile):
    rate = np.array([[1.0, 2.0, 3.0]])
    buckets = LoadBuckets(rate, np.array([[0.2, 0.3, 0.5]]), np.array([[0.4, 0.3, 0.3]]), 60.0)
    base = candidates(profile, *one_window(2.2), buckets)
    warm = candidates(profile, *one_window(2.2, warm=1.0), buckets)
    cold = candidates(profile, *one_window(2.2, warm=0.5), buckets)
    assert len(base) == len(warm) == len(cold) > 0
    for col in ("p90_ttft_s", "p90_tpot_s", "within_slo_share", "total_kgco2e"):
        np.testing.assert_allclose(warm[col], base[col], rtol=1e-12)
    cached = base.hit_rate > 0
    # In this table TTFT is affine in the uncached prompt at a given utilisation, so the
    # mean is the same but the spread wider: the cold window's p90 is above the warm one's.
    assert (cold.p90_ttft_s[cached] > base.p90_ttft_s[cached] * 1.05).all()
    # no cache, or no reuse: nothing to split
    np.testing.assert_allclose(cold.p90_ttft_s[~cached], base.p90_ttft_s[~cached], rtol=1e-12)
    # what the split leaves alone: decode, power, SSD traffic, carbon
    for col in ("p90_tpot_s", "gpu_power_w", "total_kgco2e"):
        np.testing.assert_allclose(cold[col], base[col], rtol=1e-12)


# ------------------------------------------------------------------ the plan's record

def test_window_inputs_carry_the_warm_share_only_where_there_is_one(tmp_path):
    stats, curves = one_window(2.0, warm=0.25)
    stats.insert(0, "window_start", pd.to_datetime(["2023-01-01T00:00Z"]))
    stats.insert(1, "window_end", pd.to_datetime(["2023-01-01T01:00Z"]))
    path = tmp_path / "window_inputs.json"
    path.write_text(to_json(stats, curves, None))
    assert read_window_inputs(path).hits.warm_share.tolist() == [0.25]
    _, plain = one_window(2.0)
    text = to_json(stats, plain, None)
    assert "warm_share" not in text
    path.write_text(text)
    assert read_window_inputs(path).hits.warm_share is None
    # a share outside [0, 1] is refused like any malformed record
    raw = json.loads(to_json(stats, curves, None))
    bad = np.array([1.5]).astype("<f8").tobytes()
    raw["hit_curves"]["warm_share"]["float64_le"] = base64.b64encode(bad).decode("ascii")
    path.write_text(json.dumps(raw))
    with pytest.raises(InputDataError, match="not a greencache window-inputs record"):
        read_window_inputs(path)


# ------------------------------------------------------------------ through plan and check

def test_auto_profile_plans_read_cold_windows_and_check_recomputes_them(tmp_path, monkeypatch):
    """A trace with a fitted reuse (2,400 requests over 20 minutes, prefixes from the reuse
    model) planned on its own shape: its windows carry their warm share, the first (the cache
    starts empty) below 1, and `greencache check` recomputes the schedule through the same
    reading; planned on a shipped shape (another trace's reuse) no window does."""
    from typer.testing import CliRunner

    from planner.cli import app
    from planner.perf import shape_fit, synth

    monkeypatch.setattr(synth, "LOAD_AXIS", (0.0, 0.5, 1.0))
    monkeypatch.setattr(shape_fit, "HIT_AXIS", (0.0, 0.5, 1.0))
    monkeypatch.setattr(synth, "REQUESTS", 200)
    monkeypatch.setenv("GREENCACHE_CACHE", str(tmp_path / "cache"))
    trace = write_even_trace(tmp_path / "even.csv", 2400, seed=3)
    runner = CliRunner()
    base = ["plan", "--trace", str(trace), "--start", "2023-03-01T00:00Z", "--window", "5min"]
    r = runner.invoke(app, base + ["--auto-profile", "--out", str(tmp_path / "own")])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "own" / "summary.json").read_text())
    reuse = summary["inputs"]["profile"]["workload_shape"]["warm_reuse"]
    share = read_window_inputs(tmp_path / "own" / "window_inputs.json").hits.warm_share
    assert 0 < reuse < 1 and share.shape == (4,)
    assert share[0] < share[-1] and share[0] < 1
    r = runner.invoke(app, ["check", "--plan", str(tmp_path / "own")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, base + ["--workload-shape", "azure-conv", "--out",
                                   str(tmp_path / "shipped")])
    assert r.exit_code == 0, r.output
    assert read_window_inputs(tmp_path / "shipped" / "window_inputs.json").hits.warm_share \
        is None
    # Plans that share a workload (a sweep) share its hit curves only where the shape's warm
    # reuse agrees: either way round, each plan gets its own shape's warm shares.
    from planner.config import PlanOptions
    from planner.workload.prepare import load_inputs

    opt = dict(trace=str(trace), start="2023-03-01T00:00Z", window="5min")
    own = load_inputs(PlanOptions(**opt, auto_profile=True), keep_blocks=False)
    shipped = load_inputs(PlanOptions(**opt, workload_shape="azure-conv"), reuse=own)
    assert shipped.hits.warm_share is None
    again = load_inputs(PlanOptions(**opt, auto_profile=True), reuse=shipped)
    np.testing.assert_array_equal(again.hits.warm_share, share)
    np.testing.assert_array_equal(again.hits.token_hit, own.hits.token_hit)
