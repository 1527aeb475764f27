"""`greencache trace ...` commands (inspect, hitcurve)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from planner.choices import Eviction, Level, TraceFormat as TraceFormatChoice, value
from planner.choices import TimestampUnit as TimestampUnitChoice
from planner.cli.common import app, console, err_console, handle_errors, is_tty
from planner.errors import UsageError

trace_app = typer.Typer(help="Inspect traces and compute their KV-cache hit-rate curves.",
                        no_args_is_help=True)
app.add_typer(trace_app, name="trace")



# ------------------------------------------------------------------------------------------
# shared options and helpers
# ------------------------------------------------------------------------------------------

TraceFile = Annotated[Path, typer.Argument(help="Request trace: Azure CSV, Mooncake or "
                                                "Qwen/Bailian JSONL, or generic CSV (format "
                                                "detected).")]
TraceFormat = Annotated[Optional[TraceFormatChoice], typer.Option(
    "--trace-format", help="Override format detection.", show_default="detected",
    rich_help_panel="Trace")]
BlockSize = Annotated[Optional[int], typer.Option(
    help="Tokens per hash id, for traces that record hash ids.",
    show_default="the format's: 512 Mooncake and generic CSV, 16 Qwen/Bailian",
    rich_help_panel="Trace")]
TimestampUnit = Annotated[Optional[TimestampUnitChoice], typer.Option(
    help="Unit of the numeric timestamps of JSONL traces; spans or rates implausible in it "
         "are refused.", show_default="the format's: ms Mooncake, s Qwen/Bailian",
    rich_help_panel="Trace")]
Start = Annotated[Optional[str], typer.Option(
    help="UTC time to place a trace with relative timestamps (Mooncake) at, e.g. "
         "2024-01-01T00:00Z.", show_default="1 January of the default grid's last year, as plan",
    rich_help_panel="Trace")]
Seed = Annotated[int, typer.Option(
    help="Seed of the reuse model when the trace records no prefixes (Azure).",
    show_default=True, rich_help_panel="Trace")]
ReuseModel = Annotated[Optional[Path], typer.Option(
    help="Reuse-model parameters (JSON) for traces without prefixes.",
    show_default="profiles/reuse/mooncake-conversation.json", rich_help_panel="Trace")]
Model = Annotated[Optional[str], typer.Option(
    help="Model whose KV bytes per token size the cache (catalog key).", show_default=True)]


@contextmanager
def progress_bar(description: str):
    """A rich progress bar on stderr for long passes; silent when stderr is not a terminal.

    Yields a ``progress(done, total)`` callback.
    """
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True,
                  disable=not is_tty()) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def load_placed_trace(path: Path, fmt: TraceFormatChoice | None, start: str | None, seed: int,
                      reuse_model: Path | None, block_size: int | None = None,
                      timestamp_unit: TimestampUnitChoice | None = None):
    """Read a trace, place relative timestamps as `plan` does (the default grid's last year
    unless --start), synthesise prefixes when it records none."""
    from planner.config import PlanOptions
    from planner.grid import load_grid
    from planner.workload.prepare import place_trace, with_prefixes
    from planner.workload.readers import read_trace

    trace = read_trace(path, value(fmt), block_size=block_size,
                       timestamp_unit=value(timestamp_unit))
    if trace.start is None:
        trace = place_trace(trace, start, load_grid(PlanOptions.grid))
    elif start is not None:
        place_trace(trace, start, None)  # refuses --start for absolute timestamps
    return with_prefixes(trace, seed, reuse_model)


def kv_bytes(model: str | None) -> int:
    if not model:
        return 0
    from planner.catalog import load_catalog

    return load_catalog().model(model).kv_bytes_per_token()


def parse_capacities(text: str) -> np.ndarray:
    """'0,512,1e6' → token capacities; every value a number ≥ 0."""
    values = []
    for part in text.split(","):
        part = part.strip()
        try:
            v = float(part)
        except ValueError:
            raise UsageError(f"--capacities: {part!r} is not a number of tokens") from None
        if not np.isfinite(v) or v < 0:
            raise UsageError(f"--capacities: {part!r} must be a number of tokens ≥ 0")
        values.append(int(v))
    if not values:
        raise UsageError("--capacities needs at least one value")
    return np.asarray(values, dtype=np.int64)


def check_rate(sample: float | None) -> None:
    if sample is not None and not (0.0 < sample <= 1.0):
        raise UsageError(f"--sample must be in (0, 1], got {sample:g}")


def fmt_bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n:,.0f} B"


# ------------------------------------------------------------------------------------------
# trace inspect
# ------------------------------------------------------------------------------------------

@trace_app.command("inspect")
@handle_errors
def inspect(
    file: TraceFile,
    model: Model = "llama-3-70b",
    window: Annotated[str, typer.Option(help="Window length for the rate table, e.g. 1h, "
                                             "15min.", show_default=True)] = "1h",
    trace_format: TraceFormat = None,
    block_size: BlockSize = None,
    timestamp_unit: TimestampUnit = None,
    start: Start = None,
    seed: Seed = 0,
    reuse_model: ReuseModel = None,
):
    """Requests, span, rate per window, token length distributions, prefix reuse and the
    working-set size in bytes for --model.

    Reuse and working set are those of an unbounded cache. For a trace without prefix hashes
    (Azure) they come from prefixes synthesised by the session-reuse model and are labelled
    modelled.
    """
    from planner.workload.inspect import describe_trace
    from planner.workload.windows import make_windows, parse_window

    length = parse_window(window)
    kv = kv_bytes(model)
    trace = load_placed_trace(file, trace_format, start, seed, reuse_model, block_size,
                              timestamp_unit)
    windowing = make_windows(trace, length)
    with progress_bar("reuse pass") as progress:
        s = describe_trace(trace, windowing, kv, progress)
    tag = " (modelled)" if s.modelled else ""

    head = Table(title=f"{s.name}", show_header=False, box=None)
    head.add_column(style="bold")
    head.add_column()
    head.add_row("format", s.source_format)
    head.add_row("requests", f"{s.requests:,}")
    end = s.start + np.timedelta64(int(round(s.span_s * 1e9)), "ns")
    head.add_row("span", f"{s.start:%Y-%m-%d %H:%M:%S} → {end:%Y-%m-%d %H:%M:%S} UTC "
                         f"({s.span_s / 3600:.2f} h)")
    head.add_row("mean rate", f"{s.requests / max(s.span_s, 1.0):.2f} req/s")
    head.add_row("prefix blocks", f"{s.prefix_source}: {s.block_refs:,} references of "
                                  f"{s.block_tokens}-token blocks, {s.distinct_blocks:,} distinct")
    head.add_row(f"reusable token share{tag}", f"{s.reusable_token_share:.1%} of prompt tokens "
                                               "(unbounded cache)")
    head.add_row(f"reusing request share{tag}", f"{s.reusing_request_share:.1%} of requests")
    if kv:
        head.add_row(f"working set{tag}", f"{fmt_bytes(s.working_set_bytes)} for {model} "
                                          f"({kv:,} B/token)")
    console.print(head)

    tok = Table(title="token lengths")
    tok.add_column("")
    for k in s.input_tokens:
        tok.add_column(k, justify="right")
    tok.add_row("input", *[f"{v:,.0f}" for v in s.input_tokens.values()])
    tok.add_row("output", *[f"{v:,.0f}" for v in s.output_tokens.values()])
    console.print(tok)

    w = s.windows
    tab = Table(title=f"per window ({window}){tag}")
    for col in ("window start (UTC)", "requests", "req/s", "mean in", "mean out",
                "reusable", "working set"):
        tab.add_column(col, justify="right", no_wrap=col.startswith("window"))
    shown = w if len(w) <= 48 else w.iloc[np.r_[0:24, len(w) - 24:len(w)]]
    for i, row in shown.iterrows():
        if len(w) > 48 and i == w.index[len(w) - 24]:
            tab.add_row("…", f"{len(w) - 48} more", "", "", "", "", "")
        tab.add_row(f"{row.window_start:%Y-%m-%d %H:%M}", f"{row.requests:,}",
                    f"{row.rate_rps:.2f}", f"{row.mean_input_tokens:,.0f}",
                    f"{row.mean_output_tokens:,.0f}", f"{row.reusable_token_share:.1%}",
                    fmt_bytes(row.working_set_bytes) if kv else "")
    console.print(tab)
    for note in s.notes:
        console.print(f"note: {note}", soft_wrap=True)


# ------------------------------------------------------------------------------------------
# trace hitcurve
# ------------------------------------------------------------------------------------------

@trace_app.command("hitcurve")
@handle_errors
def hitcurve(
    file: TraceFile,
    out: Annotated[Path, typer.Option(
        help="CSV to write: one row per window and capacity.", show_default=False,
        rich_help_panel="Output")],
    plot: Annotated[Optional[Path], typer.Option(
        help="Also draw the curves to this .png.", show_default=False,
        rich_help_panel="Output")] = None,
    policy: Annotated[Eviction, typer.Option(
        help="Eviction policy: lru (exact stack distances) or lcs (least carbon savings, one "
             "simulation per capacity).", show_default=True,
        rich_help_panel="Curve")] = Eviction.lru,
    sample: Annotated[Optional[float], typer.Option(
        help="SHARDS sampling rate in (0, 1], e.g. 0.01.", show_default="exact",
        rich_help_panel="Curve")] = None,
    window: Annotated[Optional[str], typer.Option(
        help="Per-window curves (cache state carried over), e.g. 1h.",
        show_default="one curve for the whole trace", rich_help_panel="Curve")] = None,
    capacities: Annotated[Optional[str], typer.Option(
        help="Comma-separated capacities in tokens.",
        show_default="0 and --points sizes log-spaced from one block to the trace's distinct "
                     "blocks", rich_help_panel="Curve")] = None,
    points: Annotated[int, typer.Option(
        min=2, max=1000, help="Capacities of the default grid.", show_default=True,
        rich_help_panel="Curve")] = 40,
    model: Model = "llama-3-70b",
    ssd: Annotated[str, typer.Option(
        help="SSD type whose embodied carbon LCS charges.", show_default=True,
        rich_help_panel="LCS")] = "nvme-gen4",
    ssd_embodied: Annotated[Level, typer.Option(
        help="SSD embodied carbon level of the catalog range (LCS).", show_default=True,
        rich_help_panel="LCS")] = Level.central,
    ci: Annotated[float, typer.Option(
        min=0.0, help="Grid carbon intensity for LCS, gCO2e/kWh.", show_default=True,
        rich_help_panel="LCS")] = 56.0,
    prefill_j_per_token: Annotated[Optional[float], typer.Option(
        help="Prefill energy per token for LCS, J.",
        show_default="estimated from the model's size on an H100 at 45 % MFU",
        rich_help_panel="LCS")] = None,
    trace_format: TraceFormat = None,
    block_size: BlockSize = None,
    timestamp_unit: TimestampUnit = None,
    start: Start = None,
    seed: Seed = 0,
    reuse_model: ReuseModel = None,
):
    """Token and request hit rate against cache capacity, written as CSV (and a plot).

    LRU curves are exact (Mattson stack distances) or SHARDS estimates with --sample; LCS runs
    the least-carbon-savings policy with the carbon parameters given. Curves of traces without
    prefix hashes come from the session-reuse model and are labelled modelled.
    """
    import pandas as pd

    from planner.outputs import FileSet
    from planner.workload.curve_output import curve_csv, plot_png
    from planner.workload.eviction import lcs_params_from_catalog
    from planner.workload.hitcurve import rate_label, window_hit_curves
    from planner.workload.windows import make_windows, parse_window

    check_rate(sample)
    if prefill_j_per_token is not None and not prefill_j_per_token > 0:
        raise UsageError(f"--prefill-j-per-token must be > 0, got {prefill_j_per_token:g}")
    if plot is not None and plot.suffix.lower() != ".png":
        raise UsageError(f"--plot must name a .png file, got {plot}")
    caps = parse_capacities(capacities) if capacities is not None else None
    length = parse_window(window) if window else None
    kv = kv_bytes(model)
    trace = load_placed_trace(file, trace_format, start, seed, reuse_model, block_size,
                              timestamp_unit)
    if length is not None:
        w = make_windows(trace, length)
        request_window, n, stats = w.request_window, w.n, w.stats
        starts, ends, labels = stats["window_start"], stats["window_end"], w.labels()
        prompt, requests = stats["prompt_tokens"].to_numpy(), stats["requests"].to_numpy()
    else:
        request_window, n = np.zeros(len(trace), dtype=np.int64), 1
        first = trace.absolute_start
        starts = [first]
        ends = [first + pd.Timedelta(seconds=max(trace.duration_s, 1.0))]
        labels = ["whole trace"]
        prompt, requests = [float(trace.input_tokens.sum())], [len(trace)]
    if caps is None:
        from planner.workload.reuse_fit import capacity_grid

        caps = np.concatenate(([0], capacity_grid(trace, points) * trace.block_tokens))
    lcs = None
    if policy is Eviction.lcs:
        lcs = lcs_params_from_catalog(model or "llama-3-70b", ssd, ci,
                                      prefill_j_per_token=prefill_j_per_token,
                                      level=ssd_embodied.value)
    what = f"{policy.value}" + (f" SHARDS {rate_label(sample)}" if sample else "")
    with progress_bar(f"{what} curve") as progress:
        curves = window_hit_curves(trace, request_window, n, caps, policy=policy.value,
                                   sample_rate=sample, lcs=lcs, progress=progress)
    outputs = FileSet()
    outputs.add_text(str(out.resolve()),
                     curve_csv(curves, starts, ends, trace.block_tokens, kv))
    if plot is not None:
        outputs.add_bytes(str(plot.resolve()),
                          plot_png(curves, prompt, requests, labels, trace.block_tokens, kv,
                                   title=trace.name))
    outputs.commit()
    tok = curves.token_hit
    console.print(f"wrote {out}" + (f" and {plot}" if plot else "") +
                  f": {n} window(s) × {len(caps)} capacities, source {curves.source}"
                  + (" (MODELLED)" if curves.modelled else ""))
    console.print(f"token hit rate at the largest capacity: {tok[:, -1].min():.1%}"
                  + (f" – {tok[:, -1].max():.1%}" if n > 1 else ""))
    if lcs is not None:
        console.print(f"LCS: one hit on a full block repays {lcs.break_even_hours(trace.block_tokens, ci):,.1f} h"
                      f" of holding it at {ci:g} gCO2e/kWh")
    for note in curves.notes + trace.notes:
        console.print(f"note: {note}", soft_wrap=True)
