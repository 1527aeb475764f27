"""The plan pipeline: load inputs, build candidates, solve, assemble schedule and summary.

Each stage is a call into the module that owns it (solve: plan_solve.py, baselines:
baselines.py, summary: summary.py, provisioning: provisioning.py); this file loads the inputs
and wires the stages together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from planner import __version__, schedule as schedule_mod
from planner.catalog import Hardware, load_catalog, resolve
from planner.config import PlanOptions
from planner.errors import InfeasibleError, InputDataError, SolverError, UsageError
from planner.grid import load_grid, window_intensity
from planner.paths import rel as _rel, sha256_file
from planner.baselines import solve_baselines
from planner.optimize.candidates import CandidateSet, build_candidates
from planner.optimize.diagnostics import WindowDiagnosis, precheck
from planner.optimize.model import PlanModel
from planner.optimize.solve import SolveResult
from planner.plan_solve import check_solved, plan_coupling, solve_candidates
from planner.provisioning import provisioning
from planner.summary import build_summary
from planner.perf.profile import ProfileTable, load_profile
from planner.workload.hitcurve import HitCurves
from planner.workload.load import load_workload
from planner.workload.trace import Trace
from planner.workload.windows import (
    LoadBuckets,
    Windowing,
    load_buckets,
    make_windows,
    parse_window,
)

Progress = Callable[[str], None]


@dataclass
class PlanInputs:
    """Everything loaded and derived before the optimiser runs (no solver involved)."""

    options: PlanOptions
    trace: Trace
    windowing: Windowing
    ci: np.ndarray
    hits: HitCurves
    profile: ProfileTable
    hardware: Hardware
    cache_levels_gb: np.ndarray
    kv_bytes_per_token: int
    grid_info: dict
    buckets: LoadBuckets | None = None
    notes: list[str] = field(default_factory=list)
    workload_shape: dict = field(default_factory=dict)


@dataclass
class PlanResult:
    inputs: PlanInputs
    candidates: CandidateSet
    diagnoses: list[WindowDiagnosis]
    model: PlanModel
    solve: SolveResult
    schedule: pd.DataFrame
    chosen: pd.DataFrame
    summary: dict
    baselines: dict
    provisioning: dict


def _noop(_: str) -> None:
    pass


# --------------------------------------------------------------------------------------------
# stage 1: inputs
# --------------------------------------------------------------------------------------------

# Options that decide the workload side of the inputs (trace, windows, hit curves, bursts):
# plans that agree on them can share it (an experiment over many grids prepares it once).
WORKLOAD_FIELDS = ("trace", "trace_format", "scale", "series", "seed", "start", "window",
                   "burst_window_s", "model", "cache_levels_tb", "eviction", "reuse_model")


def workload_key(opt: PlanOptions) -> tuple:
    """The options of WORKLOAD_FIELDS, as a hashable key."""
    return tuple(getattr(opt, f) for f in WORKLOAD_FIELDS)


def same_workload(a: PlanOptions, b: PlanOptions) -> bool:
    return workload_key(a) == workload_key(b) and a.eviction == "lru"


def load_inputs(opt: PlanOptions, progress: Progress = _noop,
                reuse: PlanInputs | None = None) -> PlanInputs:
    """Every input of a plan. ``reuse``: an earlier plan's inputs whose workload (see
    WORKLOAD_FIELDS; LRU curves only, as LCS depends on the grid) is taken as it is."""
    opt = opt.validate()
    notes: list[str] = []
    catalog = load_catalog()
    arch = catalog.model(opt.model)
    hw = resolve(catalog, opt.gpu, opt.tp, opt.ssd, opt.levels, opt.pue)
    shared = reuse if reuse is not None and same_workload(reuse.options, opt) else None

    progress("reading grid")
    series = load_grid(opt.grid, opt.ci_basis)
    notes.extend(series.notes)
    if shared is None:
        progress("reading trace")
        trace = load_workload(opt.trace, opt.trace_format, scale=opt.scale, seed=opt.seed,
                              series=opt.series)
        trace = place_trace(trace, opt.start, series)
    else:
        trace = shared.trace
    notes.extend(trace.notes)
    if int(trace.input_tokens.max()) > arch.max_context:
        i = int(np.argmax(trace.input_tokens))
        raise InputDataError(
            f"request {i + 1} of {trace.name} has a {int(trace.input_tokens[i]):,}-token prompt, "
            f"beyond {arch.name}'s context of {arch.max_context:,} tokens")

    windowing = shared.windowing if shared else make_windows(trace, parse_window(opt.window))
    if windowing.n == 0:
        raise InputDataError("the trace yields no planning windows")
    wi = window_intensity(series, pd.DatetimeIndex(windowing.stats["window_start"]),
                          pd.DatetimeIndex(windowing.stats["window_end"]))
    notes.extend(wi.notes)

    profile, shape_info, shape_notes = select_profile(opt, trace)
    notes.extend(shape_notes)
    busy = windowing.stats["requests"].to_numpy() > 0
    profile.check_mix(windowing.stats["mean_input_tokens"].to_numpy()[busy],
                      windowing.stats["mean_output_tokens"].to_numpy()[busy],
                      [lab for lab, b in zip(windowing.labels(), busy) if b])

    levels_gb = np.asarray(opt.cache_levels_tb, dtype=float) * 1000.0
    kv = arch.kv_bytes_per_token()
    capacities_tokens = np.floor(levels_gb * 1e9 / kv).astype(np.int64)
    if shared is None:
        progress("computing hit-rate curves")
        lcs = lcs_params(opt, profile, windowing, wi.values, hw) if opt.eviction == "lcs" \
            else None
        trace, hits = compute_hit_curves(trace, windowing, capacities_tokens, opt, lcs)
    else:
        hits = shared.hits
    notes.extend(hits.notes)

    buckets = shared.buckets if shared else None
    if opt.burst_window_s > 0:
        if buckets is None:
            buckets = load_buckets(trace, windowing, opt.burst_window_s)
        notes.append(f"p90 latency is read per window as the mixture over 8 buckets of "
                     f"{opt.burst_window_s:g}-s sub-windows grouped by arrival rate (bursts)")
    grid_info = {
        "spec": opt.grid, "zone": series.zone, "basis": series.basis,
        "attribution": series.attribution, "aligned_to_series_year": wi.aligned,
        "files": [{"path": _rel(p), "sha256": sha256_file(p)} for p in series.files],
        "mean_gco2_per_kwh_over_windows": round(float(np.average(
            wi.values, weights=windowing.stats["hours"])), 6),
    }
    return PlanInputs(opt, trace, windowing, wi.values, hits, profile, hw, levels_gb, kv,
                      grid_info, buckets, notes, shape_info)


# At most this many requests (evenly strided) are compared with the workload shapes: quantiles
# up to p99 are exact to well under a percent from a million requests, and a week-long trace
# of tens of millions then costs no more than an hour's.
SHAPE_SAMPLE = 1_000_000


def select_profile(opt: PlanOptions, trace: Trace):
    """The profile table for the scenario's replica and the workload shape that fits the trace:
    ``--workload-shape`` when named, else (auto) the available shape nearest to the trace's
    lengths (:func:`planner.perf.shapes.choose_shape`). Returns (table, summary entry, notes)."""
    from planner.perf.profile import available_shapes, tables_dir
    from planner.perf.shapes import POOR_FIT_DISTANCE, choose_shape, known_shape_names, load_shape

    directory = Path(opt.profile_dir) if opt.profile_dir else None
    have = available_shapes(opt.model, opt.gpu, opt.tp, opt.ssd, directory)
    if not have:
        old = (directory or tables_dir()) / f"{opt.model}__{opt.gpu}-tp{opt.tp}__{opt.ssd}.csv"
        if old.exists():
            raise InputDataError(f"profile table {old} has the layout before workload shapes; "
                                 "regenerate it with `greencache profile synth`")
        load_profile(opt.model, opt.gpu, opt.tp, opt.ssd, directory)  # raises, naming tables
    step = max(1, len(trace) // SHAPE_SAMPLE)
    inp, out = trace.input_tokens[::step], trace.output_tokens[::step]
    known = [n for n in have if n in known_shape_names()]
    nearest, distances = None, {}
    if known:
        nearest, _, raw = choose_shape([load_shape(n) for n in known], inp, out)
        distances = {n: round(x, 4) for n, x in zip(known, raw)}
    if opt.workload_shape != "auto":
        if opt.workload_shape not in have:
            raise UsageError(f"no profile table for {opt.model} on {opt.tp}×{opt.gpu} with "
                             f"{opt.ssd} and workload shape {opt.workload_shape!r}; available: "
                             f"{', '.join(have)}")
        name, how = opt.workload_shape, "named by --workload-shape"
    elif nearest is not None:
        name, how = nearest.name, "auto: nearest to the trace's lengths"
    else:
        name, how = have[0], "auto: the only shapes available are not known to this version"
    profile = load_profile(opt.model, opt.gpu, opt.tp, opt.ssd, directory, shape=name)
    info = {"name": name, "chosen": how, "distance": distances.get(name),
            "distances": distances}
    d = distances.get(name)
    others = ", ".join(f"{k} {v:.2f}" for k, v in distances.items() if k != name)
    notes = [f"latencies read from the profile table simulated with the {name} workload shape "
             f"({how}" + (f"; largest |log ratio| of length/mean quantiles {d:.2f}" if d is not
                          None else "") + (f"; others: {others}" if others else "") + ")"]
    if d is not None and d > POOR_FIT_DISTANCE:
        notes.append(f"no available workload shape fits the trace well (nearest: {name}, "
                     f"distance {d:.2f} > {POOR_FIT_DISTANCE}): predicted p90 latencies may "
                     "be off; generate a table for this workload's shape with `greencache "
                     "profile synth --shape`")
    return profile, info, notes


def place_trace(trace: Trace, start: str | None, series) -> Trace:
    """Anchor a trace with relative timestamps; an absolute trace keeps its own times."""
    if trace.start is not None:
        if start is not None:
            raise UsageError(f"--start applies to traces with relative timestamps; "
                             f"{trace.name} has absolute ones")
        return trace
    if start is None:
        year = series.years[-1]
        ts = pd.Timestamp(year=year, month=1, day=1, tz="UTC")
        note = (f"{trace.name} has relative timestamps; it was placed at {ts:%Y-%m-%dT%H:%MZ} "
                "(the start of the grid series' last year); use --start to choose")
    else:
        try:
            ts = pd.Timestamp(start)
        except (ValueError, TypeError):
            raise UsageError(f"cannot read --start {start!r}; write e.g. 2023-06-01T08:00Z") \
                from None
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        note = f"{trace.name} has relative timestamps; placed at {ts:%Y-%m-%dT%H:%M:%SZ} (--start)"
    return trace.with_start(ts.as_unit("ns"), note)


def lcs_params(opt: PlanOptions, profile: ProfileTable, windowing: Windowing, ci: np.ndarray,
               hw: Hardware):
    """Least-carbon-savings parameters: this scenario's SSD and embodied level, the window's
    carbon intensity, and the prefill energy a hit saves as the profile table itself shows it
    (the catalog's FLOP-based estimate when the table shows none)."""
    from planner.workload.eviction import lcs_params_from_catalog

    st = windowing.stats
    n = max(int(st["requests"].sum()), 1)
    joules = profile.hit_energy_j_per_token(float(st["prompt_tokens"].sum()) / n,
                                            float(st["output_tokens"].sum()) / n)
    return lcs_params_from_catalog(opt.model, opt.ssd, np.asarray(ci, dtype=float), gpu=opt.gpu,
                                   prefill_j_per_token=None if np.isnan(joules) else joules,
                                   level=opt.levels.ssd_embodied, pue=hw.pue)


def compute_hit_curves(trace: Trace, windowing: Windowing, capacities_tokens: np.ndarray,
                       opt: PlanOptions, lcs=None) -> tuple[Trace, HitCurves]:
    """Exact curves from the trace's own prefixes, or from prefixes the reuse model
    synthesises for traces that record none (then labelled modelled)."""
    from planner.workload import hitcurve

    if not trace.has_prefixes:
        from planner.workload.reuse_model import load_reuse_params

        params = load_reuse_params(opt.reuse_model) if opt.reuse_model else None
        trace = hitcurve.synthesize_prefixes(trace, seed=opt.seed, params=params)
    curves = hitcurve.window_hit_curves(trace, windowing.request_window, windowing.n,
                                        capacities_tokens, policy=opt.eviction, lcs=lcs)
    return trace, curves


# --------------------------------------------------------------------------------------------
# the pipeline
# --------------------------------------------------------------------------------------------

def run_plan(opt: PlanOptions, progress: Progress = _noop,
             reuse: PlanInputs | None = None) -> PlanResult:
    inputs = load_inputs(opt, progress, reuse)
    opt = inputs.options.validate()
    stats = inputs.windowing.stats
    labels = inputs.windowing.labels()
    progress("building candidates")
    cands = build_candidates(stats, inputs.hits, inputs.ci, inputs.profile, inputs.hardware,
                             inputs.cache_levels_gb, opt.max_replicas, buckets=inputs.buckets)
    diagnoses = precheck(cands.frame, len(stats), labels, opt.slo_ttft_s, opt.slo_tpot_s)
    bad = [d for d in diagnoses if not d.feasible]
    overloaded = [d for d in bad if d.binding == "capacity"]
    if overloaded or (bad and not opt.allow_slo_violation):
        lines = [d.sentence(opt.slo_ttft_s, opt.slo_tpot_s, opt.max_replicas) for d in bad]
        what = "cannot serve the load" if overloaded else "cannot meet the SLO"
        hint = "" if overloaded else "; --allow-slo-violation plans them best-effort"
        raise InfeasibleError(f"{len(bad)} of {len(stats)} window(s) {what}{hint}", lines[:20]
                              + ([f"… and {len(lines) - 20} more"] if len(lines) > 20 else []))

    progress("solving the plan")
    coupling = plan_coupling(inputs, opt, cands.frame)
    solved = solve_candidates(cands.frame, opt, coupling, soft_windows=[d.window for d in bad])
    check_solved(solved.result, solved.model)
    chosen = solved.chosen

    progress("solving the baselines")
    baselines = solve_baselines(cands.frame, opt, inputs.cache_levels_gb, coupling)
    sources = [inputs.hits.source] * len(stats)
    sched = schedule_mod.assemble(stats, inputs.ci, chosen, sources, opt.slo_ttft_s,
                                  opt.slo_tpot_s)
    for b in baselines.values():
        if "chosen" in b:
            b["schedule"] = schedule_mod.assemble(stats, inputs.ci, b["chosen"], sources,
                                                  opt.slo_ttft_s, opt.slo_tpot_s)
    prov = provisioning(chosen, stats["hours"].to_numpy(dtype=float), inputs.hardware,
                        opt.capacity, solved.result.owned_replicas, solved.result.owned_drives)
    summary = build_summary(inputs, cands, solved.result, chosen, sched, baselines, prov)
    return PlanResult(inputs, cands, diagnoses, solved.model, solved.result, sched, chosen,
                      summary, baselines, prov)


