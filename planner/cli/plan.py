"""`greencache plan`: the carbon-optimal capacity plan for a trace and a grid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.catalog import Levels
from planner.choices import (Capacity, CiBasis, Eviction, ForecastModel, Foresight, Level,
                             OwnedIdle, Solver, TimestampUnit, WorkloadFormat)
from planner.cli.common import app, console, err_console, handle_errors
from planner.config import DEFAULT_CACHE_LEVELS_TB, default
from planner.errors import UsageError
from planner.outputs import OutputSet, check_output_folder

INPUTS, HARDWARE, SLO, CARBON, COUPLING, FORESIGHT, SOLVER, OUTPUT = (
    "Inputs", "Hardware and cache", "SLO", "Carbon", "Capacity and reconfiguration",
    "Foresight", "Solver", "Output")
# Parameters that are not scenario options: they say where the scenario comes from and what
# to do with the plan, so a scenario file neither holds nor records them.
NOT_SCENARIO = ("config", "print_config", "out", "write_model", "no_timing", "quiet")


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


def command_line_values(ctx: typer.Context) -> dict:
    """The scenario options given on the command line, keyed by option name, as the library
    takes them; options left at their defaults are absent so a --config file can set them."""
    given = {}
    for name, v in ctx.params.items():
        source = ctx.get_parameter_source(name)
        if name in NOT_SCENARIO or source is None or source.name == "DEFAULT":
            continue
        if isinstance(v, Path):
            v = str(v)
        elif hasattr(v, "value"):                    # a choice Enum
            v = v.value
        elif name == "cache_levels":
            v = parse_levels(v)
        given[name] = v
    return given


@app.command()
@handle_errors
def plan(
    ctx: typer.Context,
    trace: Annotated[Optional[Path], typer.Option(
        "--trace", help="Request trace (Azure CSV, Mooncake or Qwen/Bailian JSONL, generic CSV) "
        "or rate series "
        "(Azure 2024 10-s counts, BurstGPT hourly, ServeGen); required unless --config names "
        "it.", show_default=False, rich_help_panel=INPUTS)] = None,
    trace_format: Annotated[Optional[WorkloadFormat], typer.Option(
        help="Override format detection.", show_default="detected",
        rich_help_panel=INPUTS)] = None,
    block_size: Annotated[Optional[int], typer.Option(
        help="Tokens per hash id, for traces that record hash ids.",
        show_default="the format's: 512 Mooncake and generic CSV, 16 Qwen/Bailian",
        rich_help_panel=INPUTS)] = None,
    timestamp_unit: Annotated[Optional[TimestampUnit], typer.Option(
        help="Unit of the numeric timestamps of JSONL traces; spans or rates implausible in "
             "it are refused.", show_default="the format's: ms Mooncake, s Qwen/Bailian",
        rich_help_panel=INPUTS)] = None,
    drop_over_context: Annotated[bool, typer.Option(
        "--drop-over-context/--no-drop-over-context", help="Drop the requests whose prompts "
        "exceed the model's context, and say how many (else the first is refused).",
        show_default="off",
        rich_help_panel=INPUTS)] = default("drop_over_context"),
    scale: Annotated[float, typer.Option(
        help="Rate series only: multiply every count (size the load).", show_default=True,
        rich_help_panel=INPUTS)] = default("scale"),
    series: Annotated[Optional[str], typer.Option(
        help="Rate series only: BurstGPT log type (conversation, api, all) or ServeGen model.",
        show_default="conversation, m-large",
        rich_help_panel=INPUTS)] = None,
    start: Annotated[Optional[str], typer.Option(
        help="Start time (ISO 8601, UTC) for traces with relative timestamps.",
        show_default="the grid series' last year, 1 Jan", rich_help_panel=INPUTS)] = None,
    window: Annotated[str, typer.Option(
        help="Planning window: 1h, 15min, 30m, 2h … (divides an hour or is whole hours).",
        show_default=True, rich_help_panel=INPUTS)] = default("window"),
    burst_window: Annotated[float, typer.Option(
        help="Seconds of the sub-windows whose rates shape each window's p90 latency; "
             "0 reads latency at the mean rate.", show_default=True,
        rich_help_panel=INPUTS)] = default("burst_window_s"),
    seed: Annotated[int, typer.Option(
        help="Seed of the reuse model and of rate-series synthesis.", show_default=True,
        rich_help_panel=INPUTS)] = default("seed"),
    reuse_model: Annotated[Optional[Path], typer.Option(
        help="Reuse-model parameters (JSON) for traces without prefixes.",
        show_default="profiles/reuse/mooncake-conversation.json",
        rich_help_panel=INPUTS)] = None,
    config: Annotated[Optional[Path], typer.Option(
        help="Scenario TOML (keys: these options' names with _ for -); options given on the "
             "command line override it.", show_default=False, rich_help_panel=INPUTS)] = None,
    model: Annotated[str, typer.Option(
        help="Model.", show_default=True, rich_help_panel=HARDWARE)] = default("model"),
    gpu: Annotated[str, typer.Option(
        help="GPU type.", show_default=True, rich_help_panel=HARDWARE)] = default("gpu"),
    tp: Annotated[int, typer.Option(
        help="GPUs per replica (tensor parallel): 1, 2, 4 or 8.", show_default=True,
        rich_help_panel=HARDWARE)] = default("tp"),
    ssd: Annotated[str, typer.Option(
        help="SSD type.", show_default=True, rich_help_panel=HARDWARE)] = default("ssd"),
    cache_levels: Annotated[str, typer.Option(
        help="Cache sizes to choose from, TB, comma-separated; 0 = no SSD tier.",
        show_default=True, rich_help_panel=HARDWARE)] = ",".join(
            f"{x:g}" for x in DEFAULT_CACHE_LEVELS_TB),
    max_replicas: Annotated[int, typer.Option(
        help="Most replicas per window.", show_default=True,
        rich_help_panel=HARDWARE)] = default("max_replicas"),
    eviction: Annotated[Eviction, typer.Option(
        help="Cache eviction policy for the hit-rate curves (lcs: least carbon savings).",
        show_default=True, rich_help_panel=HARDWARE)] = Eviction(default("eviction")),
    workload_shape: Annotated[str, typer.Option(
        help="Workload shape of the profile table (azure-conv, azure-code, mooncake-conv, "
             "lognormal, …); auto picks the one nearest to the trace's lengths.",
        show_default=True, rich_help_panel=HARDWARE)] = default("workload_shape"),
    auto_profile: Annotated[bool, typer.Option(
        "--auto-profile", help="When no available workload shape fits the trace, fit the "
        "trace's own shape and build its profile table (cached for later plans).",
        rich_help_panel=HARDWARE)] = default("auto_profile"),
    profile_dir: Annotated[Optional[Path], typer.Option(
        help="Folder of profile tables to use instead of the shipped ones.",
        show_default="profiles/tables", rich_help_panel=HARDWARE)] = None,
    correction: Annotated[Optional[Path], typer.Option(
        help="Correction file of the profile table (`greencache profile correct`): its "
             "factors multiply the table's latencies and power before planning.",
        show_default="none", rich_help_panel=HARDWARE)] = None,
    slo_ttft: Annotated[float, typer.Option(
        help="p90 time-to-first-token SLO, seconds.", show_default=True,
        rich_help_panel=SLO)] = default("slo_ttft_s"),
    slo_tpot: Annotated[float, typer.Option(
        help="p90 time-per-output-token SLO, seconds.", show_default=True,
        rich_help_panel=SLO)] = default("slo_tpot_s"),
    slo_attainment: Annotated[Optional[float], typer.Option(
        help="Plan for this share of the horizon's requests within both SLOs (e.g. 0.9) "
             "instead of every window's p90: one budget row over the horizon, read through "
             "each configuration's modelled within-SLO share.",
        show_default="off: every window's p90", rich_help_panel=SLO)] = None,
    slo_margin: Annotated[float, typer.Option(
        help="Per-window p90 mode: plan each p90 for (1 - margin) x its SLO, against the "
             "prediction's own error near the SLO line.", show_default=True,
        rich_help_panel=SLO)] = default("slo_margin"),
    headroom: Annotated[float, typer.Option(
        help="Largest share of a replica's capacity (the profile table's load fraction) any "
             "one-minute burst may load; busier configurations are not planned.",
        show_default=True, rich_help_panel=SLO)] = default("headroom"),
    allow_slo_violation: Annotated[bool, typer.Option(
        "--allow-slo-violation/--no-allow-slo-violation",
        help="Plan windows that cannot meet the SLO best-effort and mark them.",
        show_default="off",
        rich_help_panel=SLO)] = default("allow_slo_violation"),
    grid: Annotated[str, typer.Option(
        help="Zone code (FR, DE, GB, US-CAL-CISO, … case-insensitive) or a CSV file.",
        show_default=True, rich_help_panel=CARBON)] = default("grid"),
    ci_basis: Annotated[CiBasis, typer.Option(
        help="Carbon-intensity basis: lifecycle (Electricity Maps LCA) or direct.",
        show_default=True, rich_help_panel=CARBON)] = CiBasis(default("ci_basis")),
    ssd_embodied: Annotated[Level, typer.Option(
        help="SSD embodied carbon per GB: end of the cited range.", show_default=True,
        rich_help_panel=CARBON)] = Level(Levels().ssd_embodied),
    gpu_embodied: Annotated[Level, typer.Option(
        help="GPU embodied carbon: end of the cited range.", show_default=True,
        rich_help_panel=CARBON)] = Level(Levels().gpu_embodied),
    host_embodied: Annotated[Level, typer.Option(
        help="Host embodied carbon: end of the cited range.", show_default=True,
        rich_help_panel=CARBON)] = Level(Levels().host_embodied),
    pue: Annotated[Optional[float], typer.Option(
        help="Power usage effectiveness.", show_default="catalog central",
        rich_help_panel=CARBON)] = None,
    capacity: Annotated[Capacity, typer.Option(
        help="pooled: capacity rented per window, charged while allocated; owned: the plan "
             "also sizes the fleet it owns, charged for the whole horizon.",
        show_default=True, rich_help_panel=COUPLING)] = Capacity(default("capacity")),
    pool_return: Annotated[float, typer.Option(
        help="With --capacity owned: share (0–1) of owned but unallocated hardware that goes "
             "back to a pool and is not charged to this plan (1 charges as pooled).",
        show_default=True, rich_help_panel=COUPLING)] = default("pool_return"),
    owned_idle: Annotated[OwnedIdle, typer.Option(
        help="Owned but unallocated hardware: off (powered down) or on (draws idle power).",
        show_default=True, rich_help_panel=COUPLING)] = OwnedIdle(default("owned_idle")),
    min_dwell: Annotated[str, typer.Option(
        help="Hold a cache level at least this long once entered (2h, 90min; 0 = off).",
        show_default=True, rich_help_panel=COUPLING)] = default("min_dwell"),
    max_changes_per_day: Annotated[int, typer.Option(
        help="Most cache-level changes per day; -1 = unlimited.", show_default=True,
        rich_help_panel=COUPLING)] = default("max_changes_per_day"),
    weight_load: Annotated[float, typer.Option(
        help="Seconds a started replica spends loading its weights at power.",
        show_default=True, rich_help_panel=COUPLING)] = default("weight_load_s"),
    tie_tolerance: Annotated[float, typer.Option(
        help="Share of the horizon's carbon within which plans count as tied and the tie rule "
             "(keep the configuration, then smaller cache, then fewer replicas) decides; 0 = off.",
        show_default=True, rich_help_panel=COUPLING)] = default("tie_tolerance"),
    rolling_block: Annotated[int, typer.Option(
        help="Solve the coupled MILP as a rolling horizon of blocks of this many windows "
             "(0: one MILP for the whole horizon).",
        show_default=True, rich_help_panel=COUPLING)] = default("rolling_block"),
    rolling_overlap: Annotated[int, typer.Option(
        help="Windows each rolling-horizon block looks beyond its own.",
        show_default=True, rich_help_panel=COUPLING)] = default("rolling_overlap"),
    warmup: Annotated[bool, typer.Option(
        "--warmup/--no-warmup",
        help="Predict a window whose cache grew at its cold-start hit rate (it starts with the "
             "previous level's content), which couples consecutive windows; --no-warmup "
             "predicts every window warm.",
        show_default=True, rich_help_panel=COUPLING)] = default("warmup"),
    foresight: Annotated[Foresight, typer.Option(
        help="perfect: plan knowing the trace and grid; forecast: decide every --decide-every "
             "on forecasts made from the data before each decision only.",
        show_default=True, rich_help_panel=FORESIGHT)] = Foresight(default("foresight")),
    plan_from: Annotated[Optional[str], typer.Option(
        help="Plan the windows from this time (ISO 8601, UTC, on a window boundary); the "
             "trace before it is history. Required with --foresight forecast.",
        show_default="the trace's first window", rich_help_panel=FORESIGHT)] = None,
    decide_every: Annotated[str, typer.Option(
        help="Forecast: time between decisions; each commits this much of its lookahead "
             "(a whole number of windows).", show_default=True,
        rich_help_panel=FORESIGHT)] = default("decide_every"),
    lookahead: Annotated[str, typer.Option(
        help="Forecast: how far each decision forecasts and solves (at least --decide-every, "
             "a whole number of windows).", show_default=True,
        rich_help_panel=FORESIGHT)] = default("lookahead"),
    load_quantile: Annotated[float, typer.Option(
        help="Forecast: the quantile of the request-rate forecast capacity is sized on.",
        show_default=True, rich_help_panel=FORESIGHT)] = default("load_quantile"),
    forecast_model: Annotated[ForecastModel, typer.Option(
        help="Forecast: the forecasting model of the load, token means and carbon "
             "intensity (auto picks per series).",
        show_default=True, rich_help_panel=FORESIGHT)] = ForecastModel(
            default("forecast_model")),
    solver: Annotated[Solver, typer.Option(
        help="MILP solver: highs (HiGHS via highspy) or cbc (bundled with PuLP).",
        show_default=True, rich_help_panel=SOLVER)] = Solver(default("solver")),
    time_limit: Annotated[float, typer.Option(
        help="Solver time limit, seconds.", show_default=True,
        rich_help_panel=SOLVER)] = default("time_limit_s"),
    mip_gap: Annotated[float, typer.Option(
        help="Relative MIP gap tolerance.", show_default=True,
        rich_help_panel=SOLVER)] = default("mip_gap"),
    out: Annotated[Path, typer.Option(
        help="Output folder.", show_default=True, rich_help_panel=OUTPUT)] = Path("out"),
    write_model: Annotated[Optional[Path], typer.Option(
        help="Also write the solved MILP as plan.mps into this folder.", show_default=False,
        rich_help_panel=OUTPUT)] = None,
    no_timing: Annotated[bool, typer.Option(
        "--no-timing", help="Leave run times out of summary.json (byte-identical reruns).",
        rich_help_panel=OUTPUT)] = False,
    print_config: Annotated[bool, typer.Option(
        "--print-config", help="Print the effective scenario as TOML (what --config reads) "
        "and exit without planning.", rich_help_panel=OUTPUT)] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print no table.", rich_help_panel=OUTPUT)] = False,
):
    """Solve the carbon-optimal capacity plan per window and write schedule.csv and summary.json.

    Picks, for every window, the number of replicas and the SSD cache size with the least
    operational plus embodied carbon whose p90 TTFT and p90 TPOT meet the SLO.
    """
    # Imported here, not at the top, so that --help does not load pandas, the solver or numba.
    from planner.plan import run_plan
    from planner.report import plan_table
    from planner.scenario import load_scenario, plan_options, scenario_toml
    from planner.window_inputs import FILE_NAME as WINDOW_INPUTS
    from planner.foresight.forecast_file import FILE_NAME as FORECAST_FILE, forecast_csv
    from planner.schedule import components_csv, to_csv

    values = load_scenario(config) if config else {}
    given = command_line_values(ctx)
    values.update(given)
    if "trace" not in values:
        raise UsageError("--trace is required (or `trace` in the --config file)")
    options = plan_options(values)
    if print_config:
        console.print(scenario_toml(options), end="", markup=False, soft_wrap=True)
        return

    if write_model and options.foresight == "forecast":
        raise UsageError("--write-model writes the plan's one MILP; a plan on forecasts solves "
                         "one per decision (summary.json lists them)")
    check_output_folder(out)
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
    if result.forecast is not None:
        files.add_text(FORECAST_FILE, forecast_csv(result.forecast))
    # What `greencache check` re-derives the plan's numbers from (its hash is in the summary).
    files.add_text(WINDOW_INPUTS, result.window_record)
    for name, data in result.records.items():
        # The candidate table the model saw and its value function: check certifies from them.
        files.add_bytes(name, data)
    if write_model:
        # Put in place just before the output folder is swapped (README, all-or-nothing
        # outputs): a model file never describes a plan that was not written.
        files.add_bytes(write_model.resolve() / "plan.mps", model_mps(result.model))
    written = files.commit()
    if not quiet:
        plan_table(console, result)
        for p in written:
            console.print(f"wrote {p}")
