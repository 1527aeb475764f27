"""A measured table against a modelled one: how far the model's p90 TTFT and p90 TPOT are
from what was measured, at every measured point.

Each stable measured point (``points`` in the measured table's metadata: offered rate, hit
rate, token mix, its own p90s, not the table's interpolated rows) is looked up in the
modelled table at the same rate, hit rate and token mix (the planner's own interpolation).
Errors are modelled − measured; the summary gives the median and p90 of their absolute
values, in ms and relative to the measurement. Points the modelled table calls unstable (the
rate beyond its capacity) are counted apart: they have no modelled latency.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.errors import InputDataError
from planner.perf.profile import ProfileTable

COLUMNS = ("rate_rps", "hit_rate", "mean_input_tokens", "mean_output_tokens",
           "measured_p90_ttft_ms", "modelled_p90_ttft_ms", "ttft_error_ms",
           "measured_p90_tpot_ms", "modelled_p90_tpot_ms", "tpot_error_ms", "modelled_stable")


def compare_tables(measured: ProfileTable, modelled: ProfileTable) -> tuple[pd.DataFrame, dict]:
    points = measured.meta.get("points")
    if measured.modelled or not points:
        raise InputDataError(f"{measured.source} is not a measured table (no measured points "
                             "in its metadata)")
    pts = pd.DataFrame(points)
    pts = pts[pts["stable"]].reset_index(drop=True)
    modelled.check_mix(pts.mean_input_tokens.to_numpy(), pts.mean_output_tokens.to_numpy(),
                       [f"(measured point {k})" for k in range(len(pts))])
    look = modelled.lookup(pts.rate_rps.to_numpy(dtype=float), pts.hit_rate.to_numpy(dtype=float),
                           pts.mean_input_tokens.to_numpy(dtype=float),
                           pts.mean_output_tokens.to_numpy(dtype=float))
    frame = pd.DataFrame({
        "rate_rps": pts.rate_rps, "hit_rate": pts.hit_rate,
        "mean_input_tokens": pts.mean_input_tokens, "mean_output_tokens": pts.mean_output_tokens,
        "measured_p90_ttft_ms": pts.p90_ttft_s * 1e3,
        "modelled_p90_ttft_ms": np.where(look.stable, look.p90_ttft_s * 1e3, np.nan),
        "measured_p90_tpot_ms": pts.p90_tpot_s * 1e3,
        "modelled_p90_tpot_ms": np.where(look.stable, look.p90_tpot_s * 1e3, np.nan),
        "modelled_stable": look.stable})
    frame["ttft_error_ms"] = frame.modelled_p90_ttft_ms - frame.measured_p90_ttft_ms
    frame["tpot_error_ms"] = frame.modelled_p90_tpot_ms - frame.measured_p90_tpot_ms
    frame = frame.loc[:, list(COLUMNS)]
    ok = frame[frame.modelled_stable]
    summary = {"measured": measured.source, "modelled": modelled.source,
               "points": int(len(frame)), "modelled_unstable": int((~frame.modelled_stable).sum())}
    for what in ("ttft", "tpot"):
        err = ok[f"{what}_error_ms"].abs().to_numpy()
        rel = err / ok[f"measured_p90_{what}_ms"].to_numpy()
        bias = ok[f"{what}_error_ms"].to_numpy()
        summary[what] = {
            "median_abs_error_ms": _q(err, 50), "p90_abs_error_ms": _q(err, 90),
            "median_abs_error_pct": _q(100 * rel, 50), "p90_abs_error_pct": _q(100 * rel, 90),
            "median_error_ms": _q(bias, 50)}
    return frame, summary


def _q(x, q) -> float | None:
    return round(float(np.percentile(x, q)), 3) if len(x) else None
