"""`greencache report`: one self-contained HTML page from a plan's outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.cli.common import app, console, handle_errors


@app.command("report")
@handle_errors
def report(
    plan: Annotated[Path, typer.Option(help="Folder holding schedule.csv and summary.json.")] = Path("out"),
    replay: Annotated[Optional[Path], typer.Option(
        help="Folder holding replay.csv and replay.json from `greencache simulate`.")] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("out/report.html"),
):
    """Write an HTML report (readable offline): carbon intensity, cache size and replicas over
    time, carbon by source, the plan against its baselines, predicted against replayed latency."""
    import json

    from planner.errors import InputDataError
    from planner.outputs import atomic_write_text
    from planner.report_html import load_plan_outputs, render

    outputs = load_plan_outputs(plan)
    replay_frame = replay_summary = None
    if replay is not None:
        import pandas as pd

        path = replay / "replay.csv"
        if not path.exists():
            raise InputDataError(f"replay {path} does not exist")
        replay_frame = pd.read_csv(path)
        js = replay / "replay.json"
        replay_summary = json.loads(js.read_text(encoding="utf-8")) if js.exists() else None
    atomic_write_text(out, render(outputs, replay_frame, replay_summary))
    console.print(f"wrote {out}")
