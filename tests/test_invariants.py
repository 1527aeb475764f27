"""Invariants of the plan that hold whatever the numbers: checked over random workloads.

A per-window choice minimising A(x) + θ·B(x) moves, as θ grows, to choices with a B no larger
(revealed preference). So a dirtier grid (θ = CI, B = energy) never raises the plan's energy,
and a higher SSD embodied factor (θ = e_ssd, B = cache GB / effective lifetime) never raises
the SSD's embodied footprint; where the drives' calendar life binds (light writes) that
footprint is the capacity itself, so a higher embodied factor never buys a larger cache.
"""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from candidate_tables import random_window_stats
import synthetic_profile
from planner.catalog import load_catalog, resolve
from planner.optimize.candidates import build_candidates
from planner.optimize.model import build_model
from planner.optimize.solve import solve
from planner.perf.profile import read_profile
from planner.workload.hitcurve import HitCurves

LEVELS_GB = np.array([0, 500, 1000, 2000, 4000, 8000, 16000], dtype=float)


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    return read_profile(synthetic_profile.write(tmp_path_factory.mktemp("p")))


def workload(seed, windows=4):
    rng = np.random.default_rng(seed)
    stats = random_window_stats(rng, windows, (0.5, 6.0), (500, 8000), (50, 500))
    # Concave, saturating hit curves (more cache never hits less).
    sat = rng.uniform(0.2, 0.8, windows)[:, None]
    scale = rng.uniform(1000, 8000, windows)[:, None]
    hit = sat * (1 - np.exp(-LEVELS_GB[None, :] / scale))
    curves = HitCurves(LEVELS_GB.astype(np.int64), hit, hit, "test", modelled=True)
    return stats, curves


def plan(stats, curves, ci, profile, hw, slo_ttft=2.0):
    cands = build_candidates(stats, curves, ci, profile, hw, LEVELS_GB, 24, slo_ttft, 0.1).frame
    r = solve(build_model(cands, slo_ttft, 0.1), "highs")
    return r, cands.iloc[r.chosen] if r.has_solution else None


def hardware(**changes):
    hw = resolve(load_catalog(), "h100-sxm", 4, "nvme-gen4")
    return dataclasses.replace(hw, **changes)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_dirtier_grid_never_raises_energy(profile, seed):
    stats, curves = workload(seed)
    prev = None
    for ci in (20.0, 100.0, 400.0, 800.0):
        r, chosen = plan(stats, curves, np.full(len(stats), ci), profile, hardware())
        if chosen is None:
            return
        energy = chosen.sort_values("window")["energy_kwh"].to_numpy()
        if prev is not None:
            assert np.all(energy <= prev + 1e-9)
        prev = energy


def _embodied_sweep(profile, seed, **hw):
    """Chosen (cache GB, GB / effective lifetime h) per window as e_ssd rises."""
    stats, curves = workload(seed)
    ci = np.full(len(stats), 50.0)
    out = []
    for e in (0.003, 0.02, 0.16, 1.0):
        r, chosen = plan(stats, curves, ci, profile, hardware(ssd_embodied_kg_per_gb=e, **hw))
        if chosen is None:
            return []
        chosen = chosen.sort_values("window")
        out.append((chosen["cache_gb"].to_numpy(),
                    (chosen["cache_gb"] / chosen["ssd_lifetime_h"]).to_numpy()))
    return out


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_higher_ssd_embodied_never_raises_the_ssd_footprint(profile, seed):
    sweep = _embodied_sweep(profile, seed)
    for (_, before), (_, after) in zip(sweep, sweep[1:]):
        assert np.all(after <= before * (1 + 1e-9) + 1e-15)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_higher_ssd_embodied_never_buys_a_larger_cache(profile, seed):
    # Drives whose endurance never binds: the footprint is the capacity over the calendar life.
    sweep = _embodied_sweep(profile, seed, ssd_dwpd=1e9)
    for (before, _), (after, _) in zip(sweep, sweep[1:]):
        assert np.all(after <= before)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_looser_slo_never_raises_carbon(profile, seed):
    stats, curves = workload(seed)
    ci = np.full(len(stats), 300.0)
    prev = np.inf
    for slo in (0.6, 1.0, 2.0, 5.0):
        r, chosen = plan(stats, curves, ci, profile, hardware(), slo_ttft=slo)
        if r.status == "optimal":
            assert r.objective <= prev + 1e-9
            prev = r.objective
        else:
            assert r.status == "infeasible" and np.isinf(prev)


def test_no_cache_level_means_no_ssd_cost(profile):
    stats, curves = workload(1)
    cands = build_candidates(stats, curves, np.full(len(stats), 300.0), profile, hardware(),
                             LEVELS_GB, 8, 2.0, 0.1).frame
    none = cands[cands.cache_gb == 0]
    assert (none.ssd_drives == 0).all() and (none.op_ssd == 0).all() and (none.emb_ssd == 0).all()
    assert (none.hit_rate == 0).all()
