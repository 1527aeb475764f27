"""`greencache grid ...` and `greencache catalog`: what data the planner ships."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from planner.choices import CiBasis
from planner.cli.common import app, console, handle_errors

grid_app = typer.Typer(help="List and describe the shipped carbon-intensity series.",
                       no_args_is_help=True)
app.add_typer(grid_app, name="grid")


@grid_app.command("list")
@handle_errors
def grid_list():
    """List shipped zones with their years, bases and aliases."""
    from planner.grid import known_zones

    t = Table(title="Shipped grid zones (hourly carbon intensity)", title_justify="left")
    for col in ("zone", "aliases", "years", "bases", "source"):
        t.add_column(col)
    for z in sorted(known_zones().values(), key=lambda z: z.code):
        source = "Electricity Maps (ODbL)" if z.folder == "electricitymaps" else "EIA-930 via HPE"
        t.add_row(z.code, ", ".join(z.aliases), ", ".join(map(str, z.years)),
                  ", ".join(z.bases), source)
    console.print(t)


@grid_app.command("show")
@handle_errors
def grid_show(
    zone: Annotated[str, typer.Argument(help="Zone code or CSV file.")],
    ci_basis: Annotated[CiBasis, typer.Option(
        help="Carbon-intensity basis: lifecycle (Electricity Maps LCA) or direct.",
        show_default=True)] = CiBasis.lifecycle,
):
    """Annual mean, percentiles and median daily swing of a zone, per year."""
    from planner.grid import load_grid

    s = load_grid(zone, ci_basis.value)
    t = Table(title=f"{s.zone} ({s.basis}, gCO2e/kWh) — {s.attribution or s.source}",
              title_justify="left")
    for col in ("year", "hours", "mean", "p10", "p50", "p90", "median daily swing"):
        t.add_column(col, justify="right")
    years = s.times.year.to_numpy()
    days = s.times.normalize().asi8
    for y in s.years:
        v = s.values[years == y]
        d = days[years == y]
        swings = [float(np.ptp(v[d == day])) for day in np.unique(d)]
        t.add_row(str(y), f"{len(v):,}", f"{v.mean():.1f}", f"{np.percentile(v, 10):.1f}",
                  f"{np.percentile(v, 50):.1f}", f"{np.percentile(v, 90):.1f}",
                  f"{np.median(swings):.1f}")
    console.print(t)
    for note in s.notes:
        console.print(f"[dim]note: {note}[/]")


@app.command("catalog")
@handle_errors
def catalog_show():
    """Print the hardware and carbon catalog: every value with its range and source."""
    from planner.catalog import load_catalog

    cat = load_catalog()
    t = Table(title=f"greencache catalog ({cat.path.name})", title_justify="left",
              show_lines=False)
    for col, just in (("item", "left"), ("quantity", "left"), ("central", "right"),
                      ("low–high", "right"), ("unit", "left"), ("source", "left")):
        t.add_column(col, justify=just, overflow="fold")
    rows = [("facility", "pue", cat.pue)]
    rows += [(f"gpu {k}", q, v) for k, g in cat.gpus.items() for q, v in g.q.items()]
    rows += [(f"ssd {k}", q, v) for k, s in cat.ssds.items() for q, v in s.q.items()]
    rows += [("host", q, v) for q, v in cat.host.items()]
    for item, name, q in rows:
        rng = "" if q.low == q.high else f"{q.low:g}–{q.high:g}"
        t.add_row(item, name, f"{q.central:g}", rng, q.unit, q.source)
    console.print(t)
