"""`greencache plan`: the carbon-optimal capacity plan for a trace and a grid."""

from __future__ import annotations

import json
from dataclasses import fields
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.catalog import Levels
from planner.cli.common import app, console, err_console, handle_errors
from planner.config import TIMESTAMP_UNITS, PlanOptions, load_scenario
from planner.optimize.coupling import CAPACITY_MODES, OWNED_IDLE
from planner.errors import UsageError
from planner.outputs import OutputSet


class TraceFormat(str, Enum):
    azure = "azure"
    mooncake = "mooncake"
    bailian = "bailian"
    generic = "generic"
    azure_counts = "azure-counts"
    burstgpt = "burstgpt"
    servegen = "servegen"


TimestampUnit = Enum("TimestampUnit", {u: u for u in TIMESTAMP_UNITS}, type=str)


class Basis(str, Enum):
    lifecycle = "lifecycle"
    direct = "direct"


class Level(str, Enum):
    low = "low"
    central = "central"
    high = "high"


class Solver(str, Enum):
    highs = "highs"
    cbc = "cbc"


class Eviction(str, Enum):
    lru = "lru"
    lcs = "lcs"


Capacity = Enum("Capacity", {m: m for m in CAPACITY_MODES}, type=str)
OwnedIdle = Enum("OwnedIdle", {m: m for m in OWNED_IDLE}, type=str)
_DEFAULT = {f.name: f.default for f in fields(PlanOptions)}
_COUPLING = "Capacity and reconfiguration"


def model_mps(model) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="greencache-mps-") as tmp:
        path = Path(tmp) / "plan.mps"
        model.problem.writeMPS(str(path))
        return path.read_bytes()


def parse_levels(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"cannot read --cache-levels {text!r}; write TB values like 0,1,2,4") \
            from None


@app.command()
@handle_errors
def plan(
    trace: Annotated[Optional[Path], typer.Option(
        "--trace", help="Request trace: Azure CSV, Mooncake or Qwen/Bailian JSONL, or generic "
        "CSV.")] = None,
    grid: Annotated[Optional[str], typer.Option(
        help="Zone code (FR, DE, GB, US-CAL-CISO, … case-insensitive) or a CSV file. "
             "[default: FR]")] = None,
    trace_format: Annotated[Optional[TraceFormat], typer.Option(
        help="Override format detection.")] = None,
    block_size: Annotated[Optional[int], typer.Option(
        help="Tokens per hash id, for traces that record hash ids.",
        show_default="the format's: 512 Mooncake and generic CSV, 16 Qwen/Bailian",
        rich_help_panel="Inputs")] = None,
    timestamp_unit: Annotated[Optional[TimestampUnit], typer.Option(
        help="Unit of the numeric timestamps of JSONL traces; spans or rates implausible in "
             "it are refused.", show_default="the format's: ms Mooncake, s Qwen/Bailian",
        rich_help_panel="Inputs")] = None,
    drop_over_context: Annotated[bool, typer.Option(
        "--drop-over-context", help="Drop the requests whose prompts exceed the model's "
        "context, and say how many (else the first is refused).", show_default=True,
        rich_help_panel="Inputs")] = False,
    scale: Annotated[Optional[float], typer.Option(
        help="Rate series only: multiply every count (size the load). [default: 1]")] = None,
    series: Annotated[Optional[str], typer.Option(
        help="Rate series only: BurstGPT log type or ServeGen model.")] = None,
    ci_basis: Annotated[Optional[Basis], typer.Option(
        help="Carbon-intensity basis. [default: lifecycle]")] = None,
    start: Annotated[Optional[str], typer.Option(
        help="Start time (ISO 8601, UTC) for traces with relative timestamps.")] = None,
    window: Annotated[Optional[str], typer.Option(
        help="Planning window: 1h, 15min, 30m, 2h … [default: 1h]")] = None,
    burst_window: Annotated[Optional[float], typer.Option(
        help="Seconds of the sub-windows whose rates shape each window's p90 latency; "
             "0 reads latency at the mean rate. [default: 60]")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model. [default: llama-3-70b]")] = None,
    gpu: Annotated[Optional[str], typer.Option(help="GPU type. [default: h100-sxm]")] = None,
    tp: Annotated[Optional[int], typer.Option(
        help="GPUs per replica (tensor parallel). [default: 4]")] = None,
    ssd: Annotated[Optional[str], typer.Option(help="SSD type. [default: nvme-gen4]")] = None,
    cache_levels: Annotated[Optional[str], typer.Option(
        help="Cache sizes to choose from, TB, comma-separated; 0 = no SSD tier. "
             "[default: 0,0.5,1,2,4,8,16,32,64]")] = None,
    max_replicas: Annotated[Optional[int], typer.Option(
        help="Most replicas per window. [default: 64]")] = None,
    slo_ttft: Annotated[Optional[float], typer.Option(
        help="p90 time-to-first-token SLO, seconds. [default: 2.0]")] = None,
    slo_tpot: Annotated[Optional[float], typer.Option(
        help="p90 time-per-output-token SLO, seconds. [default: 0.1]")] = None,
    ssd_embodied: Annotated[Optional[Level], typer.Option(
        help="SSD embodied carbon per GB: low, central or high. [default: central]")] = None,
    gpu_embodied: Annotated[Optional[Level], typer.Option(
        help="GPU embodied carbon. [default: central]")] = None,
    host_embodied: Annotated[Optional[Level], typer.Option(
        help="Host embodied carbon. [default: central]")] = None,
    pue: Annotated[Optional[float], typer.Option(
        help="Power usage effectiveness. [default: 1.2, catalog central]")] = None,
    solver: Annotated[Optional[Solver], typer.Option(help="MILP solver. [default: highs]")] = None,
    time_limit: Annotated[Optional[float], typer.Option(
        help="Solver time limit, seconds. [default: 300]")] = None,
    mip_gap: Annotated[Optional[float], typer.Option(
        help="Relative MIP gap tolerance. [default: 1e-6]")] = None,
    allow_slo_violation: Annotated[bool, typer.Option(
        "--allow-slo-violation",
        help="Plan windows that cannot meet the SLO best-effort and mark them.")] = False,
    eviction: Annotated[Optional[Eviction], typer.Option(
        help="Cache eviction policy for the hit-rate curves. [default: lru]")] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Seed of the reuse model for traces without prefixes. [default: 0]")] = None,
    profile_dir: Annotated[Optional[Path], typer.Option(
        help="Folder of profile tables to use instead of the shipped profiles/tables.")] = None,
    reuse_model: Annotated[Optional[Path], typer.Option(
        help="Reuse-model parameters (JSON) for traces without prefixes. "
             "[default: profiles/reuse/mooncake-conversation.json]")] = None,
    workload_shape: Annotated[Optional[str], typer.Option(
        help="Workload shape of the profile table (azure-conv, azure-code, mooncake-conv, "
             "lognormal, …); auto picks the one nearest to the trace's lengths. "
             "[default: auto]")] = None,
    capacity: Annotated[Optional[Capacity], typer.Option(
        help="pooled: capacity rented per window, charged while allocated; owned: the plan "
             "also sizes the fleet it owns, charged for the whole horizon.",
        show_default=_DEFAULT["capacity"], rich_help_panel=_COUPLING)] = None,
    pool_return: Annotated[Optional[float], typer.Option(
        help="With --capacity owned: share (0–1) of owned but unallocated hardware that goes "
             "back to a pool and is not charged to this plan (1 charges as pooled).",
        show_default=str(_DEFAULT["pool_return"]), rich_help_panel=_COUPLING)] = None,
    owned_idle: Annotated[Optional[OwnedIdle], typer.Option(
        help="Owned but unallocated hardware: off (powered down) or on (draws idle power).",
        show_default=_DEFAULT["owned_idle"], rich_help_panel=_COUPLING)] = None,
    min_dwell: Annotated[Optional[str], typer.Option(
        help="Hold a cache level at least this long once entered (2h, 90min; 0 = off).",
        show_default=_DEFAULT["min_dwell"], rich_help_panel=_COUPLING)] = None,
    max_changes_per_day: Annotated[Optional[int], typer.Option(
        help="Most cache-level changes per day; -1 = unlimited.",
        show_default=str(_DEFAULT["max_changes_per_day"]), rich_help_panel=_COUPLING)] = None,
    weight_load: Annotated[Optional[float], typer.Option(
        help="Seconds a started replica spends loading its weights at power.",
        show_default=str(_DEFAULT["weight_load_s"]), rich_help_panel=_COUPLING)] = None,
    tie_tolerance: Annotated[Optional[float], typer.Option(
        help="Share of the horizon's carbon within which plans count as tied and the tie rule "
             "(keep the configuration, then smaller cache, then fewer replicas) decides; 0 = off.",
        show_default=str(_DEFAULT["tie_tolerance"]), rich_help_panel=_COUPLING)] = None,
    rolling_block: Annotated[Optional[int], typer.Option(
        help="Solve the coupled MILP as a rolling horizon of blocks of this many windows "
             "(0: one MILP for the whole horizon).",
        show_default=str(_DEFAULT["rolling_block"]), rich_help_panel=_COUPLING)] = None,
    rolling_overlap: Annotated[Optional[int], typer.Option(
        help="Windows each rolling-horizon block looks beyond its own.",
        show_default=str(_DEFAULT["rolling_overlap"]), rich_help_panel=_COUPLING)] = None,
    config: Annotated[Optional[Path], typer.Option(
        help="Scenario TOML; options given on the command line override it.")] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out"),
    write_model: Annotated[Optional[Path], typer.Option(
        help="Also write the solved MILP as an MPS file into this folder.")] = None,
    no_timing: Annotated[bool, typer.Option(
        "--no-timing", help="Leave run times out of summary.json (byte-identical reruns).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no table.")] = False,
):
    """Solve the carbon-optimal capacity plan per window and write schedule.csv and summary.json.

    Picks, for every window, the number of replicas and the SSD cache size with the least
    operational plus embodied carbon whose p90 TTFT and p90 TPOT meet the SLO.
    """
    from planner.plan import run_plan
    from planner.report import plan_table
    from planner.schedule import components_csv, to_csv

    values = load_scenario(config) if config else {}
    given = {
        "trace": str(trace) if trace else None, "grid": grid,
        "trace_format": trace_format.value if trace_format else None,
        "block_size": block_size,
        "timestamp_unit": timestamp_unit.value if timestamp_unit else None,
        "scale": scale, "series": series,
        "ci_basis": ci_basis.value if ci_basis else None, "start": start, "window": window,
        "burst_window_s": burst_window,
        "model": model, "gpu": gpu, "tp": tp, "ssd": ssd,
        "cache_levels_tb": parse_levels(cache_levels) if cache_levels else None,
        "max_replicas": max_replicas, "slo_ttft_s": slo_ttft, "slo_tpot_s": slo_tpot,
        "pue": pue, "solver": solver.value if solver else None, "time_limit_s": time_limit,
        "mip_gap": mip_gap, "eviction": eviction.value if eviction else None, "seed": seed,
        "profile_dir": str(profile_dir) if profile_dir else None,
        "reuse_model": str(reuse_model) if reuse_model else None,
        "workload_shape": workload_shape,
        "capacity": capacity.value if capacity else None, "pool_return": pool_return,
        "owned_idle": owned_idle.value if owned_idle else None, "min_dwell": min_dwell,
        "weight_load_s": weight_load, "tie_tolerance": tie_tolerance,
        "rolling_block": rolling_block, "rolling_overlap": rolling_overlap,
    }
    values.update({k: v for k, v in given.items() if v is not None})
    if allow_slo_violation:
        values["allow_slo_violation"] = True
    if max_changes_per_day is not None:
        values["max_changes_per_day"] = None if max_changes_per_day < 0 else max_changes_per_day
    if drop_over_context:
        values["drop_over_context"] = True
    lv = values.pop("levels", Levels())
    lv = Levels(**{**lv.__dict__, **{k: v.value for k, v in (
        ("ssd_embodied", ssd_embodied), ("gpu_embodied", gpu_embodied),
        ("host_embodied", host_embodied)) if v is not None}})
    if "trace" not in values:
        raise UsageError("--trace is required (or `trace` in the --config file)")
    options = PlanOptions(levels=lv, **values).validate()

    with err_console.status("planning…") as status:
        result = run_plan(options, progress=lambda msg: status.update(f"{msg}…"))

    summary = dict(result.summary)
    if no_timing:
        summary.pop("run", None)
    files = OutputSet(out)
    files.add_text("schedule.csv", to_csv(result.schedule))
    files.add_text("components.csv", components_csv(result.inputs.windowing.stats, result.chosen))
    for name, b in result.baselines.items():
        if "schedule" in b:
            # The baselines as schedules of their own, so `greencache compare` can replay them.
            files.add_text(f"baselines/{name}.csv", to_csv(b["schedule"]))
    files.add_text("summary.json", json.dumps(summary, indent=2, sort_keys=False) + "\n")
    files.add_text("provisioning.json", json.dumps(result.provisioning, indent=2) + "\n")
    if write_model:
        # Same OutputSet, so the model and the schedule land together or not at all.
        files.add_bytes(write_model.resolve() / "plan.mps", model_mps(result.model))
    written = files.commit()
    if not quiet:
        plan_table(console, result)
        for p in written:
            console.print(f"wrote {p}")
