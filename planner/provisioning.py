"""What to buy: the fleet a plan needs, its SSD wear-out and its committed embodied carbon.

Both capacity modes get the same table: with ``owned`` the fleet is the optimiser's own R
replicas and D drives; with ``pooled`` it is the peak the schedule allocates (what a pool must
be able to lend at once). The SSD wear-out time is the installed drives' rated endurance
(DWPD · capacity · 365 · warranty years) over the plan's mean write rate, assuming the horizon
repeats; the calendar lifetime caps it. Committed embodied carbon is the cradle-to-gate
footprint of the whole fleet (bought once); the plan's horizon is charged its amortised share.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from planner.catalog import Hardware

HOURS_PER_YEAR = 8760.0


def provisioning(charged: pd.DataFrame, hours: np.ndarray, hw: Hardware, capacity: str,
                 owned_replicas: int | None = None, owned_drives: int | None = None) -> dict:
    """The provisioning record of a plan (``provisioning.json``)."""
    n = charged["replicas"].to_numpy()
    d = charged["ssd_drives"].to_numpy()
    cache = charged["cache_gb"].to_numpy()
    replicas = int(owned_replicas) if owned_replicas is not None else int(n.max())
    drives = int(owned_drives) if owned_drives is not None else int(d.max())
    gpus = replicas * hw.gpus_per_replica
    servers = math.ceil(gpus / hw.gpus_per_server)
    written_gb = float((charged["ssd_write_gbps"].to_numpy() * 3600.0 * hours).sum())
    horizon_h = float(np.sum(hours))
    tbw_gb = hw.ssd_dwpd * hw.ssd_capacity_gb * drives * 365.0 * hw.ssd_warranty_years
    calendar_y = hw.ssd_lifetime_h / HOURS_PER_YEAR
    if drives and written_gb > 0:
        wear_y = tbw_gb / (written_gb / horizon_h) / HOURS_PER_YEAR
    else:
        wear_y = float("inf")
    emb_gpu = gpus * hw.gpu_embodied_kg
    emb_host = gpus * hw.host_embodied_kg_per_gpu
    emb_ssd = drives * hw.ssd_capacity_gb * hw.ssd_embodied_kg_per_gb
    level_changes = int(np.count_nonzero(np.diff(cache) != 0))
    return {
        "capacity": capacity,
        "fleet": {
            "replicas": replicas, "gpus": gpus, "servers": servers,
            "gpus_per_server": hw.gpus_per_server, "ssd_drives": drives,
            "ssd_physical_tb": round(drives * hw.ssd_capacity_gb / 1000.0, 3),
            "peak_cache_tb": round(float(cache.max()) / 1000.0, 3),
        },
        "ssd_wear": {
            "written_tb": round(written_gb / 1000.0, 3),
            "mean_write_gbps": round(written_gb / (horizon_h * 3600.0), 6) if horizon_h else 0.0,
            "rated_endurance_tb": round(tbw_gb / 1000.0, 1),
            "wear_out_years": None if not math.isfinite(wear_y) else round(wear_y, 3),
            "calendar_years": round(calendar_y, 3),
            "expected_life_years": round(min(wear_y, calendar_y), 3) if drives else None,
            "modelled": "write rate modelled from the hit-rate curves and the profile table",
        },
        "embodied_committed_kgco2e": {
            "gpus": round(emb_gpu, 3), "hosts": round(emb_host, 3), "ssd": round(emb_ssd, 3),
            "total": round(emb_gpu + emb_host + emb_ssd, 3),
        },
        "embodied_charged_to_horizon_kgco2e": round(float(charged["embodied_kgco2e"].sum()), 6),
        "reconfigurations": {
            "cache_level_changes": level_changes,
            "cache_grows": int(np.count_nonzero(np.diff(cache) > 0)),
            "cache_shrinks": int(np.count_nonzero(np.diff(cache) < 0)),
            "replica_changes": int(np.count_nonzero(np.diff(n) != 0)),
            "replicas_started": int(charged["replicas_started"].sum())
            if "replicas_started" in charged else int(np.maximum(np.diff(n), 0).sum()),
        },
    }


def provisioning_rows(p: dict) -> list[tuple[str, str]]:
    """The terminal table's rows (label, value)."""
    f, w, e, r = p["fleet"], p["ssd_wear"], p["embodied_committed_kgco2e"], \
        p["reconfigurations"]
    life = "no SSD" if w["expected_life_years"] is None else \
        f"{w['expected_life_years']:g} years" + (
            " (wear-out)" if w["wear_out_years"] is not None
            and w["wear_out_years"] < w["calendar_years"] else " (calendar)")
    return [
        ("capacity", p["capacity"]),
        ("replicas / GPUs / servers", f"{f['replicas']} / {f['gpus']} / {f['servers']}"),
        ("SSD drives (physical TB)", f"{f['ssd_drives']} ({f['ssd_physical_tb']:g} TB)"),
        ("SSD expected life at planned writes", life),
        ("committed embodied kgCO2e", f"{e['total']:,.1f} (GPUs {e['gpus']:,.1f}, hosts "
                                      f"{e['hosts']:,.1f}, SSD {e['ssd']:,.1f})"),
        ("reconfigurations", f"{r['cache_level_changes']} cache changes "
                             f"({r['cache_grows']} grows, {r['cache_shrinks']} shrinks), "
                             f"{r['replica_changes']} replica changes, "
                             f"{r['replicas_started']} replicas started"),
    ]
