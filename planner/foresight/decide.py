"""A plan made decision by decision, each on what was known before it.

At each decision (:meth:`planner.foresight.horizon.Horizon.decisions`) the lookahead's window
inputs come from a :data:`planner.foresight.lookahead.Foresee` (forecasts, or the actuals), its
candidates are built as any plan's (``plan_candidates``), and the lookahead is solved as one
block of the rolling horizon (:func:`planner.optimize.rolling.solve_block`), with the windows
already committed that its coupling rows read held fixed: the last minimum-dwell windows (a
level entered there is still held), the windows since the start of the day (their changes
count toward the day's limit), and the previous window (warm-up transitions, replica starts).
The first ``--decide-every`` windows of its solution are committed; the rest is decided again
by the next decision, on newer data. So the state carried between decisions is the committed
schedule itself: levels in use, the dwell, the warm cache and, with owned capacity, a fleet at
least as large as the held windows use (the plan's fleet is the largest any window allocates,
as in the rolling horizon of a perfect-foresight plan).

The committed schedule is charged on the inputs it was decided on (its predicted carbon is what
the operator expected), and judged on the actuals by ``compare``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.errors import InfeasibleError, SolverError
from planner.foresight.horizon import Horizon
from planner.forecast.frame import POINT_COLUMNS
from planner.foresight.lookahead import Foresee, actual_frame
from planner.optimize.candidates import CandidateSet
from planner.optimize.charges import charge
from planner.optimize.coupling import Coupling
from planner.optimize.model import PlanModel, build_model
from planner.optimize.rolling import held_from, rolling_result, solve_block
from planner.optimize.slo import planned_slos
from planner.optimize.solve import SolveResult, TerminationCondition
from planner.plan_solve import coupling_for, model_candidates, plan_candidates, screen_windows
from planner.workload.curves import HitCurves
from planner.workload.windows import LoadBuckets, Windowing


@dataclass
class RollingPlan:
    inputs: object                 # PlanInputs of the planned windows, as they were decided on
    candidates: CandidateSet       # each planned window's warm candidates, from its decision
    committed: pd.DataFrame        # (the same frame: what the baselines are solved on)
    coupling: Coupling             # of the committed inputs
    model: PlanModel               # the last decision's model
    result: SolveResult
    chosen: pd.DataFrame           # charged, one row per planned window
    forecast: pd.DataFrame         # per planned window: the forecast it was decided on
    decisions: list[dict] = field(default_factory=list)
    candidate_counts: dict = field(default_factory=dict)   # summed over the decisions

    def summary(self) -> dict:
        """summary.json's ``foresight`` entry."""
        opt = self.inputs.options
        return {"foresight": opt.foresight, "decide_every": opt.decide_every,
                "lookahead": opt.lookahead, "load_quantile": opt.load_quantile,
                "forecast_model": opt.forecast_model,
                "hit_curves": "seasonal naive: the latest window at the same time of day "
                              "before the decision",
                "candidates_over_decisions": self.candidate_counts,
                "decisions": self.decisions}

    def forecast_table(self, actual) -> pd.DataFrame:
        """forecast.csv: per committed window the forecast it was decided on beside the
        actuals (``actual``: the planned windows' own PlanInputs)."""
        act = actual_frame(actual.windowing.stats, actual.ci, actual.windowing.length)
        fc = self.forecast.copy()
        fc.insert(0, "window_start", fc.index)
        out = fc.reset_index(drop=True)
        out["actual_rate"] = act["rate"].to_numpy()
        for c in POINT_COLUMNS:
            out[f"actual_{c}"] = act[c].to_numpy()
        return out


def plan_on_forecasts(inputs, horizon: Horizon, foresee: Foresee, progress=None) -> RollingPlan:
    """The rolling plan of the module docstring. ``inputs``: the plan's PlanInputs over the
    whole trace (what the decisions may read of it is up to ``foresee``)."""
    opt = inputs.options
    t0 = time.perf_counter()
    ttft_bound, tpot_bound = planned_slos(opt)
    length = inputs.windowing.length
    hw, profile = inputs.hardware, inputs.profile
    kept: list[pd.DataFrame] = []              # committed rows, one per window, in order
    soft_kept: set[int] = set()
    parts: dict[str, list] = {"stats": [], "ci": [], "token_hit": [], "request_hit": [],
                              "grown_token_hit": [], "grown_request_hit": [], "rate": [],
                              "req_share": [], "time_share": [], "forecast": [],
                              "committed": []}
    counts = np.zeros(5, dtype=np.int64)     # considered, unstable, dominated, over headroom,
    #                                          cold starts in the models
    phases, decisions = [], []
    for n, dec in enumerate(horizon.decisions()):
        d0 = time.perf_counter()
        la = foresee(horizon.first + dec.start, horizon.first + dec.solve_stop)
        issued = la.stats["window_start"].iloc[0]
        if progress:
            progress(f"decision {n + 1} of {len(horizon.decisions())} ({issued:%Y-%m-%d %H:%M})")
        cs = plan_candidates(opt, la.stats, la.hits, la.ci, profile, hw,
                             inputs.cache_levels_gb, la.buckets)
        cold = int((cs.frame["prev_level"] >= 0).sum()) if "prev_level" in cs.frame else 0
        counts += (len(cs.frame) + cs.unstable + cs.pruned + cs.over_headroom, cs.unstable,
                   cs.pruned, cs.over_headroom, cold)
        labels = [f"{ts:%Y-%m-%dT%H:%M:%SZ}" for ts in la.stats["window_start"]]
        _, soft, _ = screen_windows(cs.frame, la.stats, labels, opt,
                                    where=f" of the decision at {issued:%Y-%m-%dT%H:%MZ}")
        free = cs.frame.assign(window=cs.frame["window"].to_numpy() + dec.start)
        soft = [w + dec.start for w in soft]
        stats_all = pd.concat(parts["stats"] + [la.stats], ignore_index=True)
        ci_all = np.concatenate(parts["ci"] + [la.ci])
        coupling = coupling_for(opt, stats_all, ci_all, hw, length,
                                pd.concat(kept + [free], ignore_index=True))
        free = model_candidates(free, opt, coupling, soft)
        back = held_from(dec.start, np.arange(dec.solve_stop), coupling)
        fixed = pd.concat(kept[back:dec.start], ignore_index=True) if dec.start else \
            free.iloc[:0]
        held_soft = sorted(soft_kept & set(range(back, dec.start))) + soft
        r, pos = solve_block(fixed, free, ttft_bound, tpot_bound, coupling, opt.solver,
                             opt.time_limit_s, opt.mip_gap, name=f"decision_{dec.start}",
                             soft_windows=held_soft, first_window_entry=back == 0)
        phases.extend(r.phases)
        check_decision(r, issued)
        rows = pd.concat([fixed, free], ignore_index=True).iloc[pos]
        rows = rows[(rows["window"] >= dec.start) & (rows["window"] < dec.commit_stop)]
        kept.extend(rows.iloc[[i]] for i in np.argsort(rows["window"].to_numpy()))
        soft_kept.update(w for w in soft if w < dec.commit_stop)
        c = slice(0, dec.commit_stop - dec.start)
        parts["stats"].append(la.stats.iloc[c])
        parts["ci"].append(la.ci[c])
        for key in ("token_hit", "request_hit", "grown_token_hit", "grown_request_hit"):
            a = getattr(la.hits, key)
            parts[key].append(None if a is None else a[c])
        if la.buckets is not None:
            parts["rate"].append(la.buckets.rate_rps[c])
            parts["req_share"].append(la.buckets.request_share[c])
            parts["time_share"].append(la.buckets.time_share[c])
        parts["forecast"].append(la.forecast.iloc[c])
        # Warm candidates only: the baselines (fixed levels) never grow, and a week of
        # cold starts would be most of the plan's memory.
        keep = cs.frame["window"].to_numpy() < c.stop
        if "prev_level" in cs.frame.columns:
            keep &= cs.frame["prev_level"].to_numpy() < 0
        parts["committed"].append(cs.frame[keep].assign(
            window=lambda f: f["window"] + dec.start))
        decisions.append({"issued_at": issued.isoformat(), "windows_solved":
                          dec.solve_stop - dec.start, "windows_committed":
                          dec.commit_stop - dec.start, "method": r.method,
                          "status": r.status.value, "candidates": int(len(cs.frame)),
                          "runtime_s": round(time.perf_counter() - d0, 4)})

    planned = committed_inputs(inputs, parts, length)
    committed = pd.concat(parts["committed"], ignore_index=True)
    coupling = coupling_for(opt, planned.windowing.stats, planned.ci, hw, length, committed)
    chosen_rows = pd.concat(kept, ignore_index=True)
    result = rolling_result(chosen_rows, np.arange(len(chosen_rows)), coupling, opt.solver,
                            phases, t0, f"rolling plan on forecasts: {len(decisions)} decisions "
                            f"of {horizon.lookahead} windows, committing {horizon.decide_every}")
    chosen = charge(chosen_rows, coupling, result.owned_replicas, result.owned_drives)
    # The warm candidates of the committed windows; what every decision considered and
    # discarded is counted in the summary's ``foresight.candidates_over_decisions``.
    cands = CandidateSet(committed, int(counts[1]), int(counts[2]), opt.max_replicas,
                         int(counts[3]))
    model = build_model(chosen_rows, ttft_bound, tpot_bound, coupling=coupling,
                        name="greencache_rolling_plan", soft_windows=sorted(soft_kept))
    return RollingPlan(planned, cands, committed, coupling, model, result, chosen,
                       pd.concat(parts["forecast"]), decisions,
                       dict(zip(("considered", "unstable", "pruned_dominated", "over_headroom",
                                 "cold_start"), counts.tolist())))


def check_decision(r: SolveResult, issued: pd.Timestamp) -> None:
    """A decision without a schedule is an error naming it."""
    if r.has_solution:
        return
    when = f"{issued:%Y-%m-%dT%H:%MZ}"
    if r.status == TerminationCondition.infeasible:
        raise InfeasibleError(f"the decision at {when} found its lookahead infeasible with the "
                              "windows it must hold (minimum dwell, daily change limit): loosen "
                              "--min-dwell or --max-changes-per-day", [])
    raise SolverError(f"{r.solver} did not solve the decision at {when}: {r.termination}")


def committed_inputs(inputs, parts: dict, length: pd.Timedelta):
    """The planned windows' PlanInputs as the decisions that committed them saw them."""
    from dataclasses import replace

    stats = pd.concat(parts["stats"], ignore_index=True)
    h = inputs.hits
    stack = {k: None if any(a is None for a in parts[k]) else np.concatenate(parts[k])
             for k in ("grown_token_hit", "grown_request_hit")}
    hits = HitCurves(h.capacities_tokens, np.concatenate(parts["token_hit"]),
                     np.concatenate(parts["request_hit"]), h.source, h.modelled, h.notes,
                     stack["grown_token_hit"], stack["grown_request_hit"])
    buckets = None
    if inputs.buckets is not None:
        buckets = LoadBuckets(np.concatenate(parts["rate"]), np.concatenate(parts["req_share"]),
                              np.concatenate(parts["time_share"]), inputs.buckets.sub_window_s)
    windowing = Windowing(stats, np.zeros(0, dtype=np.int64), length)
    return replace(inputs, windowing=windowing, ci=np.concatenate(parts["ci"]), hits=hits,
                   buckets=buckets, planned_from=-1)
