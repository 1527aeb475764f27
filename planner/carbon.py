"""Operational and embodied carbon accounting (all functions vectorised over numpy arrays).

Operational (kgCO2e) over a window of Δt hours:

    E_IT  = Δt · [ n · g · (P_gpu + P_host/GPU) + d · P_ssd ] / 1000           (kWh)
    E     = PUE · E_IT                                                          (kWh, facility)
    C_op  = E · CI / 1000                                                       (CI in gCO2e/kWh)

Embodied (kgCO2e), amortised linearly over the lifetime for the time the capacity is allocated:

    C_emb = Δt · [ n · g · (E_gpu / L_gpu + E_host/GPU / L_host) + c · e_ssd / L_ssd ]

with c the installed SSD capacity in GB (drives × drive capacity, :mod:`planner.deployment`), e_ssd its cradle-to-gate kgCO2e per GB and L_ssd its effective
lifetime in hours: the calendar lifetime, or sooner when admissions wear the flash out
(:func:`ssd_effective_lifetime_h`). Equivalently c · e_ssd · Δt / L_ssd =
max(c · e_ssd · Δt / L_calendar, e_ssd · W / (DWPD · 365 · warranty years)) with W the GB
written in the window: calendar ageing of the drives or the share of their endurance written,
whichever is larger (:func:`ssd_wear_embodied_kg`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOURS_PER_DAY = 24.0
DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class CarbonBreakdown:
    """kgCO2e per component (arrays of equal shape) and the facility energy behind them."""

    energy_kwh: np.ndarray
    op_gpu: np.ndarray
    op_host: np.ndarray
    op_ssd: np.ndarray
    emb_gpu: np.ndarray
    emb_host: np.ndarray
    emb_ssd: np.ndarray

    @property
    def operational(self) -> np.ndarray:
        return self.op_gpu + self.op_host + self.op_ssd

    @property
    def embodied(self) -> np.ndarray:
        return self.emb_gpu + self.emb_host + self.emb_ssd

    @property
    def total(self) -> np.ndarray:
        return self.operational + self.embodied


def ssd_drive_power_w(read_gbps_per_drive, write_gbps_per_drive, idle_w, active_w,
                      max_read_gbps, max_write_gbps):
    """P_ssd = P_idle + (P_active − P_idle) · min(1, read/read_max + write/write_max).

    Datasheets give idle and active power only; power in between is taken as linear in the
    share of the drive's bandwidth in use (an assumption, stated in the README).
    """
    util = np.minimum(1.0, np.asarray(read_gbps_per_drive) / max_read_gbps
                      + np.asarray(write_gbps_per_drive) / max_write_gbps)
    return idle_w + (active_w - idle_w) * util


def ssd_effective_lifetime_h(cache_gb, write_gbps, dwpd, warranty_years, calendar_h):
    """L_ssd = min(L_calendar, TBW / write rate), per GB of capacity.

    The rated endurance of c GB is TBW = DWPD · c · 365 · warranty years (GB written); written
    at w GB/s it lasts TBW / (3600 · w) hours. Zero writes or zero capacity leave the calendar
    lifetime.
    """
    cache_gb = np.asarray(cache_gb, dtype=float)
    write_gbps = np.asarray(write_gbps, dtype=float)
    tbw_gb = dwpd * cache_gb * DAYS_PER_YEAR * warranty_years
    with np.errstate(divide="ignore", invalid="ignore"):
        wear_h = np.where(write_gbps > 0, tbw_gb / (write_gbps * 3600.0), np.inf)
    return np.where(cache_gb > 0, np.minimum(calendar_h, wear_h), calendar_h)


def ssd_wear_embodied_kg(written_gb, ssd_embodied_kg_per_gb, dwpd, warranty_years):
    """e_ssd · W / (DWPD · 365 · warranty years): the embodied carbon of the endurance that
    writing W GB uses up, whatever the drives' capacity (their TBW scales with it)."""
    return np.asarray(written_gb, dtype=float) * ssd_embodied_kg_per_gb \
        / (dwpd * DAYS_PER_YEAR * warranty_years)


def account(hours, ci_g_per_kwh, replicas, gpus_per_replica, gpu_power_w, host_power_w_per_gpu,
            drives, ssd_power_w_per_drive, pue, gpu_embodied_kg, gpu_lifetime_h,
            host_embodied_kg_per_gpu, host_lifetime_h, cache_gb, ssd_embodied_kg_per_gb,
            ssd_lifetime_h) -> CarbonBreakdown:
    """Operational and embodied kgCO2e of a deployment held for ``hours`` (module docstring)."""
    hours = np.asarray(hours, dtype=float)
    gpus = np.asarray(replicas, dtype=float) * gpus_per_replica
    kwh_gpu = pue * hours * gpus * np.asarray(gpu_power_w) / 1000.0
    kwh_host = pue * hours * gpus * host_power_w_per_gpu / 1000.0
    kwh_ssd = pue * hours * np.asarray(drives, dtype=float) * np.asarray(ssd_power_w_per_drive) \
        / 1000.0
    ci = np.asarray(ci_g_per_kwh, dtype=float)
    emb_ssd = hours * np.asarray(cache_gb, dtype=float) * ssd_embodied_kg_per_gb \
        / np.asarray(ssd_lifetime_h, dtype=float)
    return CarbonBreakdown(
        energy_kwh=kwh_gpu + kwh_host + kwh_ssd,
        op_gpu=kwh_gpu * ci / 1000.0,
        op_host=kwh_host * ci / 1000.0,
        op_ssd=kwh_ssd * ci / 1000.0,
        emb_gpu=hours * gpus * gpu_embodied_kg / gpu_lifetime_h,
        emb_host=hours * gpus * host_embodied_kg_per_gpu / host_lifetime_h,
        emb_ssd=emb_ssd,
    )
