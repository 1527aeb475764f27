"""Which replica counts are worth building a candidate for: an exact bound from the model.

Below: a replica count whose busiest burst bucket loads its replicas beyond capacity or beyond
``--headroom`` is no candidate (``candidates.py``). The load fraction is the bucket's rate / n
over the token mix's capacity, which does not depend on n, so the smallest admissible n of each
(window, level, grown-from) group is known before any profile lookup, with the lookup's own
floating-point expression.

Above: in per-window p90 mode the model never needs a candidate j with n_j replicas when the
same group (window t, level, grown-from level) has a candidate i within the planned SLO with
n_i < n_j and

    base_i − σ_t · n_i ≤ cost_j − σ_t · n_j,     base_i = cost_i [+ (1 − ρ) · wear_i if owned]

(``candidates.prune_extra_replicas``: the model's per-candidate cost, σ_t = κ_{t+1} + 2η the
most one replica fewer can cost later through start costs and the tie rule; replacing j by i
in any schedule keeps it feasible and never raises its objective). cost_j is not known before
j's profile lookup, but a lower bound is, from the profile's least GPU power P_min and the
drives' idle power (power is interpolated arithmetically, so no lookup is below them):

    cost_j ≥ n_j · a_t + d_j · b_t,
    a_t = κ_op,t (P_min + P_host) · g + ρ · e_t − (1 − ρ) · idle_t,   b_t = s_t − (1 − ρ) · q_t

with κ_op,t = PUE · hours · CI_t, e_t the GPU and host embodied carbon of a replica over the
window, idle_t and q_t the idle carbon of an owned but unallocated replica and drive (0 when it
is powered down), s_t a drive's idle power carbon and d_j = max(n_j · drives per replica,
⌈c / drive⌉). So j is never built when n_j · a_t + d_j · b_t − σ_t · n_j ≥ min_i (base_i −
σ_t · n_i) over the group's built candidates within the SLO; and, so that the tie rule's scale
(each window's least total carbon, ``coupling.build_coupling``) is the same, also when j's total
carbon is provably no lower than the group's least. η is not known before the candidates either:
σ_t uses an upper bound of it, from each window's no-cache candidate with the fewest replicas
at the profile's largest power. Every inequality keeps a relative margin of 1e-9 for rounding.

The optimum is that of the unbounded table (tested by exhaustive search on small cases and
against the unbounded build); a skipped candidate could at most have tied. An attainment
budget reads every candidate's within-SLO share, so it gets no upper bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.catalog import Hardware
from planner.deployment import ssd_drives
from planner.optimize.coupling import (
    TIE_LEVEL_CHANGE,
    TIE_LEVEL_INDEX,
    TIE_REPLICA_CHANGE,
    TIE_REPLICA_SHARE,
    Coupling,
)
from planner.optimize.candidates import busiest_rate, window_token_mix
from planner.perf.profile import ProfileTable
from planner.workload.windows import LoadBuckets

MARGIN = 1e-9


@dataclass(frozen=True)
class ReplicaBound:
    """Per-window data of the upper bound (module docstring)."""

    coupling: Coupling
    slo_ttft_s: float           # the planned p90 bounds
    slo_tpot_s: float
    slope: np.ndarray           # σ_t
    cost_per_replica: np.ndarray    # a_t
    cost_per_drive: np.ndarray      # b_t
    total_per_replica: np.ndarray   # the same for total carbon (ρ = 1, no idle credit)
    total_per_drive: np.ndarray
    drives_per_replica: int
    drive_gb: float

    def scores(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Per built candidate: base − σ · n where within the planned SLO (inf elsewhere), and
        total carbon."""
        from planner.optimize.model import candidate_cost   # model imports PuLP

        cp = self.coupling
        t = frame["window"].to_numpy()
        n = frame["replicas"].to_numpy(dtype=float)
        base = candidate_cost(frame, cp)
        if cp.owned:
            base = base + (1 - cp.pool_return) * frame["emb_ssd_wear"].to_numpy()
        ok = (frame["p90_ttft_s"].to_numpy() <= self.slo_ttft_s) & \
            (frame["p90_tpot_s"].to_numpy() <= self.slo_tpot_s)
        return np.where(ok, base - self.slope[t] * n, np.inf), \
            frame["total_kgco2e"].to_numpy(dtype=float)

    def beyond(self, t: np.ndarray, cache_gb: np.ndarray, best: np.ndarray,
               least_total: np.ndarray, N: int) -> np.ndarray:
        """groups × N: whether n = 1..N replicas need no candidate in a group of window t
        and cache size c, whose built candidates within the SLO have min (base − σ n) =
        ``best`` and whose least total carbon is ``least_total``."""
        n = np.arange(1, N + 1, dtype=float)[None, :]
        d = ssd_drives(cache_gb[:, None], n, self.drives_per_replica, self.drive_gb)
        cost = n * self.cost_per_replica[t][:, None] + d * self.cost_per_drive[t][:, None]
        total = n * self.total_per_replica[t][:, None] + d * self.total_per_drive[t][:, None]
        low_cost = cost - MARGIN * np.abs(cost) - self.slope[t][:, None] * n
        low_total = total - MARGIN * np.abs(total)
        with np.errstate(invalid="ignore"):
            return (low_cost >= (best + MARGIN * np.abs(best))[:, None]) & \
                (low_total >= (least_total + MARGIN * np.abs(least_total))[:, None])


def least_no_cache_replicas(profile: ProfileTable, stats: pd.DataFrame,
                            buckets: LoadBuckets | None, levels_gb, headroom: float,
                            max_replicas: int) -> np.ndarray | None:
    """Per window, the fewest replicas that carry its load within headroom without a cache,
    by the candidates' own load-fraction expression; None when no-cache is not a level or some
    window cannot be carried so."""
    if not np.any(np.asarray(levels_gb, dtype=float) == 0.0) or len(stats) == 0:
        return None
    if buckets is None:
        ones = np.ones((len(stats), 1))
        buckets = LoadBuckets(stats["rate_rps"].to_numpy(dtype=float)[:, None], ones, ones, 0.0)
    mean_in, mean_out = window_token_mix(stats)
    cap = profile.capacity(np.zeros(len(stats)), mean_in, mean_out)
    reps = np.arange(1, max_replicas + 1, dtype=float)
    load = (busiest_rate(buckets)[:, None] / reps[None, :]) / cap[:, None]
    ok = (load <= 1.0 + 1e-9) & (load <= headroom + 1e-9)
    if not ok.any(axis=1).all():
        return None
    return ok.argmax(axis=1) + 1.0


def replica_bound(coupling: Coupling, hw: Hardware, profile: ProfileTable, stats: pd.DataFrame,
                  ci: np.ndarray, slo_ttft_s: float, slo_tpot_s: float,
                  no_cache_replicas: np.ndarray | None, tie_tolerance: float) -> ReplicaBound:
    """The bound's per-window data; ``no_cache_replicas`` from :func:`least_no_cache_replicas`
    (None: η, and so replicas, have no bound when the tie rule is on)."""
    cp = coupling
    hours = stats["hours"].to_numpy(dtype=float)
    kg = np.asarray(ci, dtype=float) / 1000.0          # kgCO2e per kWh
    g = hw.gpus_per_replica
    p_min, p_max = profile.value_range("gpu_power_w")
    per_kwh = hw.pue * hours / 1000.0 * kg               # kg per W held over the window
    op_min = per_kwh * g * (p_min + hw.host_power_w_per_gpu)
    op_max = per_kwh * g * (p_max + hw.host_power_w_per_gpu)
    emb = cp.replica_embodied_kg
    drive_op = per_kwh * min(hw.ssd_idle_w, hw.ssd_active_w)
    rho = cp.pool_return
    W = len(hours)
    kappa = np.zeros(W)
    if len(cp.start_kg):
        kappa[:-1] = cp.start_kg[1:]
    if tie_tolerance <= 0:
        eta = 0.0
    elif no_cache_replicas is None:
        eta = np.inf
    else:
        least_total = float((no_cache_replicas * (op_max + emb)).sum())
        per_window = TIE_LEVEL_CHANGE + TIE_LEVEL_INDEX + TIE_REPLICA_SHARE + 1.0
        eta = tie_tolerance * least_total / (max(W, 1) * per_window) * (1 + MARGIN)
    return ReplicaBound(
        coupling=cp, slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s,
        slope=kappa + 2 * TIE_REPLICA_CHANGE * eta,
        cost_per_replica=op_min + rho * emb - (1 - rho) * cp.replica_idle_kg,
        cost_per_drive=drive_op - (1 - rho) * cp.drive_idle_kg,
        total_per_replica=op_min + emb, total_per_drive=drive_op,
        drives_per_replica=hw.drives_per_replica, drive_gb=hw.ssd_capacity_gb)
