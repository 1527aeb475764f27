"""Cold-start candidates and the transition rows against an exhaustive search over schedules."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from candidate_tables import random_window_stats
import synthetic_profile
from planner.catalog import load_catalog, resolve
from planner.optimize.argmin import chain_applicable, solve_chain
from planner.optimize.candidates import build_candidates
from planner.optimize.model import build_model
from planner.optimize.solve import solve
from planner.perf.profile import read_profile
from planner.workload.hitcurve import HitCurves

LEVELS_GB = np.array([0, 1000, 4000, 16000], dtype=float)


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    return read_profile(synthetic_profile.write(tmp_path_factory.mktemp("p")))


@pytest.fixture(scope="module")
def hw():
    return resolve(load_catalog(), "h100-sxm", 4, "nvme-gen4")


def workload(seed, windows=4):
    """Saturating warm curves; a grow from c′ keeps the share c′/c of the warm hits at most (a
    cold start never hits more than warm, and more content at the start never hits less)."""
    rng = np.random.default_rng(seed)
    stats = random_window_stats(rng, windows, (0.5, 5.0), (2000, 9000), (50, 300))
    sat = rng.uniform(0.3, 0.9, windows)[:, None]
    scale = rng.uniform(1000, 8000, windows)[:, None]
    warm = sat * (1 - np.exp(-LEVELS_GB[None, :] / scale))
    keep = rng.uniform(0.0, 0.6, windows)[:, None, None]
    ratio = np.minimum(1.0, LEVELS_GB[None, :, None] / np.maximum(LEVELS_GB[None, None, :], 1))
    grown = warm[:, None, :] * np.minimum(1.0, keep + (1 - keep) * ratio)
    curves = HitCurves(LEVELS_GB.astype(np.int64), warm, warm, "test", modelled=True,
                       grown_token_hit=grown, grown_request_hit=grown)
    return stats, curves, rng.uniform(20, 500, windows)


def exhaustive(cands, slo_ttft, slo_tpot, dwell=1, changes=None, day=None):
    """Every level schedule; per window, given (level of t−1, level of t), the cheapest
    candidate inside the SLO of the kind the transition allows (warm when the cache did not
    grow, the cold start from t−1's level when it did). Independent of the MILP's rows. With
    ``dwell`` D only schedules holding each level entered D windows (or to the end), with
    ``changes`` N at most N changes into the windows of each ``day``."""
    ok = cands[(cands.p90_ttft_s <= slo_ttft) & (cands.p90_tpot_s <= slo_tpot)]
    windows = sorted(cands.window.unique())
    cheapest = ok.groupby(["window", "level", "prev_level"])["total_kgco2e"].min().to_dict()
    best, best_levels = np.inf, None
    for levels in itertools.product(range(len(LEVELS_GB)), repeat=len(windows)):
        entered = [t == 0 or levels[t] != levels[t - 1] for t in windows]
        if any(entered[t] and len(set(levels[t:t + dwell])) > 1 for t in windows):
            continue
        if changes is not None and any(
                sum(entered[t] for t in windows[1:] if day[t] == d) > changes
                for d in set(day.tolist())):
            continue
        total = 0.0
        for t, c in zip(windows, levels):
            prev = -1 if t == 0 or c <= levels[t - 1] else levels[t - 1]
            total += cheapest.get((t, c, prev), np.inf)
        if total < best:
            best, best_levels = total, levels
    return best, best_levels


def production_candidates(stats, curves, ci, profile, hw, slo_ttft, slo_tpot):
    full = build_candidates(stats, curves, ci, profile, hw, LEVELS_GB, 8, slo_ttft, slo_tpot,
                            prune=False, warmup=True).frame
    pruned = build_candidates(stats, curves, ci, profile, hw, LEVELS_GB, 8, slo_ttft, slo_tpot,
                              warmup=True).frame
    return full, pruned


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), slo_ttft=st.sampled_from([0.3, 0.6, 1.0, 2.0]),
       dwell=st.integers(2, 3), changes=st.sampled_from([None, 0, 1]))
def test_programme_with_dwell_equals_exhaustive_search(profile, hw, seed, slo_ttft, dwell,
                                                      changes):
    """Transitions, minimum dwell and the daily change limit together: the dynamic programme
    (and the MILP) equal the exhaustive search over level schedules."""
    from planner.optimize.coupling import Coupling

    stats, curves, ci = workload(seed, windows=5)
    full, pruned = production_candidates(stats, curves, ci, profile, hw, slo_ttft, 0.1)
    # Each (window, level) scaled by its own factor, so that the unconstrained optimum
    # changes level often (the synthetic curves alone favour the largest cache throughout);
    # one factor per group keeps the pruning exact.
    factor = np.random.default_rng(seed).uniform(0.3, 1.7, (5, len(LEVELS_GB)))
    for frame in (full, pruned):
        frame["total_kgco2e"] *= factor[frame["window"], frame["level"]]
    day = np.array([0, 0, 0, 1, 1])
    expected, _ = exhaustive(full, slo_ttft, 0.1, dwell, changes, day)
    cp = Coupling(dwell_windows=dwell, max_changes_per_day=changes, day=day,
                  kg_per_kwh=np.zeros(5))
    m = build_model(pruned, slo_ttft, 0.1, coupling=cp)
    assert chain_applicable(m)
    chain = solve_chain(m)
    if np.isinf(expected):
        assert chain.status == "infeasible"
        return
    assert chain.status == "optimal"
    assert chain.objective == pytest.approx(expected, rel=1e-9)
    assert solve(m, "highs").objective == pytest.approx(expected, rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), slo_ttft=st.sampled_from([0.3, 0.6, 1.0, 2.0]))
def test_milp_equals_exhaustive_search(profile, hw, seed, slo_ttft):
    stats, curves, ci = workload(seed)
    full, pruned = production_candidates(stats, curves, ci, profile, hw, slo_ttft, 0.1)
    expected, levels = exhaustive(full, slo_ttft, 0.1)
    m = build_model(pruned, slo_ttft, 0.1)
    r = solve(m, "highs")
    assert chain_applicable(m)
    chain = solve_chain(m)   # the dynamic programme forbids the same transitions
    if np.isinf(expected):
        assert r.status == "infeasible" and chain.status == "infeasible"
        return
    assert r.status == "optimal" and chain.status == "optimal"
    assert r.objective == pytest.approx(expected, rel=1e-9)
    assert chain.objective == pytest.approx(expected, rel=1e-9)
    chosen = m.candidates.iloc[r.chosen].sort_values("window")
    lev = chosen.level.to_numpy()
    prev = chosen.prev_level.to_numpy()
    assert prev[0] == -1
    for t in range(1, len(lev)):   # the chosen schedule obeys the transitions
        assert prev[t] == (lev[t - 1] if lev[t] > lev[t - 1] else -1)


def test_cold_starts_are_read_at_their_own_hit_rate(profile, hw):
    stats, curves, ci = workload(5)
    f = build_candidates(stats, curves, ci, profile, hw, LEVELS_GB, 8, 2.0, 0.1, prune=False,
                         warmup=True).frame
    cold = f[f.prev_level >= 0]
    assert len(cold) and (cold.window >= 1).all() and (cold.level > cold.prev_level).all()
    want = curves.grown_token_hit[cold.window, cold.prev_level, cold.level]
    assert np.array_equal(cold.hit_rate.to_numpy(), want)
    # Fewer hits, more misses admitted: a cold start writes at least what the warm one does.
    warm = f[f.prev_level < 0].set_index(["window", "replicas", "level"])
    pair = warm.loc[list(zip(cold.window, cold.replicas, cold.level))]
    assert np.all(cold.ssd_write_gbps.to_numpy() >= pair.ssd_write_gbps.to_numpy() - 1e-12)
    none = build_candidates(stats, curves, ci, profile, hw, LEVELS_GB, 8, 2.0, 0.1,
                            prune=False).frame
    assert (none.prev_level == -1).all() and len(none) == len(f[f.prev_level < 0])


def test_hand_solved_prewarm():
    # Window 1 meets its SLO only with a warm 4 TB cache; window 0 is cheapest without one.
    # A plan that grows into window 1 starts it cold and misses the SLO, so the optimum grows
    # in window 0 already (at a cost) and keeps 4 TB warm into window 1.
    rows = [
        (0, 1, 0, -1, 0.5, 1.0), (0, 1, 1, -1, 0.5, 1.3),
        (1, 1, 0, -1, 3.0, 0.5), (1, 1, 1, -1, 1.0, 0.6), (1, 1, 1, 0, 2.5, 0.55),
    ]
    cands = pd.DataFrame(rows, columns=["window", "replicas", "level", "prev_level",
                                        "p90_ttft_s", "total_kgco2e"])
    cands["cache_gb"] = cands.level * 4000.0
    cands["prev_cache_gb"] = np.where(cands.prev_level >= 0, cands.prev_level * 4000.0, np.nan)
    cands["p90_tpot_s"] = 0.05
    for solver in ("highs", "cbc"):
        r = solve(build_model(cands, 2.0, 0.1), solver)
        assert r.status == "optimal" and list(r.chosen) == [1, 3], solver
        assert r.objective == pytest.approx(1.9)
    # Without the warm 4 TB row of window 1 the only way in is cold: infeasible.
    r = solve(build_model(cands.drop(index=3), 2.0, 0.1), "highs")
    assert r.status == "infeasible"


def test_highs_and_cbc_give_the_same_schedule(profile, hw):
    stats, curves, ci = workload(11, windows=5)
    _, pruned = production_candidates(stats, curves, ci, profile, hw, 1.0, 0.1)
    a = solve(build_model(pruned, 1.0, 0.1), "highs")
    b = solve(build_model(pruned, 1.0, 0.1), "cbc")
    assert a.status == b.status == "optimal"
    assert list(a.chosen) == list(b.chosen)


def test_names_read_like_the_problem(profile, hw):
    stats, curves, ci = workload(2, windows=2)
    _, pruned = production_candidates(stats, curves, ci, profile, hw, 2.0, 0.1)
    names = {c.name for c in build_model(pruned, 2.0, 0.1).problem.constraints()}
    assert "level_link(t=1,c=4000GB)" in names
    assert "grow_from(t=1,c=1000GB)" in names
    assert "warm_at(t=1,c=16000GB)" in names


def test_blocks_of_windows_change_nothing(profile, hw, monkeypatch):
    from planner.optimize import candidates

    stats, curves, ci = workload(3, windows=6)
    whole = build_candidates(stats, curves, ci, profile, hw, LEVELS_GB, 8, 1.0, 0.1,
                             warmup=True)
    monkeypatch.setattr(candidates, "BLOCK_ROWS", 50)   # one window a block
    blocks = build_candidates(stats, curves, ci, profile, hw, LEVELS_GB, 8, 1.0, 0.1,
                              warmup=True)
    pd.testing.assert_frame_equal(whole.frame, blocks.frame)
    assert (whole.pruned, whole.unstable) == (blocks.pruned, blocks.unstable)


def test_without_cold_starts_a_grow_is_warm(profile, hw):
    # --no-warmup: no transition rows and no forbidden steps; the optimum is the per-window
    # argmin, by the MILP and by the dynamic programme alike.
    stats, curves, ci = workload(29, windows=5)   # its argmin grows the cache into window 4
    cands = build_candidates(stats, curves, ci, profile, hw, LEVELS_GB, 8, 1.0, 0.1).frame
    ok = cands[(cands.p90_ttft_s <= 1.0) & (cands.p90_tpot_s <= 0.1)]
    best = ok.loc[ok.groupby("window")["total_kgco2e"].idxmin()]
    assert np.any(np.diff(best.level.to_numpy()) > 0)
    expected = best["total_kgco2e"].sum()
    m = build_model(cands, 1.0, 0.1)
    assert not m.level
    assert solve(m, "highs").objective == pytest.approx(expected, rel=1e-9)
    assert solve_chain(m).objective == pytest.approx(expected, rel=1e-9)
