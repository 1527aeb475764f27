"""Profile table synthesis: run the performance model over the table grid and write it.

Method ``simulated`` (default): every point is a run of the replica simulator
(:mod:`planner.perf.simulator`) with Poisson arrivals and log-normal lengths; all points of a
table share their random draws (common random numbers), so neighbouring points differ only by
their parameters. First each token mix's saturated throughput μ is measured (every request
arriving at once; steady rate between the 20th and 80th percentile completions); rates above
``RHO_MAX`` · μ are marked unstable (queues there settle slower than any finite run, so no
latency is reported). The rate-0 row is the limit of a vanishing load: latencies of lone
requests over the same request sample, loaded-idle power, no SSD traffic. Method ``analytic``: the closed-form M1 model
(:mod:`planner.perf.analytic`).

Axes (a full regular grid, as :mod:`planner.perf.profile` requires):

* hit_rate: 0, 0.25, 0.5, 0.75, 1;
* mean_input_tokens: 128 · 2^k up to 16,384 (8 values); mean_output_tokens: 16 · 2^k up to
  1,024 (7 values): log-spaced, as the planner interpolates token axes in log space;
* rate_rps: 0, then ``RATE_POINTS`` geometric steps from a quarter of the smallest capacity of
  any mix up to the largest (capacity: ``RHO_MAX`` · μ, or the closed form's largest stable
  rate), so the knee of every mix falls inside the axis. Points above a mix's capacity are
  marked unstable, never extrapolated.
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

MODEL_VERSION = "greencache-perf 2"
HIT_AXIS = (0.0, 0.25, 0.5, 0.75, 1.0)
INPUT_AXIS = tuple(128 * 2 ** k for k in range(8))
OUTPUT_AXIS = tuple(16 * 2 ** k for k in range(7))
RATE_POINTS = 31
METHODS = ("simulated", "analytic")
RHO_MAX = 0.9
REQUESTS = 2000
WARMUP = 400
SATURATION_REQUESTS = 800
SEED = 20261124


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
    engine: str = "graph"
    method: str = "simulated"
    requests: int = REQUESTS
    seed: int = SEED
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
    model = IterationModel(spec, params.device(spec.gpu), opts.engine)
    mixes = [(h, i, o) for h in opts.hit_axis for i in opts.input_axis for o in opts.output_axis]
    if opts.method == "analytic":
        rows = _analytic_rows(model, params, opts, mixes, progress)
    else:
        rows = _simulated_rows(model, params, opts, mixes, progress)
    frame = pd.DataFrame(rows, columns=list(prof.COLUMNS))
    frame, adjust = monotone_in_rate(frame)
    meta = {
        "model": spec.model, "gpu": spec.gpu, "tp": spec.tp, "ssd": spec.ssd,
        "drives_per_replica": spec.drives, "precision": spec.precision,
        "method": f"{opts.method} ({opts.engine} engine): {MODEL_VERSION}", "modelled": True,
        "model_version": MODEL_VERSION,
        "generator": f"greencache {__version__} profile synth",
        "generated": date,
        "engine": {"token_budget": opts.token_budget, "max_seqs": opts.max_seqs,
                   "kv_capacity_tokens": spec.kv_capacity_tokens(opts.token_budget),
                   "kv_load_gbps": spec.kv_load_bytes_per_s / 1e9,
                   "kv_store_gbps": spec.kv_store_bytes_per_s / 1e9},
        "inputs": _inputs(params_path, cat.path),
        "parameters": params.method,
        "simulation": ({"requests": opts.requests,
                        "warmup_requests": min(WARMUP, opts.requests // 5),
                        "saturation_requests": SATURATION_REQUESTS, "seed": opts.seed,
                        "rho_max": RHO_MAX, "arrivals": "Poisson",
                        "lengths": params.lengths.to_dict()}
                       if opts.method == "simulated" else None),
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(opts).items()
                    if k not in ("date", "params_path")},
        "monotone_adjustment_max": adjust,
        "notes": [
            "latencies are modelled, not measured; see docs/perf-model.md",
            "latency percentiles are made non-decreasing in rate by a running maximum over the "
            "rate axis (finite-run sampling noise); monotone_adjustment_max is the largest "
            "relative raise it made",
            "rates above rho_max times a token mix's saturated throughput are marked unstable "
            "(stable = 0) and carry no latency",
            "gpu_power_w, ssd_read_gbps and ssd_write_gbps of unstable rows are those of the "
            "replica at rho_max times its saturated throughput",
            "the rate-0 row holds lone-request latencies, loaded-idle power and no SSD traffic",
        ],
    }
    return frame, meta


LATENCY_COLUMNS = ("p50_ttft_s", "p90_ttft_s", "p99_ttft_s", "p50_tpot_s", "p90_tpot_s",
                   "p99_tpot_s")


def monotone_in_rate(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Running maximum of each latency percentile along the rate axis of every token mix.

    Steady-state latency cannot fall as the load rises; a finite simulated run's percentile
    estimate wiggles by a few percent (iteration-boundary alignment, sampling), and the running
    maximum is the conservative envelope of those estimates. Returns the frame and, per column,
    the largest relative raise.
    """
    f = frame.sort_values(["hit_rate", "mean_input_tokens", "mean_output_tokens", "rate_rps"],
                          kind="mergesort").reset_index(drop=True)
    keys = ["hit_rate", "mean_input_tokens", "mean_output_tokens"]
    worst = {}
    for c in LATENCY_COLUMNS:
        raw = f[c].to_numpy()
        env = f.groupby(keys, sort=False)[c].cummax().to_numpy()
        env = np.where(np.isnan(raw), np.nan, env)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(raw > 0, env / raw - 1.0, 0.0)
        worst[c] = round(float(np.nanmax(rel)) if np.isfinite(rel).any() else 0.0, 4)
        f[c] = env
    return f, worst


def _analytic_rows(model, params, opts, mixes, progress):
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
    return rows


def _simulated_rows(model, params, opts, mixes, progress):
    from planner.perf.simulator import (common_draws, lone_points, replica_costs,
                                        simulate_points)

    if opts.requests < 200:
        raise UsageError("a table point needs at least 200 simulated requests")
    warm = min(WARMUP, opts.requests // 5)
    costs = replica_costs(model, params.power, opts.token_budget, opts.max_seqs)
    draws = common_draws(opts.requests, opts.seed)
    n_sat = min(SATURATION_REQUESTS, opts.requests)
    sat_draws = tuple(d[:n_sat] for d in draws)
    H, I, O = (np.array([m[k] for m in mixes], dtype=float) for k in range(3))
    ctx = model.spec.max_context
    run = lambda rates, h, i, o, dr, w: simulate_points(  # noqa: E731
        costs, rates, h, i, o, params.lengths, dr, ctx, w)
    mu = run(np.zeros(len(mixes)), H, I, O, sat_draws, 0)[:, 0]
    if progress:
        progress(0.1)
    cap = RHO_MAX * mu
    rates = rate_axis(cap, opts.rate_points)
    # lone requests (rate → 0, same request sample) and the boundary of stability (for the
    # power and SSD columns of unstable rows)
    lone = lone_points(costs, H, I, O, params.lengths, draws, ctx, warm)
    edge = run(cap, H, I, O, draws, warm)
    if progress:
        progress(0.2)
    pts = [(k, r) for k in range(len(mixes)) for r in rates[1:] if r <= cap[k]]
    kk = np.array([p[0] for p in pts], dtype=np.int64)
    rr = np.array([p[1] for p in pts], dtype=float)
    res = run(rr, H[kk], I[kk], O[kk], draws, warm) if pts else np.zeros((0, 10))
    if progress:
        progress(1.0)
    by_point = {(int(k), float(r)): res[n] for n, (k, r) in enumerate(zip(kk, rr))}
    idle = model.spec.loaded_idle_w
    rows = []
    for k, (h, i, o) in enumerate(mixes):
        for r in rates:
            if r == 0:
                v = lone[k]
                rows.append((r, h, i, o, 1, *v[0:6], idle, 0.0, 0.0))
            elif (k, float(r)) in by_point:
                v = by_point[(k, float(r))]
                rows.append((r, h, i, o, 1, *v[0:6], v[6], v[7] / 1e9, v[8] / 1e9))
            else:
                v = edge[k]
                rows.append((r, h, i, o, 0, *([np.nan] * 6), v[6], v[7] / 1e9, v[8] / 1e9))
    return rows


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
