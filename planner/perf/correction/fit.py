"""Correction factors of a profile table from observation windows.

For each window w with at least ``MIN_REQUESTS`` requests, the table is read at the window's
load per replica (requests / seconds / replicas), hit rate and token means: the expected
p90 TTFT, p90 TPOT and GPU power (for a replay, the plan's own prediction of the window's
p90s). Windows beyond the table's capacity (unstable there: no finite expectation) are left
out and counted. Each metric's ratio r_w = observed / expected falls into the bin of the
window's (load fraction, hit rate).

The factor of a bin with n windows holding a ratio is

    f = exp( n / (n + K) · mean_w log r_w ),   K = ``PRIOR_WINDOWS`` = 5,

the geometric mean of the ratios shrunk towards 1 as if K windows had observed exactly what
the table says: one window moves a bin by a sixth of its log ratio, 20 windows by 80 %, 100 by
95 %; a bin without observations keeps 1. Geometric, because a ratio of 2 and one of 1/2
cancel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.errors import InputDataError, UsageError
from planner.perf.correction.observed import MIN_REQUESTS, Observed
from planner.perf.profile import ProfileTable

PRIOR_WINDOWS = 5
DEFAULT_LOAD_EDGES = (0.0, 0.25, 0.5, 0.75, 1.0)
DEFAULT_HIT_EDGES = (0.0, 0.25, 0.5, 0.75, 1.0)
METRICS = ("ttft", "tpot", "power")


@dataclass
class Fit:
    load_edges: tuple[float, ...]
    hit_edges: tuple[float, ...]
    # per metric: arrays [load bin, hit bin] of factor, windows, mean log ratio
    factor: dict
    windows: dict
    mean_log: dict
    used: int                  # windows compared
    unstable: int              # windows beyond the table's capacity, left out


def check_edges(edges, what: str) -> tuple[float, ...]:
    e = tuple(float(x) for x in edges)
    if len(e) < 2 or e[0] != 0.0 or e[-1] != 1.0 or any(b <= a for a, b in zip(e, e[1:])):
        raise UsageError(f"{what} bin edges must rise from 0 to 1, got {', '.join(map(str, e))}")
    return e


def bin_index(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Bin of each value: [e_k, e_k+1), the last bin closed (and everything above 1 in it)."""
    return np.clip(np.searchsorted(np.asarray(edges), values, side="right") - 1, 0,
                   len(edges) - 2)


def fit(observed: Observed, table: ProfileTable, load_edges=DEFAULT_LOAD_EDGES,
        hit_edges=DEFAULT_HIT_EDGES) -> Fit:
    load_edges = check_edges(load_edges, "load")
    hit_edges = check_edges(hit_edges, "hit")
    w = observed.windows
    if w.empty:
        raise InputDataError(f"no observation window holds {MIN_REQUESTS} requests or more; "
                             "use a longer --window")
    rate = w["requests"].to_numpy() / w["seconds"].to_numpy() / w["replicas"].to_numpy()
    mi = w["mean_input_tokens"].to_numpy(dtype=float)
    mo = w["mean_output_tokens"].to_numpy(dtype=float)
    labels = list(w["label"])
    table.check_mix(mi, mo, labels)
    hit = w["hit_rate"].to_numpy(dtype=float)
    look = table.lookup(rate, hit, mi, mo)
    stable = look.stable
    expected = {"ttft": np.where(np.isnan(w["expected_p90_ttft_s"]), look.p90_ttft_s,
                                 w["expected_p90_ttft_s"]),
                "tpot": np.where(np.isnan(w["expected_p90_tpot_s"]), look.p90_tpot_s,
                                 w["expected_p90_tpot_s"]),
                "power": look.gpu_power_w}
    observed_v = {"ttft": w["p90_ttft_s"].to_numpy(dtype=float),
                  "tpot": w["p90_tpot_s"].to_numpy(dtype=float),
                  "power": w["gpu_power_w"].to_numpy(dtype=float)}
    li = bin_index(np.minimum(look.load_fraction, 1.0), load_edges)
    hi = bin_index(hit, hit_edges)
    shape = (len(load_edges) - 1, len(hit_edges) - 1)
    factor, count, mean_log = {}, {}, {}
    for m in METRICS:
        ok = stable & np.isfinite(observed_v[m]) & (observed_v[m] > 0) & (expected[m] > 0)
        logs = np.log(np.where(ok, observed_v[m], 1.0) / np.where(ok, expected[m], 1.0))
        n = np.zeros(shape)
        s = np.zeros(shape)
        np.add.at(n, (li[ok], hi[ok]), 1.0)
        np.add.at(s, (li[ok], hi[ok]), logs[ok])
        g = np.divide(s, n, out=np.zeros(shape), where=n > 0)
        factor[m] = np.exp(n / (n + PRIOR_WINDOWS) * g)
        count[m] = n.astype(int)
        mean_log[m] = g
    return Fit(load_edges, hit_edges, factor, count, mean_log, int(stable.sum()),
               int((~stable).sum()))
