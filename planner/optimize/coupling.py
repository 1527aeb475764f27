"""What ties windows together: capacity accounting, reconfiguration limits, start costs and
the tie rule, as plain per-window numbers the model and the argmin read.

Capacity (``--capacity``):

* ``pooled``: capacity is rented per window; a window is charged the embodied carbon of what it
  allocates (today's per-window accounting).
* ``owned``: the plan also decides the fleet owned for the horizon, R replicas' servers and D
  SSD drives; every window allocates at most that, and everything owned is charged for the
  whole horizon. ``pool_return`` ρ ∈ [0, 1] generalises the two: the share of owned but
  unallocated hardware that goes back to a pool (charged to someone else). ρ = 0 is owned,
  ρ = 1 charges exactly what ``pooled`` charges.

Owned but unallocated hardware (``--owned-idle``): ``off`` (default) powers it down, drawing
nothing, and a replica brought back pays its start cost; ``on`` keeps it powered at idle (GPU
idle power with no model resident, the host's power per GPU, SSD idle power).

A started replica costs its weight-load time (``--weight-load``) at the GPUs' loaded-idle power
plus the host's power, at the window's carbon intensity.

Ties: candidates within a tolerance are ordered by a perturbation η per window, small enough
that the whole horizon moves by at most ``tie_tolerance`` of its carbon:
4η per change of cache level, η per replica added or removed, η per cache-level index and
η/(4N) per replica. So the plan keeps the previous configuration, then takes the smaller
cache, then fewer replicas.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.choices import CAPACITY_MODES, OWNED_IDLE
from planner.catalog import Hardware


# Tie weights in units of η (module docstring).
TIE_LEVEL_CHANGE = 4.0
TIE_REPLICA_CHANGE = 1.0
TIE_LEVEL_INDEX = 1.0
TIE_REPLICA_SHARE = 0.25


@dataclass(frozen=True)
class Coupling:
    """Per-window data of the coupled model (arrays have one entry per window). Energies are
    facility kWh (PUE included); kg_per_kwh turns them into kgCO2e at the window's grid."""

    capacity: str = "pooled"
    pool_return: float = 1.0               # ρ; 1 for pooled
    dwell_windows: int = 1                 # a level, once entered, is held this many windows
    max_changes_per_day: int | None = None
    day: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    kg_per_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    start_kwh_gpu: float = 0.0             # per replica started
    start_kwh_host: float = 0.0
    idle_kwh_gpu: np.ndarray = field(default_factory=lambda: np.zeros(0))   # per idle replica
    idle_kwh_host: np.ndarray = field(default_factory=lambda: np.zeros(0))
    idle_kwh_ssd: np.ndarray = field(default_factory=lambda: np.zeros(0))   # per idle drive
    emb_gpu_per_replica: np.ndarray = field(default_factory=lambda: np.zeros(0))
    emb_host_per_replica: np.ndarray = field(default_factory=lambda: np.zeros(0))
    drive_calendar_kg: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per drive
    tie_eta: float = 0.0                   # kgCO2e; 0 turns the tie rule off
    max_replicas: int = 1
    first_window_entry: bool = True        # the model's first window counts as a level entry
    # A grown cache starts with the previous level's content (--warmup): the transition rows
    # apply whatever candidates pruning left (models_warmup).
    warmup: bool = False

    @property
    def owned(self) -> bool:
        return self.capacity == "owned"

    @property
    def start_kg(self) -> np.ndarray:
        """κ_t: kgCO2e of starting one replica in window t."""
        return (self.start_kwh_gpu + self.start_kwh_host) * self.kg_per_kwh

    @property
    def replica_embodied_kg(self) -> np.ndarray:
        return self.emb_gpu_per_replica + self.emb_host_per_replica

    @property
    def replica_idle_kg(self) -> np.ndarray:
        return (self.idle_kwh_gpu + self.idle_kwh_host) * self.kg_per_kwh

    @property
    def drive_idle_kg(self) -> np.ndarray:
        return self.idle_kwh_ssd * self.kg_per_kwh

    @property
    def couples_levels(self) -> bool:
        return self.dwell_windows > 1 or self.max_changes_per_day is not None

    def needs_milp(self) -> bool:
        """Whether the levels are coupled beyond neighbouring windows (dwell, daily change
        limit): the MILP of such a model is slow to solve, and the plan solves it by the
        dynamic programme of :mod:`planner.optimize.argmin` wherever that applies."""
        return self.couples_levels


def build_coupling(stats: pd.DataFrame, ci: np.ndarray, hw: Hardware, candidates: pd.DataFrame,
                   *, capacity: str = "pooled", pool_return: float = 0.0,
                   owned_idle: str = "off", window_h: float = 1.0, min_dwell_h: float = 0.0,
                   max_changes_per_day: int | None = None, weight_load_s: float = 0.0,
                   tie_tolerance: float = 0.0, max_replicas: int = 1,
                   warmup: bool = False) -> Coupling:
    """The per-window numbers of :class:`Coupling` from the windows, grid and hardware."""
    hours = stats["hours"].to_numpy(dtype=float)
    g = hw.gpus_per_replica
    idle = float(owned_idle == "on")
    start = pd.DatetimeIndex(stats["window_start"])
    day = ((start - start[0]).total_seconds() // 86400).to_numpy().astype(np.int64) \
        if len(start) else np.zeros(0, dtype=np.int64)
    dwell = max(1, int(np.ceil(min_dwell_h / window_h - 1e-9))) if min_dwell_h > 0 else 1
    eta = 0.0
    if tie_tolerance > 0 and len(candidates):
        # Σ over windows of the window's least total (the sum of pandas' per-window minima
        # in window order, without building a groupby: a check's fixed cost).
        window = candidates["window"].to_numpy()
        least = np.full(int(window.max()) + 1, np.inf)
        np.fmin.at(least, window, candidates["total_kgco2e"].to_numpy(dtype=float))
        lb = float(least[np.isfinite(least)].sum())
        n_levels = int(candidates["level"].max()) + 1
        per_window = TIE_LEVEL_CHANGE + TIE_LEVEL_INDEX * n_levels + TIE_REPLICA_SHARE + 1.0
        eta = tie_tolerance * lb / (len(stats) * per_window)
    return Coupling(
        warmup=warmup,
        capacity=capacity, pool_return=pool_return if capacity == "owned" else 1.0,
        dwell_windows=dwell, max_changes_per_day=max_changes_per_day, day=day,
        kg_per_kwh=np.asarray(ci, dtype=float) / 1000.0,
        start_kwh_gpu=hw.pue * weight_load_s / 3600.0 * g * hw.gpu_loaded_idle_w / 1000.0,
        start_kwh_host=hw.pue * weight_load_s / 3600.0 * g * hw.host_power_w_per_gpu / 1000.0,
        idle_kwh_gpu=idle * hw.pue * hours * g * hw.gpu_idle_w / 1000.0,
        idle_kwh_host=idle * hw.pue * hours * g * hw.host_power_w_per_gpu / 1000.0,
        idle_kwh_ssd=idle * hw.pue * hours * hw.ssd_idle_w / 1000.0,
        emb_gpu_per_replica=hours * g * hw.gpu_embodied_kg / hw.gpu_lifetime_h,
        emb_host_per_replica=hours * g * hw.host_embodied_kg_per_gpu / hw.host_lifetime_h,
        drive_calendar_kg=hours * hw.ssd_capacity_gb * hw.ssd_embodied_kg_per_gb
        / hw.ssd_lifetime_h,
        tie_eta=eta, max_replicas=int(max_replicas))


def tie_cost(cand: pd.DataFrame, coupling: Coupling) -> np.ndarray:
    """η · (level index + n / (4N)) per candidate: the within-window part of the tie rule."""
    if coupling.tie_eta <= 0:
        return np.zeros(len(cand))
    return coupling.tie_eta * (TIE_LEVEL_INDEX * cand["level"].to_numpy(dtype=float)
                               + TIE_REPLICA_SHARE * cand["replicas"].to_numpy(dtype=float)
                               / coupling.max_replicas)
