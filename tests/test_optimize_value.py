"""The value function of the model (planner/optimize/value.py) against an exhaustive search
over schedules and against the MILP, with dwell, daily change limits, the tie rule, start
costs and cache warm-up transitions."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from planner.optimize.coupling import Coupling
from planner.optimize.model import build_model, models_warmup
from planner.optimize.solve import TerminationCondition, solve
from planner.optimize import value
from planner.optimize.value import applies, schedule_objective


def optimum(cands, cp, windows, warmup):
    """The optimum by the recursion, and the bound its value function proves when verified
    for all windows at once (the two must agree: the plan's own V has no excess)."""
    S = value.states(cands, cp, windows, warmup)
    V = value.value_function(S)
    best = value.optimum(S, V)
    bound, lowered = value.verify(S, V)
    assert lowered == 0.0
    assert bound == best or (np.isinf(best) and np.isinf(bound))
    return best


def candidates(rng, windows, replicas, levels, cold):
    """Random candidates with the columns the model reads; with ``cold``, a cold start of every
    grow p → c into every window t ≥ 1, dearer than the warm one (its hit rate is lower)."""
    rows = []
    for t, n, c in itertools.product(range(windows), range(1, replicas + 1), range(levels)):
        for p in [-1] + (list(range(c)) if cold and t >= 1 else []):
            total = float(rng.uniform(1, 3)) * n + (0.0 if p < 0 else float(rng.uniform(0, 1)))
            rows.append({"window": t, "replicas": n, "level": c, "prev_level": p,
                         "cache_gb": 1000.0 * c, "prev_cache_gb": 1000.0 * p if p >= 0 else np.nan,
                         "p90_ttft_s": 1.0, "p90_tpot_s": 0.05, "within_slo_share": 1.0,
                         "ssd_drives": 2 * n * (c > 0), "emb_ssd_wear": 0.0,
                         "embodied_kgco2e": 0.3 * n, "total_kgco2e": total})
    return pd.DataFrame(rows)


def coupling(rng, windows, dwell, changes, eta, start):
    return Coupling(dwell_windows=dwell, max_changes_per_day=changes,
                    day=np.arange(windows) // 3, kg_per_kwh=rng.uniform(0.05, 0.2, windows),
                    start_kwh_gpu=start, tie_eta=eta, max_replicas=3)


def exhaustive(cands, cp, windows, warmup):
    """The least objective over every schedule that keeps the model's rows, written out from
    the model's definition one schedule at a time."""
    groups = [list(cands[cands.window == t].itertuples()) for t in range(windows)]
    best = np.inf
    for combo in itertools.product(*groups):
        lv = [r.level for r in combo]
        if warmup and any(
                (r.prev_level >= 0 and r.prev_level != lv[t - 1]) or
                (r.prev_level < 0 and t >= 1 and lv[t] > lv[t - 1])
                for t, r in enumerate(combo)):
            continue
        if warmup and combo[0].prev_level >= 0:
            continue
        entries = [t == 0 or lv[t] != lv[t - 1] for t in range(windows)]
        if any(entries[t] and any(lv[u] != lv[t] for u in range(t, min(windows,
                                                                       t + cp.dwell_windows)))
               for t in range(windows)):
            continue
        if cp.max_changes_per_day is not None:
            per_day = {}
            for t in range(1, windows):
                per_day[cp.day[t]] = per_day.get(cp.day[t], 0) + (lv[t] != lv[t - 1])
            if any(v > cp.max_changes_per_day for v in per_day.values()):
                continue
        rows = pd.DataFrame([r._asdict() for r in combo])
        best = min(best, schedule_objective(rows, cp))
    return best


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), dwell=st.integers(1, 3),
       changes=st.sampled_from([None, 0, 1, 2]), eta=st.sampled_from([0.0, 0.05]),
       start=st.sampled_from([0.0, 2.0]), cold=st.booleans())
def test_value_equals_exhaustive_search(seed, dwell, changes, eta, start, cold):
    rng = np.random.default_rng(seed)
    W = 4
    cands = candidates(rng, W, 2, 3, cold)
    cp = coupling(rng, W, dwell, changes, eta, start)
    expected = exhaustive(cands, cp, W, models_warmup(cands, cp))
    got = optimum(cands, cp, W, models_warmup(cands, cp))
    assert got == pytest.approx(expected, rel=1e-12) if np.isfinite(expected) else got == np.inf


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), dwell=st.integers(1, 4),
       changes=st.sampled_from([None, 1, 2]), eta=st.sampled_from([0.0, 0.02]),
       start=st.sampled_from([0.0, 2.0]), cold=st.booleans())
def test_value_equals_the_milp(seed, dwell, changes, eta, start, cold):
    """Longer horizons than the exhaustive search reaches: the MILP's optimum."""
    rng = np.random.default_rng(seed)
    W = 9
    cands = candidates(rng, W, 3, 3, cold)
    cp = coupling(rng, W, dwell, changes, eta, start)
    r = solve(build_model(cands, 2.0, 0.1, coupling=cp), "highs", mip_gap=1e-9)
    got = optimum(cands, cp, W, models_warmup(cands, cp))
    if r.status == TerminationCondition.infeasible:
        assert got == np.inf
        return
    assert r.status == TerminationCondition.optimal
    assert got == pytest.approx(r.phases[-1].objective, rel=1e-7)
    # The MILP's schedule is one of the paths the value function minimises over.
    rows = cands.iloc[r.chosen].sort_values("window")
    assert got <= schedule_objective(rows, cp) * (1 + 1e-12)


def test_hand_solved_dwell():
    """Two levels, three windows in one day: level 1 is cheap only in the middle window. With
    a dwell of 2 windows the schedule cannot visit it for one window; with a dwell of 1 it
    can, and with a limit of one change a day it cannot come back."""
    rows = []
    for t, (c0, c1) in enumerate([(1.0, 5.0), (5.0, 1.0), (1.0, 5.0)]):
        for level, cost in ((0, c0), (1, c1)):
            rows.append({"window": t, "replicas": 1, "level": level, "prev_level": -1,
                         "cache_gb": 1000.0 * level, "ssd_drives": 0, "emb_ssd_wear": 0.0,
                         "embodied_kgco2e": 0.0, "total_kgco2e": cost})
    cands = pd.DataFrame(rows)
    base = dict(day=np.zeros(3, dtype=np.int64), kg_per_kwh=np.zeros(3))
    assert optimum(cands, Coupling(**base), 3, False) == 3.0          # 0, 1, 0
    assert optimum(cands, Coupling(dwell_windows=2, **base), 3, False) == 7.0   # all at 0
    assert optimum(cands, Coupling(max_changes_per_day=1, **base), 3, False) == 7.0
    assert optimum(cands, Coupling(max_changes_per_day=2, **base), 3, False) == 3.0


def test_applies_to_pooled_per_window_models_only():
    assert applies(Coupling(dwell_windows=3, max_changes_per_day=2), [], None)
    assert not applies(Coupling(capacity="owned", pool_return=0.0), [], None)
    assert not applies(Coupling(), [2], None)
    assert not applies(Coupling(), [], 0.95)


def test_a_value_function_that_claims_too_much_is_lowered_or_refused():
    """Raising the recorded value of one state above what the recursion allows: verify lowers
    the bound by exactly the excess; recording inf for a reachable state refuses any bound."""
    rng = np.random.default_rng(3)
    W = 6
    cands = candidates(rng, W, 3, 3, cold=True)
    cp = coupling(rng, W, 2, 2, 0.02, 2.0)
    S = value.states(cands, cp, W, True)
    V = value.value_function(S)
    best = value.optimum(S, V)
    forged = V.copy()
    k = int(np.flatnonzero((S.t == 2) & np.isfinite(V[:, 0, 1]))[0])
    forged[S.t == 2] += 5.0 * (S.t[S.t == 2] >= 0)[:, None, None]
    bound, lowered = value.verify(S, forged)
    assert lowered == pytest.approx(5.0) and bound <= best + 1e-9
    forged = V.copy()
    forged[k] = np.inf
    bound, lowered = value.verify(S, forged)
    assert lowered == np.inf and bound == -np.inf


def test_grouped_minimum_by_sorting_equals_the_ufunc():
    """A certificate's block of windows takes its grouped minima by sorting (rows ≥
    SORTED_MIN_ROWS): the same values as ``np.minimum.at``, repeats, infinities and NaN (a
    tampered value function) included."""
    rng = np.random.default_rng(7)
    rows = value.SORTED_MIN_ROWS * 3
    index = rng.integers(0, rows // 4, size=rows)
    values = rng.normal(size=(rows, 2, 3))
    values[rng.integers(0, rows, size=20)] = np.inf
    values[5, 1, 2] = np.nan
    start = np.where(rng.random((rows // 4, 2, 3)) < 0.3, -1.0, np.inf)
    mine, ufunc = start.copy(), start.copy()
    value._min_into(mine, index, values)
    np.minimum.at(ufunc, index, values)
    np.testing.assert_array_equal(mine, ufunc)
