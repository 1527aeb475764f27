"""The MILP against independent checks: brute force, hand-solved cases, both solvers."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from candidate_tables import random_candidates
from planner.optimize.candidates import pareto_prune
from planner.optimize.model import build_model
from planner.optimize.solve import solve


def brute_force(cands, slo_ttft, slo_tpot, static=False):
    """Enumerate every assignment of one candidate per window (independent of the MILP)."""
    ok = cands[(cands.p90_ttft_s <= slo_ttft) & (cands.p90_tpot_s <= slo_tpot)]
    windows = sorted(cands.window.unique())
    best = np.inf
    per_window = [ok[ok.window == t] for t in windows]
    if any(len(g) == 0 for g in per_window):
        return np.inf
    for combo in itertools.product(*[g.itertuples() for g in per_window]):
        if static and len({r.level for r in combo}) > 1:
            continue
        best = min(best, sum(r.total_kgco2e for r in combo))
    return best


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), slo=st.floats(0.5, 3.0), static=st.booleans())
def test_milp_equals_brute_force(seed, slo, static):
    cands = random_candidates(np.random.default_rng(seed))
    expected = brute_force(cands, slo, 0.15, static)
    m = build_model(cands, slo, 0.15, static_cache=static)
    r = solve(m, "highs")
    if np.isinf(expected):
        assert r.status == "infeasible"
    else:
        assert r.status == "optimal"
        assert r.objective == pytest.approx(expected, rel=1e-9)
        chosen = m.candidates.iloc[r.chosen]
        assert sorted(chosen.window) == sorted(cands.window.unique())
        assert (chosen.p90_ttft_s <= slo).all() and (chosen.p90_tpot_s <= 0.15).all()
        if static:
            assert chosen.level.nunique() == 1


@pytest.mark.parametrize("static", [False, True])
def test_highs_and_cbc_agree(static):
    cands = random_candidates(np.random.default_rng(7), windows=4, replicas=5, levels=4)
    a = solve(build_model(cands, 2.0, 0.15, static_cache=static), "highs")
    b = solve(build_model(cands, 2.0, 0.15, static_cache=static), "cbc")
    assert a.status == b.status == "optimal"
    assert a.objective == pytest.approx(b.objective, rel=1e-9)
    assert b.mip_gap == pytest.approx(0.0, abs=1e-9)


def test_hand_solved_case():
    # Window 0: the cheap config misses the TTFT SLO, so the dearer one must be chosen.
    # Window 1: both meet the SLO; the cheaper wins.
    cands = pd.DataFrame([
        {"window": 0, "replicas": 1, "level": 0, "cache_gb": 0.0, "p90_ttft_s": 2.5,
         "p90_tpot_s": 0.05, "total_kgco2e": 1.0},
        {"window": 0, "replicas": 2, "level": 0, "cache_gb": 0.0, "p90_ttft_s": 1.0,
         "p90_tpot_s": 0.05, "total_kgco2e": 1.8},
        {"window": 1, "replicas": 1, "level": 1, "cache_gb": 500.0, "p90_ttft_s": 0.5,
         "p90_tpot_s": 0.05, "total_kgco2e": 0.7},
        {"window": 1, "replicas": 1, "level": 0, "cache_gb": 0.0, "p90_ttft_s": 0.9,
         "p90_tpot_s": 0.05, "total_kgco2e": 0.9},
    ])
    r = solve(build_model(cands, 2.0, 0.1), "highs")
    assert r.status == "optimal"
    assert r.objective == pytest.approx(2.5)
    assert list(r.chosen) == [1, 2]
    # Static cache: one level for both windows → level 0 (1.8 + 0.9 = 2.7).
    r = solve(build_model(cands, 2.0, 0.1, static_cache=True), "highs")
    assert r.objective == pytest.approx(2.7)


def test_infeasible_without_slack_and_best_effort_with_it():
    cands = pd.DataFrame([
        {"window": 0, "replicas": 1, "level": 0, "cache_gb": 0.0, "p90_ttft_s": 3.0,
         "p90_tpot_s": 0.05, "total_kgco2e": 1.0},
        {"window": 0, "replicas": 2, "level": 0, "cache_gb": 0.0, "p90_ttft_s": 2.4,
         "p90_tpot_s": 0.05, "total_kgco2e": 5.0},
    ])
    assert solve(build_model(cands, 2.0, 0.1), "highs").status == "infeasible"
    r = solve(build_model(cands, 2.0, 0.1, soft_windows=[0]), "highs")
    # Best effort minimises the excess first: the faster, dearer config.
    assert r.status == "optimal" and list(r.chosen) == [1]
    assert r.ttft_excess[0] == pytest.approx(0.4)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_best_effort_never_trades_latency_for_carbon(solver):
    # Window 0 cannot meet the TPOT SLO; a little more excess would buy much less carbon.
    # Window 1 can meet it and must, even though breaking it would be cheaper.
    cands = pd.DataFrame([
        {"window": 0, "replicas": 1, "level": 0, "cache_gb": 0.0, "p90_ttft_s": 1.0,
         "p90_tpot_s": 0.12, "total_kgco2e": 1.0},
        {"window": 0, "replicas": 2, "level": 0, "cache_gb": 0.0, "p90_ttft_s": 1.0,
         "p90_tpot_s": 0.11, "total_kgco2e": 900.0},
        {"window": 1, "replicas": 1, "level": 0, "cache_gb": 0.0, "p90_ttft_s": 1.0,
         "p90_tpot_s": 0.2, "total_kgco2e": 0.1},
        {"window": 1, "replicas": 2, "level": 0, "cache_gb": 0.0, "p90_ttft_s": 1.0,
         "p90_tpot_s": 0.05, "total_kgco2e": 50.0},
    ])
    r = solve(build_model(cands, 2.0, 0.1, soft_windows=[0]), solver)
    assert r.status == "optimal" and list(r.chosen) == [1, 3]
    assert r.objective == pytest.approx(950.0)


def test_looser_slo_never_raises_carbon():
    cands = random_candidates(np.random.default_rng(3), windows=5, replicas=6, levels=4)
    prev = np.inf
    for slo in (0.8, 1.2, 1.6, 2.0, 3.0):
        r = solve(build_model(cands, slo, 0.2), "highs")
        if r.status == "optimal":
            assert r.objective <= prev + 1e-9
            prev = r.objective


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_pareto_pruning_keeps_the_optimum(seed):
    cands = random_candidates(np.random.default_rng(seed), windows=3, replicas=6, levels=3)
    pruned = pareto_prune(cands)
    assert len(pruned) <= len(cands)
    for static in (False, True):
        full = solve(build_model(cands, 2.0, 0.15, static_cache=static), "highs")
        small = solve(build_model(pruned, 2.0, 0.15, static_cache=static), "highs")
        assert full.status == small.status
        if full.status == "optimal":
            assert small.objective == pytest.approx(full.objective, rel=1e-9)


def test_names_read_like_the_problem():
    cands = random_candidates(np.random.default_rng(1), windows=2, replicas=2, levels=2)
    m = build_model(cands, 2.0, 0.15)
    names = {v.name for v in m.problem.variables()}
    assert "choose(t=1,n=2,c=1000GB)" in names
    for name in ("one_config(t=0)", "slo_ttft(t=1)", "slo_tpot(t=0)"):
        assert m.problem.get_constraint_by_name(name) is not None


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_static_baseline_by_levels_equals_the_coupled_milp(seed):
    from planner.config import PlanOptions
    from planner.baselines import solve_baselines
    from planner.optimize.coupling import Coupling

    cands = random_candidates(np.random.default_rng(seed), windows=4, replicas=4, levels=3)
    cands = cands.assign(energy_kwh=1.0, operational_kgco2e=cands.total_kgco2e,
                         embodied_kgco2e=0.0, op_gpu=cands.total_kgco2e, op_host=0.0,
                         op_ssd=0.0, emb_gpu=0.0, emb_host=0.0, emb_ssd=0.0, ssd_drives=0)
    opt = PlanOptions(trace="unused", slo_ttft_s=2.0, slo_tpot_s=0.15, slo_margin=0.0)
    static = solve_baselines(cands, opt, np.array([0.0, 1000.0, 2000.0]),
                             Coupling(), np.full(4, 100.0))["static_cache"]
    coupled = solve(build_model(cands, 2.0, 0.15, static_cache=True), "highs")
    if coupled.status == "optimal" and static.get("slo_violated_windows") == 0:
        assert static["total_kgco2e"] == pytest.approx(coupled.objective, rel=1e-9)


def test_iis_names_the_window_and_its_binding_rows():
    from planner.optimize.diagnostics import iis

    cands = random_candidates(np.random.default_rng(5), windows=3, replicas=2, levels=2)
    cands.loc[cands.window == 1, "p90_ttft_s"] = 9.0      # window 1 cannot meet 2 s
    names = iis(build_model(cands, 2.0, 1.0))
    assert set(names) == {"one_config(t=1)", "slo_ttft(t=1)"}
