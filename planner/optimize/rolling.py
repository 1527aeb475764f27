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


def solve_rolling(cand: pd.DataFrame, slo_ttft_s: float, slo_tpot_s: float,
                  coupling: Coupling, block: int, overlap: int, solver: str = "highs",
                  time_limit_s: float = 300.0, mip_gap: float = 1e-6) -> SolveResult:
    """The schedule of the rolling horizon (module docstring); ``chosen`` indexes ``cand``
    (reset to 0..K−1). The objective is the charged carbon of the whole schedule."""
    from planner.optimize.charges import charge

    t0 = time.perf_counter()
    cand = cand.reset_index(drop=True)
    windows = np.sort(cand["window"].unique())
    T = len(windows)
    day = coupling.day
    kept: dict[int, int] = {}                    # window → row of cand
    phases = []
    for start in range(0, T, block):
        stop = min(T, start + block + overlap)
        back = start - max(coupling.dwell_windows, 1)
        if coupling.max_changes_per_day is not None and start > 0:
            first_of_day = int(np.searchsorted(day[windows], day[windows[start]]))
            back = min(back, first_of_day)
        back = max(0, back)

        fixed = [kept[w] for w in windows[back:start]]
        free = cand["window"].isin(windows[start:stop]).to_numpy()
        sub_idx = np.concatenate([np.asarray(fixed, dtype=np.int64), np.flatnonzero(free)])
        sub = cand.iloc[np.sort(sub_idx)]
        m = build_model(sub, slo_ttft_s, slo_tpot_s, name=f"rolling_{start}",
                        coupling=replace(coupling, first_window_entry=back == 0))
        r = solve(m, solver, time_limit_s, mip_gap)
        phases.extend(r.phases)
        if not r.has_solution:
            return SolveResult(solver, r.status, r.termination, float("nan"), float("nan"),
                               float("nan"), time.perf_counter() - t0, phases=tuple(phases),
                               method="rolling")
        rows = m.candidates.iloc[r.chosen]
        orig = np.sort(sub_idx)[r.chosen]
        for w, k in zip(rows["window"].to_numpy(), orig):
            if windows[start] <= w < windows[min(T, start + block) - 1] + 1:
                kept[int(w)] = int(k)
    chosen = np.array(sorted(kept.values()), dtype=np.int64)
    ch = cand.iloc[chosen]
    R = int(ch["replicas"].max()) if coupling.owned else None
    D = int(ch["ssd_drives"].max()) if coupling.owned else None
    objective = float(charge(ch, coupling, R, D)["total_kgco2e"].sum())
    runtime = time.perf_counter() - t0
    worst = TerminationCondition.optimal if all(
        p.termination == TerminationCondition.optimal for p in phases) else \
        TerminationCondition.feasible
    summary = PhaseResult("carbon", phases[-1].status, worst,
                          f"rolling horizon: {len(phases)} blocks of {block} (+{overlap})",
                          objective, float("nan"), float("nan"), runtime)
    return SolveResult(solver, worst, summary.message, objective, float("nan"), float("nan"),
                       runtime, chosen=chosen, phases=tuple(phases), owned_replicas=R,
                       owned_drives=D, method="rolling")
