"""`greencache report`: one self-contained HTML page from a plan's outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.cli.common import app, console, handle_errors


@app.command("report")
@handle_errors
def report(
    plan: Annotated[Path, typer.Option(
        help="Folder holding schedule.csv and summary.json.", show_default=True)] = Path("out"),
    replay: Annotated[Optional[Path], typer.Option(
        help="Folder holding replay.csv and replay.json from `greencache simulate`.",
        show_default=False)] = None,
    compare: Annotated[Optional[Path], typer.Option(
        help="Folder holding compare.csv from `greencache compare`.", show_default=False)] = None,
    out: Annotated[Path, typer.Option(
        help="HTML file to write.", show_default=True)] = Path("out/report.html"),
):
    """Write one self-contained HTML report of a plan (readable offline).

    Carbon intensity, cache size and replicas over time, carbon by source, the plan against its
    baselines, and, when given, predicted against replayed latency and the replayed comparison.
    """
    from planner.outputs import atomic_write_text
    from planner.plan_files import read_compare, read_json_object, read_replay
    from planner.report_html import load_plan_outputs, render

    outputs = load_plan_outputs(plan)
    replay_frame = replay_summary = None
    if replay is not None:
        replay_frame = read_replay(replay / "replay.csv")
        js = replay / "replay.json"
        replay_summary = read_json_object(js, "replay summary") if js.exists() else None
    comparison = read_compare(compare / "compare.csv") if compare is not None else None
    atomic_write_text(out, render(outputs, replay_frame, replay_summary, comparison))
    console.print(f"wrote {out}")
