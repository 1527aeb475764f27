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
from planner.schedule import by_window

CHARGED = ("energy_kwh", "op_gpu", "op_host", "op_ssd", "emb_gpu", "emb_host", "emb_ssd",
           "operational_kgco2e", "embodied_kgco2e", "total_kgco2e")


def charge(chosen: pd.DataFrame, coupling: Coupling, owned_replicas: int | None = None,
           owned_drives: int | None = None) -> pd.DataFrame:
    """The chosen candidates (one per window, sorted by window) with their carbon columns
    replaced by what the coupled plan charges; adds ``replicas_started``. Computed on the
    columns' arrays and built at once (per-column writes into the frame were most of its cost
    for a short plan)."""
    ch = by_window(chosen)
    t = ch["window"].to_numpy()
    col = {c: ch[c].to_numpy() for c in CHARGED if c in ch}
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
        col["emb_gpu"] = rho * col["emb_gpu"] + keep * R * cp.emb_gpu_per_replica[t]
        col["emb_host"] = rho * col["emb_host"] + keep * R * cp.emb_host_per_replica[t]
        col["emb_ssd"] = rho * col["emb_ssd"] + keep * ssd_owned
    col["op_gpu"] = col["op_gpu"] + kwh_gpu * k
    col["op_host"] = col["op_host"] + kwh_host * k
    col["op_ssd"] = col["op_ssd"] + kwh_ssd * k
    col["energy_kwh"] = col["energy_kwh"] + kwh_gpu + kwh_host + kwh_ssd
    col["operational_kgco2e"] = col["op_gpu"] + col["op_host"] + col["op_ssd"]
    col["embodied_kgco2e"] = col["emb_gpu"] + col["emb_host"] + col["emb_ssd"]
    col["total_kgco2e"] = col["operational_kgco2e"] + col["embodied_kgco2e"]
    col["replicas_started"] = started.astype(np.int64)
    return pd.DataFrame({**{c: col[c] if c in col else ch[c] for c in ch.columns},
                         "replicas_started": col["replicas_started"]})
