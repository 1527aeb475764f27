"""`greencache examples`: list the shipped example files, or copy them into a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from planner.cli.common import app, console, handle_errors


@app.command("examples")
@handle_errors
def examples(
    out: Annotated[Optional[Path], typer.Option(
        help="Copy every example (traces, rate series, scenarios, licences) into this folder.",
        show_default=False)] = None,
):
    """List the example traces and scenario files shipped with greencache; --out copies them."""
    from planner.examples import copy_examples, list_examples
    from planner.paths import examples_dir

    if out is None:
        t = Table(title=f"Shipped examples ({examples_dir()})", title_justify="left")
        t.add_column("file")
        t.add_column("size", justify="right")
        t.add_column("what")
        for e in list_examples():
            size = e.size_bytes
            t.add_row(e.name, f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB",
                      e.kind)
        console.print(t)
        return
    written = copy_examples(out)
    console.print(f"copied {len(written)} file(s) to {out}"
                  + ("" if written else " (every example was already there)"))
