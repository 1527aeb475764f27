"""What each window of a solved plan is charged, component by component.

A candidate's own columns are what the window allocates (pooled accounting). A coupled plan
adds, per window t with the chosen n_t replicas and d_t drives:

* starts: (n_t − n_{t−1})⁺ replicas loading their weights, at GPU loaded-idle and host power;
* owned capacity (ρ the pool-return fraction): embodied ρ · allocated + (1 − ρ) · owned, with
  owned = R replicas' GPUs and hosts and, for SSDs, max(calendar ageing of the D owned drives,
  the window's wear); and with ``--owned-idle on`` the idle power of the R − n_t replicas and
  D − d_t drives owned but not allocated, times (1 − ρ).

The sum over windows equals the carbon the optimiser minimised (tested), so the schedule's
totals are the plan's objective.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.optimize.coupling import Coupling

CHARGED = ("energy_kwh", "op_gpu", "op_host", "op_ssd", "emb_gpu", "emb_host", "emb_ssd",
           "operational_kgco2e", "embodied_kgco2e", "total_kgco2e")


def charge(chosen: pd.DataFrame, coupling: Coupling, owned_replicas: int | None = None,
           owned_drives: int | None = None) -> pd.DataFrame:
    """The chosen candidates (one per window, sorted by window) with their carbon columns
    replaced by what the coupled plan charges; adds ``replicas_started``."""
    ch = chosen.sort_values("window").reset_index(drop=True).copy()
    t = ch["window"].to_numpy()
    n = ch["replicas"].to_numpy(dtype=float)
    d = ch["ssd_drives"].to_numpy(dtype=float) if "ssd_drives" in ch else np.zeros(len(ch))
    cp = coupling
    k = cp.kg_per_kwh[t] if len(cp.kg_per_kwh) else np.zeros(len(ch))
    started = np.concatenate([[0.0], np.maximum(np.diff(n), 0.0)])
    kwh_gpu = started * cp.start_kwh_gpu
    kwh_host = started * cp.start_kwh_host
    kwh_ssd = np.zeros(len(ch))
    if cp.owned:
        rho = cp.pool_return
        R, D = float(owned_replicas), float(owned_drives)
        keep = 1.0 - rho
        kwh_gpu = kwh_gpu + keep * (R - n) * cp.idle_kwh_gpu[t]
        kwh_host = kwh_host + keep * (R - n) * cp.idle_kwh_host[t]
        kwh_ssd = kwh_ssd + keep * (D - d) * cp.idle_kwh_ssd[t]
        ssd_owned = np.maximum(D * cp.drive_calendar_kg[t], ch["emb_ssd_wear"].to_numpy())
        ch["emb_gpu"] = rho * ch["emb_gpu"] + keep * R * cp.emb_gpu_per_replica[t]
        ch["emb_host"] = rho * ch["emb_host"] + keep * R * cp.emb_host_per_replica[t]
        ch["emb_ssd"] = rho * ch["emb_ssd"] + keep * ssd_owned
    ch["op_gpu"] = ch["op_gpu"] + kwh_gpu * k
    ch["op_host"] = ch["op_host"] + kwh_host * k
    ch["op_ssd"] = ch["op_ssd"] + kwh_ssd * k
    ch["energy_kwh"] = ch["energy_kwh"] + kwh_gpu + kwh_host + kwh_ssd
    ch["operational_kgco2e"] = ch["op_gpu"] + ch["op_host"] + ch["op_ssd"]
    ch["embodied_kgco2e"] = ch["emb_gpu"] + ch["emb_host"] + ch["emb_ssd"]
    ch["total_kgco2e"] = ch["operational_kgco2e"] + ch["embodied_kgco2e"]
    ch["replicas_started"] = started.astype(np.int64)
    return ch
