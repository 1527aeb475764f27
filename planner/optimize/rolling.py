"""A rolling horizon for plans too long for one MILP.

The horizon is solved in blocks of ``block`` windows, each looking ``overlap`` windows further
ahead; only the block's own windows are kept, and the next block starts after them. Each
block's model also holds, fixed to what was kept, the windows before it that its coupling rows
read: the last ``dwell`` windows (a level entered there must still be held) and the windows
since the start of the block's first day (their level changes count toward the day's limit).
With owned capacity, each block sizes the fleet again, at least as large as the fixed windows
use; the plan's fleet is the largest allocated. The result is feasible for the full model but
not necessarily optimal: its gap to the full solve is measured in ``make bench``.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd

from planner.optimize.coupling import Coupling
from planner.optimize.model import build_model
from planner.optimize.solve import PhaseResult, SolveResult, TerminationCondition, solve


def held_from(start: int, windows: np.ndarray, coupling: Coupling) -> int:
    """The first of the windows before position ``start`` (in ``windows``, ascending) that a
    block starting there holds fixed: the last ``dwell`` windows, and with a daily change
    limit the windows since the start of the block's first day."""
    back = start - max(coupling.dwell_windows, 1)
    if coupling.max_changes_per_day is not None and start > 0:
        day = coupling.day
        back = min(back, int(np.searchsorted(day[windows], day[windows[start]])))
    return max(0, back)


def solve_block(fixed: pd.DataFrame, free: pd.DataFrame, slo_ttft_s: float, slo_tpot_s: float,
                coupling: Coupling, solver: str = "highs", time_limit_s: float = 300.0,
                mip_gap: float = 1e-6, name: str = "rolling", soft_windows=(),
                first_window_entry: bool | None = None) -> tuple[SolveResult, np.ndarray]:
    """One block: the model of the ``free`` candidates with the ``fixed`` rows (one chosen
    candidate per window before the block, held as they were kept), solved by the dynamic
    programme where it applies (without building the MILP), else the MILP. ``first_window_entry``: whether the model's
    first window counts as a level entry (it does when it is the horizon's first; by default,
    when nothing is fixed). Returns the result and, when it has a solution, the positions of
    the chosen rows in ``fixed`` followed by ``free``."""
    from planner.optimize.argmin import Chain, chain_applicable, solve_chain

    sub = pd.concat([fixed, free], ignore_index=True)
    order = np.argsort(sub["window"].to_numpy(), kind="stable")
    entry = fixed.empty if first_window_entry is None else first_window_entry
    cp = replace(coupling, first_window_entry=entry)
    ws = np.unique(sub["window"].to_numpy())
    if not len(soft_windows) and len(ws) and ws[-1] - ws[0] == len(ws) - 1:
        # The programme reads the candidates only: no MILP is built for it.
        r = solve_chain(Chain(sub.iloc[order], cp, slo_ttft_s, slo_tpot_s), solver, mip_gap,
                        time_limit_s)
    else:
        m = build_model(sub.iloc[order], slo_ttft_s, slo_tpot_s, name=name,
                        soft_windows=soft_windows, coupling=cp)
        r = solve_chain(m, solver, mip_gap, time_limit_s) if chain_applicable(m) else \
            solve(m, solver, time_limit_s, mip_gap)
    chosen = order[r.chosen] if r.has_solution else np.zeros(0, dtype=np.int64)
    return r, chosen


def solve_rolling(cand: pd.DataFrame, slo_ttft_s: float, slo_tpot_s: float,
                  coupling: Coupling, block: int, overlap: int, solver: str = "highs",
                  time_limit_s: float = 300.0, mip_gap: float = 1e-6) -> SolveResult:
    """The schedule of the rolling horizon (module docstring); ``chosen`` indexes ``cand``
    (reset to 0..K−1). The objective is the charged carbon of the whole schedule."""
    t0 = time.perf_counter()
    cand = cand.reset_index(drop=True)
    windows = np.sort(cand["window"].unique())
    T = len(windows)
    kept: dict[int, int] = {}                    # window → row of cand
    phases = []
    for start in range(0, T, block):
        stop = min(T, start + block + overlap)
        back = held_from(start, windows, coupling)
        fixed = np.asarray([kept[w] for w in windows[back:start]], dtype=np.int64)
        free = np.flatnonzero(cand["window"].isin(windows[start:stop]).to_numpy())
        r, pos = solve_block(cand.iloc[fixed], cand.iloc[free], slo_ttft_s, slo_tpot_s,
                             coupling, solver, time_limit_s, mip_gap, name=f"rolling_{start}",
                             first_window_entry=back == 0)
        phases.extend(r.phases)
        if not r.has_solution:
            return SolveResult(solver, r.status, r.termination, float("nan"), float("nan"),
                               float("nan"), time.perf_counter() - t0, phases=tuple(phases),
                               method="rolling")
        rows = np.concatenate([fixed, free])[pos]
        for w, k in zip(cand["window"].to_numpy()[rows], rows):
            if windows[start] <= w < windows[min(T, start + block) - 1] + 1:
                kept[int(w)] = int(k)
    chosen = np.array(sorted(kept.values()), dtype=np.int64)
    return rolling_result(cand.iloc[chosen], chosen, coupling, solver, phases, t0,
                          f"rolling horizon: {len(phases)} blocks of {block} (+{overlap})")


def rolling_result(chosen_rows: pd.DataFrame, chosen: np.ndarray, coupling: Coupling,
                   solver: str, phases: list, t0: float, message: str) -> SolveResult:
    """The result of a schedule kept block by block: its objective is the charged carbon of
    the whole schedule; with owned capacity the fleet is the largest any window allocates."""
    from planner.optimize.charges import charge

    ch = chosen_rows
    R = int(ch["replicas"].max()) if coupling.owned else None
    D = int(ch["ssd_drives"].max()) if coupling.owned else None
    objective = float(charge(ch, coupling, R, D)["total_kgco2e"].sum())
    runtime = time.perf_counter() - t0
    worst = TerminationCondition.optimal if all(
        p.termination == TerminationCondition.optimal for p in phases) else \
        TerminationCondition.feasible
    summary = PhaseResult("carbon", phases[-1].status, worst, message, objective,
                          float("nan"), float("nan"), runtime)
    return SolveResult(solver, worst, summary.message, objective, float("nan"), float("nan"),
                       runtime, chosen=chosen, phases=tuple(phases), owned_replicas=R,
                       owned_drives=D, method="rolling")
