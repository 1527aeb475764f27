"""The planning MILP, built from small ``define_*`` functions (PuLP).

Sets: windows t; candidates k ∈ K_t of window t (replicas n, cache level c).
Data per candidate: carbon_k (kgCO2e), ttft_k and tpot_k (p90, seconds).

    min   Σ_k carbon_k · choose_k  +  M · Σ_t (ttft_excess_t / SLO_ttft + tpot_excess_t / SLO_tpot)
    s.t.  Σ_{k ∈ K_t} choose_k = 1                                  one_config(t)
          Σ_{k ∈ K_t} ttft_k · choose_k ≤ SLO_ttft + ttft_excess_t  slo_ttft(t)
          Σ_{k ∈ K_t} tpot_k · choose_k ≤ SLO_tpot + tpot_excess_t  slo_tpot(t)
          choose_k ∈ {0, 1};  excess ≥ 0 only with --allow-slo-violation (else fixed at 0)

Optional coupling (a static planner's single cache size for the whole horizon):

          choose_k ≤ cache_level_c(k)                               static_cache(t, n, c)
          Σ_c cache_level_c = 1                                     one_cache_level

M exceeds the largest possible carbon total, so the solver first minimises the relative SLO
excess and only then carbon: best effort, never a trade of latency for carbon.
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
    ttft_excess: dict[int, pulp.LpVariable] = field(default_factory=dict)
    tpot_excess: dict[int, pulp.LpVariable] = field(default_factory=dict)
    cache_level: dict[int, pulp.LpVariable] = field(default_factory=dict)
    penalty: float = 0.0


def _labels(cand: pd.DataFrame) -> list[str]:
    t = cand["window"].to_numpy()
    n = cand["replicas"].to_numpy()
    c = np.rint(cand["cache_gb"].to_numpy()).astype(np.int64)
    return [f"(t={a},n={b},c={d}GB)" for a, b, d in zip(t, n, c)]


def define_choice_variables(m: PlanModel) -> None:
    """choose(t,n,c) ∈ {0,1}: 1 when window t runs n replicas with a cache of c GB."""
    m.choose = [m.problem.add_variable(f"choose{label}", cat=pulp.LpBinary)
                for label in _labels(m.candidates)]


def define_slack_variables(m: PlanModel, windows, allow_violation: bool) -> None:
    """ttft_excess(t), tpot_excess(t) ≥ 0 (seconds above the SLO); upper bound 0 unless
    violations are allowed, so the SLO constraints stay hard by default."""
    ub = None if allow_violation else 0.0
    for t in windows:
        m.ttft_excess[t] = m.problem.add_variable(f"ttft_excess(t={t})", lowBound=0, upBound=ub)
        m.tpot_excess[t] = m.problem.add_variable(f"tpot_excess(t={t})", lowBound=0, upBound=ub)


def define_one_config_constraints(m: PlanModel, groups) -> None:
    """Σ_{k ∈ K_t} choose_k = 1 for every window t: exactly one configuration per window."""
    for t, ks in groups.items():
        m.problem += (pulp.lpSum(m.choose[k] for k in ks) == 1, f"one_config(t={t})")


def define_slo_constraints(m: PlanModel, groups, slo_ttft_s: float, slo_tpot_s: float) -> None:
    """Σ_k ttft_k · choose_k ≤ SLO_ttft + ttft_excess_t and likewise for TPOT, per window."""
    ttft = m.candidates["p90_ttft_s"].to_numpy()
    tpot = m.candidates["p90_tpot_s"].to_numpy()
    for t, ks in groups.items():
        m.problem += (pulp.LpAffineExpression([(m.choose[k], float(ttft[k])) for k in ks])
                      - m.ttft_excess[t] <= slo_ttft_s, f"slo_ttft(t={t})")
        m.problem += (pulp.LpAffineExpression([(m.choose[k], float(tpot[k])) for k in ks])
                      - m.tpot_excess[t] <= slo_tpot_s, f"slo_tpot(t={t})")


def define_static_cache_constraints(m: PlanModel, levels) -> None:
    """choose_k ≤ cache_level_{c(k)} and Σ_c cache_level_c = 1: one cache size for all windows."""
    lev = m.candidates["level"].to_numpy()
    for c in levels:
        m.cache_level[int(c)] = m.problem.add_variable(f"cache_level(c={int(c)})",
                                                       cat=pulp.LpBinary)
    for k, (var, label) in enumerate(zip(m.choose, _labels(m.candidates))):
        m.problem += (var - m.cache_level[int(lev[k])] <= 0, f"static_cache{label}")
    m.problem += (pulp.lpSum(m.cache_level.values()) == 1, "one_cache_level")


def define_objective(m: PlanModel, slo_ttft_s: float, slo_tpot_s: float) -> None:
    """min Σ_k carbon_k · choose_k + M · Σ_t (ttft_excess_t / SLO_ttft + tpot_excess_t / SLO_tpot)."""
    carbon = m.candidates["total_kgco2e"].to_numpy()
    worst = float(m.candidates.groupby("window")["total_kgco2e"].max().sum()) if len(carbon) else 0
    m.penalty = 10.0 * max(worst, 1.0)
    terms = [(v, float(c)) for v, c in zip(m.choose, carbon)]
    for t in m.ttft_excess:
        terms.append((m.ttft_excess[t], m.penalty / slo_ttft_s))
        terms.append((m.tpot_excess[t], m.penalty / slo_tpot_s))
    m.problem += pulp.LpAffineExpression(terms), "carbon_kgco2e"


def build_model(candidates: pd.DataFrame, slo_ttft_s: float, slo_tpot_s: float, *,
                allow_violation: bool = False, static_cache: bool = False,
                name: str = "greencache_plan") -> PlanModel:
    """Assemble the MILP of the module docstring from the candidate table."""
    cand = candidates.reset_index(drop=True)
    m = PlanModel(problem=pulp.LpProblem(name, pulp.LpMinimize), candidates=cand, choose=[])
    groups = {int(t): idx.to_numpy() for t, idx in cand.groupby("window").groups.items()}
    define_choice_variables(m)
    define_slack_variables(m, sorted(groups), allow_violation)
    define_objective(m, slo_ttft_s, slo_tpot_s)
    define_one_config_constraints(m, groups)
    define_slo_constraints(m, groups, slo_ttft_s, slo_tpot_s)
    if static_cache:
        define_static_cache_constraints(m, sorted(cand["level"].unique()))
    return m
