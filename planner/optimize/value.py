"""The value function of the plan's model: the least objective of every state a schedule can
be in after each window, by dynamic programming, with the minimum dwell and the daily change
limit as part of the state. Its minimum after the last window is the model's optimum; written
beside the plan (``value_function.npy``), it is a certificate of optimality that ``greencache
check`` verifies for all windows at once, in time linear in the horizon.

It covers the per-window p90 model with pooled capacity and no best-effort window, whatever
else the scenario couples: the tie rule, start costs, cache warm-up transitions, the minimum
dwell and the daily change limit. (An owned fleet, an attainment budget and best-effort
windows are not covered: :func:`applies` says so and the check re-solves the model instead.)

The plan's solver (``schedule_dp.py``) runs the same recursion per window to trace the
schedule back; this module writes the recursion once more, vectorised over all windows, as the
certificate's verifier. That second statement is deliberate: a certificate checked by the
solver's own code would only repeat the solver's errors, and the check (``check/``) exists to
catch them. The two agree with each other and with an exhaustive search
(``tests/test_optimize_value.py``, ``tests/test_coupled.py``); a drift between them fails
``greencache check`` on every plan, where CI sees it.

After window t a schedule is in state (i, n, a, c): cache level i, n replicas, a the windows
level i has been held (counted to the dwell D: a ∈ 1..D, the first window an entry), and c the
level changes made so far on window t's calendar day (0..N_day). V_t(i, n, a, c), the least
objective of windows 0..t ending in that state, is V_0 = cost_k of the first window's
candidates (a = 1, c = 0) and

    V_t(s) = min_{k ∈ K_t entering s} [cost_k + min_{s′ → k} V_{t−1}(s′) + step_t(s′, k)]

with cost_k = carbon_k + tie_k (:func:`model.candidate_cost`, :func:`coupling.tie_cost`) and
step_t = η (4 [i′ ≠ i] + |n − n′|) + κ_t (n − n′)⁺ (the model's level-change, replica-change
and start terms). A predecessor s′ = (i′, n′, a′, c′) may lead to candidate k:

* staying (i′ = i, k warm): a = min(a′ + 1, D); c = c′ on the same day, 0 on a new day;
* changing level (i′ ≠ i): only once the dwell is kept, a′ = D; a = 1; c = c′ + 1 on the same
  day, 1 on a new day, at most N_day; with cold starts in the table (warm-up), a cold start
  grown from level p only from i′ = p, and a warm candidate of level i only from i′ > i (a
  cache that shrank), as the transition rows of ``model.py`` say.

These are the model's rows exactly (one configuration per window, level_change, dwell,
changes_per_day, replica_up/down, replica_start, grow_from, warm_at), so min V_T is the
model's optimum (tested against exhaustive search and the MILP). The minimum over n′ is a
distance transform with slopes η + κ_t upwards and η downwards, two running minima along the
replica counts (``np.minimum.accumulate``): a window costs O(levels · replica counts · D ·
N_day) plus its candidates.

Certificate. Any V with V_0 ≤ cost and V_t ≤ RHS_t(V_{t−1}) (the right-hand side above, from
the recorded V_{t−1}) bounds every schedule from below: by induction a schedule's objective up
to window t is at least V_t of its state. :func:`verify` computes RHS_t for all t at once
from the recorded V and returns min V_T − Σ_t e_t, with e_t ≥ 0 the largest amount by which
window t's recorded values exceed their right-hand side (0 for the plan's own V; a bound
that rounding or an edit could make too high is lowered by exactly that).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.optimize.coupling import TIE_LEVEL_CHANGE, TIE_REPLICA_CHANGE, Coupling, tie_cost
from planner.optimize.model import candidate_cost

FILE_NAME = "value_function.npy"
# Windows verified per block: memory follows the block (states × this), not the horizon.
BLOCK_STATES = 2_000_000
# From this many rows on, a grouped minimum is taken by sorting (_min_into).
SORTED_MIN_ROWS = 1024


def applies(coupling: Coupling, soft_windows, attainment: float | None) -> bool:
    """Whether the value function is the model's for this scenario."""
    return (not coupling.owned and not list(soft_windows) and attainment is None
            and coupling.first_window_entry)


def objective_parts(cand: pd.DataFrame, coupling: Coupling) -> np.ndarray:
    """cost_k = carbon_k + tie_k per candidate: the within-window part of the objective."""
    return candidate_cost(cand, coupling) + tie_cost(cand, coupling)


def schedule_objective(rows: pd.DataFrame, coupling: Coupling) -> float:
    """The model's objective (carbon and tie terms) of a schedule, one row per window in
    window order: Σ_t cost_t + Σ_{t ≥ 1} step_t."""
    cp = coupling
    t = rows["window"].to_numpy()
    n = rows["replicas"].to_numpy(dtype=float)
    level = rows["level"].to_numpy()
    dn = np.diff(n)
    steps = cp.start_kg[t[1:]] * np.maximum(dn, 0.0) if len(cp.start_kg) else np.zeros(len(dn))
    if cp.tie_eta > 0:
        steps = steps + cp.tie_eta * (TIE_LEVEL_CHANGE * (np.diff(level) != 0)
                                      + TIE_REPLICA_CHANGE * np.abs(dn))
    return float(objective_parts(rows, cp).sum() + steps.sum())


@dataclass(frozen=True)
class States:
    """The model's candidates as states: per row its window, level, replica-count index,
    grown-from level (−1 warm) and cost; the state grid's sizes and the per-window data."""

    t: np.ndarray
    i: np.ndarray
    r: np.ndarray
    p: np.ndarray
    cost: np.ndarray
    replicas: np.ndarray        # the distinct replica counts, ascending (the grid's n axis)
    levels: int
    dwell: int
    changes: int                # C = N_day + 1, or 1 without a limit
    limited: bool
    warmup: bool
    new_day: np.ndarray         # per window: its calendar day differs from the one before
    up: np.ndarray              # per window: cost of one replica more (η + κ_t)
    down: float                 # cost of one replica fewer (η)
    change: float               # cost of a level change (4η)
    windows: int

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.levels, len(self.replicas), self.dwell, self.changes)


def states(cand: pd.DataFrame, coupling: Coupling, n_windows: int, warmup: bool) -> States:
    """The states of the model's candidates ``cand`` (each within the planned SLO);
    ``warmup``: the model has the transition rows (its candidates include cold starts)."""
    cp = coupling
    reps = cand["replicas"].to_numpy().astype(np.int64)
    replicas, r = np.unique(reps, return_inverse=True)
    limit = cp.max_changes_per_day
    day = cp.day if len(cp.day) else np.zeros(n_windows, dtype=np.int64)
    kappa = cp.start_kg if len(cp.start_kg) else np.zeros(n_windows)
    eta = max(cp.tie_eta, 0.0)
    return States(
        t=cand["window"].to_numpy().astype(np.int64),
        i=cand["level"].to_numpy().astype(np.int64), r=r.reshape(-1).astype(np.int64),
        p=(cand["prev_level"].to_numpy().astype(np.int64) if warmup
           else np.full(len(cand), -1, dtype=np.int64)),
        cost=objective_parts(cand, cp), replicas=replicas.astype(float),
        levels=int(cand["level"].max()) + 1 if len(cand) else 1,
        dwell=max(1, int(cp.dwell_windows)), changes=1 if limit is None else int(limit) + 1,
        limited=limit is not None, warmup=warmup,
        new_day=np.r_[False, day[1:n_windows] != day[:n_windows - 1]],
        up=TIE_REPLICA_CHANGE * eta + kappa[:n_windows], down=TIE_REPLICA_CHANGE * eta,
        change=TIE_LEVEL_CHANGE * eta, windows=n_windows)


def _right_hand_side(S: States, before: np.ndarray, ts: np.ndarray, rows: np.ndarray,
                     pos: np.ndarray) -> np.ndarray:
    """RHS_t of the module docstring for the windows ``ts`` (all ≥ 1) at once, from
    ``before`` = V_{t−1} (len(ts), L, R, D, C); ``rows`` the candidates of those windows and
    ``pos`` each one's index into ``ts``. Returns (len(ts), L, R, D, C), inf where no
    candidate enters a state."""
    inf = np.inf
    B = len(ts)
    L, R, D, C = S.shape
    x = S.replicas[None, None, :, None, None]
    up = S.up[ts][:, None, None, None, None]
    # M(i′, n, a′, c′) = min_{n′} V(i′, n′, a′, c′) + the step's replica part.
    fwd = np.minimum.accumulate(before - up * x, axis=2) + up * x
    bwd = np.minimum.accumulate((before + S.down * x)[:, :, ::-1], axis=2)[:, :, ::-1] \
        - S.down * x
    M = np.minimum(fwd, bwd)
    if S.limited and C > 1 and S.new_day[ts].any():
        # A new day: its change count starts again (every count folds into c = 0).
        new = S.new_day[ts]
        M[new, ..., 0] = M[new].min(axis=-1)
        M[new, ..., 1:] = inf
    # Staying at the level: age a′ → min(a′ + 1, D), the count as it was.
    stay = np.full(M.shape, inf)
    if D == 1:
        stay[:] = M
    else:
        stay[:, :, :, 1:] = M[:, :, :, :-1]
        stay[:, :, :, D - 1] = np.minimum(stay[:, :, :, D - 1], M[:, :, :, D - 1])
    # Changing from level i′ once its dwell is kept: one change more that day (after a new
    # day's fold, from c′ = 0 to c = 1).
    src = M[:, :, :, D - 1, :] + S.change                          # (B, L, R, C)
    if S.limited:
        into = np.full(src.shape, inf)
        into[..., 1:] = src[..., :-1]
    else:
        into = src
    # From a larger level (warm-up rows), or from any other level (without them).
    other = np.full(into.shape, inf)
    other[:, :-1] = np.minimum.accumulate(into[:, ::-1], axis=1)[:, ::-1][:, 1:]
    if not S.warmup:
        smaller = np.full(into.shape, inf)
        smaller[:, 1:] = np.minimum.accumulate(into, axis=1)[:, :-1]
        other = np.minimum(other, smaller)
    b, i, r, p = pos, S.i[rows], S.r[rows], S.p[rows]
    value = np.full((len(rows), D, C), inf)
    warm = p < 0
    value[warm] = stay[b[warm], i[warm], r[warm]]
    value[warm, 0] = np.minimum(value[warm, 0], other[b[warm], i[warm], r[warm]])
    cold = ~warm
    value[cold, 0] = into[b[cold], p[cold], r[cold]]
    value += S.cost[rows][:, None, None]
    out = np.full((B * L * R, D, C), inf)
    _min_into(out, (b * L + i) * R + r, value)
    return out.reshape(B, L, R, D, C)


def _min_into(out: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """out[index[k]] = min(out[index[k]], values[k]) for every k, repeated indices included:
    ``np.minimum.at`` over rows of values. Many rows (a certificate's block of windows) by a
    sort and one grouped reduction, where the ufunc's per-element loop was most of the
    check's time (half the time on BurstGPT's 65,844 rows); a few (one window of the
    recursion) by the ufunc, which costs less there. A minimum is exact in any order: both
    give the same values."""
    if len(index) < SORTED_MIN_ROWS:
        np.minimum.at(out, index, values)
        return
    order = np.argsort(index, kind="stable")
    idx = index[order]
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    at = idx[starts]
    out[at] = np.minimum(out[at], np.minimum.reduceat(values[order], starts, axis=0))


def _first(S: States, rows: np.ndarray) -> np.ndarray:
    """V_0: the first window's warm candidates at a = 1, c = 0, (1, L, R, D, C)."""
    L, R, D, C = S.shape
    out = np.full((L * R,), np.inf)
    warm = rows[S.p[rows] < 0]
    np.minimum.at(out, S.i[warm] * R + S.r[warm], S.cost[warm])
    grid = np.full((1, L, R, D, C), np.inf)
    grid[0, :, :, 0, 0] = out.reshape(L, R)
    return grid


def _by_window(S: States) -> list[np.ndarray]:
    order = np.argsort(S.t, kind="stable")
    return np.split(order, np.searchsorted(S.t[order], np.arange(1, S.windows)))


def value_function(S: States) -> np.ndarray:
    """V of every candidate's state after its window, (rows, D, C), by the recursion (one
    window after another)."""
    per = _by_window(S)
    out = np.full((len(S.t), S.dwell, S.changes), np.inf)
    V = _first(S, per[0])
    out[per[0]] = V[0, S.i[per[0]], S.r[per[0]]]
    for t in range(1, S.windows):
        rows = per[t]
        V = _right_hand_side(S, V, np.array([t]), rows, np.zeros(len(rows), dtype=np.int64))
        out[rows] = V[0, S.i[rows], S.r[rows]]
    return out


def optimum(S: States, values: np.ndarray) -> float:
    """min V_T over the last window's candidates (inf when none is reachable)."""
    last = S.t == S.windows - 1
    return float(values[last].min()) if last.any() else float("inf")


def _excess(recorded: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Per window, the largest amount a recorded value exceeds its right-hand side (≥ 0).
    Where no candidate enters a state (rhs = inf) a recorded value claims nothing (no path
    visits it); a state a candidate enters recorded as inf exceeds it infinitely."""
    over = np.where(np.isposinf(rhs), 0.0, recorded - rhs)
    return np.maximum(over.reshape(len(over), -1).max(axis=1), 0.0)


def verify(S: States, values: np.ndarray) -> tuple[float, float]:
    """The lower bound the recorded ``values`` (rows, D, C) prove (module docstring), and the
    total Σ_t e_t it was lowered by. All windows at once, a block at a time."""
    L, R, D, C = S.shape
    grid = np.full((S.windows, L, R, D, C), np.inf)
    _min_into(grid.reshape(S.windows * L * R, D, C), (S.t * L + S.i) * R + S.r, values)
    per = _by_window(S)
    excess = np.zeros(S.windows)
    with np.errstate(invalid="ignore"):
        excess[0] = _excess(grid[:1], _first(S, per[0]))[0]
        step = max(1, BLOCK_STATES // max(L * R * D * C, 1))
        for t0 in range(1, S.windows, step):
            ts = np.arange(t0, min(S.windows, t0 + step))
            rows = np.concatenate([per[t] for t in ts])
            pos = np.searchsorted(ts, S.t[rows])
            excess[ts] = _excess(grid[ts], _right_hand_side(S, grid[ts - 1], ts, rows, pos))
    last = grid[S.windows - 1]
    return float(last.min()) - float(excess.sum()), float(excess.sum())
