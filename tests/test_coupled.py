"""The coupled plan (owned capacity, dwell, daily changes, start costs, tie rule) against an
exhaustive search over schedules, the chain programme, both solvers and its invariants."""

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from planner.optimize.argmin import solve_chain
from planner.optimize.charges import charge
from planner.optimize.coupling import (
    TIE_LEVEL_CHANGE,
    TIE_REPLICA_CHANGE,
    Coupling,
    tie_cost,
)
from planner.optimize.model import build_model, candidate_cost
from planner.optimize.solve import TerminationCondition, solve

W = 4


def candidates(rng, windows=W, replicas=2, levels=3):
    """Random candidates with every column the coupled model reads; all within the SLO."""
    rows = []
    for t, n, c in itertools.product(range(windows), range(1, replicas + 1), range(levels)):
        op = float(rng.uniform(1, 3)) * n
        emb_gpu, emb_ssd = 0.3 * n, float(rng.uniform(0.0, 0.5)) * (c > 0)
        rows.append({"window": t, "replicas": n, "level": c, "cache_gb": 1000.0 * c,
                     "p90_ttft_s": 1.0, "p90_tpot_s": 0.05, "ssd_drives": (2 * n) * (c > 0),
                     "emb_ssd_wear": float(rng.uniform(0.0, 0.6)) * (c > 0),
                     "energy_kwh": op, "op_gpu": op, "op_host": 0.0, "op_ssd": 0.0,
                     "emb_gpu": emb_gpu, "emb_host": 0.0, "emb_ssd": emb_ssd,
                     "operational_kgco2e": op, "embodied_kgco2e": emb_gpu + emb_ssd,
                     "total_kgco2e": op + emb_gpu + emb_ssd,
                     "within_slo_share": float(rng.uniform(0.5, 1.0))})
    return pd.DataFrame(rows)


def coupling(rng, capacity="pooled", dwell=1, changes=None, rho=0.0, start=0.2, idle=0.0,
             eta=0.0, windows=W):
    return Coupling(capacity=capacity, pool_return=rho if capacity == "owned" else 1.0,
                    dwell_windows=dwell, max_changes_per_day=changes,
                    day=np.arange(windows) // 2, kg_per_kwh=np.full(windows, 0.1),
                    start_kwh_gpu=start * 10, start_kwh_host=0.0,
                    idle_kwh_gpu=np.full(windows, idle), idle_kwh_host=np.zeros(windows),
                    idle_kwh_ssd=np.full(windows, idle / 4),
                    emb_gpu_per_replica=np.full(windows, 0.3), emb_host_per_replica=np.zeros(windows),
                    drive_calendar_kg=rng.uniform(0.01, 0.2, windows), tie_eta=eta,
                    max_replicas=2)


def brute_force(cands, cp, requests=None, target=None):
    """Every schedule (one candidate per window), its objective written out from the model's
    definition, feasibility checked window by window; with ``target`` F, only schedules
    keeping Σ_t r_t · share_t ≥ F · Σ_t r_t. Returns (objective, schedule)."""
    groups = [cands[cands.window == t] for t in range(W)]
    best, best_rows = np.inf, None
    for combo in itertools.product(*[list(g.itertuples()) for g in groups]):
        if target is not None and sum(requests[r.window] * r.within_slo_share for r in combo) \
                < target * requests.sum() - 1e-9:
            continue
        lv = [r.level for r in combo]
        n = np.array([r.replicas for r in combo], dtype=float)
        d = np.array([r.ssd_drives for r in combo], dtype=float)
        entries = [t == 0 or lv[t] != lv[t - 1] for t in range(W)]
        # dwell: a level entered at t is held through t + D − 1 (or the end)
        if any(entries[t] and any(lv[u] != lv[t] for u in range(t, min(W, t + cp.dwell_windows)))
               for t in range(W)):
            continue
        changes = [lv[t] != lv[t - 1] for t in range(1, W)]
        if cp.max_changes_per_day is not None:
            per_day = {}
            for t in range(1, W):
                per_day[cp.day[t]] = per_day.get(cp.day[t], 0) + changes[t - 1]
            if any(v > cp.max_changes_per_day for v in per_day.values()):
                continue
        obj = 0.0
        rho = cp.pool_return
        for t, r in enumerate(combo):
            obj += r.operational_kgco2e + rho * r.embodied_kgco2e
        starts = np.maximum(np.diff(n), 0)
        obj += float((cp.start_kg[1:] * starts).sum())
        if cp.owned:
            R, D = n.max(), d.max()
            for t, r in enumerate(combo):
                obj += (1 - rho) * (R * cp.emb_gpu_per_replica[t]
                                    + max(D * cp.drive_calendar_kg[t], r.emb_ssd_wear)
                                    + (R - n[t]) * cp.replica_idle_kg[t]
                                    + (D - d[t]) * cp.drive_idle_kg[t])
        if cp.tie_eta > 0:
            obj += float(tie_cost(pd.DataFrame(combo), cp).sum())
            obj += cp.tie_eta * (TIE_LEVEL_CHANGE * sum(changes)
                                 + TIE_REPLICA_CHANGE * np.abs(np.diff(n)).sum())
        if obj < best - 1e-12:
            best, best_rows = obj, [r.Index for r in combo]
    return best, best_rows


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), capacity=st.sampled_from(["pooled", "owned"]),
       dwell=st.integers(1, 3), changes=st.sampled_from([None, 0, 1]),
       rho=st.sampled_from([0.0, 0.5]), idle=st.sampled_from([0.0, 0.3]))
def test_coupled_milp_equals_exhaustive_search(seed, capacity, dwell, changes, rho, idle):
    rng = np.random.default_rng(seed)
    cands = candidates(rng)
    cp = coupling(rng, capacity, dwell, changes, rho, idle=idle)
    expected, _ = brute_force(cands, cp)
    r = solve(build_model(cands, 2.0, 0.1, coupling=cp), "highs")
    assert r.status == TerminationCondition.optimal
    # Within the relative MIP gap the solve was given (1e-6), not tighter: HiGHS may stop at
    # any point inside it (seed 390 lands 1.06e-7 away).
    assert r.objective == pytest.approx(expected, rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), capacity=st.sampled_from(["pooled", "owned"]),
       dwell=st.integers(1, 3), changes=st.sampled_from([None, 0, 1]),
       rho=st.sampled_from([0.0, 0.5]), idle=st.sampled_from([0.0, 0.3]),
       eta=st.sampled_from([0.0, 0.01]), target=st.sampled_from([None, 0.7, 0.8, 0.9]))
def test_programme_equals_exhaustive_search(seed, capacity, dwell, changes, rho, idle, eta,
                                            target):
    """The dynamic programme over (level, replicas, dwell age, changes today), with the
    budget relaxed by its multiplier (and the MILP closing what the relaxation leaves),
    reaches the exhaustive search's optimum, ties included, and keeps every row."""
    rng = np.random.default_rng(seed)
    cands = candidates(rng)
    cp = coupling(rng, capacity, dwell, changes, rho, idle=idle, eta=eta)
    requests = rng.integers(100, 5000, W).astype(float)
    expected, rows = brute_force(cands, cp, requests, target)
    m = build_model(cands, 2.0, 0.1, coupling=cp, attainment=target,
                    requests=requests if target is not None else None)
    r = solve_chain(m)
    if np.isinf(expected):
        assert r.status == TerminationCondition.infeasible
        return
    assert r.status == TerminationCondition.optimal
    assert r.phases[-1].objective == pytest.approx(expected, rel=1e-6)
    if target is None or r.method == "chain":
        assert r.mip_gap <= 1e-6
    ch = m.candidates.iloc[r.chosen].sort_values("window")
    if target is not None:
        assert (requests * ch["within_slo_share"].to_numpy()).sum() >= \
            target * requests.sum() - 1e-9
    lv = ch["level"].to_numpy()
    for t in range(W):
        if t == 0 or lv[t] != lv[t - 1]:
            assert (lv[t:min(W, t + dwell)] == lv[t]).all()
    if changes is not None:
        for d in set(cp.day.tolist()):
            assert sum(lv[t] != lv[t - 1] for t in range(1, W) if cp.day[t] == d) <= changes
    # The charged windows sum to the programme's carbon.
    charged = charge(ch, cp, r.owned_replicas, r.owned_drives)["total_kgco2e"].sum()
    assert charged == pytest.approx(r.objective, rel=1e-9)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), target=st.sampled_from([None, 0.8]))
def test_programme_gives_both_solvers_schedule_with_dwell_and_changes(seed, target):
    """With the tie rule on, the programme, HiGHS and CBC pick the same schedule and fleet."""
    rng = np.random.default_rng(seed)
    cands = candidates(rng)
    cp = coupling(rng, "owned", dwell=2, changes=1, eta=1e-3)
    requests = rng.integers(100, 5000, W).astype(float)
    m = build_model(cands, 2.0, 0.1, coupling=cp, attainment=target,
                    requests=requests if target is not None else None)
    k, h, c = solve_chain(m), solve(m, "highs"), solve(m, "cbc")
    if h.status == TerminationCondition.infeasible:
        assert k.status == TerminationCondition.infeasible
        return
    assert list(k.chosen) == list(h.chosen) == list(c.chosen)
    assert (k.owned_replicas, k.owned_drives) == (h.owned_replicas, h.owned_drives)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), capacity=st.sampled_from(["pooled", "owned"]))
def test_charged_windows_sum_to_the_objective(seed, capacity):
    rng = np.random.default_rng(seed)
    cands = candidates(rng)
    cp = coupling(rng, capacity, idle=0.2, rho=0.25)
    m = build_model(cands, 2.0, 0.1, coupling=cp)
    r = solve(m, "highs")
    ch = charge(m.candidates.iloc[r.chosen], cp, r.owned_replicas, r.owned_drives)
    assert ch["total_kgco2e"].sum() == pytest.approx(r.objective, rel=1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_chain_programme_equals_the_milp_with_ties_and_starts(seed):
    rng = np.random.default_rng(seed)
    cands = candidates(rng, replicas=3)
    cp = replace(coupling(rng, eta=0.01), max_replicas=3)
    m = build_model(cands, 2.0, 0.1, coupling=cp)
    a, b = solve_chain(m), solve(m, "highs")
    assert a.objective == pytest.approx(b.objective, rel=1e-9)
    assert list(a.chosen) == list(b.chosen)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), rho=st.sampled_from([0.0, 0.5]),
       idle=st.sampled_from([0.0, 0.3]), eta=st.sampled_from([0.0, 0.01]))
def test_owned_chain_equals_exhaustive_search_and_the_milp(seed, rho, idle, eta):
    """Owned capacity without dwell or daily limits: one chain per fleet reaches the
    exhaustive search's optimum, and the MILP's schedule and fleet."""
    rng = np.random.default_rng(seed)
    cands = candidates(rng, replicas=3)
    cp = replace(coupling(rng, "owned", rho=rho, idle=idle, eta=eta), max_replicas=3)
    m = build_model(cands, 2.0, 0.1, coupling=cp)
    a, b = solve_chain(m), solve(m, "highs")
    assert a.method == "chain" and a.status == TerminationCondition.optimal
    if eta == 0.0:
        expected, _ = brute_force(cands, cp)
        assert a.objective == pytest.approx(expected, rel=1e-9)
    assert a.objective == pytest.approx(b.objective, rel=1e-6)
    assert list(a.chosen) == list(b.chosen)
    assert (a.owned_replicas, a.owned_drives) == (b.owned_replicas, b.owned_drives)
    ch = charge(m.candidates.iloc[a.chosen], cp, a.owned_replicas, a.owned_drives)
    assert ch["total_kgco2e"].sum() == pytest.approx(a.objective, rel=1e-9)


def test_exact_ties_resolve_to_the_same_schedule_in_both_solvers():
    """Every level costs the same (the wear-limited tie): the tie rule picks the smallest
    level and keeps it; HiGHS, CBC and the chain agree."""
    rng = np.random.default_rng(3)
    cands = candidates(rng)
    cands["total_kgco2e"] = 1.0 + cands["replicas"] + 0.0 * cands["level"]
    cands["operational_kgco2e"] = cands["total_kgco2e"]
    cands["embodied_kgco2e"] = 0.0
    cp = coupling(rng, eta=1e-4, start=0.0)
    m = build_model(cands, 2.0, 0.1, coupling=cp)
    h, c, k = solve(m, "highs"), solve(m, "cbc"), solve_chain(m)
    assert list(h.chosen) == list(c.chosen) == list(k.chosen)
    chosen = m.candidates.iloc[h.chosen]
    assert (chosen["level"] == 0).all() and (chosen["replicas"] == 1).all()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_highs_and_cbc_give_the_same_coupled_schedule(seed):
    rng = np.random.default_rng(seed)
    cands = candidates(rng)
    cp = coupling(rng, "owned", dwell=2, changes=1, eta=1e-3)
    m = build_model(cands, 2.0, 0.1, coupling=cp)
    h, c = solve(m, "highs"), solve(m, "cbc")
    assert list(h.chosen) == list(c.chosen)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_longer_dwell_never_lowers_carbon_and_owned_never_below_pooled(seed):
    rng = np.random.default_rng(seed)
    cands = candidates(rng)
    base = coupling(rng)
    # The candidates' SSD embodied as candidates.py accounts it: max(calendar ageing of the
    # drives the window uses, its wear).
    t = cands["window"].to_numpy()
    cands["emb_ssd"] = np.maximum(cands["ssd_drives"] * base.drive_calendar_kg[t],
                                  cands["emb_ssd_wear"])
    cands["embodied_kgco2e"] = cands["emb_gpu"] + cands["emb_ssd"]
    cands["total_kgco2e"] = cands["operational_kgco2e"] + cands["embodied_kgco2e"]
    prev = -np.inf
    for dwell in (1, 2, 3, 4):
        r = solve(build_model(cands, 2.0, 0.1, coupling=replace(base, dwell_windows=dwell)),
                  "highs")
        assert r.objective >= prev - 1e-9
        prev = r.objective
    pooled = solve(build_model(cands, 2.0, 0.1, coupling=base), "highs").objective
    owned = solve(build_model(cands, 2.0, 0.1, coupling=replace(
        base, capacity="owned", pool_return=0.0)), "highs").objective
    assert owned >= pooled - 1e-9


def test_solve_leaves_the_model_as_it_was_and_reports_both_phases():
    rng = np.random.default_rng(1)
    cands = candidates(rng)
    cands.loc[cands.window == 2, "p90_ttft_s"] = 9.0       # window 2 best-effort
    m = build_model(cands, 2.0, 0.1, soft_windows=[2], coupling=coupling(rng))
    rows = len(m.problem.constraints())
    a = solve(m, "highs")
    b = solve(m, "cbc")
    assert len(m.problem.constraints()) == rows
    assert [p.name for p in a.phases] == ["slo_excess", "carbon"]
    assert all(p.termination == TerminationCondition.optimal for p in a.phases + b.phases)
    assert a.objective == pytest.approx(b.objective, rel=1e-6)


def test_candidate_cost_charges_pooled_exactly_when_rho_is_one():
    rng = np.random.default_rng(2)
    cands = candidates(rng)
    owned = coupling(rng, "owned", rho=1.0, idle=0.3)
    assert np.allclose(candidate_cost(cands, owned), cands["total_kgco2e"])


def test_plan_owned_writes_provisioning_through_the_cli(tmp_path):
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from planner.cli import app

    trace = Path(__file__).resolve().parent.parent / "examples" / "AzureLLMInferenceTrace_conv.csv"
    r = CliRunner().invoke(app, ["plan", "--trace", str(trace), "--window", "15min",
                                 "--capacity", "owned", "--owned-idle", "on",
                                 "--out", str(tmp_path), "--no-timing"])
    assert r.exit_code == 0, r.output
    prov = json.loads((tmp_path / "provisioning.json").read_text())
    sched = pd.read_csv(tmp_path / "schedule.csv")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert prov["capacity"] == "owned" and prov == summary["provisioning"]
    assert prov["fleet"]["replicas"] >= sched["replicas"].max()
    assert prov["fleet"]["ssd_drives"] >= sched["ssd_drives"].max()
    # a cache level held at least 2 h: on a one-hour trace of 15-min windows, one level
    assert sched["cache_gb"].nunique() == 1
    assert "committed embodied" in r.output
    bad = CliRunner().invoke(app, ["plan", "--trace", str(trace), "--pool-return", "0.5",
                                   "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), capacity=st.sampled_from(["pooled", "owned"]),
       dwell=st.integers(1, 3), changes=st.sampled_from([None, 1]))
def test_rolling_horizon_is_feasible_and_never_below_the_full_solve(seed, capacity, dwell,
                                                                    changes):
    from planner.optimize.rolling import solve_rolling

    rng = np.random.default_rng(seed)
    cands = candidates(rng, windows=6)
    cp = coupling(rng, capacity, dwell, changes, windows=6)
    full = solve(build_model(cands, 2.0, 0.1, coupling=cp), "highs")
    whole = solve_rolling(cands, 2.0, 0.1, cp, block=6, overlap=0)
    # the full solve reads its carbon from variable values, within the solver's tolerance
    assert whole.objective == pytest.approx(full.objective, rel=1e-6)
    r = solve_rolling(cands, 2.0, 0.1, cp, block=2, overlap=1)
    assert r.objective >= full.objective * (1 - 1e-6)
    ch = cands.iloc[r.chosen]
    lv = ch.sort_values("window")["level"].to_numpy()
    # the kept schedule keeps the dwell and the daily change limit of the full model
    for t in range(6):
        if t == 0 or lv[t] != lv[t - 1]:
            assert (lv[t:min(6, t + dwell)] == lv[t]).all()
    if changes is not None:
        for d in range(3):
            ts = [t for t in range(1, 6) if cp.day[t] == d]
            assert sum(lv[t] != lv[t - 1] for t in ts) <= changes


def test_a_cache_never_grows_warm_when_pruning_left_no_cold_start():
    """Hand-solved: with warm-up on, a warm candidate above the previous window's level is
    refused even when the table holds no cold start (the SLO filter or the incumbent bound
    dropped them all). Window 1's cache pays off (10 → 5) but window 0's does not (10 → 12):
    growing warm into window 1 would cost 15; the cache must be held from window 0 (17)."""
    rng = np.random.default_rng(0)
    cands = candidates(rng, windows=2, replicas=1, levels=2)
    cost = {(0, 0): 10.0, (0, 1): 12.0, (1, 0): 10.0, (1, 1): 5.0}
    op = np.array([cost[(t, c)] for t, c in zip(cands.window, cands.level)])
    for col in ("emb_gpu", "emb_host", "emb_ssd", "emb_ssd_wear", "embodied_kgco2e"):
        cands[col] = 0.0
    cands["op_gpu"] = cands["operational_kgco2e"] = cands["total_kgco2e"] = op
    cands["energy_kwh"] = op
    cands["prev_level"] = -1                       # every cold start pruned away
    cands["prev_cache_gb"] = np.nan
    cp = replace(coupling(rng, start=0.0, windows=2), warmup=True)
    per_candidate = candidate_cost(cands, cp)
    for warmup, levels in ((True, [1, 1]), (False, [0, 1])):
        c = replace(cp, warmup=warmup)
        for how in ("programme", "milp"):
            m = build_model(cands, 2.0, 0.1, coupling=c)
            r = solve_chain(m) if how == "programme" else solve(m, "highs", 60, 1e-9)
            chosen = m.candidates.iloc[r.chosen].sort_values("window")
            assert chosen["level"].tolist() == levels, (warmup, how)
            assert r.objective == pytest.approx(per_candidate[chosen.index].sum(), rel=1e-9)
