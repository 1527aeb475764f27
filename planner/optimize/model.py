"""The planning MILP, built from small ``define_*`` functions (PuLP).

Sets: windows t; candidates k ∈ K_t of window t (replicas n, cache level c); S ⊆ windows the
"soft" windows that no candidate can serve within the SLO (empty unless best effort is asked
for). Data per candidate: carbon_k (kgCO2e), ttft_k and tpot_k (p90, seconds).

    min   Σ_k carbon_k · choose_k                                   carbon_kgco2e
    s.t.  Σ_{k ∈ K_t} choose_k = 1                                  one_config(t)
          Σ_{k ∈ K_t} ttft_k · choose_k ≤ SLO_ttft [+ ttft_excess_t if t ∈ S]   slo_ttft(t)
          Σ_{k ∈ K_t} tpot_k · choose_k ≤ SLO_tpot [+ tpot_excess_t if t ∈ S]   slo_tpot(t)
          choose_k ∈ {0, 1};  excess ≥ 0

Best effort is lexicographic, solved in two phases (``solve.py``): first the least relative
excess E* = min Σ_{t ∈ S} (ttft_excess_t / SLO_ttft + tpot_excess_t / SLO_tpot), then the least
carbon subject to ``slo_excess_budget``: that sum ≤ E*. Latency is never traded for carbon, and
windows that can meet the SLO keep it as a hard constraint.

Optional coupling (a static planner's single cache size for the whole horizon):

          Σ_{k ∈ K_t, c(k) = c} choose_k ≤ cache_level_c              static_cache(t, c)
          Σ_c cache_level_c = 1                                     one_cache_level

(Aggregated over n: with one config per window and one level in all, the rows force each
window's share of level c to equal cache_level_c — one row per (t, c) instead of one per
candidate.)

Cache levels per window (every block that couples windows reads them), i the level index in
ascending size:

          Σ_{k ∈ K_t, level(k) = i} choose_k − level(t, i) = 0         level_link(t, c)

Warm-up transitions (when the candidates have cold starts, prev_level(k) ≥ 0): a cold start of
window t from level i is choosable only when window t − 1 ran level i, and a warm candidate of
level j only when window t − 1 ran level j or larger (a cache that did not grow):

          Σ_{k ∈ K_t, prev(k) = i} choose_k ≤ level(t−1, i)                      grow_from(t, c_i)
          Σ_{k ∈ K_t, prev(k) = −1, level(k) ≥ j} choose_k ≤ Σ_{i ≥ j} level(t−1, i)  warm_at(t, c_j)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pulp


@dataclass
class PlanModel:
    problem: pulp.LpProblem
    candidates: pd.DataFrame
    choose: list[pulp.LpVariable]
    slo_ttft_s: float = 0.0
    slo_tpot_s: float = 0.0
    ttft_excess: dict[int, pulp.LpVariable] = field(default_factory=dict)
    tpot_excess: dict[int, pulp.LpVariable] = field(default_factory=dict)
    cache_level: dict[int, pulp.LpVariable] = field(default_factory=dict)
    level: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    carbon: pulp.LpAffineExpression | None = None

    @property
    def soft_windows(self) -> list[int]:
        return sorted(self.ttft_excess)

    def excess(self) -> pulp.LpAffineExpression:
        """Σ_{t ∈ S} (ttft_excess_t / SLO_ttft + tpot_excess_t / SLO_tpot)."""
        terms = [(v, 1.0 / self.slo_ttft_s) for v in self.ttft_excess.values()]
        terms += [(v, 1.0 / self.slo_tpot_s) for v in self.tpot_excess.values()]
        return pulp.LpAffineExpression(terms)


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


def define_choice_variables(m: PlanModel) -> None:
    """choose(t,n,c) ∈ {0,1}: 1 when window t runs n replicas with a cache of c GB."""
    m.choose = [m.problem.add_variable(f"choose{label}", cat=pulp.LpBinary)
                for label in _labels(m.candidates)]


def define_slack_variables(m: PlanModel, soft_windows) -> None:
    """ttft_excess(t), tpot_excess(t) ≥ 0 (seconds above the SLO), for soft windows only."""
    for t in sorted(soft_windows):
        m.ttft_excess[t] = m.problem.add_variable(f"ttft_excess(t={t})", lowBound=0)
        m.tpot_excess[t] = m.problem.add_variable(f"tpot_excess(t={t})", lowBound=0)


def define_one_config_constraints(m: PlanModel, groups) -> None:
    """Σ_{k ∈ K_t} choose_k = 1 for every window t: exactly one configuration per window."""
    for t, ks in groups.items():
        m.problem += (pulp.lpSum(m.choose[k] for k in ks) == 1, f"one_config(t={t})")


def define_slo_constraints(m: PlanModel, groups) -> None:
    """Σ_k ttft_k · choose_k ≤ SLO_ttft (+ ttft_excess_t in soft windows), likewise TPOT."""
    ttft = m.candidates["p90_ttft_s"].to_numpy()
    tpot = m.candidates["p90_tpot_s"].to_numpy()
    for t, ks in groups.items():
        for name, lat, slo, slack in (("slo_ttft", ttft, m.slo_ttft_s, m.ttft_excess),
                                      ("slo_tpot", tpot, m.slo_tpot_s, m.tpot_excess)):
            expr = pulp.LpAffineExpression([(m.choose[k], float(lat[k])) for k in ks])
            if t in slack:
                expr = expr - slack[t]
            m.problem += (expr <= slo, f"{name}(t={t})")


def define_static_cache_constraints(m: PlanModel, levels) -> None:
    """Σ_{n} choose(t,n,c) ≤ cache_level(c) for every (t, c) and Σ_c cache_level(c) = 1:
    one cache size for all windows."""
    for c in levels:
        m.cache_level[int(c)] = m.problem.add_variable(f"cache_level(c={int(c)})",
                                                       cat=pulp.LpBinary)
    cand = m.candidates
    gb = dict(zip(cand["level"].to_numpy(), np.rint(cand["cache_gb"].to_numpy()).astype(int)))
    for (t, c), ks in cand.groupby(["window", "level"]).groups.items():
        terms = [(m.choose[k], 1.0) for k in ks] + [(m.cache_level[int(c)], -1.0)]
        m.problem += (pulp.LpAffineExpression(terms) <= 0,
                      f"static_cache(t={int(t)},c={gb[c]}GB)")
    m.problem += (pulp.lpSum(m.cache_level.values()) == 1, "one_cache_level")


def _level_gb(cand: pd.DataFrame) -> dict[int, int]:
    """GB of every level index a candidate runs or (a cold start) grew from."""
    gb = dict(zip(cand["level"].to_numpy().tolist(),
                  np.rint(cand["cache_gb"].to_numpy()).astype(int).tolist()))
    if "prev_level" in cand.columns:
        cold = cand[cand["prev_level"] >= 0]
        gb.update(zip(cold["prev_level"].to_numpy().tolist(),
                      np.rint(cold["prev_cache_gb"].to_numpy()).astype(int).tolist()))
    return gb


def define_level_variables(m: PlanModel) -> None:
    """level(t, i) ∈ {0,1}: window t runs cache level i; linked to the choices by
    Σ_{k ∈ K_t, level(k) = i} choose_k − level(t, i) = 0 (level_link), for every window and
    every level some candidate has."""
    cand = m.candidates
    gb = _level_gb(cand)
    levels = sorted(gb)
    by = cand.groupby(["window", "level"]).groups
    for t in sorted(cand["window"].unique().tolist()):
        for i in levels:
            v = m.problem.add_variable(f"level(t={t},c={gb[i]}GB)", cat=pulp.LpBinary)
            m.level[(t, i)] = v
            ks = by.get((t, i), [])
            terms = [(m.choose[k], 1.0) for k in ks] + [(v, -1.0)]
            m.problem += (pulp.LpAffineExpression(terms) == 0,
                          f"level_link(t={t},c={gb[i]}GB)")


def define_warmup_constraints(m: PlanModel) -> None:
    """The transition rows of the module docstring: grow_from(t, c_i) for every window t ≥ 1
    and level i some cold start of t grows from; warm_at(t, c_j) for every t ≥ 1 and level
    j ≥ 1 (j = 0, no cache, is reachable from any level: its row would read Σ ≤ 1)."""
    cand = m.candidates
    gb = _level_gb(cand)
    levels = sorted(gb)
    win = cand["window"].to_numpy()
    lev = cand["level"].to_numpy()
    prev = cand["prev_level"].to_numpy()
    windows = sorted(set(win.tolist()))
    rows_of = {t: np.flatnonzero(win == t) for t in windows}
    for t in windows:
        if (t - 1, levels[0]) not in m.level:
            continue  # the first window (or one after a gap): the cache enters it warm
        ks = rows_of[t]
        for i in sorted(set(prev[ks].tolist()) - {-1}):
            terms = [(m.choose[k], 1.0) for k in ks[prev[ks] == i]]
            terms.append((m.level[(t - 1, i)], -1.0))
            m.problem += (pulp.LpAffineExpression(terms) <= 0,
                          f"grow_from(t={t},c={gb[i]}GB)")
        warm = ks[prev[ks] == -1]
        for j in levels[1:]:
            terms = [(m.choose[k], 1.0) for k in warm[lev[warm] >= j]]
            terms += [(m.level[(t - 1, i)], -1.0) for i in levels if i >= j]
            m.problem += (pulp.LpAffineExpression(terms) <= 0, f"warm_at(t={t},c={gb[j]}GB)")


def has_cold_starts(cand: pd.DataFrame) -> bool:
    """Whether the candidates include cold starts (and so need the transition rows)."""
    return "prev_level" in cand.columns and bool((cand["prev_level"] >= 0).any())


def define_objective(m: PlanModel) -> None:
    """min Σ_k carbon_k · choose_k (kgCO2e over the horizon)."""
    carbon = m.candidates["total_kgco2e"].to_numpy()
    m.carbon = pulp.LpAffineExpression([(v, float(c)) for v, c in zip(m.choose, carbon)])
    m.problem.setObjective(m.carbon)


def build_model(candidates: pd.DataFrame, slo_ttft_s: float, slo_tpot_s: float, *,
                soft_windows=(), static_cache: bool = False,
                name: str = "greencache_plan") -> PlanModel:
    """Assemble the MILP of the module docstring from the candidate table."""
    cand = candidates.reset_index(drop=True)
    m = PlanModel(problem=pulp.LpProblem(name, pulp.LpMinimize), candidates=cand, choose=[],
                  slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s)
    groups = {int(t): idx.to_numpy() for t, idx in cand.groupby("window").groups.items()}
    define_choice_variables(m)
    define_slack_variables(m, [t for t in soft_windows if t in groups])
    define_objective(m)
    define_one_config_constraints(m, groups)
    define_slo_constraints(m, groups)
    if static_cache:
        define_static_cache_constraints(m, sorted(cand["level"].unique()))
    if has_cold_starts(cand):
        define_level_variables(m)
        define_warmup_constraints(m)
    return m
