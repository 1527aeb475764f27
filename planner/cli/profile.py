"""`greencache profile ...` commands (synth, show, calibrate): owned by the latency-model work."""

import typer

from planner.cli.common import app

profile_app = typer.Typer(help="Generate, show and calibrate latency and power profiles.",
                          no_args_is_help=True)
app.add_typer(profile_app, name="profile")
