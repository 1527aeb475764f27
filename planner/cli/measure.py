"""`greencache profile measure` and `profile serve-sim`: measured profile tables from a live
endpoint, and the simulator-backed test server to try it on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.choices import Engine, MeasureApi, Precision, ServeMode
from planner.cli.common import console, err_console, handle_errors, is_tty
from planner.cli.profile import GpuOpt, _parse_list, profile_app

ENDPOINT, SWEEP, LIMITS, TABLE, SERVER = ("Endpoint", "Sweep", "Limits", "Table identity",
                                          "Server")


@profile_app.command("measure")
@handle_errors
def measure(
    endpoint: Annotated[str, typer.Option(
        help="Base URL of an OpenAI-compatible server (e.g. http://127.0.0.1:8000).",
        show_default=False, rich_help_panel=ENDPOINT)],
    model: Annotated[str, typer.Option(
        help="Model name to request from the endpoint (its served model name).",
        show_default=False, rich_help_panel=ENDPOINT)],
    gpu: GpuOpt,
    api: Annotated[MeasureApi, typer.Option(
        help="completions (/v1/completions) or chat (/v1/chat/completions).",
        show_default=True, rich_help_panel=ENDPOINT)] = MeasureApi.completions,
    power_url: Annotated[Optional[str], typer.Option(
        help="Prometheus exporter with DCGM_FI_DEV_POWER_USAGE (W per GPU).",
        show_default="NVML when the endpoint is on this host", rich_help_panel=ENDPOINT)] = None,
    metrics_url: Annotated[Optional[str], typer.Option(
        help="The engine's Prometheus metrics (prefix-cache counters).",
        show_default="ENDPOINT/metrics", rich_help_panel=ENDPOINT)] = None,
    rates: Annotated[str, typer.Option(
        help="Offered request rates, req/s, comma-separated, increasing.", show_default=True,
        rich_help_panel=SWEEP)] = "0.5,1,2,4,8",
    reuse: Annotated[str, typer.Option(
        help="Prefix-reuse levels: fraction of each prompt that is a shared, already cached "
             "prefix; they become the table's hit-rate axis.", show_default=True,
        rich_help_panel=SWEEP)] = "0,0.5,0.9",
    input_tokens: Annotated[str, typer.Option(
        help="Prompt lengths (words ≈ tokens), ≥ 2 values: the table's prompt axis.",
        show_default=True, rich_help_panel=SWEEP)] = "512,2048",
    output_tokens: Annotated[str, typer.Option(
        help="Output lengths, ≥ 2 values: the table's output axis.", show_default=True,
        rich_help_panel=SWEEP)] = "64,256",
    duration_per_point: Annotated[str, typer.Option(
        help="Arrivals per (rate, reuse, mix) point last this long (20s, 2m, …).",
        show_default=True, rich_help_panel=SWEEP)] = "20s",
    lone_requests: Annotated[int, typer.Option(
        help="Requests sent one at a time for each series' load-0 row.", show_default=True,
        rich_help_panel=SWEEP)] = 5,
    seed: Annotated[int, typer.Option(
        help="Seed of the arrivals and prompt words.", show_default=True,
        rich_help_panel=SWEEP)] = 0,
    max_requests: Annotated[int, typer.Option(
        help="Stop before a point that would send more requests than this in all.",
        show_default=True, rich_help_panel=LIMITS)] = 20000,
    max_time: Annotated[str, typer.Option(
        help="Stop the sweep after this long (keeps what was measured).", show_default=True,
        rich_help_panel=LIMITS)] = "60m",
    request_timeout: Annotated[str, typer.Option(
        help="A request not finished after this long counts as failed.", show_default=True,
        rich_help_panel=LIMITS)] = "5m",
    table_model: Annotated[Optional[str], typer.Option(
        help="Model key from profiles/models.toml the table describes.",
        show_default="--model", rich_help_panel=TABLE)] = None,
    tp: Annotated[int, typer.Option(
        help="Tensor-parallel GPUs per replica of the endpoint.", show_default=True,
        rich_help_panel=TABLE)] = 1,
    ssd: Annotated[str, typer.Option(
        help="SSD type key the table is filed under (the SSD traffic is not measured).",
        show_default=True, rich_help_panel=TABLE)] = "nvme-gen4",
    shape_name: Annotated[str, typer.Option(
        help="Workload-shape name in the table's file name.", show_default=True,
        rich_help_panel=TABLE)] = "fixed-lengths",
    date: Annotated[Optional[str], typer.Option(
        help="Date written into the metadata (ISO).", show_default="today",
        rich_help_panel=TABLE)] = None,
    out: Annotated[Path, typer.Option(
        help="Folder for the table (as `plan --profile-dir` reads it) and its .sweep.json.",
        show_default=True)] = Path("measured-tables"),
):
    """Measure p50/p90/p99 TTFT and TPOT and GPU power of a live OpenAI-compatible endpoint at
    every (rate, prefix reuse, token mix) point and write a measured profile table. Ctrl-C
    stops it and keeps what was measured (labelled partial)."""
    import asyncio
    import signal

    from planner.measure.counters import power_source
    from planner.measure.record import replica_meta, write_outputs, write_record
    from planner.measure.sweep import Sweep, SweepSpec, parse_duration
    from planner.perf.synth import _check_date

    spec = SweepSpec(endpoint=endpoint, model=model, api=api.value,
                     rates=_parse_list(rates, float, "rates"),
                     reuse=_parse_list(reuse, float, "reuse"),
                     input_tokens=_parse_list(input_tokens, int, "input tokens"),
                     output_tokens=_parse_list(output_tokens, int, "output tokens"),
                     duration_s=parse_duration(duration_per_point, "--duration-per-point"),
                     max_requests=max_requests,
                     max_time_s=parse_duration(max_time, "--max-time"),
                     request_timeout_s=parse_duration(request_timeout, "--request-timeout"),
                     lone_requests=lone_requests, seed=seed, metrics_url=metrics_url)
    spec.validate()
    when = _check_date(date)
    replica = replica_meta(table_model or model, gpu, tp, ssd, shape_name)
    power = power_source(power_url, endpoint)

    async def run():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        sweep = Sweep(spec, power)
        sweep.checkpoint = lambda: write_record(sweep.result, spec, replica, out, when)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, sweep.request_stop, "interrupted (Ctrl-C)")
        loop.add_signal_handler(signal.SIGTERM, sweep.request_stop, "terminated")
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
                "{task.completed}/{task.total} points"), TimeElapsedColumn(),
                console=err_console, disable=not is_tty()) as bar:
            task = bar.add_task("measuring", total=sweep.total_points)
            sweep.progress = lambda done, total, what: bar.update(task, completed=done,
                                                                  description=what)
            return await sweep.run()

    result = asyncio.run(run())
    table, record, why = write_outputs(result, spec, replica, out, when)
    _print_points(result)
    state = f"partial ({result.stop_reason})" if result.partial else "complete"
    console.print(f"sweep {state}: {len(result.points)} points in {result.elapsed_s:,.0f} s; "
                  f"wrote {record}")
    if table:
        console.print(f"wrote {table} (provenance measured)")
    else:
        from planner.errors import InputDataError

        if not result.partial:
            raise InputDataError(f"no table written: {why}")
        console.print(f"no table written: {why}")


def _print_points(result) -> None:
    from rich.table import Table

    t = Table(title="measured points (hit: intended / engine-reported)")
    for c in ("reuse", "prompt/output", "req/s", "p90 TTFT ms", "p90 TPOT ms", "W/GPU", "hit",
              "status"):
        t.add_column(c, justify="left" if c == "status" else "right")
    for s in result.summaries:
        eng = s.get("engine_hit_rate")
        t.add_row(f"{s['reuse']:g}", f"{s['input_tokens']}/{s['output_tokens']}",
                  f"{s['rate_rps']:g}",
                  f"{s['p90_ttft_s'] * 1e3:,.1f}" if "p90_ttft_s" in s else "",
                  f"{s['p90_tpot_s'] * 1e3:,.2f}" if "p90_tpot_s" in s else "",
                  f"{s['gpu_power_w']:,.0f}" if s.get("gpu_power_w") is not None else "",
                  (f"{s['intended_hit_rate']:.2f} / " + (f"{eng:.2f}" if eng is not None
                                                         else "–"))
                  if "intended_hit_rate" in s else "", s["status"])
    console.print(t)


@profile_app.command("serve-sim")
@handle_errors
def serve_sim(
    mode: Annotated[ServeMode, typer.Option(
        help="delays: fixed TTFT and TPOT per request, whatever the load; simulated: the "
             "replica simulator's engine run online (modelled latencies and power).",
        show_default=True, rich_help_panel=SERVER)] = ServeMode.simulated,
    host: Annotated[str, typer.Option(help="Address to listen on.", show_default=True,
                                      rich_help_panel=SERVER)] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free one, printed).",
                                      show_default=True, rich_help_panel=SERVER)] = 8000,
    served_model: Annotated[str, typer.Option(
        help="Model name the server answers to.", show_default=True,
        rich_help_panel=SERVER)] = "llama-3-8b",
    ttft: Annotated[float, typer.Option(
        help="delays mode: seconds to the first token.", show_default=True,
        rich_help_panel=SERVER)] = 0.2,
    tpot: Annotated[float, typer.Option(
        help="delays mode: seconds between later tokens.", show_default=True,
        rich_help_panel=SERVER)] = 0.02,
    power_w: Annotated[float, typer.Option(
        help="delays mode: the constant GPU power reported, W.", show_default=True,
        rich_help_panel=SERVER)] = 100.0,
    model: Annotated[str, typer.Option(
        help="simulated mode: model key from profiles/models.toml.", show_default=True,
        rich_help_panel="Replica (simulated mode)")] = "llama-3-8b",
    gpu: Annotated[str, typer.Option(
        help="simulated mode: GPU key from profiles/catalog.toml.", show_default=True,
        rich_help_panel="Replica (simulated mode)")] = "h200",
    tp: Annotated[int, typer.Option(
        help="simulated mode: tensor-parallel GPUs per replica.", show_default=True,
        rich_help_panel="Replica (simulated mode)")] = 1,
    ssd: Annotated[str, typer.Option(
        help="simulated mode: SSD type key (sizes the host).", show_default=True,
        rich_help_panel="Replica (simulated mode)")] = "nvme-gen4",
    precision: Annotated[Precision, typer.Option(
        help="simulated mode: weights and KV precision.", show_default=True,
        rich_help_panel="Replica (simulated mode)")] = Precision.bf16,
    engine: Annotated[Engine, typer.Option(
        help="simulated mode: engine calibration.", show_default=True,
        rich_help_panel="Replica (simulated mode)")] = Engine.graph,
):
    """Serve the OpenAI streaming protocol from the simulator-backed test server (no model
    runs: delays are fixed or modelled) until Ctrl-C; for trying `profile measure`."""
    from planner.errors import UsageError
    from planner.measure.engines import DelaysEngine, simulated_engine
    from planner.measure.openai_server import serve

    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0–65535, got {port}")
    if mode is ServeMode.delays:
        if ttft <= 0 or tpot <= 0 or power_w < 0:
            raise UsageError("--ttft and --tpot must be > 0 and --power-w ≥ 0")
        eng = DelaysEngine(served_model, ttft, tpot, power_w)
    else:
        eng = simulated_engine(model, gpu, tp, ssd, precision.value, engine.value)
        eng.model = served_model

    def ready(bound: int) -> None:
        console.print(f"{eng.name} listening on http://{host}:{bound}", soft_wrap=True)
        console.file.flush()

    serve(eng, host, port, ready)


@profile_app.command("compare")
@handle_errors
def compare(
    measured: Annotated[Path, typer.Argument(help="Measured table (.csv; its .meta.json beside).",
                                             show_default=False)],
    modelled: Annotated[Path, typer.Argument(help="Modelled table to judge (.csv).",
                                             show_default=False)],
    out: Annotated[Optional[Path], typer.Option(
        help="Write the per-point comparison as CSV.", show_default=False)] = None,
):
    """Median and p90 absolute error of a modelled table's p90 TTFT and TPOT at every stable
    point of a measured table (same rate, hit rate and token mix)."""
    import json

    from rich.table import Table

    from planner.measure.compare import compare_tables
    from planner.outputs import atomic_write_text
    from planner.perf.profile import read_profile

    frame, summary = compare_tables(read_profile(measured), read_profile(modelled))
    t = Table(title=f"{modelled.name} (modelled) against {measured.name} (measured), ms")
    for c in ("req/s", "hit", "prompt/output", "TTFT meas.", "TTFT model", "TPOT meas.",
              "TPOT model"):
        t.add_column(c, justify="right")
    for r in frame.itertuples():
        t.add_row(f"{r.rate_rps:g}", f"{r.hit_rate:g}",
                  f"{r.mean_input_tokens:g}/{r.mean_output_tokens:g}",
                  f"{r.measured_p90_ttft_ms:,.1f}", f"{r.modelled_p90_ttft_ms:,.1f}",
                  f"{r.measured_p90_tpot_ms:,.2f}", f"{r.modelled_p90_tpot_ms:,.2f}")
    console.print(t)
    console.print(json.dumps(summary, indent=1))
    if out:
        atomic_write_text(out, frame.to_csv(index=False, float_format="%.6g",
                                            lineterminator="\n"))
        console.print(f"wrote {out}")
