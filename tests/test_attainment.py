"""The SLO-attainment budget and the planning margins.

* the within-SLO share a_{t,k} of a candidate against a direct computation (sampling each
  burst bucket's latency distributions through their quantile functions);
* the budget MILP against an exhaustive search over schedules, both solvers;
* invariants: a lower attainment target never raises carbon, a smaller headroom never lowers it;
* the command line: options, exit codes, best effort.
"""

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from scipy.stats import lognorm
from typer.testing import CliRunner

import synthetic_profile
from candidate_tables import random_candidates
from planner.catalog import load_catalog, resolve
from planner.cli import app
from planner.optimize.candidates import build_candidates, pareto_prune
from planner.optimize.model import build_model
from planner.optimize.slo import best_attainment, predicted_attainment
from planner.optimize.solve import solve
from planner.perf.mixture import Z90, Z99, share_below
from planner.perf.profile import read_profile
from planner.workload.hitcurve import HitCurves
from planner.workload.windows import LoadBuckets

LEVELS_GB = np.array([0, 1000, 4000], dtype=float)
EX = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


@pytest.fixture(scope="module")
def profile_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("profiles")
    synthetic_profile.write(d)
    return d


@pytest.fixture(scope="module")
def profile(profile_dir):
    return read_profile(next(profile_dir.glob("*.csv")))


# ------------------------------------------------------------------ the within-SLO share

def test_share_below_is_the_lognormal_cdf_when_the_percentiles_are_lognormal():
    mu, sigma = np.log(0.8), 0.6
    q = lambda z: np.exp(mu + z * sigma)  # noqa: E731
    limits = np.geomspace(0.05, 20, 50)
    got = share_below(q(0.0), q(Z90), q(Z99), limits)
    assert np.allclose(got, lognorm.cdf(limits, s=sigma, scale=np.exp(mu)), atol=1e-12)


def test_share_below_is_exact_at_the_table_percentiles_and_monotone():
    p50, p90, p99 = 0.3, 0.5, 2.0   # a heavier tail above p90 than below
    assert share_below(p50, p90, p99, p50) == pytest.approx(0.5)
    assert share_below(p50, p90, p99, p90) == pytest.approx(0.9)
    assert share_below(p50, p90, p99, p99) == pytest.approx(0.99)
    x = share_below(p50, p90, p99, np.geomspace(0.01, 100, 400))
    assert np.all(np.diff(x) >= 0) and x[0] < 1e-3 and x[-1] > 0.999


def _quantile(p50, p90, p99, z):
    """The distribution share_below describes, as its quantile function (inverse CDF)."""
    l50, l90, l99 = np.log(p50), np.log(p90), np.log(p99)
    return np.exp(np.where(z <= Z90, l50 + z * (l90 - l50) / Z90,
                           l90 + (z - Z90) * (l99 - l90) / (Z99 - Z90)))


def one_window(rate, requests=3600):
    stats = pd.DataFrame({"hours": [1.0], "requests": [requests], "rate_rps": [rate],
                          "mean_input_tokens": [2000.0], "mean_output_tokens": [200.0]})
    stats["prompt_tokens"] = stats.requests * stats.mean_input_tokens
    stats["output_tokens"] = stats.requests * stats.mean_output_tokens
    hit = np.array([[0.0, 0.3, 0.5]])
    return stats, HitCurves(LEVELS_GB.astype(np.int64), hit, hit, "test", modelled=True)


def test_window_share_against_sampling_the_bucket_distributions(profile):
    """a_{t,k} of the production candidate table against a direct computation: draw each
    request's bucket by request share, then its TTFT and TPOT independently from the bucket's
    distributions (through the quantile function, not the CDF the code uses), count both
    within the SLOs."""
    rate = np.array([[1.0, 3.0, 5.0]])
    buckets = LoadBuckets(rate, np.array([[0.2, 0.3, 0.5]]), np.array([[0.4, 0.3, 0.3]]), 60.0)
    stats, curves = one_window(3.0)
    hw = resolve(load_catalog(), "h100-sxm", 4, "nvme-gen4")
    slo_ttft, slo_tpot = 0.25, 0.0024   # both cut through the distributions of most candidates
    cands = build_candidates(stats, curves, np.array([50.0]), profile, hw, LEVELS_GB, 6,
                             slo_ttft, slo_tpot, prune=False, buckets=buckets).frame
    rng = np.random.default_rng(0)
    N = 200_000
    checked = 0
    for row in cands.itertuples():
        k = rng.choice(3, size=N, p=[0.2, 0.3, 0.5])
        look = profile.lookup(rate[0] / row.replicas, np.full(3, row.hit_rate), 2000.0, 200.0)
        ttft = _quantile(look.p50_ttft_s[k], np.maximum(look.p90_ttft_s[k], look.p50_ttft_s[k]),
                         np.maximum(look.p99_ttft_s[k], look.p90_ttft_s[k]),
                         rng.standard_normal(N))
        tpot = _quantile(look.p50_tpot_s[k], np.maximum(look.p90_tpot_s[k], look.p50_tpot_s[k]),
                         np.maximum(look.p99_tpot_s[k], look.p90_tpot_s[k]),
                         rng.standard_normal(N))
        direct = np.mean((ttft <= slo_ttft) & (tpot <= slo_tpot))
        assert row.within_slo_share == pytest.approx(direct, abs=5e-3)
        checked += 0.02 < direct < 0.98
    assert checked >= 5


# ------------------------------------------------------------------ the budget in the MILP

def brute_force(cands, requests, target, best_effort=False):
    """Least carbon over every schedule within the budget; best effort: over the schedules of
    the highest attainment reachable. Returns (carbon, attainment)."""
    groups = [g for _, g in cands.groupby("window")]
    total = requests.sum()
    best = (np.inf, np.nan)
    scored = []
    for combo in itertools.product(*[list(g.itertuples()) for g in groups]):
        att = sum(requests[r.window] * r.within_slo_share for r in combo) / total
        scored.append((att, sum(r.total_kgco2e for r in combo)))
    top = max(a for a, _ in scored)
    floor = top - 1e-9 if best_effort else target - 1e-12
    for att, carbon in scored:
        if att >= floor and carbon < best[0]:
            best = (carbon, att)
    return best


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), target=st.floats(0.6, 0.95))
def test_budget_milp_equals_exhaustive_search(seed, target):
    rng = np.random.default_rng(seed)
    cands = random_candidates(rng, replicas=3, levels=2)
    requests = rng.integers(100, 5000, 3).astype(float)
    carbon, _ = brute_force(cands, requests, target)
    m = build_model(cands, 2.0, 0.1, attainment=target, requests=requests)
    r = solve(m, "highs")
    if np.isinf(carbon):
        assert r.status == "infeasible"
        assert best_attainment(cands, requests) < target
        return
    assert r.status == "optimal"
    assert r.objective == pytest.approx(carbon, rel=1e-9)
    chosen = m.candidates.iloc[r.chosen]
    assert predicted_attainment(chosen, requests) >= target - 1e-9
    # The budget replaces the per-window p90 rows: no row may cut a candidate by its p90.
    for t in range(3):
        assert m.problem.get_constraint_by_name(f"slo_ttft(t={t})") is None
        assert m.problem.get_constraint_by_name(f"slo_tpot(t={t})") is None
    assert m.problem.get_constraint_by_name("slo_attainment_budget") is not None
    # Pareto pruning keeps the budget's optimum.
    small = solve(build_model(pareto_prune(cands), 2.0, 0.1, attainment=target,
                              requests=requests), "highs")
    assert small.objective == pytest.approx(carbon, rel=1e-9)


@pytest.mark.parametrize("seed", [3, 11])
def test_highs_and_cbc_agree_on_the_budget(seed):
    rng = np.random.default_rng(seed)
    cands = random_candidates(rng, windows=4, replicas=3, levels=3)
    requests = rng.integers(100, 5000, 4).astype(float)
    target = 0.5 * (best_attainment(cands, requests) + 0.5)
    a = solve(build_model(cands, 2.0, 0.1, attainment=target, requests=requests), "highs")
    b = solve(build_model(cands, 2.0, 0.1, attainment=target, requests=requests), "cbc")
    assert a.status == b.status == "optimal"
    assert a.objective == pytest.approx(b.objective, rel=1e-9)
    assert list(a.chosen) == list(b.chosen)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_unreachable_budget_best_effort_maximises_attainment_then_saves_carbon(solver):
    rng = np.random.default_rng(5)
    cands = random_candidates(rng, replicas=3, levels=2)
    requests = np.array([1000.0, 3000.0, 500.0])
    top = best_attainment(cands, requests)
    m = build_model(cands, 2.0, 0.1, attainment=min(1.0, top + 0.05), requests=requests,
                    attainment_best_effort=True)
    r = solve(m, solver)
    assert r.status == "optimal"
    carbon, att = brute_force(cands, requests, None, best_effort=True)
    chosen = m.candidates.iloc[r.chosen]
    assert predicted_attainment(chosen, requests) == pytest.approx(top, abs=1e-6)
    assert chosen["total_kgco2e"].sum() == pytest.approx(carbon, rel=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_a_lower_attainment_target_never_raises_carbon(seed):
    rng = np.random.default_rng(seed)
    cands = random_candidates(rng, windows=4, replicas=3, levels=2)
    requests = rng.integers(100, 5000, 4).astype(float)
    prev = np.inf
    for target in (0.95, 0.9, 0.8, 0.7, 0.5):
        r = solve(build_model(cands, 2.0, 0.1, attainment=target, requests=requests), "highs")
        if r.status == "optimal":
            assert r.objective <= prev + 1e-9
            prev = r.objective
        else:
            assert r.status == "infeasible" and np.isinf(prev)


# ------------------------------------------------------------------ headroom

def test_headroom_drops_candidates_by_their_busiest_bucket(profile):
    rate = np.array([[2.0, 6.0]])
    buckets = LoadBuckets(rate, np.array([[0.25, 0.75]]), np.array([[0.5, 0.5]]), 60.0)
    stats, curves = one_window(4.0)
    hw = resolve(load_catalog(), "h100-sxm", 4, "nvme-gen4")
    full = build_candidates(stats, curves, np.array([50.0]), profile, hw, LEVELS_GB, 12, 2.0,
                            0.1, headroom=1.0, prune=False, buckets=buckets)
    cut = build_candidates(stats, curves, np.array([50.0]), profile, hw, LEVELS_GB, 12, 2.0,
                           0.1, headroom=0.6, prune=False, buckets=buckets)
    # The busiest bucket's load fraction is the larger bucket rate over the capacity.
    cap = profile.capacity(full.frame["hit_rate"].to_numpy(), 2000.0, 200.0)
    expect = 6.0 / full.frame["replicas"].to_numpy() / cap
    assert np.allclose(full.frame["peak_load_fraction"], expect, rtol=1e-9)
    assert (cut.frame["peak_load_fraction"] <= 0.6 + 1e-9).all()
    assert len(cut.frame) + cut.over_headroom == len(full.frame)
    assert cut.over_headroom == int((full.frame["peak_load_fraction"] > 0.6).sum()) > 0


# ------------------------------------------------------------------ the command line

def plan(profile_dir, out, *extra):
    return runner.invoke(app, ["plan", "--trace", str(EX / "conversation_trace.jsonl"),
                               "--start", "2023-11-16T18:00Z", "--window", "15min",
                               "--profile-dir", str(profile_dir), "--out", str(out),
                               "--no-timing", *map(str, extra)])


def test_cli_budget_plans_and_reports_attainment(profile_dir, tmp_path):
    r = plan(profile_dir, tmp_path / "b", "--slo-attainment", "0.9")
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert s["slo"]["mode"] == "attainment budget" and s["slo"]["slo_attainment"] == 0.9
    sched = pd.read_csv(tmp_path / "b" / "schedule.csv")
    att = (sched["within_slo_share"] * sched["requests"]).sum() / sched["requests"].sum()
    assert att >= 0.9 - 1e-3   # the schedule rounds shares to 4 decimals
    assert s["slo"]["predicted_slo_attainment"] >= 0.9 - 1e-9
    # A lower target never costs more.
    assert plan(profile_dir, tmp_path / "l", "--slo-attainment", "0.5").exit_code == 0
    low = json.loads((tmp_path / "l" / "summary.json").read_text())
    assert low["totals"]["total_kgco2e"] <= s["totals"]["total_kgco2e"] + 1e-9


@pytest.mark.parametrize("args", [("--slo-attainment", "1.5"), ("--slo-attainment", "0"),
                                  ("--headroom", "0"), ("--headroom", "1.2"),
                                  ("--slo-margin", "1"), ("--slo-margin", "-0.1")])
def test_cli_out_of_range_exits_2(profile_dir, tmp_path, args):
    r = plan(profile_dir, tmp_path / "o", *args)
    assert r.exit_code == 2, r.output
    assert args[0] in r.output and "Traceback" not in r.output


def test_cli_unreachable_budget_exits_4_or_plans_best_effort(profile_dir, tmp_path):
    tight = ("--slo-attainment", "0.99", "--slo-ttft", "1")
    r = plan(profile_dir, tmp_path / "o", *tight)
    assert r.exit_code == 4, r.output
    assert "no schedule keeps 99.0 %" in r.output and not (tmp_path / "o").exists()
    r = plan(profile_dir, tmp_path / "o", *tight, "--allow-slo-violation")
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["slo"]["predicted_slo_attainment"] < 0.99
