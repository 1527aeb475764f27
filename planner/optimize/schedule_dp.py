"""The least schedule of a coupled plan for a fixed fleet, by dynamic programming over windows.

The state after window t is (cache level l, replicas n, dwell age a, level changes so far in
t's day c). Every coupling row of the MILP (:mod:`planner.optimize.model`) reads only these:

* a step between windows costs κ_t · (n_t − n_{t−1})⁺ (replicas started) plus, with the tie
  rule, η · (4 · [level changed] + |n_t − n_{t−1}|);
* minimum dwell D: a level entered is held D windows (or to the end of the horizon). The age a
  counts the windows the level has been held, capped at D; a change leaves only a level held
  D windows, and enters the new one at age 1. The first window counts as an entry unless the
  coupling says a window before it entered it (a block of a rolling horizon);
* at most N level changes a day: c counts the changes into the windows of t's day, and resets
  where a new day starts (a change into a day's first window counts toward that day);
* warm-up transitions: a cold start grown from level i only after a window at level i, a warm
  candidate of level j only after a window at level ≥ j.

So, with K_t the window's candidates and cost_k everything charged per candidate,

    V_t(l, n, a, c) = min_{k ∈ K_t: level l, n replicas} cost_k + min over the states s′ of
                      window t − 1 that may precede k in state (a, c) of V_{t−1}(s′) + step(s′, k)

and the least schedule is min_s V_T(s), traced back. This is the MILP's optimum exactly: every
schedule the MILP admits is a path here with the same objective, and the converse.

The replica part of a step is the same for every level and age, so each (level, age, changes)
slice is carried across a window by one min-plus transform over the sorted replica counts
x: g(x) = min_{m ≤ x} V(m) + α (x − m) and h(x) = min_{m ≥ x} g(m) + β (m − x) with α = κ_t + η,
β = η, each a running minimum (O(states) per window, not O(states²)). The values of every
window are kept (levels × replica counts × D × (N + 1) numbers per window) and the schedule is
traced back from them.
"""

from __future__ import annotations

import numpy as np

from planner.optimize.coupling import TIE_LEVEL_CHANGE, TIE_REPLICA_CHANGE, Coupling


def least_schedule(level: np.ndarray, prev: np.ndarray | None, replicas: np.ndarray,
                   members: list[np.ndarray], cost: np.ndarray, windows: list[int],
                   cp: Coupling, first_entry: bool = True):
    """(least value, chosen rows) over the windows' ``members`` (candidate rows per window,
    in window order), or None when no schedule exists. ``prev``: each candidate's prev_level
    (None: no transition rows, a grow is warm); ``cost``: per candidate."""
    if any(len(ks) == 0 for ks in members):
        return None
    dp = _Programme(level, prev, replicas, members, cost, windows, cp, first_entry)
    values = dp.forward()
    last = values[-1]
    if not np.isfinite(last).any():
        return None
    state = np.unravel_index(int(np.argmin(last)), last.shape)
    best = float(last[state])
    return best, dp.trace(values, state)


class _Programme:
    """The arrays of one run (module docstring); value arrays are (levels, replica counts,
    ages, changes)."""

    def __init__(self, level, prev, replicas, members, cost, windows, cp, first_entry):
        every = np.concatenate(members)
        self.level, self.prev, self.cost = level, prev, cost
        self.members, self.windows, self.cp = members, windows, cp
        self.grid = np.unique(replicas[every]).astype(float)
        self.nidx = np.zeros(len(replicas), dtype=np.int64)
        self.nidx[every] = np.searchsorted(self.grid, replicas[every])
        top = int(level[every].max())
        if prev is not None:
            top = max(top, int(prev[every].max()))
        self.L, self.G = top + 1, len(self.grid)
        self.A = max(int(cp.dwell_windows), 1)
        self.counting = cp.max_changes_per_day is not None
        self.C = int(cp.max_changes_per_day) + 1 if self.counting else 1
        self.a0 = 0 if first_entry else self.A - 1
        eta = cp.tie_eta
        start = cp.start_kg if len(cp.start_kg) else np.zeros(max(windows) + 1)
        self.up = start + eta * TIE_REPLICA_CHANGE          # α_t per window t
        self.down = eta * TIE_REPLICA_CHANGE                 # β
        self.change = eta * TIE_LEVEL_CHANGE
        self.day = cp.day
        # State indices, broadcastable over a value array (for the trace back).
        self.ix = np.ogrid[:self.L, :self.G, :self.A, :self.C]
        # Members sorted by (level, replica count): one reduction per state.
        self.sorted = []
        for ks in members:
            key = level[ks] * self.G + self.nidx[ks]
            order = np.argsort(key, kind="stable")
            ks = ks[order]
            key = key[order]
            cut = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            self.sorted.append((ks, key[cut], cut))

    def _empty(self):
        return np.full((self.L, self.G, self.A, self.C), np.inf)

    def _new_day(self, pos: int) -> bool:
        return self.C > 1 and self.day[self.windows[pos]] != self.day[self.windows[pos - 1]]

    def _carried(self, V, pos):
        """Window ``pos``'s predecessor values after the day reset and the replica step."""
        if self._new_day(pos):
            reset = self._empty()
            reset[..., 0] = V.min(axis=3)
            V = reset
        x = self.grid[None, :, None, None]
        a = self.up[self.windows[pos]]
        b = self.down
        g = a * x + np.minimum.accumulate(V - a * x, axis=1)
        return np.minimum.accumulate((g + b * x)[:, ::-1], axis=1)[:, ::-1] - b * x

    def _sources(self, W):
        """(stay, change): per target level the best predecessor values of staying (ages
        shifted) and of changing into it (from a level held D windows, one change more)."""
        A, C = self.A, self.C
        stay = self._empty()
        if A == 1:
            stay[:] = W
        else:
            stay[:, :, 1:] = W[:, :, :-1]
            stay[:, :, A - 1] = np.minimum(stay[:, :, A - 1], W[:, :, A - 1])
        held = W[:, :, A - 1, :]                               # (L, G, C)
        if self.counting:       # N = 0 (C = 1) leaves no change at all
            out = np.full_like(held, np.inf)
            out[..., 1:] = held[..., :-1]
            held = out
        return stay, held + self.change

    def _entries(self, stay, moved, ks):
        """Per candidate (rows ``ks``), its predecessor value by (age, changes): (K, A, C)."""
        lk, nk = self.level[ks], self.nidx[ks]
        val = stay[lk, nk].copy()                               # (K, A, C)
        if self.prev is None:
            # from any other level: the least of the levels below and above
            below = np.minimum.accumulate(moved, axis=0)
            above = np.minimum.accumulate(moved[::-1], axis=0)[::-1]
            inf = np.full_like(moved[:1], np.inf)
            lo = np.concatenate([inf, below[:-1]])[lk, nk]
            hi = np.concatenate([above[1:], inf])[lk, nk]
            entry = np.minimum(lo, hi)
        else:
            pk = self.prev[ks]
            above = np.concatenate([np.minimum.accumulate(moved[::-1], axis=0)[::-1][1:],
                                    np.full_like(moved[:1], np.inf)])
            warm = pk < 0
            entry = np.where(warm[:, None], above[lk, nk], moved[np.maximum(pk, 0), nk])
            val[~warm] = np.inf                                 # a grow is always a change
        val[:, 0, :] = np.minimum(val[:, 0, :], entry)
        return val

    def forward(self) -> list[np.ndarray]:
        values = []
        V = self._empty()
        ks, keys, cut = self.sorted[0]
        v0 = np.minimum.reduceat(self.cost[ks], cut)
        V.reshape(self.L * self.G, self.A, self.C)[keys, self.a0, 0] = v0
        values.append(V)
        for pos in range(1, len(self.windows)):
            W = self._carried(V, pos)
            stay, moved = self._sources(W)
            ks, keys, cut = self.sorted[pos]
            val = self._entries(stay, moved, ks) + self.cost[ks][:, None, None]
            V = self._empty()
            V.reshape(self.L * self.G, self.A, self.C)[keys] = np.minimum.reduceat(val, cut,
                                                                                   axis=0)
            values.append(V)
        return values

    def trace(self, values, state) -> np.ndarray:
        """The rows of the least schedule ending in ``state`` (level, replica index, age,
        changes) of the last window: each window's candidate and predecessor state are those
        that attain the least value into the state found after it."""
        picks = []
        l, g, a, c = state
        for pos in range(len(self.windows) - 1, 0, -1):
            V = values[pos - 1]
            ks = self._at(pos, l, g)
            best = (np.inf, None, None)
            for k in ks:
                total = self._into(V, pos, k, a, c)
                s = int(np.argmin(total))
                v = self.cost[k] + total.flat[s]
                if v < best[0]:
                    best = (v, k, s)
            _, k, s = best
            picks.append(k)
            l, g, a, c = np.unravel_index(s, V.shape)
        ks = self._at(0, l, g)
        picks.append(ks[int(np.argmin(self.cost[ks]))])
        return np.array(picks[::-1], dtype=np.int64)

    def _at(self, pos, l, g):
        ks = self.members[pos]
        return ks[(self.level[ks] == l) & (self.nidx[ks] == g)]

    def _into(self, V, pos, k, a, c):
        """V_{t−1}(s′) + step(s′, k) for every state s′ of window pos − 1 that may precede
        candidate k in state (a, c) of window pos (inf for the others)."""
        A = self.A
        l, g = self.level[k], self.nidx[k]
        L_, G_, A_, C_ = self.ix
        cc = 0 if self._new_day(pos) else C_
        dn = (self.grid[g] - self.grid)[None, :, None, None]
        step = self.up[self.windows[pos]] * np.maximum(dn, 0) + self.down * np.maximum(-dn, 0)
        warm = self.prev is None or self.prev[k] < 0
        stay = (L_ == l) & (np.minimum(A_ + 1, A - 1) == a) & (cc == c) & warm
        if self.prev is None:
            allowed = L_ != l
        elif self.prev[k] < 0:
            allowed = L_ > l
        else:
            allowed = L_ == self.prev[k]
        counted = (cc + 1 == c) if self.counting else (cc == c)
        moved = allowed & (A_ == A - 1) & (a == 0) & counted
        total = np.where(stay, V + step, np.inf)
        return np.minimum(total, np.where(moved, V + step + self.change, np.inf))
