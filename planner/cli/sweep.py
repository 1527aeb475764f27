"""`greencache sweep`: many plans from one sweep file, each replayed, on Ray, cached."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from planner.cli.common import app, console, err_console, handle_errors
from planner.errors import EXIT_POINTS_FAILED, UsageError

RUN, OUTPUT = "Where points run", "Output"


@app.command("sweep")
@handle_errors
def sweep(
    sweep_file: Annotated[Path, typer.Argument(
        help="Sweep file (TOML): base scenario, axes, variants.", show_default=False)],
    out: Annotated[Path, typer.Option(
        help="Output folder: results.csv, results.parquet, figures, README.md.",
        show_default=False, rich_help_panel=OUTPUT)],
    address: Annotated[Optional[str], typer.Option(
        help="Ray cluster to run the points on (ray://host:10001, host:6379 or auto).",
        show_default="a local Ray instance", rich_help_panel=RUN)] = None,
    workers: Annotated[Optional[int], typer.Option(
        help="CPUs of the local Ray instance (points run at once); not with --address.",
        show_default="the machine's CPUs", rich_help_panel=RUN)] = None,
    cache: Annotated[Optional[Path], typer.Option(
        help="Folder of cached point results (keyed by inputs and version).",
        show_default="$GREENCACHE_CACHE/sweeps", rich_help_panel=OUTPUT)] = None,
):
    """Plan and replay every point of a sweep: every combination of the axes over the base
    scenario, and each variant. Points already in the cache are not run again; a failed point
    is recorded with its error (exit 7 after every output is written)."""
    from planner.sweep.driver import run_sweep

    if workers is not None and not 1 <= workers <= 4096:
        raise UsageError(f"--workers must be within 1..4096, got {workers}")
    if workers is not None and address:
        raise UsageError("--workers sizes a local Ray instance; a cluster at --address has "
                         "its own CPUs")
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err_console, transient=False,
                        disable=not err_console.is_terminal)
    state = {"task": None, "failed": 0, "done": 0, "todo": 0}

    def on_start(total: int, todo: int) -> None:
        err_console.print(f"{total} point(s): {total - todo} from the cache, {todo} to run")
        state["todo"] = todo
        if todo:
            progress.start()
            state["task"] = progress.add_task("points", total=todo)

    def on_done(o) -> None:
        state["done"] += 1
        if not err_console.is_terminal and not o.error:
            # No bar in a log (CI, nohup): one line a point, so a long sweep shows its pace.
            err_console.print(f"point {state['done']}/{state['todo']} done: {o.point.label} "
                              f"({o.seconds.get('total', 0.0):.0f} s)", markup=False,
                              soft_wrap=True)
        if o.error:
            state["failed"] += 1
            err_console.print(f"point {o.point.label} failed: {o.error['error']} "
                              f"(exit {o.error['exit_code']})", markup=False, soft_wrap=True)
        progress.update(state["task"], advance=1,
                        description=f"points ({state['failed']} failed)" if state["failed"]
                        else "points")

    try:
        run = run_sweep(sweep_file, out, cache, address, workers,
                        command=f"greencache sweep {sweep_file.name}", on_start=on_start,
                        on_done=on_done)
    finally:
        progress.stop()
    if run.seconds:
        total = [s["total"] for s in run.seconds]
        err_console.print(f"ran {run.ran} point(s): {sum(total) / len(total):.1f} s of worker "
                          f"time each on average")
    for p in run.written:
        console.print(f"wrote {p}")
    if run.failed:
        err_console.print(f"{len(run.failed)} of {len(run.points)} point(s) failed; each is a "
                          "row of results.csv with its error")
        raise typer.Exit(EXIT_POINTS_FAILED)
