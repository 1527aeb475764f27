"""Profile table synthesis: run the performance model over the table grid and write it.

Axes (a full regular grid, as :mod:`planner.perf.profile` requires):

* hit_rate: 0, 0.25, 0.5, 0.75, 1;
* mean_input_tokens: 128 · 2^k up to 16,384 (8 values); mean_output_tokens: 16 · 2^k up to
  1,024 (7 values): log-spaced, as the planner interpolates token axes in log space;
* rate_rps: 0, then ``RATE_POINTS`` geometric steps from a quarter of the smallest capacity of
  any mix up to the largest, so the knee of every mix falls inside the axis. Points at or above
  a mix's capacity are marked unstable, never extrapolated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner import __version__
from planner.catalog import load_catalog
from planner.errors import UsageError
from planner.paths import profiles_dir
from planner.perf import profile as prof
from planner.perf.analytic import max_stable_rate, operating_point
from planner.perf.iteration import IterationModel
from planner.perf.params import default_params_path, file_sha256, load_params
from planner.perf.spec import build_spec

MODEL_VERSION = "greencache-perf 1 (analytic M1)"
HIT_AXIS = (0.0, 0.25, 0.5, 0.75, 1.0)
INPUT_AXIS = tuple(128 * 2 ** k for k in range(8))
OUTPUT_AXIS = tuple(16 * 2 ** k for k in range(7))
RATE_POINTS = 31
METHODS = ("analytic",)


@dataclass(frozen=True)
class SynthOptions:
    model: str
    gpu: str
    tp: int
    ssd: str
    drives: int | None = None
    precision: str = "bf16"
    token_budget: int = 8192
    max_seqs: int = 256
    method: str = "analytic"
    date: str | None = None            # ISO date written as the table's generation date
    params_path: str | None = None
    hit_axis: tuple[float, ...] = HIT_AXIS
    input_axis: tuple[int, ...] = INPUT_AXIS
    output_axis: tuple[int, ...] = OUTPUT_AXIS
    rate_points: int = RATE_POINTS


def _round_sig(x: np.ndarray, digits: int = 4) -> np.ndarray:
    out = np.zeros_like(x)
    nz = x > 0
    mag = np.floor(np.log10(x[nz]))
    out[nz] = np.round(x[nz] / 10 ** (mag - digits + 1)) * 10 ** (mag - digits + 1)
    return out


def rate_axis(capacities: np.ndarray, points: int = RATE_POINTS) -> np.ndarray:
    """0 followed by ``points`` geometric rates from min(capacity)/4 to max(capacity)."""
    caps = np.asarray(capacities, dtype=float)
    caps = caps[caps > 0]
    if caps.size == 0:
        raise UsageError("the replica cannot serve any token mix of the table (no capacity)")
    lo, hi = caps.min() / 4.0, caps.max()
    r = _round_sig(np.geomspace(lo, hi, points))
    return np.concatenate([[0.0], np.unique(r)])


def _check_axes(opts: SynthOptions) -> None:
    for name, ax in (("hit", opts.hit_axis), ("input", opts.input_axis),
                     ("output", opts.output_axis)):
        a = np.asarray(ax, dtype=float)
        if a.size < 2 or np.any(np.diff(a) <= 0):
            raise UsageError(f"the {name} axis needs ≥ 2 increasing values")
    if opts.hit_axis[0] < 0 or opts.hit_axis[-1] > 1:
        raise UsageError("hit rates must lie within [0, 1]")
    if opts.input_axis[0] < 1 or opts.output_axis[0] < 1:
        raise UsageError("token axes must be ≥ 1")
    if opts.rate_points < 2:
        raise UsageError("the rate axis needs ≥ 2 points above 0")


def _check_date(date: str | None) -> str:
    if date is None:
        return dt.datetime.now(dt.UTC).date().isoformat()
    try:
        return dt.date.fromisoformat(date).isoformat()
    except ValueError:
        raise UsageError(f"--date must be an ISO date like 2025-01-31 (got {date!r})") from None


def synthesize(opts: SynthOptions, progress=None) -> tuple[pd.DataFrame, dict]:
    """The table (documented columns) and its metadata for one replica configuration."""
    if opts.method not in METHODS:
        raise UsageError(f"unknown method {opts.method!r}; choose {', '.join(METHODS)}")
    if opts.token_budget < 256 or opts.max_seqs < 1:
        raise UsageError("the token budget must be ≥ 256 and max sequences ≥ 1")
    date = _check_date(opts.date)
    cat = load_catalog()
    spec = build_spec(opts.model, opts.gpu, opts.tp, opts.ssd, opts.drives, opts.precision, cat)
    spec.kv_capacity_tokens(opts.token_budget)  # raises when the model does not fit
    params_path = Path(opts.params_path) if opts.params_path else default_params_path()
    params = load_params(params_path)
    model = IterationModel(spec, params.device(spec.gpu))
    _check_axes(opts)
    mixes = [(h, i, o) for h in opts.hit_axis for i in opts.input_axis for o in opts.output_axis]
    caps = np.array([max_stable_rate(model, params.power, params.lengths, h, i, o,
                                     opts.token_budget, opts.max_seqs) for h, i, o in mixes])
    rates = rate_axis(caps, opts.rate_points)
    rows = []
    for (h, i, o), cap in zip(mixes, caps):
        sat = operating_point(model, params.power, params.lengths, cap, h, i, o,
                              opts.token_budget, opts.max_seqs)
        for r in rates:
            p = operating_point(model, params.power, params.lengths, r, h, i, o,
                                opts.token_budget, opts.max_seqs)
            q = p if p.stable else sat
            rows.append((r, h, i, o, int(p.stable), *p.ttft_s, *p.tpot_s, q.gpu_power_w,
                         q.ssd_read_gbps, q.ssd_write_gbps))
        if progress:
            progress()
    frame = pd.DataFrame(rows, columns=list(prof.COLUMNS))
    meta = {
        "model": spec.model, "gpu": spec.gpu, "tp": spec.tp, "ssd": spec.ssd,
        "drives_per_replica": spec.drives, "precision": spec.precision,
        "method": f"{opts.method}: {MODEL_VERSION}", "modelled": True,
        "model_version": MODEL_VERSION,
        "generator": f"greencache {__version__} profile synth",
        "generated": date,
        "engine": {"token_budget": opts.token_budget, "max_seqs": opts.max_seqs,
                   "kv_capacity_tokens": spec.kv_capacity_tokens(opts.token_budget),
                   "kv_load_gbps": spec.kv_load_bytes_per_s / 1e9,
                   "kv_store_gbps": spec.kv_store_bytes_per_s / 1e9},
        "inputs": _inputs(params_path, cat.path),
        "parameters": params.method,
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(opts).items()
                    if k not in ("date", "params_path")},
        "notes": [
            "latencies are modelled, not measured; see docs/perf-model.md",
            "rates at or above a token mix's capacity are marked unstable (stable = 0)",
            "gpu_power_w, ssd_read_gbps and ssd_write_gbps of unstable rows are those of the "
            "saturated replica",
        ],
    }
    return frame, meta


def _inputs(params_path: Path, catalog_path: Path) -> dict:
    def rel(p: Path) -> str:
        try:
            return str(Path(p).resolve().relative_to(profiles_dir().resolve().parent))
        except ValueError:
            return Path(p).name
    models_path = Path(catalog_path).with_name("models.toml")
    return {rel(p): {"sha256": file_sha256(p)} for p in (params_path, catalog_path, models_path)}


def write_table(frame: pd.DataFrame, meta: dict, directory: Path | None = None) -> Path:
    directory = Path(directory) if directory else prof.tables_dir()
    name = prof.table_name(meta["model"], meta["gpu"], meta["tp"], meta["ssd"])
    path = directory / f"{name}.csv"
    prof.write_profile(frame, meta, path)
    return path
