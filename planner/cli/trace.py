"""`greencache trace ...` commands (inspect, hitcurve): owned by the cache-reuse work."""

import typer

from planner.cli.common import app

trace_app = typer.Typer(help="Inspect traces and compute their KV-cache hit-rate curves.",
                        no_args_is_help=True)
app.add_typer(trace_app, name="trace")
