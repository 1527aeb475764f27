"""A deployment's carbon from its operating point: the one accounting that the planner's
candidates and the replay share, so a prediction and a replay differ only in their inputs."""

from __future__ import annotations

import numpy as np

from planner import carbon
from planner.catalog import Hardware


def ssd_drives(cache_gb, replicas, drives_per_replica, drive_capacity_gb):
    """d(c) = 0 without a cache, else max(n · drives per replica, ⌈c / drive capacity⌉).

    Each replica stripes its KV reads over its own drives (the profile's bandwidth assumes
    it), and the drives must also hold the capacity.
    """
    cache_gb = np.asarray(cache_gb, dtype=float)
    need = np.maximum(np.asarray(replicas) * drives_per_replica,
                      np.ceil(cache_gb / drive_capacity_gb))
    return np.where(cache_gb > 0, need, 0).astype(np.int64)


def deployment_carbon(hw: Hardware, hours, ci_g_per_kwh, replicas, gpu_power_w, cache_gb,
                      ssd_read_gbps, ssd_write_gbps):
    """kgCO2e breakdown, drive count, per-drive power and effective SSD lifetime of ``replicas``
    replicas at mean GPU power ``gpu_power_w`` with a cache of ``cache_gb`` read and written at
    the given total rates (GB/s) for ``hours``. SSD embodied carbon is charged on the installed
    drives' capacity d · drive GB, over their effective lifetime (calendar, or wear-out at
    this write rate)."""
    cache_gb = np.asarray(cache_gb, dtype=float)
    drives = ssd_drives(cache_gb, replicas, hw.drives_per_replica, hw.ssd_capacity_gb)
    has_ssd = cache_gb > 0
    read = np.where(has_ssd, ssd_read_gbps, 0.0)
    write = np.where(has_ssd, ssd_write_gbps, 0.0)
    per = np.maximum(drives, 1)
    ssd_w = np.where(has_ssd, carbon.ssd_drive_power_w(
        read / per, write / per, hw.ssd_idle_w, hw.ssd_active_w, hw.ssd_read_gbps,
        hw.ssd_write_gbps), 0.0)
    # Embodied carbon is charged on the drives installed, not on the level: a 0.5 TB cache
    # striped over four 7.68 TB drives holds four drives' worth of manufacturing carbon, and
    # their rated endurance (TBW) is that of all four.
    installed_gb = drives * hw.ssd_capacity_gb
    life = carbon.ssd_effective_lifetime_h(installed_gb, write, hw.ssd_dwpd,
                                           hw.ssd_warranty_years, hw.ssd_lifetime_h)
    br = carbon.account(
        hours=hours, ci_g_per_kwh=ci_g_per_kwh, replicas=replicas,
        gpus_per_replica=hw.gpus_per_replica, gpu_power_w=gpu_power_w,
        host_power_w_per_gpu=hw.host_power_w_per_gpu, drives=drives, ssd_power_w_per_drive=ssd_w,
        pue=hw.pue, gpu_embodied_kg=hw.gpu_embodied_kg, gpu_lifetime_h=hw.gpu_lifetime_h,
        host_embodied_kg_per_gpu=hw.host_embodied_kg_per_gpu, host_lifetime_h=hw.host_lifetime_h,
        cache_gb=installed_gb, ssd_embodied_kg_per_gb=hw.ssd_embodied_kg_per_gb, ssd_lifetime_h=life)
    return br, drives, ssd_w, life, write


def ssd_wear_kg(hw: Hardware, hours, cache_gb, write_gbps) -> np.ndarray:
    """Embodied SSD carbon worn out by writing at ``write_gbps`` (total, GB/s) for ``hours``
    (:func:`planner.carbon.ssd_wear_embodied_kg`); 0 where there is no cache."""
    return np.where(np.asarray(cache_gb, dtype=float) > 0, carbon.ssd_wear_embodied_kg(
        write_gbps * 3600.0 * hours, hw.ssd_embodied_kg_per_gb, hw.ssd_dwpd,
        hw.ssd_warranty_years), 0.0)
