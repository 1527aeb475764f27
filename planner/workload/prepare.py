"""The one workload-preparation path: what `plan`, `simulate`, `compare`, `trace` and the
experiment read and derive before any optimiser or replay runs.

- :func:`load_trace` reads a trace (or synthesises one from a rate series) and places
  relative timestamps with :func:`place_trace`, whose one default is 00:00 UTC on 1 January of
  the grid series' last year (commands without ``--grid`` use the default grid's);
- :func:`with_prefixes` gives a trace that records no prefixes the reuse model's, from the
  scenario's seed, so a plan and its replay cache the same blocks;
- :func:`eviction_params` gives the eviction policy's carbon parameters (LCS) from the
  scenario, the profile table and the windows' carbon intensity, for the plan's hit curves and
  for the replay alike;
- :func:`load_inputs` assembles a plan's inputs (hit curves included) and
  :func:`prepare_replay` a replay's.

Nothing here touches the solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from planner.catalog import Hardware, load_catalog, resolve
from planner.config import PlanOptions
from planner.errors import InputDataError, UsageError
from planner.foresight.horizon import plan_horizon
from planner.grid import CarbonSeries, load_grid, window_intensity
from planner.paths import rel_path, sha256_file
from planner.perf.correction.apply import corrected
from planner.perf.profile import ProfileTable, load_profile
from planner.workload.hitcurve import HitCurves, synthesize_prefixes, window_hit_curves
from planner.workload.load import load_workload
from planner.workload.stackdist import dense_codes
from planner.workload.trace import Trace, replace_fields
from planner.workload.windows import (
    LoadBuckets,
    Windowing,
    load_buckets,
    make_windows,
    parse_window,
)

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    pass


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
    eviction: object = None           # LcsParams under --eviction lcs, None under lru
    dropped_over_context: int = 0     # requests dropped by --drop-over-context
    planned_from: int = 0             # windows before this one are history (--plan-from)


# Options that decide the workload side of the inputs (trace, windows, hit curves, bursts):
# plans that agree on them can share it (an experiment over many grids prepares it once).
WORKLOAD_FIELDS = ("trace", "trace_format", "block_size", "timestamp_unit", "drop_over_context",
                   "scale", "series", "seed", "start", "window", "burst_window_s", "model",
                   "cache_levels_tb", "eviction", "reuse_model", "warmup")


def workload_key(opt: PlanOptions) -> tuple:
    """The options of WORKLOAD_FIELDS, as a hashable key."""
    return tuple(getattr(opt, f) for f in WORKLOAD_FIELDS)


def same_workload(a: PlanOptions, b: PlanOptions) -> bool:
    """Whether ``b`` can take ``a``'s workload as it is: LRU only, as LCS curves depend on the
    grid."""
    return workload_key(a) == workload_key(b) and a.eviction == "lru"


# --------------------------------------------------------------------------------------------
# the trace
# --------------------------------------------------------------------------------------------

def default_start(series: CarbonSeries) -> pd.Timestamp:
    """Where a trace with relative timestamps is placed unless ``--start`` says otherwise: the
    start of the grid series' last year, so its windows meet the series' own hours."""
    return pd.Timestamp(year=series.years[-1], month=1, day=1, tz="UTC")


def place_trace(trace: Trace, start: str | None, series: CarbonSeries) -> Trace:
    """Anchor a trace with relative timestamps at ``start`` or :func:`default_start`; an
    absolute trace keeps its own times."""
    if trace.start is not None:
        if start is not None:
            raise UsageError(f"--start applies to traces with relative timestamps; "
                             f"{trace.name} has absolute ones")
        return trace
    if start is None:
        ts = default_start(series)
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


def over_context(trace: Trace, model: str) -> np.ndarray:
    """Which requests' prompts exceed the model's context."""
    return trace.input_tokens > load_catalog().model(model).max_context


def fit_context(trace: Trace, model: str, drop: bool) -> tuple[Trace, int]:
    """The trace with every prompt within the model's context: with ``drop``, the others are
    dropped and counted (the count is returned and noted); else the first is refused."""
    over = over_context(trace, model)
    n = int(over.sum())
    if n == 0:
        return trace, 0
    arch = load_catalog().model(model)
    if not drop:
        i = int(np.flatnonzero(over)[0])
        raise InputDataError(
            f"request {i + 1} of {trace.name} has a {int(trace.input_tokens[i]):,}-token prompt, "
            f"beyond {arch.name}'s context of {arch.max_context:,} tokens"
            + (f" ({n:,} requests are; --drop-over-context drops them)" if n > 1 else
               " (--drop-over-context drops it)"))
    if n == len(trace):
        raise InputDataError(f"every request of {trace.name} has a prompt beyond {arch.name}'s "
                             f"context of {arch.max_context:,} tokens")
    kept = trace.subset(~over)
    note = (f"{n:,} of {len(trace):,} requests of {trace.name} ({100 * n / len(trace):.2f} %) "
            f"have prompts beyond {arch.name}'s context of {arch.max_context:,} tokens and were "
            "dropped (--drop-over-context)")
    return replace_fields(kept, notes=kept.notes + (note,)), n


def load_trace(opt: PlanOptions, series: CarbonSeries) -> tuple[Trace, int]:
    """The scenario's trace, read (or synthesised from a rate series) in its block size and
    timestamp unit, placed, and fitted to the model's context (:func:`fit_context`). Returns
    the trace and how many requests were dropped for their context."""
    trace = load_workload(opt.trace, opt.trace_format, scale=opt.scale, seed=opt.seed,
                          series=opt.series, block_size=opt.block_size,
                          timestamp_unit=opt.timestamp_unit)
    trace = place_trace(trace, opt.start, series)
    return fit_context(trace, opt.model, opt.drop_over_context)


def with_prefixes(trace: Trace, seed: int, reuse_model: str | Path | None,
                  sessions: bool = True, compact: bool = False) -> Trace:
    """The trace itself when it records prefixes; else with prefixes the reuse model
    synthesises from ``seed`` (the shipped fit unless ``reuse_model`` names one), and their
    sessions unless ``sessions`` is false; ``compact``: numbered for identity-only passes
    (:func:`planner.workload.reuse_model.synthesize_prefixes`)."""
    if trace.has_prefixes:
        return trace
    from planner.workload.reuse_model import load_reuse_params

    params = load_reuse_params(reuse_model) if reuse_model else None
    return synthesize_prefixes(trace, seed=seed, params=params, sessions=sessions,
                               compact=compact)


# --------------------------------------------------------------------------------------------
# the latency-and-power table
# --------------------------------------------------------------------------------------------

# At most this many requests (evenly strided) are compared with the workload shapes: quantiles
# up to p99 are exact to well under a percent from a million requests, and a week-long trace
# of tens of millions then costs no more than an hour's.
SHAPE_SAMPLE = 1_000_000


def select_profile(opt: PlanOptions, trace: Trace, progress: Progress = _noop,
                   window_means=((), ())):
    """The profile table for the scenario's replica and the workload shape that fits the trace:
    ``--workload-shape`` when named, else (auto) the available shape nearest to the trace's
    lengths (:func:`planner.perf.shapes.choose_shape`). When none is within
    ``POOR_FIT_DISTANCE``, ``--auto-profile`` fits the trace's own shape and builds (or finds
    in the cache) its table (:mod:`planner.perf.shape_fit`), whose token axes cover
    ``window_means`` (the busy windows' mean prompts and outputs, :func:`busy_token_means`);
    without it a note names the commands that do so. Returns (table, summary entry, notes)."""
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
    poor = (opt.workload_shape == "auto" and nearest is not None
            and distances[nearest.name] > POOR_FIT_DISTANCE)
    if poor and opt.auto_profile:
        return fitted_profile(opt, trace, distances, progress, window_means)
    if poor:
        # A plan on a table simulated for other lengths mispredicts p90 latency (Mooncake's
        # 15k-token prompts on the conversation shape: 59 replicas planned, 75.8 % replayed
        # within SLO), so it is refused unless the user names a shape on purpose.
        raise InputDataError(poor_fit_message(opt, nearest.name, distances[nearest.name],
                                              window_means))
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
        notes.append(f"the {name} workload shape, named by --workload-shape, is far from the "
                     f"trace's lengths (distance {d:.2f} > {POOR_FIT_DISTANCE}): predicted p90 "
                     "latencies may be off")
    return profile, info, notes


def poor_fit_message(opt: PlanOptions, name: str, distance: float,
                     window_means=((), ())) -> str:
    """What to do when no available shape fits: the exact commands, with the grid
    ``--auto-profile`` would build (token axes covering the busy windows' means)."""
    from planner.catalog import load_catalog
    from planner.perf.shape_fit import HIT_AXIS, token_axes
    from planner.perf.shapes import POOR_FIT_DISTANCE

    inputs, outputs = token_axes(*window_means, load_catalog().model(opt.model).max_context)
    axes = " ".join(f"--{k} {','.join(f'{v:g}' for v in ax)}" for k, ax in
                    (("hit-rates", HIT_AXIS), ("inputs", inputs), ("outputs", outputs)))
    shape_file = f"{Path(opt.trace).stem}.shape.json"
    return (f"no available workload shape fits the trace (nearest: {name}, distance "
            f"{distance:.2f} > {POOR_FIT_DISTANCE}), so its p90 latencies would be mispredicted: "
            f"plan with --auto-profile, which fits the trace's own shape and builds its table, or "
            f"run `greencache profile fit-shape {opt.trace} --out {shape_file}` and "
            f"`greencache profile synth --model {opt.model} --gpu {opt.gpu} --tp {opt.tp} "
            f"--ssd {opt.ssd} --shape {shape_file} {axes} --out fitted-tables`, then plan with "
            f"--profile-dir fitted-tables; or pass --workload-shape {name} to plan on it anyway")


def fitted_profile(opt: PlanOptions, trace: Trace, distances: dict, progress: Progress,
                   window_means=((), ())):
    """--auto-profile: the trace's own workload shape and its table, from the cache or built
    into it (:func:`planner.perf.shape_fit.cached_table`)."""
    from planner.paths import sha256_file
    from planner.perf.shape_fit import cached_table, fit_trace_shape, shape_name
    from planner.perf.shapes import shape_distance

    progress("fitting the trace's workload shape")
    path = Path(opt.trace)
    shape = fit_trace_shape(trace, shape_name(path.stem), path.name, sha256_file(path),
                            seed=opt.seed, reuse_model=opt.reuse_model)
    progress(f"building the profile table of workload shape {shape.name} (cached; the first "
             "time about a minute)")
    folder = cached_table(shape, opt.model, opt.gpu, opt.tp, opt.ssd,
                          window_inputs=window_means[0], window_outputs=window_means[1])
    profile = load_profile(opt.model, opt.gpu, opt.tp, opt.ssd, folder, shape=shape.name)
    step = max(1, len(trace) // SHAPE_SAMPLE)
    d = round(shape_distance(shape, trace.input_tokens[::step], trace.output_tokens[::step]), 4)
    info = {"name": shape.name, "chosen": "auto-profile: fitted from the trace",
            "distance": d, "distances": distances, "sha256": shape.digest()}
    if shape.reuse_quantiles and "reusable_token_share" in shape.statistics:
        # The trace's own reuse once warm: a window reusing less is colder (HitCurves).
        info["warm_reuse"] = float(shape.statistics["reusable_token_share"])
    others = ", ".join(f"{k} {v:.2f}" for k, v in distances.items())
    notes = [f"latencies read from a profile table simulated with the trace's own workload "
             f"shape {shape.name} (--auto-profile; fitted and cached under {folder}; no shipped "
             f"shape fits: {others})"]
    return profile, info, notes


# --------------------------------------------------------------------------------------------
# eviction and hit curves
# --------------------------------------------------------------------------------------------

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


def eviction_params(opt: PlanOptions, profile: ProfileTable, windowing: Windowing,
                    ci: np.ndarray, hw: Hardware):
    """The eviction policy's parameters: :func:`lcs_params` under LCS, none under LRU."""
    return lcs_params(opt, profile, windowing, ci, hw) if opt.eviction == "lcs" else None


def compute_hit_curves(trace: Trace, windowing: Windowing, capacities_tokens: np.ndarray,
                       opt: PlanOptions, lcs=None, keep_blocks: bool = True,
                       warm_reuse: float | None = None) -> tuple[Trace, HitCurves]:
    """Exact curves from the trace's own prefixes, or from prefixes the reuse model
    synthesises for traces that record none (then labelled modelled). Returns the trace with
    its prefixes, or without blocks and sessions unless ``keep_blocks`` (only a replay reads
    them: a 27M-request week's take 1 GB, let go as soon as the pass no longer needs them).

    ``warm_reuse``: the trace's reusable token share once warm (that of a workload shape fitted
    from this trace); with it the curves carry each window's warm share
    (:func:`warm_shares`)."""
    trace = with_prefixes(trace, opt.seed, opt.reuse_model, sessions=keep_blocks,
                          compact=not keep_blocks)
    if not keep_blocks:
        # The curves read blocks for identity only: their dense numbers (4 bytes, not 8) do;
        # compact synthesised ones usually are already.
        trace = replace_fields(trace, block_ids=dense_codes(trace.block_ids)[0],
                               session_ids=None)
    curves = window_hit_curves(trace, windowing.request_window, windowing.n,
                               capacities_tokens, policy=opt.eviction, lcs=lcs,
                               warmup=opt.warmup)
    if warm_reuse is not None:
        share = warm_shares(trace, windowing, warm_reuse)
        curves = replace(curves, warm_share=share, notes=curves.notes + (
            f"windows that reuse less than the trace once warm ({warm_reuse:.1%} of prompt "
            f"tokens reusable; {int((share < 1).sum())} of {len(share)} windows, the least "
            f"{share.min():.0%} of it) are read as a cache still warming: that share of their "
            "requests reuses like the trace's shape, the rest finds nothing cached",))
    if not keep_blocks:
        trace = replace_fields(trace, block_offsets=None, block_ids=None)
    return trace, curves


def warm_shares(trace: Trace, windowing: Windowing, warm_reuse: float) -> np.ndarray:
    """Per window, its reusable token share (what an unbounded cache that has seen every
    earlier request serves, the hit rate no cache size exceeds) over ``warm_reuse``, at most
    1; 1 where the window has no prompt tokens or ``warm_reuse`` is not positive."""
    if not warm_reuse > 0:
        return np.ones(windowing.n)
    distinct = dense_codes(trace.block_ids)[1]
    unbounded = window_hit_curves(trace, windowing.request_window, windowing.n,
                                  [max(1, distinct) * trace.block_tokens]).token_hit[:, 0]
    return np.clip(unbounded / warm_reuse, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# a plan's inputs
# --------------------------------------------------------------------------------------------

# Candidates (window × replica count × cache level) the planner holds at once. Each costs
# about 3 kB at its peak (profile lookups over the load buckets), so this bounds memory near
# 3 GB; a week of 15-minute windows at the defaults is 387,072.
MAX_CANDIDATES = 1_000_000


def check_problem_size(windows: int, opt: PlanOptions) -> None:
    """Refuse, before anything per window is allocated, a problem too large to hold."""
    n = windows * opt.max_replicas * len(opt.cache_levels_tb)
    if n > MAX_CANDIDATES:
        raise InputDataError(
            f"the trace spans {windows:,} windows of {opt.window}; with {opt.max_replicas} "
            f"replica counts × {len(opt.cache_levels_tb)} cache levels that is {n:,} "
            f"candidates, more than the {MAX_CANDIDATES:,} a plan holds: use a longer --window, "
            "a shorter trace, fewer --cache-levels or a lower --max-replicas")


def _windows(trace: Trace, opt: PlanOptions) -> Windowing:
    windowing = make_windows(trace, parse_window(opt.window))
    if windowing.n == 0:
        raise InputDataError("the trace yields no planning windows")
    check_problem_size(windowing.n, opt)
    return windowing


def busy_token_means(windowing: Windowing) -> tuple[np.ndarray, np.ndarray]:
    """The mean prompt and the mean output of every window with requests (the token mixes a
    profile table must cover)."""
    st = windowing.stats
    busy = st["requests"].to_numpy() > 0
    return (st["mean_input_tokens"].to_numpy()[busy],
            st["mean_output_tokens"].to_numpy()[busy])


def shape_source(trace: Trace, opt: PlanOptions) -> Trace:
    """The requests the profile table's workload shape is chosen from: the whole trace, or
    for a plan on forecasts only those before --plan-from (a decision knows no later ones)."""
    if opt.foresight != "forecast" or opt.plan_from is None:
        return trace
    from planner.config import plan_from_time

    cut = (plan_from_time(opt.plan_from) - trace.absolute_start) / pd.Timedelta(seconds=1)
    return trace.subset(trace.arrival_s < cut)


def load_inputs(opt: PlanOptions, progress: Progress = _noop,
                reuse: PlanInputs | None = None, keep_blocks: bool = True) -> PlanInputs:
    """Every input of a plan. ``reuse``: an earlier plan's inputs whose workload (see
    WORKLOAD_FIELDS; LRU curves only, as LCS depends on the grid) is taken as it is.
    ``keep_blocks`` false: the trace keeps no prefix blocks or sessions once the hit curves
    are computed (a plan that is not replayed in the same process needs none)."""
    opt = opt.validate()
    notes: list[str] = []
    catalog = load_catalog()
    arch = catalog.model(opt.model)
    hw = resolve(catalog, opt.gpu, opt.tp, opt.ssd, opt.levels, opt.pue)
    shared = reuse if reuse is not None and reuse.planned_from == 0 \
        and same_workload(reuse.options, opt) else None

    progress("reading grid")
    series = load_grid(opt.grid, opt.ci_basis)
    notes.extend(series.notes)
    if shared is None:
        progress("reading trace")
        trace, dropped = load_trace(opt, series)
    else:
        trace, dropped = shared.trace, shared.dropped_over_context
    notes.extend(trace.notes)

    windowing = shared.windowing if shared else _windows(trace, opt)
    plan_horizon(windowing, opt)      # --plan-from checked before the hit curves are computed
    wi = window_intensity(series, pd.DatetimeIndex(windowing.stats["window_start"]),
                          pd.DatetimeIndex(windowing.stats["window_end"]))
    notes.extend(wi.notes)

    busy_means = busy_token_means(windowing)
    profile, shape_info, shape_notes = select_profile(opt, shape_source(trace, opt), progress,
                                                      busy_means)
    notes.extend(shape_notes)
    if shared is not None and shared.workload_shape.get("warm_reuse") != \
            shape_info.get("warm_reuse"):
        # The hit curves carry each window's warm share against the shape's warm reuse
        # (HitCurves.warm_share): a plan on another shape computes its own, from the trace as
        # read (the shared one may have let its prefix blocks go).
        trace, dropped = load_trace(opt, series)
        shared = None
    profile, correction_notes = corrected(profile, opt.correction)
    notes.extend(correction_notes)
    busy = windowing.stats["requests"].to_numpy() > 0
    profile.check_mix(*busy_means,
                      [lab for lab, b in zip(windowing.labels(), busy) if b])

    levels_gb = np.asarray(opt.cache_levels_tb, dtype=float) * 1000.0
    kv = arch.kv_bytes_per_token()
    capacities_tokens = np.floor(levels_gb * 1e9 / kv).astype(np.int64)
    if shared is None:
        progress("computing hit-rate curves")
        evict = eviction_params(opt, profile, windowing, wi.values, hw)
        trace, hits = compute_hit_curves(trace, windowing, capacities_tokens, opt, evict,
                                         keep_blocks, shape_info.get("warm_reuse"))
    else:
        hits, evict = shared.hits, shared.eviction
    notes.extend(hits.notes)
    if opt.warmup:
        notes.append("a window whose cache grew is predicted at its cold-start hit rate (it "
                     "starts with the previous level's content); the window after it is "
                     "predicted warm (--no-warmup: every window warm)")

    buckets = shared.buckets if shared else None
    if opt.burst_window_s > 0:
        if buckets is None:
            buckets = load_buckets(trace, windowing, opt.burst_window_s)
        notes.append(f"p90 latency is read per window as the mixture over 8 buckets of "
                     f"{opt.burst_window_s:g}-s sub-windows grouped by arrival rate (bursts)")
    grid_info = {
        "spec": opt.grid, "zone": series.zone, "basis": series.basis,
        "attribution": series.attribution, "aligned_to_series_year": wi.aligned,
        "files": [{"path": rel_path(p), "sha256": sha256_file(p)} for p in series.files],
        "mean_gco2_per_kwh_over_windows": round(float(np.average(
            wi.values, weights=windowing.stats["hours"])), 6),
    }
    return PlanInputs(opt, trace, windowing, wi.values, hits, profile, hw, levels_gb, kv,
                      grid_info, buckets, notes, shape_info, evict, dropped)


# --------------------------------------------------------------------------------------------
# a replay's inputs
# --------------------------------------------------------------------------------------------

@dataclass
class ReplaySetup:
    """What replaying a plan's schedules needs: the same trace (prefixes included), windows
    and profile table as the plan, the hardware and the replica simulator."""

    options: PlanOptions
    trace: Trace
    windowing: Windowing
    profile: ProfileTable | None      # under LCS only
    hardware: Hardware
    kv_bytes_per_token: int
    replica_model: object
    series: CarbonSeries
    notes: list

    def eviction(self, ci: np.ndarray):
        """The eviction parameters at the schedule windows' carbon intensity ``ci``."""
        return eviction_params(self.options, self.profile, self.windowing, ci, self.hardware)


def prepare_replay(opt: PlanOptions, progress: Progress = _noop) -> ReplaySetup:
    """A replay's inputs, through the same steps as :func:`load_inputs`."""
    from planner.evaluate import SimulatedReplica

    opt = opt.validate()
    series = load_grid(opt.grid, opt.ci_basis)
    progress("reading trace")
    trace, _ = load_trace(opt, series)
    windowing = _windows(trace, opt)
    # Only LCS reads the profile table (the prefill energy a hit saves).
    profile = corrected(select_profile(opt, trace, progress, busy_token_means(windowing))[0],
                        opt.correction)[0] \
        if opt.eviction == "lcs" else None
    if not trace.has_prefixes:
        progress("synthesising prefixes")
    trace = with_prefixes(trace, opt.seed, opt.reuse_model)
    catalog = load_catalog()
    hw = resolve(catalog, opt.gpu, opt.tp, opt.ssd, opt.levels, opt.pue)
    kv = catalog.model(opt.model).kv_bytes_per_token()
    sim = SimulatedReplica(opt.model, opt.gpu, opt.tp, opt.ssd)
    return ReplaySetup(opt, trace, windowing, profile, hw, kv, sim, series,
                       list(trace.notes) + list(series.notes))
