"""Profile table synthesis: run the performance model over the table grid and write it.

Method ``simulated`` (default): every point is a run of the replica simulator
(:mod:`planner.perf.simulator`) with Poisson arrivals and lengths drawn from a workload shape
(:mod:`planner.perf.shapes`) scaled to the point's means. First each token mix's saturated
throughput μ is measured (every request arriving at once; steady rate between the 20th and
80th percentile completions); its capacity is ``RHO_MAX`` · μ (beyond, queues settle slower
than any finite run). Each mix is then simulated at fixed fractions of its own capacity (the
load-fraction axis). The load-0 row is the limit of a vanishing load: latencies of lone
requests over the same request sample, loaded-idle power, no SSD traffic. Method ``analytic``:
the closed-form model (:mod:`planner.perf.analytic`), log-normal lengths only.

Axes (a full regular grid, as :mod:`planner.perf.profile` requires):

* load_fraction: ``LOAD_AXIS``, denser near zero, where GPU power rises steeply, and towards
  capacity, where latency bends upwards;
* hit_rate: 0, 0.25, 0.5, 0.75, 1;
* mean_input_tokens: 128 · 2^k up to 16,384 (8 values); mean_output_tokens: 16 · 2^k up to
  1,024 (7 values): log-spaced, as the planner interpolates token axes in log space.

Run lengths: near capacity a queue forgets its past slowly (its relaxation time grows like
1/(1 − ρ)), so a short run's p90 scatters widely (±25 % between seeds for 2,000 requests at
70 % of capacity, docs/perf-model.md). A point at load fraction u simulates
``requests / (1 − RHO_MAX · u)`` requests, at most ``MAX_REQUESTS`` (by default 1,800 at
u = 0.1, 5,000 at 0.75 and 12,000 at capacity), the first fifth discarded as warm-up, and each
request sample is rescaled to offer exactly the nominal load
(:func:`planner.perf.simulator._stream`).

Common random numbers: every (mean prompt, mean output) pair has its own request sample,
shared by all its hit rates and loads (so latency falls with the hit rate and rises with the
load as smoothly as the model does); different pairs draw independently, so the sampling
error of the corners a query interpolates between partly averages out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner import __version__
from planner.choices import METHODS
from planner.catalog import load_catalog
from planner.errors import UsageError
from planner.paths import profiles_dir
from planner.perf import profile as prof
from planner.perf.analytic import max_stable_rate, operating_point
from planner.perf.iteration import IterationModel
from planner.perf.params import default_params_path, file_sha256, load_params
from planner.perf.shapes import LOGNORMAL, WorkloadShape, load_shape
from planner.perf.spec import build_spec

MODEL_VERSION = "greencache-perf 3"
# Dense at both ends. Near zero, GPU power rises steeply (a few requests already keep the GPUs
# busy: ≈ 130 → 340 W per H100 between loads 0 and 0.05 for Llama-3-70B on 4 GPUs), and a
# straight line from the idle row to 0.1 under-predicted the GPU energy of a week at 3 % load
# by ≈ 40 %. Towards capacity, latency bends upwards.
LOAD_AXIS = (0.0, 0.01, 0.02, 0.035, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85,
             0.9, 0.95, 1.0)
HIT_AXIS = (0.0, 0.25, 0.5, 0.75, 1.0)
INPUT_AXIS = tuple(128 * 2 ** k for k in range(8))
OUTPUT_AXIS = tuple(16 * 2 ** k for k in range(7))
RHO_MAX = 0.9
REQUESTS = 1600
MAX_REQUESTS = 12000
SATURATION_REQUESTS = 2000
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
    # workload shape of the simulated requests: a shipped name, lognormal, a shape file (.json)
    # or a WorkloadShape
    shape: str | WorkloadShape = prof.DEFAULT_SHAPE
    requests: int = REQUESTS           # per point at a vanishing load; / (1 − RHO_MAX·u) at u
    seed: int = SEED
    date: str | None = None            # ISO date written as the table's generation date
    params_path: str | None = None
    load_axis: tuple[float, ...] = LOAD_AXIS
    hit_axis: tuple[float, ...] = HIT_AXIS
    input_axis: tuple[int, ...] = INPUT_AXIS
    output_axis: tuple[int, ...] = OUTPUT_AXIS


def point_requests(base: int, load_fraction) -> np.ndarray:
    """Requests simulated at a load fraction: base / (1 − RHO_MAX · u), rounded up to 100, at
    most MAX_REQUESTS (or base, if larger): the rule keeps the relaxation times of the queue
    covered, the cap keeps the 26 shipped tables within ≈ 15 min on 2 cores."""
    u = np.asarray(load_fraction, dtype=float)
    n = np.ceil(base / (1.0 - RHO_MAX * u) / 100.0 - 1e-9) * 100
    return np.minimum(n, max(MAX_REQUESTS, base)).astype(np.int64)


def _check_axes(opts: SynthOptions) -> None:
    for name, ax in (("load", opts.load_axis), ("hit", opts.hit_axis),
                     ("input", opts.input_axis), ("output", opts.output_axis)):
        a = np.asarray(ax, dtype=float)
        if a.size < 2 or np.any(np.diff(a) <= 0):
            raise UsageError(f"the {name} axis needs ≥ 2 increasing values")
    if opts.hit_axis[0] < 0 or opts.hit_axis[-1] > 1:
        raise UsageError("hit rates must lie within [0, 1]")
    if opts.input_axis[0] < 1 or opts.output_axis[0] < 1:
        raise UsageError("token axes must be ≥ 1")
    if opts.load_axis[0] != 0 or opts.load_axis[-1] != 1:
        raise UsageError("the load axis must run from 0 to 1 (fractions of capacity)")


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
    _check_axes(opts)
    date = _check_date(opts.date)
    cat = load_catalog()
    spec = build_spec(opts.model, opts.gpu, opts.tp, opts.ssd, opts.drives, opts.precision, cat)
    spec.kv_capacity_tokens(opts.token_budget)  # raises when the model does not fit
    params_path = Path(opts.params_path) if opts.params_path else default_params_path()
    params = load_params(params_path)
    shape = opts.shape if isinstance(opts.shape, WorkloadShape) else load_shape(opts.shape,
                                                                                 params)
    if opts.method == "analytic" and shape.name != LOGNORMAL:
        raise UsageError("the analytic method models log-normal lengths only; use --shape "
                         "lognormal or --method simulated")
    model = IterationModel(spec, params.device(spec.gpu), opts.engine)
    mixes = [(h, i, o) for h in opts.hit_axis for i in opts.input_axis for o in opts.output_axis]
    if opts.method == "analytic":
        rows = _analytic_rows(model, params, opts, mixes, progress)
    else:
        rows = _simulated_rows(model, params, shape, opts, mixes, progress)
    frame = pd.DataFrame(rows, columns=list(prof.COLUMNS))
    frame, adjust, adjust_below = monotone_in_load(frame)
    loads = np.asarray(opts.load_axis, dtype=float)
    meta = {
        "model": spec.model, "gpu": spec.gpu, "tp": spec.tp, "ssd": spec.ssd,
        "drives_per_replica": spec.drives, "precision": spec.precision,
        "method": f"{opts.method} ({opts.engine} engine): {MODEL_VERSION}", "modelled": True,
        "model_version": MODEL_VERSION,
        "generator": f"greencache {__version__} profile synth",
        "generated": date,
        "workload_shape": shape.summary(),
        "engine": {"token_budget": opts.token_budget, "max_seqs": opts.max_seqs,
                   "kv_capacity_tokens": spec.kv_capacity_tokens(opts.token_budget),
                   "kv_load_gbps": spec.kv_load_bytes_per_s / 1e9,
                   "kv_store_gbps": spec.kv_store_bytes_per_s / 1e9},
        "inputs": _inputs(params_path, cat.path),
        "parameters": params.method,
        "capacity": f"rate_rps at load_fraction 1 = {RHO_MAX} × the saturated throughput"
                    + (" of the simulator" if opts.method == "simulated" else
                       " (largest stable rate of the closed form)"),
        "simulation": ({"requests_per_load_fraction": {f"{u:g}": int(n) for u, n in
                                                       zip(loads[1:],
                                                           point_requests(opts.requests,
                                                                          loads[1:]))},
                        "lone_requests": opts.requests,
                        "warmup": "the first fifth of each run",
                        "saturation_requests": SATURATION_REQUESTS, "seed": opts.seed,
                        "rho_max": RHO_MAX,
                        "arrivals": "Poisson; each sample rescaled to the nominal rate",
                        "lengths": "mean × a multiplier of the workload shape; each sample "
                                   "rescaled to the nominal means, prompts clipped to the "
                                   "context",
                        "draws": "one request sample per (mean prompt, mean output) pair, "
                                 "shared by its hit rates and loads"}
                       if opts.method == "simulated" else None),
        "options": {**{k: (list(v) if isinstance(v, tuple) else v)
                       for k, v in asdict(opts).items()
                       if k not in ("date", "params_path", "shape")}, "shape": shape.name},
        "monotone_adjustment_max": adjust,
        "monotone_adjustment_max_below_capacity": adjust_below,
        "notes": [
            "latencies are modelled, not measured; see docs/perf-model.md",
            "latency percentiles are made non-decreasing in load by a running maximum over the "
            "load-fraction axis (finite-run sampling noise); monotone_adjustment_max is the "
            "largest relative raise it made, monotone_adjustment_max_below_capacity the largest "
            "below load fraction 1 (at the stability limit a finite run's p90 scatters widely)",
            "a token mix's capacity is its rate_rps at load_fraction 1; the planner treats "
            "higher loads as unstable",
            "the load-0 row holds lone-request latencies, loaded-idle power and no SSD traffic",
        ],
    }
    return frame, meta


LATENCY_COLUMNS = ("p50_ttft_s", "p90_ttft_s", "p99_ttft_s", "p50_tpot_s", "p90_tpot_s",
                   "p99_tpot_s")


def monotone_in_load(frame: pd.DataFrame):
    """Running maximum of each latency percentile along the load axis of every token mix.

    Steady-state latency cannot fall as the load rises; a finite simulated run's percentile
    estimate wiggles (iteration-boundary alignment, sampling), and the running maximum is the
    conservative envelope of those estimates. Returns the frame and, per column, the largest
    relative raise over all rows and over the rows below capacity: at the stability limit
    itself a finite run's p90 depends on whether its queue happened to run away, and
    scatters by far more than anywhere below it.
    """
    keys = ["hit_rate", "mean_input_tokens", "mean_output_tokens"]
    f = frame.sort_values(keys + ["load_fraction"], kind="mergesort").reset_index(drop=True)
    below = f["load_fraction"].to_numpy() < 1.0
    worst, worst_below = {}, {}
    for c in LATENCY_COLUMNS:
        raw = f[c].to_numpy()
        env = f.groupby(keys, sort=False)[c].cummax().to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(raw > 0, env / raw - 1.0, 0.0)
        worst[c] = round(float(np.nanmax(rel)), 4)
        worst_below[c] = round(float(np.nanmax(rel[below])), 4)
        f[c] = env
    return f, worst, worst_below


def _analytic_rows(model, params, opts, mixes, progress):
    rows = []
    for h, i, o in mixes:
        cap = RHO_MAX * max_stable_rate(model, params.power, params.lengths, h, i, o,
                                        opts.token_budget, opts.max_seqs)
        for u in opts.load_axis:
            p = operating_point(model, params.power, params.lengths, u * cap, h, i, o,
                                opts.token_budget, opts.max_seqs)
            rows.append((u, h, i, o, u * cap, *p.ttft_s, *p.tpot_s, p.gpu_power_w,
                         p.ssd_read_gbps, p.ssd_write_gbps))
        if progress:
            progress()
    return rows


def _simulated_rows(model, params, shape, opts, mixes, progress):
    from planner.perf.simulator import lone_points, replica_costs, shape_draws, simulate_points

    if opts.requests < 200:
        raise UsageError("a table point needs at least 200 simulated requests")
    loads = np.asarray(opts.load_axis, dtype=float)
    nreq = point_requests(opts.requests, loads)
    costs = replica_costs(model, params.power, opts.token_budget, opts.max_seqs)
    pairs = sorted({(int(i), int(o)) for _, i, o in mixes})
    row_of = {p: k for k, p in enumerate(pairs)}
    n_max = int(max(nreq.max(), SATURATION_REQUESTS, opts.requests))
    draws = shape_draws(shape, pairs, n_max, opts.seed)
    H, I, O = (np.array([m[k] for m in mixes], dtype=float) for k in range(3))
    R = np.array([row_of[(int(i), int(o))] for _, i, o in mixes], dtype=np.int64)
    ctx = model.spec.max_context
    M = len(mixes)
    mu = simulate_points(costs, np.zeros(M), H, I, O, np.full(M, SATURATION_REQUESTS), R, draws,
                         ctx)[:, 0]
    if progress:
        progress(0.1)
    cap = RHO_MAX * mu
    lone = lone_points(costs, H, I, O, np.full(M, opts.requests), R, draws, ctx)
    # every mix at every positive load fraction
    k_pt = np.repeat(np.arange(M), len(loads) - 1)
    u_pt = np.tile(np.arange(1, len(loads)), M)
    res = simulate_points(costs, cap[k_pt] * loads[u_pt], H[k_pt], I[k_pt], O[k_pt],
                          nreq[u_pt], R[k_pt], draws, ctx)
    if progress:
        progress(1.0)
    idle = model.spec.loaded_idle_w
    rows = []
    for k, (h, i, o) in enumerate(mixes):
        v = lone[k]
        rows.append((0.0, h, i, o, 0.0, *v[0:6], idle, 0.0, 0.0))
        for j in range(1, len(loads)):
            v = res[k * (len(loads) - 1) + j - 1]
            rows.append((loads[j], h, i, o, cap[k] * loads[j], *v[0:6], v[6], v[7] / 1e9,
                         v[8] / 1e9))
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
    name = prof.table_name(meta["model"], meta["gpu"], meta["tp"], meta["ssd"],
                           meta["workload_shape"]["name"])
    path = directory / f"{name}.csv"
    prof.write_profile(frame, meta, path)
    return path
