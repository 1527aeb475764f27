"""Profile tables from measured operating points: one writer for every measured source.

A measured source (``profile measure`` against a live endpoint, a benchmark tool's result
file) yields points: an offered rate, a hit rate, a token mix, the latency percentiles of the
requests served there and the GPU power. :func:`build_table` turns them into the planner's
table (:mod:`planner.perf.profile`) and its metadata, with provenance ``measured``; write them
with :func:`planner.perf.profile.write_profile` under :func:`planner.perf.profile.table_name`.

How measured points map onto the table's grid:

* hit rate and token axes: the distinct values of the points; every (hit, prompt, output)
  combination must be present, since the table is a full grid.
* load: the table's rows are fractions of each mix's capacity. A mix's capacity is the
  largest offered rate measured *stable* there (every request finished, throughput near the
  offered rate; the source decides); points above it are left out of the table (recorded in
  the metadata). The load-0 row is the mix's lone-request point (rate 0: requests sent one
  at a time, with the power of the idle replica).
* load fractions shared by all mixes: the union of every mix's rate / capacity. Where a mix
  was not measured at one of them, its row is interpolated between its two measured
  neighbours (latencies geometrically, power and SSD traffic linearly, as the planner reads
  tables); ``interpolated_cells`` in the metadata counts those rows, and ``points`` lists
  every measured one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from planner import __version__
from planner.errors import InputDataError
from planner.perf import profile as prof

PERCENTILES = (50, 90, 99)
_LATENCY = ("p50_ttft_s", "p90_ttft_s", "p99_ttft_s", "p50_tpot_s", "p90_tpot_s", "p99_tpot_s")
_LINEAR = ("gpu_power_w", "ssd_read_gbps", "ssd_write_gbps")


@dataclass(frozen=True)
class MeasuredPoint:
    """One measured operating point of a replica (per GPU power; latencies in seconds)."""

    rate_rps: float              # offered load; 0 for lone requests sent one at a time
    hit_rate: float              # the table's hit-rate axis value of the point
    mean_input_tokens: float     # the table's prompt axis value
    mean_output_tokens: float    # the table's output axis value
    p50_ttft_s: float
    p90_ttft_s: float
    p99_ttft_s: float
    p50_tpot_s: float
    p90_tpot_s: float
    p99_tpot_s: float
    gpu_power_w: float
    requests: int                # requests the percentiles come from
    stable: bool = True          # the source judged the replica kept up with the offered load
    ssd_read_gbps: float = 0.0
    ssd_write_gbps: float = 0.0

    @classmethod
    def from_samples(cls, rate_rps, hit_rate, mean_input_tokens, mean_output_tokens, ttft_s,
                     tpot_s, gpu_power_w, stable=True, **extra) -> "MeasuredPoint":
        """A point from per-request TTFT and TPOT samples (percentiles by linear
        interpolation between order statistics, NumPy's default)."""
        ttft = np.asarray(ttft_s, dtype=float)
        tpot = np.asarray(tpot_s, dtype=float)
        ttft, tpot = ttft[np.isfinite(ttft)], tpot[np.isfinite(tpot)]
        if ttft.size == 0 or tpot.size == 0:
            raise InputDataError(f"no finished request with a TTFT and a TPOT at rate "
                                 f"{rate_rps:g} req/s, hit rate {hit_rate:g}")
        qt, qp = np.percentile(ttft, PERCENTILES), np.percentile(tpot, PERCENTILES)
        return cls(float(rate_rps), float(hit_rate), float(mean_input_tokens),
                   float(mean_output_tokens), *map(float, qt), *map(float, qp),
                   float(gpu_power_w), int(ttft.size), bool(stable), **extra)


def build_table(points: list[MeasuredPoint], meta: dict, generated: str | None = None
                ) -> tuple[pd.DataFrame, dict]:
    """The table (documented columns) and metadata of measured points.

    ``meta`` must hold the replica's keys (model, gpu, tp, ssd, drives_per_replica), the
    ``workload_shape`` dict and a ``provenance`` dict (source, engine, hardware, sweep); the
    rest is filled here. ``generated``: ISO date, today when omitted.
    """
    for k in ("model", "gpu", "tp", "ssd", "drives_per_replica", "workload_shape",
              "provenance"):
        if k not in meta:
            raise ValueError(f"measured table metadata lacks {k}")
    if not points:
        raise InputDataError("no measured points to build a profile table from")
    pts = pd.DataFrame([asdict(p) for p in points])
    for c in ("rate_rps", "hit_rate", "mean_input_tokens", "mean_output_tokens", *_LATENCY,
              *_LINEAR):
        v = pts[c].to_numpy(dtype=float)
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise InputDataError(f"measured points: {c} must be finite and ≥ 0")
    if np.any(pts["hit_rate"] > 1):
        raise InputDataError("measured points: hit rates must lie within [0, 1]")
    axes = [np.unique(pts[c].to_numpy(dtype=float))
            for c in ("hit_rate", "mean_input_tokens", "mean_output_tokens")]
    for name, ax in zip(("hit rate", "mean prompt", "mean output"), axes):
        if len(ax) < 2:
            raise InputDataError(f"a profile table needs ≥ 2 {name} values; the measured "
                                 f"points have {', '.join(f'{x:g}' for x in ax)}")
    series, left_out = {}, []
    for h in axes[0]:
        for i in axes[1]:
            for o in axes[2]:
                s = pts[(pts.hit_rate == h) & (pts.mean_input_tokens == i)
                        & (pts.mean_output_tokens == o)].sort_values("rate_rps")
                where = f"hit rate {h:g}, prompt {i:g}, output {o:g} tokens"
                if not (s.rate_rps == 0).any():
                    raise InputDataError(f"no lone-request point (rate 0) at {where}")
                if (s.rate_rps == 0).sum() > 1 or s.rate_rps.duplicated().any():
                    raise InputDataError(f"two points at one rate at {where}")
                ok = s[(s.rate_rps > 0) & s.stable]
                if ok.empty:
                    raise InputDataError(f"no stable point above rate 0 at {where}: measure "
                                         "lower rates")
                cap = float(ok.rate_rps.max())
                left_out += [f"{r:g} req/s at {where}" for r in s.rate_rps[s.rate_rps > cap]]
                keep = s[(s.rate_rps == 0) | ((s.rate_rps <= cap) & s.stable)]
                series[(h, i, o)] = (cap, keep)
    lf_axis = np.unique(np.round(np.concatenate(
        [k.rate_rps.to_numpy() / cap for cap, k in series.values()]), 9))
    rows, interpolated = [], 0
    for (h, i, o), (cap, keep) in series.items():
        lf = keep.rate_rps.to_numpy() / cap
        for u in lf_axis:
            exact = np.isclose(lf, u, rtol=0, atol=1e-9)
            if exact.any():
                r = keep.iloc[int(np.flatnonzero(exact)[0])]
                vals = [float(r[c]) for c in _LATENCY + _LINEAR]
            else:
                interpolated += 1
                vals = [float(np.exp(np.interp(u, lf, np.log(np.maximum(
                    keep[c].to_numpy(dtype=float), 1e-12))))) for c in _LATENCY] + \
                       [float(np.interp(u, lf, keep[c].to_numpy(dtype=float))) for c in _LINEAR]
            v = dict(zip(_LATENCY + _LINEAR, vals))
            rows.append({"load_fraction": float(u), "hit_rate": h, "mean_input_tokens": i,
                         "mean_output_tokens": o, "rate_rps": float(u) * cap, **v})
    frame = pd.DataFrame(rows, columns=list(prof.COLUMNS))
    out = dict(meta)
    out.update({
        "method": f"measured: {meta['provenance'].get('source', 'measured operating points')}",
        "modelled": bool(meta.get("modelled", False)),
        "generator": meta.get("generator", f"greencache {__version__}"),
        "generated": generated or dt.datetime.now(dt.UTC).date().isoformat(),
        "capacity": "rate_rps at load_fraction 1 = the largest offered rate measured stable "
                    "for that hit rate and token mix",
        "interpolated_cells": interpolated,
        "left_out_above_capacity": left_out,
        "points": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(p).items()}
                   for p in sorted(points, key=lambda p: (p.mean_input_tokens,
                                                          p.mean_output_tokens, p.hit_rate,
                                                          p.rate_rps))],
    })
    out.setdefault("inputs", {})
    notes = list(meta.get("notes", []))
    notes += ["latencies and power measured, not modelled"
              if not out["modelled"] else "some columns modelled: see provenance",
              "rows at load fractions a mix was not measured at are interpolated between its "
              "measured neighbours (interpolated_cells counts them; points lists the measured "
              "ones)",
              "the load-0 row holds lone requests sent one at a time and the idle replica's "
              "power"]
    out["notes"] = notes
    prof.ProfileTable(frame, out, source="measured points")  # the planner's own checks
    return frame, out

