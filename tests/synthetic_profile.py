"""A closed-form profile table for tests of the optimiser (not a latency model).

Each replica is an M/M/1-like server: service demand grows with uncached prompt tokens and
output tokens; latency rises as 1 / (1 − utilisation); power rises linearly with utilisation.
A mix's capacity is a utilisation of 0.9 (load fraction 1). The numbers are chosen for
hand-checkable arithmetic, not realism.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from planner.perf.profile import COLUMNS, table_name, write_profile

LOADS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
HITS = tuple(np.round(np.linspace(0, 1, 11), 2))
INPUTS = (100.0, 1000.0, 10000.0, 20000.0)
OUTPUTS = (10.0, 100.0, 1000.0)


def service_s(hit, mean_in, mean_out, prefill_s_per_token=1e-4, decode_s_per_token=2e-3):
    return mean_in * (1 - hit) * prefill_s_per_token + mean_out * decode_s_per_token * 0.05


def frame(prefill_s_per_token=1e-4, decode_s_per_token=2e-3, idle_w=100.0, busy_w=700.0,
          kv_bytes=327680) -> pd.DataFrame:
    rows = []
    for lf, h, i, o in itertools.product(LOADS, HITS, INPUTS, OUTPUTS):
        s = service_s(h, i, o, prefill_s_per_token, decode_s_per_token)
        u = 0.9 * lf
        r = u / s
        slow = 1.0 / (1.0 - u)
        rows.append({
            "load_fraction": lf, "hit_rate": h, "mean_input_tokens": i, "mean_output_tokens": o,
            "rate_rps": r,
            "p50_ttft_s": (i * (1 - h) * prefill_s_per_token + 0.01) * slow * 0.7,
            "p90_ttft_s": (i * (1 - h) * prefill_s_per_token + 0.01) * slow,
            "p99_ttft_s": (i * (1 - h) * prefill_s_per_token + 0.01) * slow * 1.5,
            "p50_tpot_s": decode_s_per_token * (1 + u) * 0.9,
            "p90_tpot_s": decode_s_per_token * (1 + u),
            "p99_tpot_s": decode_s_per_token * (1 + u) * 1.2,
            "gpu_power_w": idle_w + (busy_w - idle_w) * min(u, 1.0),
            "ssd_read_gbps": r * i * h * kv_bytes / 1e9,
            "ssd_write_gbps": r * i * (1 - h) * kv_bytes / 1e9 * 0.01,
        })
    return pd.DataFrame(rows, columns=list(COLUMNS))


def write(directory: Path, model="llama-3-70b", gpu="h100-sxm", tp=4, ssd="nvme-gen4",
          shape=None, **kw) -> Path:
    """The closed-form table under ``shape``, or (None) under every shipped workload shape, so
    that a plan of any shipped trace finds a table for the shape nearest to it (the planner
    refuses a trace no available shape fits). Returns the first path written."""
    from planner.perf.shapes import shipped_shape_names

    paths = []
    for name in [shape] if shape else shipped_shape_names():
        path = Path(directory) / f"{table_name(model, gpu, tp, ssd, name)}.csv"
        meta = {"model": model, "gpu": gpu, "tp": tp, "ssd": ssd, "drives_per_replica": tp,
                "method": "closed-form test table", "modelled": True,
                "workload_shape": {"name": name}}
        write_profile(frame(**kw), meta, path)
        paths.append(path)
    return paths[0]
