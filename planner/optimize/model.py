"""The planning MILP, built from small ``define_*`` functions (PuLP).

Sets: windows t; candidates k ∈ K_t of window t (replicas n_k, cache level index i_k, drives
d_k); levels i; S ⊆ windows the "soft" windows that no candidate can serve within the SLO
(empty unless best effort is asked for). Data per candidate: carbon_k (kgCO2e), ttft_k and
tpot_k (p90, seconds), share_k (the modelled share of its window's requests within both SLOs);
per window: requests r_t. The coupling data (:mod:`planner.optimize.coupling`) is per window.

    min   carbon + ties
    carbon = Σ_k (op_k + ρ · emb_k) · choose_k + Σ_t κ_t · start_t
             [owned: + (1 − ρ) · (R · Σ_t a_t + Σ_t s_t + Σ_t p_t · (R − n_t) + q_t · (D − d_t))]
    ties   = Σ_k η (i_k + n_k / 4N) · choose_k + Σ_t η (4 · z_t + u_t)
    s.t.  Σ_{k ∈ K_t} choose_k = 1                                  one_config(t)
          Σ_{k ∈ K_t} ttft_k · choose_k ≤ SLO_ttft [+ ttft_excess_t if t ∈ S]   slo_ttft(t)
          Σ_{k ∈ K_t} tpot_k · choose_k ≤ SLO_tpot [+ tpot_excess_t if t ∈ S]   slo_tpot(t)
          Σ_{k ∈ K_t, i_k = i} choose_k − level(t,i) = 0            level_link(t,c)
          z_t ≥ level(t,i) − level(t−1,i)                           level_change(t,c)
          u_t ≥ ±(n_t − n_{t−1}),  start_t ≥ n_t − n_{t−1}          replica_up(t), replica_down(t), replica_start(t)
          Σ_{τ=t−D+1..t} w(τ,i) ≤ level(t,i),  w(t,i) ≥ level(t,i) − level(t−1,i)
                                                                    dwell(t,c), level_entry(t,c)
             (level(t,i) = 0 where level i has no candidate in window t)
          Σ_{t ∈ day} z_t ≤ N_day                                   changes_per_day(d)
          n_t ≤ R,  d_t ≤ D                                         owned_replicas(t), owned_drives(t)
          s_t ≥ b_t · D,  s_t ≥ Σ_k wear_k · choose_k               ssd_calendar(t), ssd_wear(t)
          choose_k, level(t,i) ∈ {0, 1};  R, D ∈ ℤ≥0;  the rest ≥ 0

with n_t = Σ_k n_k choose_k, d_t = Σ_k d_k choose_k; ρ the pool-return fraction (1 when
pooled); κ_t the carbon of starting one replica; a_t the embodied carbon of one replica's
servers over window t; b_t the calendar embodied carbon of one installed drive; wear_k the
embodied carbon of the endurance candidate k writes; p_t, q_t the idle power carbon of an owned
but unallocated replica and drive (0 when owned hardware is powered down); D the minimum dwell
in windows (the first window counts as an entry). SSD embodied of the owned drives per window
is max(calendar ageing of all owned drives, the window's wear), which is never below what
the pooled accounting charges the drives a window uses: owned ≥ pooled term by term.

Best effort is lexicographic, solved in two phases (``solve.py``): first the least relative
excess E* = min Σ_{t ∈ S} (ttft_excess_t / SLO_ttft + tpot_excess_t / SLO_tpot), then the least
carbon subject to ``slo_excess_budget``: that sum ≤ E*. Latency is never traded for carbon, and
windows that can meet the SLO keep it as a hard constraint.

The SLO is either per window (the rows above, the default) or a budget over the horizon that
replaces them (``--slo-attainment F``):

          Σ_t Σ_{k ∈ K_t} r_t · (1 − share_k) · choose_k ≤ (1 − F) · Σ_t r_t [+ shortfall]
                                                                    slo_attainment_budget

Best effort (``shortfall`` ≥ 0, requests) only when no schedule reaches F; phase 1 then
minimises shortfall / Σ_t r_t.

Optional coupling (a static planner's single cache size for the whole horizon):

          Σ_{k ∈ K_t, c(k) = c} choose_k ≤ cache_level_c              static_cache(t, c)
          Σ_c cache_level_c = 1                                     one_cache_level

(Aggregated over n: with one config per window and one level in all, the rows force each
window's share of level c to equal cache_level_c — one row per (t, c) instead of one per
candidate.)

Warm-up transitions (when the candidates have cold starts, prev_level(k) ≥ 0): a cold start of
window t from level i is choosable only when window t − 1 ran level i, and a warm candidate of
level j only when window t − 1 ran level j or larger (a cache that did not grow):

          Σ_{k ∈ K_t, prev(k) = i} choose_k ≤ level(t−1, i)                      grow_from(t, c_i)
          Σ_{k ∈ K_t, prev(k) = −1, level(k) ≥ j} choose_k ≤ Σ_{i ≥ j} level(t−1, i)  warm_at(t, c_j)

Rows are built as blocks: the index arithmetic of a block is numpy over the candidate table,
and each row becomes one PuLP constraint from its term list (no expression arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pulp

from planner.optimize.coupling import (
    TIE_LEVEL_CHANGE,
    TIE_REPLICA_CHANGE,
    Coupling,
    tie_cost,
)

LE, GE, EQ = pulp.LpConstraintLE, pulp.LpConstraintGE, pulp.LpConstraintEQ


@dataclass
class PlanModel:
    problem: pulp.LpProblem
    candidates: pd.DataFrame
    choose: list[pulp.LpVariable]
    slo_ttft_s: float = 0.0
    slo_tpot_s: float = 0.0
    coupling: Coupling = field(default_factory=Coupling)
    ttft_excess: dict[int, pulp.LpVariable] = field(default_factory=dict)
    tpot_excess: dict[int, pulp.LpVariable] = field(default_factory=dict)
    cache_level: dict[int, pulp.LpVariable] = field(default_factory=dict)
    level: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    level_change: dict[int, pulp.LpVariable] = field(default_factory=dict)
    replica_change: dict[int, pulp.LpVariable] = field(default_factory=dict)
    replica_start: dict[int, pulp.LpVariable] = field(default_factory=dict)
    ssd_owned: dict[int, pulp.LpVariable] = field(default_factory=dict)
    owned_replicas: pulp.LpVariable | None = None
    owned_drives: pulp.LpVariable | None = None
    carbon: pulp.LpAffineExpression | None = None
    ties: pulp.LpAffineExpression | None = None
    groups: dict[int, np.ndarray] = field(default_factory=dict)
    attainment_shortfall: pulp.LpVariable | None = None
    attainment: float | None = None
    total_requests: float = 0.0
    requests: np.ndarray | None = None        # per window, with an attainment budget

    @property
    def soft_windows(self) -> list[int]:
        return sorted(self.ttft_excess)

    @property
    def windows(self) -> list[int]:
        return sorted(self.groups)

    @property
    def best_effort(self) -> bool:
        """Whether the model has slack to minimise before carbon (two-phase solve)."""
        return bool(self.ttft_excess) or self.attainment_shortfall is not None

    def excess(self) -> pulp.LpAffineExpression:
        """Σ_{t ∈ S} (ttft_excess_t / SLO_ttft + tpot_excess_t / SLO_tpot)
        [+ shortfall / Σ_t r_t]."""
        terms = [(v, 1.0 / self.slo_ttft_s) for v in self.ttft_excess.values()]
        terms += [(v, 1.0 / self.slo_tpot_s) for v in self.tpot_excess.values()]
        if self.attainment_shortfall is not None:
            terms.append((self.attainment_shortfall, 1.0 / max(self.total_requests, 1.0)))
        return pulp.LpAffineExpression(terms)

    def objective(self) -> pulp.LpAffineExpression:
        """carbon + ties (a fresh expression: solving never edits the model's own)."""
        expr = self.carbon.copy()
        if self.ties is not None:
            expr.addInPlace(self.ties)
        return expr


def add_rows(m: PlanModel, names, terms, sense, rhs) -> None:
    """One constraint per (name, term list, right-hand side): a block added in one pass.

    The rows go straight into the problem's constraint table: ``addConstraint`` would also
    re-register every variable of every row (most of the model's build time on long
    horizons), which PuLP does anyway, once, when the problem is solved or written."""
    rhs = np.broadcast_to(np.asarray(rhs, dtype=float), (len(names),))
    table = m.problem._constraints
    for name, row, b in zip(names, terms, rhs):
        if name in table:
            raise ValueError(f"constraint {name} is defined twice")
        table[name] = pulp.LpConstraint(pulp.LpAffineExpression(row), sense, name, float(b))


def _gb_names(cand: pd.DataFrame) -> dict[int, int]:
    """Level index → its size in GB, for names that read like the problem."""
    return dict(zip(cand["level"].to_numpy().tolist(),
                    np.rint(cand["cache_gb"].to_numpy()).astype(int).tolist()))


def _labels(cand: pd.DataFrame) -> list[str]:
    """(t=5,n=3,c=4000GB), and for a cold start the level it grew from: (…,from=1000GB)."""
    t = cand["window"].to_numpy()
    n = cand["replicas"].to_numpy()
    c = np.rint(cand["cache_gb"].to_numpy()).astype(np.int64)
    if "prev_level" not in cand.columns:
        return [f"(t={a},n={b},c={d}GB)" for a, b, d in zip(t, n, c)]
    gb = _level_gb(cand)
    src = [f",from={gb[p]}GB" if p >= 0 else "" for p in cand["prev_level"].to_numpy().tolist()]
    return [f"(t={a},n={b},c={d}GB{e})" for a, b, d, e in zip(t, n, c, src)]


def _per_window(m: PlanModel, values: np.ndarray) -> dict[int, list]:
    """Σ_{k ∈ K_t} values_k · choose_k as term lists, per window."""
    return {t: [(m.choose[k], float(values[k])) for k in ks] for t, ks in m.groups.items()}


def define_choice_variables(m: PlanModel) -> None:
    """choose(t,n,c) ∈ {0,1}: 1 when window t runs n replicas with a cache of c GB."""
    m.choose = [m.problem.add_variable(f"choose{label}", cat=pulp.LpBinary)
                for label in _labels(m.candidates)]


def define_slack_variables(m: PlanModel, soft_windows) -> None:
    """ttft_excess(t), tpot_excess(t) ≥ 0 (seconds above the SLO), for soft windows only."""
    for t in sorted(soft_windows):
        m.ttft_excess[t] = m.problem.add_variable(f"ttft_excess(t={t})", lowBound=0)
        m.tpot_excess[t] = m.problem.add_variable(f"tpot_excess(t={t})", lowBound=0)


def define_one_config_constraints(m: PlanModel) -> None:
    """Σ_{k ∈ K_t} choose_k = 1 for every window t: exactly one configuration per window."""
    ones = np.ones(len(m.candidates))
    rows = _per_window(m, ones)
    add_rows(m, [f"one_config(t={t})" for t in rows], list(rows.values()), EQ, 1.0)


def define_slo_constraints(m: PlanModel) -> None:
    """Σ_k ttft_k · choose_k ≤ SLO_ttft (+ ttft_excess_t in soft windows), likewise TPOT."""
    for name, col, slo, slack in (("slo_ttft", "p90_ttft_s", m.slo_ttft_s, m.ttft_excess),
                                  ("slo_tpot", "p90_tpot_s", m.slo_tpot_s, m.tpot_excess)):
        rows = _per_window(m, m.candidates[col].to_numpy(dtype=float))
        for t in slack:
            rows[t] = rows[t] + [(slack[t], -1.0)]
        add_rows(m, [f"{name}(t={t})" for t in rows], list(rows.values()), LE, slo)


def define_level_variables(m: PlanModel) -> None:
    """level(t,c) ∈ {0,1}, linked by Σ_{k ∈ K_t, level(k) = i} choose_k − level(t,i) = 0."""
    cand = m.candidates
    gb = _gb_names(cand)
    names, rows = [], []
    for (t, i), ks in cand.groupby(["window", "level"], sort=True).groups.items():
        t, i = int(t), int(i)
        v = m.problem.add_variable(f"level(t={t},c={gb[i]}GB)", cat=pulp.LpBinary)
        m.level[(t, i)] = v
        names.append(f"level_link(t={t},c={gb[i]}GB)")
        rows.append([(m.choose[k], 1.0) for k in ks] + [(v, -1.0)])
    add_rows(m, names, rows, EQ, 0.0)


def _levels_of(m: PlanModel) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for t, i in m.level:
        out.setdefault(t, []).append(i)
    return out


def define_level_change_constraints(m: PlanModel) -> None:
    """z_t ≥ level(t,i) − level(t−1,i) for every level i and t ≥ 1: z_t = 1 when the cache
    level changes into window t (z_t ≥ 0 continuous: the levels are binary)."""
    gb = _gb_names(m.candidates)
    ws = m.windows
    names, rows = [], []
    levels = _levels_of(m)      # once: per window it made the block quadratic in windows
    for t in ws[1:]:
        z = m.level_change[t] = m.problem.add_variable(f"level_change(t={t})", lowBound=0)
        for i in levels[t]:
            row = [(m.level[(t, i)], 1.0), (z, -1.0)]
            if (t - 1, i) in m.level:
                row.append((m.level[(t - 1, i)], -1.0))
            names.append(f"level_change(t={t},c={gb[i]}GB)")
            rows.append(row)
    add_rows(m, names, rows, LE, 0.0)


def _replica_diff(m: PlanModel, t: int) -> list:
    """n_t − n_{t−1} as terms."""
    n = m.candidates["replicas"].to_numpy(dtype=float)
    return [(m.choose[k], float(n[k])) for k in m.groups[t]] + \
        [(m.choose[k], -float(n[k])) for k in m.groups[t - 1]]


def define_replica_change_constraints(m: PlanModel) -> None:
    """u_t ≥ n_t − n_{t−1} and u_t ≥ n_{t−1} − n_t: replicas added or removed (tie rule)."""
    names, rows = [], []
    for t in m.windows[1:]:
        u = m.replica_change[t] = m.problem.add_variable(f"replica_change(t={t})", lowBound=0)
        d = _replica_diff(m, t)
        names += [f"replica_up(t={t})", f"replica_down(t={t})"]
        rows += [d + [(u, -1.0)], [(v, -c) for v, c in d] + [(u, -1.0)]]
    add_rows(m, names, rows, LE, 0.0)


def define_replica_start_constraints(m: PlanModel) -> None:
    """start_t ≥ n_t − n_{t−1}, start_t ≥ 0: replicas started into window t, each paying its
    weight-load time at power (the first window's replicas are the initial deployment)."""
    names, rows = [], []
    for t in m.windows[1:]:
        s = m.replica_start[t] = m.problem.add_variable(f"replica_start(t={t})", lowBound=0)
        names.append(f"replica_start(t={t})")
        rows.append(_replica_diff(m, t) + [(s, -1.0)])
    add_rows(m, names, rows, LE, 0.0)


def define_dwell_constraints(m: PlanModel, dwell: int) -> None:
    """w(t,i) ≥ level(t,i) − level(t−1,i) (an entry into level i; the first window is one) and
    Σ_{τ=t−D+1..t} w(τ,i) ≤ level(t,i): a level entered is held D windows (or to the end)."""
    gb = _gb_names(m.candidates)
    entry: dict[tuple[int, int], pulp.LpVariable] = {}
    first = m.windows[0]
    names, rows = [], []
    for (t, i), lv in m.level.items():
        w = entry[(t, i)] = m.problem.add_variable(f"level_entry(t={t},c={gb[i]}GB)",
                                                   lowBound=0)
        if t == first and not m.coupling.first_window_entry:
            continue  # a window fixed by an earlier solve: its level was entered before
        row = [(lv, 1.0), (w, -1.0)]
        if (t - 1, i) in m.level:
            row.append((m.level[(t - 1, i)], -1.0))
        names.append(f"level_entry(t={t},c={gb[i]}GB)")
        rows.append(row)
    add_rows(m, names, rows, LE, 0.0)
    names, rows = [], []
    for (t, i), lv in m.level.items():
        terms = [(entry[(tau, i)], 1.0) for tau in range(max(0, t - dwell + 1), t + 1)
                 if (tau, i) in entry]
        names.append(f"dwell(t={t},c={gb[i]}GB)")
        rows.append(terms + [(lv, -1.0)])
    # A window where level i has no candidate cannot run it: an entry into i in the dwell
    # windows before it must not be left there (Σ w ≤ 0).
    for (t0, i) in entry:
        for t in range(t0 + 1, t0 + dwell):
            if t in m.groups and (t, i) not in m.level and not any(
                    (tau, i) in entry for tau in range(t0 + 1, t)):
                terms = [(entry[(tau, i)], 1.0) for tau in range(max(0, t - dwell + 1), t)
                         if (tau, i) in entry]
                names.append(f"dwell(t={t},c={gb[i]}GB)")
                rows.append(terms)
                break
    add_rows(m, names, rows, LE, 0.0)


def define_changes_per_day_constraints(m: PlanModel, day: np.ndarray, limit: int) -> None:
    """Σ_{t ∈ day d} z_t ≤ N: at most N cache-level changes per calendar day of the horizon."""
    by_day: dict[int, list] = {}
    for t, z in m.level_change.items():
        by_day.setdefault(int(day[t]), []).append((z, 1.0))
    add_rows(m, [f"changes_per_day(d={d})" for d in by_day], list(by_day.values()), LE,
             float(limit))


def define_owned_capacity(m: PlanModel) -> None:
    """R, D ∈ ℤ≥0 owned for the horizon; n_t ≤ R and d_t ≤ D every window; SSD embodied of the
    owned drives s_t ≥ b_t · D and s_t ≥ Σ_k wear_k · choose_k."""
    cand, cp = m.candidates, m.coupling
    m.owned_replicas = R = m.problem.add_variable("owned_replicas", lowBound=0,
                                                  cat=pulp.LpInteger)
    m.owned_drives = D = m.problem.add_variable("owned_drives", lowBound=0, cat=pulp.LpInteger)
    rep = _per_window(m, cand["replicas"].to_numpy(dtype=float))
    drv = _per_window(m, cand["ssd_drives"].to_numpy(dtype=float))
    wear = _per_window(m, cand["emb_ssd_wear"].to_numpy(dtype=float))
    ws = m.windows
    add_rows(m, [f"owned_replicas(t={t})" for t in ws], [rep[t] + [(R, -1.0)] for t in ws],
             LE, 0.0)
    add_rows(m, [f"owned_drives(t={t})" for t in ws], [drv[t] + [(D, -1.0)] for t in ws], LE, 0.0)
    for t in ws:
        m.ssd_owned[t] = m.problem.add_variable(f"ssd_owned_embodied(t={t})", lowBound=0)
    add_rows(m, [f"ssd_calendar(t={t})" for t in ws],
             [[(D, float(cp.drive_calendar_kg[t])), (m.ssd_owned[t], -1.0)] for t in ws], LE, 0.0)
    add_rows(m, [f"ssd_wear(t={t})" for t in ws],
             [wear[t] + [(m.ssd_owned[t], -1.0)] for t in ws], LE, 0.0)


def define_attainment_budget(m: PlanModel, requests, target: float,
                             best_effort: bool = False) -> None:
    """Σ_t Σ_{k ∈ K_t} r_t · (1 − share_k) · choose_k ≤ (1 − F) · Σ_t r_t [+ shortfall]: at
    most a share 1 − F of the horizon's requests outside the SLOs, with share_k the candidate's
    modelled ``within_slo_share`` and r_t its window's requests (``requests`` by window)."""
    r = np.asarray(requests, dtype=float)
    cand = m.candidates
    miss = r[cand["window"].to_numpy()] * (1.0 - cand["within_slo_share"].to_numpy())
    m.attainment = float(target)
    m.requests = r
    m.total_requests = float(r.sum())
    row = [(v, float(x)) for v, x in zip(m.choose, miss) if x > 0]
    if best_effort:
        m.attainment_shortfall = m.problem.add_variable("attainment_shortfall", lowBound=0)
        row.append((m.attainment_shortfall, -1.0))
    add_rows(m, ["slo_attainment_budget"], [row], LE, (1.0 - target) * m.total_requests)


def define_static_cache_constraints(m: PlanModel, levels) -> None:
    """Σ_{n} choose(t,n,c) ≤ cache_level(c) for every (t, c) and Σ_c cache_level(c) = 1:
    one cache size for all windows."""
    gb = _gb_names(m.candidates)
    for c in levels:
        m.cache_level[int(c)] = m.problem.add_variable(f"cache_level(c={gb[int(c)]}GB)",
                                                       cat=pulp.LpBinary)
    names, rows = [], []
    for (t, c), ks in m.candidates.groupby(["window", "level"]).groups.items():
        names.append(f"static_cache(t={int(t)},c={gb[int(c)]}GB)")
        rows.append([(m.choose[k], 1.0) for k in ks] + [(m.cache_level[int(c)], -1.0)])
    add_rows(m, names, rows, LE, 0.0)
    add_rows(m, ["one_cache_level"], [[(v, 1.0) for v in m.cache_level.values()]], EQ, 1.0)


def candidate_cost(cand: pd.DataFrame, coupling: Coupling) -> np.ndarray:
    """The per-candidate part of the carbon objective: op_k + ρ · emb_k, less the idle power of
    the owned hardware the candidate puts to work (charged through R and D instead)."""
    total = cand["total_kgco2e"].to_numpy(dtype=float)
    if not coupling.owned:
        return total
    rho = coupling.pool_return
    t = cand["window"].to_numpy()
    emb = cand["embodied_kgco2e"].to_numpy(dtype=float)
    busy_idle = cand["replicas"].to_numpy(dtype=float) * coupling.replica_idle_kg[t] + \
        cand["ssd_drives"].to_numpy(dtype=float) * coupling.drive_idle_kg[t]
    return total - emb + rho * emb - (1 - rho) * busy_idle


def _level_gb(cand: pd.DataFrame) -> dict[int, int]:
    """GB of every level index a candidate runs or (a cold start) grew from."""
    gb = dict(zip(cand["level"].to_numpy().tolist(),
                  np.rint(cand["cache_gb"].to_numpy()).astype(int).tolist()))
    if "prev_level" in cand.columns:
        cold = cand[cand["prev_level"] >= 0]
        gb.update(zip(cold["prev_level"].to_numpy().tolist(),
                      np.rint(cold["prev_cache_gb"].to_numpy()).astype(int).tolist()))
    return gb


def define_warmup_constraints(m: PlanModel) -> None:
    """The transition rows of the module docstring: grow_from(t, c_i) for every window t ≥ 1
    and level i some cold start of t grows from; warm_at(t, c_j) for every t ≥ 1 and level
    j ≥ 1 some warm candidate of t runs (j = 0, no cache, is reachable from any level). A level
    without candidates in window t − 1 has no level variable: it counts as 0."""
    cand = m.candidates
    gb = _level_gb(cand)
    lev = cand["level"].to_numpy()
    prev = cand["prev_level"].to_numpy()
    names, rows = [], []
    by_window: dict[int, dict[int, pulp.LpVariable]] = {}   # once: per window it was quadratic
    for (w, i), v in m.level.items():
        by_window.setdefault(w, {})[i] = v
    for t in m.windows:
        if t - 1 not in m.groups:
            continue  # the first window (or one after a gap): the cache enters it warm
        ks = m.groups[t]
        before = by_window.get(t - 1, {})
        for i in sorted(set(prev[ks].tolist()) - {-1}):
            row = [(m.choose[k], 1.0) for k in ks[prev[ks] == i]]
            if i in before:
                row.append((before[i], -1.0))
            names.append(f"grow_from(t={t},c={gb[i]}GB)")
            rows.append(row)
        warm = ks[prev[ks] == -1]
        for j in sorted(set(lev[warm].tolist()) - {min(gb)}):
            row = [(m.choose[k], 1.0) for k in warm[lev[warm] >= j]]
            row += [(v, -1.0) for i, v in sorted(before.items()) if i >= j]
            names.append(f"warm_at(t={t},c={gb[j]}GB)")
            rows.append(row)
    add_rows(m, names, rows, LE, 0.0)


def models_warmup(cand: pd.DataFrame, coupling: Coupling | None) -> bool:
    """Whether the transition rows apply: the scenario models warm-up, or the candidates hold
    cold starts. The scenario is asked, not only the table: where the SLO filter or the
    incumbent bound left no cold start, a warm candidate above the previous window's level
    must still be refused, or the model would grow the cache warm."""
    if coupling is not None and coupling.warmup:
        return True
    return "prev_level" in cand.columns and bool((cand["prev_level"] >= 0).any())


def carbon_of(m: PlanModel, chosen: np.ndarray, owned_replicas=None, owned_drives=None) -> float:
    """The carbon term of the objective for a schedule (one chosen row per window), evaluated
    exactly from the data rather than from the solver's variable values (which carry its
    feasibility tolerance)."""
    cand, cp = m.candidates, m.coupling
    ch = cand.iloc[np.asarray(chosen, dtype=np.int64)].sort_values("window")
    total = float(candidate_cost(ch, cp).sum())
    t = ch["window"].to_numpy()
    if m.replica_start:
        starts = np.maximum(np.diff(ch["replicas"].to_numpy(dtype=float)), 0.0)
        total += float((cp.start_kg[t[1:]] * starts).sum())
    if cp.owned:
        R, D = float(owned_replicas), float(owned_drives)
        keep = 1 - cp.pool_return
        ssd = np.maximum(D * cp.drive_calendar_kg[t], ch["emb_ssd_wear"].to_numpy())
        total += keep * float(R * (cp.replica_embodied_kg[t] + cp.replica_idle_kg[t]).sum()
                              + D * cp.drive_idle_kg[t].sum() + ssd.sum())
    return total


def define_objective(m: PlanModel) -> None:
    """min carbon + ties (module docstring)."""
    cand, cp = m.candidates, m.coupling
    cost = candidate_cost(cand, cp)
    terms = [(v, float(c)) for v, c in zip(m.choose, cost)]
    terms += [(s, float(cp.start_kg[t])) for t, s in m.replica_start.items()]
    if cp.owned:
        keep = 1 - cp.pool_return
        ws = m.windows
        terms.append((m.owned_replicas, keep * float(sum(cp.replica_embodied_kg[t]
                                                         + cp.replica_idle_kg[t] for t in ws))))
        terms.append((m.owned_drives, keep * float(sum(cp.drive_idle_kg[t] for t in ws))))
        terms += [(s, keep) for s in m.ssd_owned.values()]
    m.carbon = pulp.LpAffineExpression(terms)
    if cp.tie_eta > 0:
        tie = tie_cost(cand, cp)
        ties = [(v, float(c)) for v, c in zip(m.choose, tie)]
        ties += [(z, TIE_LEVEL_CHANGE * cp.tie_eta) for z in m.level_change.values()]
        ties += [(u, TIE_REPLICA_CHANGE * cp.tie_eta) for u in m.replica_change.values()]
        m.ties = pulp.LpAffineExpression(ties)
    m.problem.setObjective(m.objective())


def build_model(candidates: pd.DataFrame, slo_ttft_s: float, slo_tpot_s: float, *,
                soft_windows=(), static_cache: bool = False, coupling: Coupling | None = None,
                attainment: float | None = None, requests=None,
                attainment_best_effort: bool = False,
                name: str = "greencache_plan") -> PlanModel:
    """Assemble the MILP of the module docstring from the candidate table. With
    ``attainment`` F the horizon budget (``requests`` per window) replaces the per-window
    p90 rows."""
    cand = candidates.reset_index(drop=True)
    cp = coupling or Coupling()
    m = PlanModel(problem=pulp.LpProblem(name, pulp.LpMinimize), candidates=cand, choose=[],
                  slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, coupling=cp)
    m.groups = {int(t): idx.to_numpy() for t, idx in cand.groupby("window").groups.items()}
    define_choice_variables(m)
    define_slack_variables(m, [t for t in soft_windows if t in m.groups])
    define_one_config_constraints(m)
    if attainment is None:
        define_slo_constraints(m)
    else:
        define_attainment_budget(m, requests, attainment, attainment_best_effort)
    if cp.couples_levels or cp.tie_eta > 0:
        define_level_variables(m)
        define_level_change_constraints(m)
    if cp.dwell_windows > 1:
        define_dwell_constraints(m, cp.dwell_windows)
    if cp.max_changes_per_day is not None:
        define_changes_per_day_constraints(m, cp.day, cp.max_changes_per_day)
    if cp.tie_eta > 0:
        define_replica_change_constraints(m)
    if np.any(cp.start_kg > 0):
        define_replica_start_constraints(m)
    if cp.owned:
        define_owned_capacity(m)
    if static_cache:
        define_static_cache_constraints(m, sorted(cand["level"].unique()))
    if models_warmup(cand, cp):
        if not m.level:
            define_level_variables(m)
        define_warmup_constraints(m)
    define_objective(m)
    return m
