"""The replica bound (candidates not built) and the incumbent bound (candidates not put in the
MILP) leave the plan's optimum unchanged: against an exhaustive search over every schedule of
the unbounded, unpruned candidate table, and against the full model."""

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from planner.config import PlanOptions
from planner.optimize.incumbent import drop_beyond_incumbent
from planner.optimize.model import build_model
from planner.optimize.slo import planned_slos
from planner.optimize.solve import solve
from planner.plan_solve import plan_candidates, plan_coupling, solve_candidates
from planner.workload.prepare import load_inputs

from test_coupled import candidates as random_candidates, coupling as random_coupling

AZURE = Path(__file__).resolve().parent.parent / "examples" / "AzureLLMInferenceTrace_conv.csv"


def exhaustive(frame: pd.DataFrame, cp, opt) -> float:
    """Least carbon over every schedule (one SLO-meeting row per window) of ``frame``, the
    objective written out from the model's definition (no warm-up, dwell or change limits)."""
    ttft, tpot = planned_slos(opt)
    ok = frame[(frame["p90_ttft_s"] <= ttft) & (frame["p90_tpot_s"] <= tpot)]
    per = [ok[ok["window"] == t] for t in sorted(ok["window"].unique())]
    pick = np.array(list(itertools.product(*[range(len(g)) for g in per])))
    col = lambda name: np.stack([g[name].to_numpy(dtype=float)[pick[:, t]]  # noqa: E731
                                 for t, g in enumerate(per)], axis=1)
    rho = cp.pool_return
    n, d = col("replicas"), col("ssd_drives")
    obj = (col("operational_kgco2e") + rho * col("embodied_kgco2e")).sum(axis=1)
    obj += (cp.start_kg[1:] * np.maximum(np.diff(n, axis=1), 0)).sum(axis=1)
    if cp.owned:
        R, D = n.max(axis=1, keepdims=True), d.max(axis=1, keepdims=True)
        obj += (1 - rho) * (R * cp.replica_embodied_kg + np.maximum(D * cp.drive_calendar_kg,
                                                                    col("emb_ssd_wear"))
                            + (R - n) * cp.replica_idle_kg + (D - d) * cp.drive_idle_kg
                            ).sum(axis=1)
    return float(obj.min())


@pytest.mark.parametrize("capacity,idle", [("pooled", "off"), ("owned", "off"), ("owned", "on")])
def test_replica_bound_keeps_the_exhaustive_optimum(capacity, idle):
    """The Azure hour in four windows, two cache levels, up to 10 replicas: the plan from the
    bounded table equals the least of every schedule of the full table."""
    opt = PlanOptions(trace=str(AZURE), window="15min", cache_levels_tb=(0.0, 1.0),
                      max_replicas=10, capacity=capacity, owned_idle=idle, warmup=False,
                      min_dwell="0", max_changes_per_day=None, tie_tolerance=0.0,
                      weight_load_s=600.0).validate()
    inp = load_inputs(opt)
    args = (opt, inp.windowing.stats, inp.hits, inp.ci, inp.profile, inp.hardware,
            inp.cache_levels_gb, inp.buckets)
    bounded, full = plan_candidates(*args), plan_candidates(*args, prune=False)
    assert bounded.beyond_bound > 0 and len(bounded.frame) < len(full.frame)
    # Nothing below capacity or headroom is built, and what is built is the full table's.
    assert bounded.unstable + bounded.over_headroom == full.unstable + full.over_headroom
    key = ["window", "replicas", "level"]
    both = bounded.frame.merge(full.frame, on=key, suffixes=("", "_full"))
    assert len(both) == len(bounded.frame)
    assert np.allclose(both["total_kgco2e"], both["total_kgco2e_full"], rtol=1e-12)
    cp = plan_coupling(inp, opt, bounded.frame)
    solved = solve_candidates(bounded.frame, opt, cp,
                              requests=inp.windowing.stats["requests"].to_numpy(dtype=float))
    assert solved.result.objective == pytest.approx(exhaustive(full.frame, cp, opt), rel=1e-9)


@pytest.mark.parametrize("capacity", ["pooled", "owned"])
def test_replica_bound_leaves_the_coupled_model_unchanged(capacity):
    """Default coupled settings (warm-up, dwell, daily changes, tie rule): the model the plan
    solves has the same candidates and optimum from the bounded table as from the table built
    without the bound."""
    opt = PlanOptions(trace=str(AZURE), window="15min", max_replicas=16,
                      capacity=capacity).validate()
    inp = load_inputs(opt)
    args = (opt, inp.windowing.stats, inp.hits, inp.ci, inp.profile, inp.hardware,
            inp.cache_levels_gb, inp.buckets)
    bounded = plan_candidates(*args)
    from planner.optimize.candidates import build_candidates

    unbounded = build_candidates(inp.windowing.stats, inp.hits, inp.ci, inp.profile,
                                 inp.hardware, inp.cache_levels_gb, opt.max_replicas,
                                 opt.slo_ttft_s, opt.slo_tpot_s, headroom=opt.headroom,
                                 buckets=inp.buckets, warmup=opt.warmup)
    assert bounded.beyond_bound > 0 and unbounded.beyond_bound == 0
    requests = inp.windowing.stats["requests"].to_numpy(dtype=float)
    a = solve_candidates(bounded.frame, opt, plan_coupling(inp, opt, bounded.frame),
                         requests=requests)
    b = solve_candidates(unbounded.frame, opt, plan_coupling(inp, opt, unbounded.frame),
                         requests=requests)
    assert plan_coupling(inp, opt, bounded.frame).tie_eta == \
        plan_coupling(inp, opt, unbounded.frame).tie_eta
    cols = ["window", "replicas", "level", "prev_level"]
    assert a.model.candidates[cols].equals(b.model.candidates[cols])
    assert a.result.objective == pytest.approx(b.result.objective, rel=1e-9)
    assert a.chosen[cols].equals(b.chosen[cols])


@pytest.mark.parametrize("capacity,target", [("owned", 0.9), ("pooled", 0.9),
                                             ("owned", 0.99999)])
def test_budget_plan_from_the_relaxations_counts_equals_the_full_table(capacity, target):
    """Under an attainment budget the table holds the counts of the budget-free relaxation
    when every schedule of them keeps the budget, else every count; either way the plan
    equals the one from the table built without any bound."""
    from planner.optimize.candidates import build_candidates
    from planner.plan_solve import budget_holds_everywhere

    opt = PlanOptions(trace=str(AZURE), window="15min", max_replicas=16, capacity=capacity,
                      slo_attainment=target).validate()
    inp = load_inputs(opt)
    args = (opt, inp.windowing.stats, inp.hits, inp.ci, inp.profile, inp.hardware,
            inp.cache_levels_gb, inp.buckets)
    requests = inp.windowing.stats["requests"].to_numpy(dtype=float)
    table = plan_candidates(*args)
    unbounded = build_candidates(inp.windowing.stats, inp.hits, inp.ci, inp.profile,
                                 inp.hardware, inp.cache_levels_gb, opt.max_replicas,
                                 opt.slo_ttft_s, opt.slo_tpot_s, headroom=opt.headroom,
                                 buckets=inp.buckets, warmup=opt.warmup)
    holds = budget_holds_everywhere(table.frame, requests, target)
    assert holds == (target == 0.9)
    assert (len(table.frame) < len(unbounded.frame)) == holds
    a = solve_candidates(table.frame, opt, plan_coupling(inp, opt, table.frame),
                         requests=requests)
    b = solve_candidates(unbounded.frame, opt, plan_coupling(inp, opt, unbounded.frame),
                         requests=requests)
    assert a.result.status == b.result.status
    if b.result.has_solution:
        assert a.result.objective == pytest.approx(b.result.objective, rel=1e-9)
        cols = ["window", "replicas", "level", "prev_level"]
        assert a.chosen[cols].equals(b.chosen[cols])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), capacity=st.sampled_from(["pooled", "owned"]),
       dwell=st.integers(1, 3), changes=st.sampled_from([None, 0, 1]),
       eta=st.sampled_from([0.0, 1e-3]))
def test_incumbent_bound_keeps_the_optimum(seed, capacity, dwell, changes, eta):
    """Random coupled instances: the model without the candidates the incumbent rules out has
    the full model's optimum and schedule."""
    rng = np.random.default_rng(seed)
    cands = random_candidates(rng, replicas=3)
    # Spread the costs so that some candidates are far from any good schedule.
    cands["operational_kgco2e"] *= 1 + 3 * rng.random(len(cands)) ** 4
    cands["total_kgco2e"] = cands["operational_kgco2e"] + cands["embodied_kgco2e"]
    cp = replace(random_coupling(rng, capacity, dwell, changes, eta=eta), max_replicas=3)
    kept = drop_beyond_incumbent(cands, cp, 2.0, 0.1, 1e-6)
    full, reduced = (solve(build_model(c, 2.0, 0.1, coupling=cp), "highs") for c in (cands, kept))
    assert reduced.objective == pytest.approx(full.objective, rel=1e-6)
    cols = ["window", "replicas", "level"]
    assert kept.iloc[reduced.chosen][cols].reset_index(drop=True).equals(
        cands.iloc[full.chosen][cols].reset_index(drop=True))


def test_incumbent_bound_drops_candidates_far_from_the_optimum():
    rng = np.random.default_rng(0)
    cands = random_candidates(rng, replicas=3)
    cands.loc[cands["level"] == 2, ["operational_kgco2e", "total_kgco2e"]] += 100.0
    cp = replace(random_coupling(rng, "owned", 2, 1), max_replicas=3)
    kept = drop_beyond_incumbent(cands, cp, 2.0, 0.1, 1e-6)
    assert (kept["level"] != 2).all() and len(kept) < len(cands)
    # A schedule's own rows (what `greencache check` evaluates) stay whatever their cost.
    dropped = cands.merge(kept, how="left", indicator=True)
    named = dropped[dropped["_merge"] == "left_only"].iloc[[0]].drop(columns="_merge")
    again = drop_beyond_incumbent(cands, cp, 2.0, 0.1, 1e-6, schedule=named)
    assert len(again) == len(kept) + 1


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), dwell=st.integers(2, 3),
       capacity=st.sampled_from(["pooled", "owned"]))
def test_dwell_holds_where_a_level_has_no_candidate(seed, dwell, capacity):
    """A level missing from one window (no candidate there) cannot be left early through
    it: the MILP equals the exhaustive search over the remaining schedules."""
    from test_coupled import brute_force

    rng = np.random.default_rng(seed)
    cands = random_candidates(rng)
    gone = int(rng.integers(1, 4))
    cands = cands[~((cands["window"] == gone) & (cands["level"] == int(rng.integers(0, 3))))]
    cands = cands.reset_index(drop=True)
    cp = random_coupling(rng, capacity, dwell)
    expected, _ = brute_force(cands, cp)
    r = solve(build_model(cands, 2.0, 0.1, coupling=cp), "highs")
    assert r.objective == pytest.approx(expected, rel=1e-6)
