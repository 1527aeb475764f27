"""The schedule against the model's rows, read off the schedule itself (no solver): the SLO
rows, the attainment budget, the minimum dwell, the daily change limit, the warm-up
transitions and the owned fleet, each a vectorised expression over the windows. Messages name
the row as the model names it (``slo_ttft(t=1)``, ``dwell(t=3,c=8000GB)``, …)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.optimize.coupling import Coupling


def slo_rows(rows: pd.DataFrame, bounds: tuple[float, float], soft, labels) -> list[str]:
    """slo_ttft(t), slo_tpot(t): the scheduled p90s within the planned bounds, outside the
    windows planned best-effort."""
    out = []
    soft = np.isin(rows["window"].to_numpy(), np.asarray(list(soft), dtype=np.int64))
    for name, col, bound in (("slo_ttft", "p90_ttft_s", bounds[0]),
                             ("slo_tpot", "p90_tpot_s", bounds[1])):
        value = rows[col].to_numpy(dtype=float)
        for t in np.flatnonzero((value > bound) & ~soft):
            out.append(f"{name}(t={t}): {value[t]:.6g} ≤ {bound:.6g} does not hold "
                       f"(window {labels[t]})")
    return out


def budget_row(rows: pd.DataFrame, requests: np.ndarray, target: float) -> list[str]:
    """slo_attainment_budget: Σ_t r_t (1 − share_t) ≤ (1 − F) Σ_t r_t."""
    r = np.asarray(requests, dtype=float)[rows["window"].to_numpy()]
    missed = float((r * (1.0 - rows["within_slo_share"].to_numpy(dtype=float))).sum())
    allowed = (1.0 - target) * float(r.sum())
    if missed > allowed + 1e-7 * max(1.0, allowed):
        return [f"slo_attainment_budget: {missed:.6g} ≤ {allowed:.6g} does not hold"]
    return []


def coupling_rows(rows: pd.DataFrame, cp: Coupling, warmup_rows: bool,
                  owned: tuple[int | None, int | None]) -> list[str]:
    """dwell, changes_per_day, grow_from / warm_at and owned_replicas / owned_drives."""
    level = rows["level"].to_numpy()
    gb = np.rint(rows["cache_gb"].to_numpy(dtype=float)).astype(np.int64)
    W = len(level)
    out = []
    changed = np.r_[False, level[1:] != level[:-1]]
    entry = np.flatnonzero(np.r_[True, changed[1:]])          # windows a level is entered
    D = max(1, int(cp.dwell_windows))
    if D > 1 and W:
        # A level entered at τ is held through τ + D − 1 (or the horizon's end): the next
        # entry must be at least D windows later.
        nxt = np.r_[entry[1:], W]
        for tau, left in zip(entry, nxt):
            if left < min(W, tau + D):
                out.append(f"dwell(t={left},c={gb[tau]}GB): entered in window {tau}, left in "
                           f"window {left}, before its {D}-window minimum dwell")
    if cp.max_changes_per_day is not None and W > 1:
        day = cp.day[rows["window"].to_numpy()]
        counts = np.bincount(day[changed], minlength=int(day.max()) + 1)
        for d in np.flatnonzero(counts > cp.max_changes_per_day):
            out.append(f"changes_per_day(d={d}): {counts[d]} cache-level changes ≤ "
                       f"{cp.max_changes_per_day} does not hold")
    if warmup_rows and W > 1:
        prev = rows["prev_level"].to_numpy()
        before = level[:-1]
        cold, now = prev[1:], level[1:]
        grow = (cold >= 0) & (cold != before)
        shrink = (cold < 0) & (now > before)
        for t in np.flatnonzero(grow) + 1:
            out.append(f"grow_from(t={t}): a cold start grown from level {prev[t]} after "
                       f"window {t - 1} ran level {level[t - 1]}")
        for t in np.flatnonzero(shrink) + 1:
            out.append(f"warm_at(t={t},c={gb[t]}GB): a warm {gb[t]} GB cache after a "
                       f"{gb[t - 1]} GB one (a grown cache starts cold)")
    R, Dr = owned
    if R is not None:
        n = rows["replicas"].to_numpy()
        d = rows["ssd_drives"].to_numpy()
        out += [f"owned_replicas(t={t}): {n[t]} ≤ {R} does not hold" for t in
                np.flatnonzero(n > R)]
        out += [f"owned_drives(t={t}): {d[t]} ≤ {Dr} does not hold" for t in
                np.flatnonzero(d > Dr)]
    return out
