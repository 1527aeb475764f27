"""The planning MILP, built from small ``define_*`` functions (PuLP).

Sets: windows t; candidates k ∈ K_t of window t (replicas n, cache level c); S ⊆ windows the
"soft" windows that no candidate can serve within the SLO (empty unless best effort is asked
for). Data per candidate: carbon_k (kgCO2e), ttft_k and tpot_k (p90, seconds), a_k (modelled
share of the window's requests within both SLOs); per window: requests r_t.

    min   Σ_k carbon_k · choose_k                                   carbon_kgco2e
    s.t.  Σ_{k ∈ K_t} choose_k = 1                                  one_config(t)
          Σ_{k ∈ K_t} ttft_k · choose_k ≤ SLO_ttft [+ ttft_excess_t if t ∈ S]   slo_ttft(t)
          Σ_{k ∈ K_t} tpot_k · choose_k ≤ SLO_tpot [+ tpot_excess_t if t ∈ S]   slo_tpot(t)
          choose_k ∈ {0, 1};  excess ≥ 0

Best effort is lexicographic, solved in two phases (``solve.py``): first the least relative
excess E* = min Σ_{t ∈ S} (ttft_excess_t / SLO_ttft + tpot_excess_t / SLO_tpot), then the least
carbon subject to ``slo_excess_budget``: that sum ≤ E*. Latency is never traded for carbon, and
windows that can meet the SLO keep it as a hard constraint.

The SLO is either per window (the rows above, the default) or a budget over the horizon that
replaces them (``--slo-attainment F``):

          Σ_t Σ_{k ∈ K_t} r_t · (1 − a_k) · choose_k ≤ (1 − F) · Σ_t r_t [+ shortfall]
                                                                    slo_attainment_budget

Best effort (``shortfall`` ≥ 0, requests) only when no schedule reaches F; phase 1 then
minimises shortfall / Σ_t r_t.

Optional coupling (a static planner's single cache size for the whole horizon):

          Σ_{k ∈ K_t, c(k) = c} choose_k ≤ cache_level_c              static_cache(t, c)
          Σ_c cache_level_c = 1                                     one_cache_level

(Aggregated over n: with one config per window and one level in all, the rows force each
window's share of level c to equal cache_level_c — one row per (t, c) instead of one per
candidate.)
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
    carbon: pulp.LpAffineExpression | None = None
    attainment_shortfall: pulp.LpVariable | None = None
    total_requests: float = 0.0

    @property
    def soft_windows(self) -> list[int]:
        return sorted(self.ttft_excess)

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


def _labels(cand: pd.DataFrame) -> list[str]:
    t = cand["window"].to_numpy()
    n = cand["replicas"].to_numpy()
    c = np.rint(cand["cache_gb"].to_numpy()).astype(np.int64)
    return [f"(t={a},n={b},c={d}GB)" for a, b, d in zip(t, n, c)]


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


def define_attainment_budget(m: PlanModel, requests, target: float,
                             best_effort: bool = False) -> None:
    """Σ_t Σ_{k ∈ K_t} r_t · (1 − a_k) · choose_k ≤ (1 − F) · Σ_t r_t [+ shortfall]: at most a
    share 1 − F of the horizon's requests outside the SLOs, with a_k the candidate's modelled
    ``within_slo_share`` and r_t its window's requests (``requests`` indexed by window)."""
    r = np.asarray(requests, dtype=float)
    cand = m.candidates
    miss = r[cand["window"].to_numpy()] * (1.0 - cand["within_slo_share"].to_numpy())
    m.total_requests = float(r.sum())
    expr = pulp.LpAffineExpression([(v, float(x)) for v, x in zip(m.choose, miss) if x > 0])
    if best_effort:
        m.attainment_shortfall = m.problem.add_variable("attainment_shortfall", lowBound=0)
        expr = expr - m.attainment_shortfall
    m.problem += (expr <= (1.0 - target) * m.total_requests, "slo_attainment_budget")


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


def define_objective(m: PlanModel) -> None:
    """min Σ_k carbon_k · choose_k (kgCO2e over the horizon)."""
    carbon = m.candidates["total_kgco2e"].to_numpy()
    m.carbon = pulp.LpAffineExpression([(v, float(c)) for v, c in zip(m.choose, carbon)])
    m.problem.setObjective(m.carbon)


def build_model(candidates: pd.DataFrame, slo_ttft_s: float, slo_tpot_s: float, *,
                soft_windows=(), static_cache: bool = False, attainment: float | None = None,
                requests=None, attainment_best_effort: bool = False,
                name: str = "greencache_plan") -> PlanModel:
    """Assemble the MILP of the module docstring from the candidate table. With
    ``attainment`` F the horizon budget (``requests`` per window) replaces the per-window
    p90 rows."""
    cand = candidates.reset_index(drop=True)
    m = PlanModel(problem=pulp.LpProblem(name, pulp.LpMinimize), candidates=cand, choose=[],
                  slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s)
    groups = {int(t): idx.to_numpy() for t, idx in cand.groupby("window").groups.items()}
    define_choice_variables(m)
    define_slack_variables(m, [t for t in soft_windows if t in groups])
    define_objective(m)
    define_one_config_constraints(m, groups)
    if attainment is None:
        define_slo_constraints(m, groups)
    else:
        define_attainment_budget(m, requests, attainment, attainment_best_effort)
    if static_cache:
        define_static_cache_constraints(m, sorted(cand["level"].unique()))
    return m
