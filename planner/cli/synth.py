"""`greencache trace synth`: a request file synthesised from a rate series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import Progress

from planner.cli.common import console, err_console, handle_errors
from planner.cli.trace import trace_app


@trace_app.command("synth")
@handle_errors
def synth(
    rates: Annotated[Path, typer.Argument(
        help="Rate series: Azure 2024 10-s counts, BurstGPT hourly or ServeGen 10-min rates.")],
    out: Annotated[Path, typer.Option(
        help="Request file to write (Azure 2024 CSV format).", show_default=False)],
    scale: Annotated[float, typer.Option(help="Multiply every count.", show_default=True)] = 1.0,
    seed: Annotated[int, typer.Option(
        help="Seed for arrivals and token draws.", show_default=True)] = 0,
    series: Annotated[Optional[str], typer.Option(
        help="BurstGPT log type (conversation, api, all) or ServeGen model (m-large, …).",
        show_default="conversation, m-large")] = None,
    tokens: Annotated[Optional[Path], typer.Option(
        help="Azure 2023 trace to draw (prompt, output) lengths from.",
        show_default="the shipped trace of the series' kind")] = None,
    start: Annotated[Optional[str], typer.Option(
        help="UTC start for series without dates (BurstGPT, ServeGen); required for them.",
        show_default=False)] = None,
):
    """Write every request of a rate series, with arrivals spread uniformly inside each
    interval and token lengths drawn from a real Azure 2023 trace; deterministic by seed.

    Streams a chunk of intervals at a time, so the full 27.3M-request Azure week needs well
    under 1 GB of memory.
    """
    import pandas as pd

    from planner.errors import UsageError
    from planner.workload.rates import TokenTable, read_rate_series, write_azure_csv

    s = read_rate_series(rates, column=series)
    table = TokenTable.for_kind(s.kind, tokens)
    origin = None
    if start:
        try:
            origin = pd.Timestamp(start)
        except ValueError:
            raise UsageError(f"cannot read --start {start!r}") from None
        origin = (origin.tz_localize("UTC") if origin.tzinfo is None
                  else origin.tz_convert("UTC")).as_unit("ns")
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("synthesising", total=len(s.counts))
        n = write_azure_csv(s, out, scale=scale, seed=seed, tokens=table, start=origin,
                            progress=lambda done, total: bar.update(task, completed=done))
    console.print(f"wrote {n:,} requests to {out} (from {s.name}, scale {scale:g}, seed {seed}; "
                  f"token lengths from {table.source})")
