"""`greencache check`: verify a plan folder (inputs, arithmetic, certificate, regression)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.cli.common import app, console, handle_errors
from planner.errors import EXIT_CHECK_FAILED
from planner.outputs import atomic_write_text


@app.command()
@handle_errors
def check(
    plan: Annotated[Path, typer.Option(
        "--plan", help="Plan folder to check (what `greencache plan --out` wrote).",
        show_default=False)],
    against: Annotated[Optional[Path], typer.Option(
        help="Reference plan folder: fail when the plan emits more carbon (beyond --rtol), "
             "predicts lower SLO attainment or newly misses the SLO in a window.",
        rich_help_panel="Regression")] = None,
    rtol: Annotated[float, typer.Option(
        help="Relative increase of total carbon over the reference still accepted.",
        show_default=True, rich_help_panel="Regression")] = 0.01,
    json_out: Annotated[Optional[Path], typer.Option(
        "--json", help="Write the report as JSON to this file.",
        rich_help_panel="Reports")] = None,
    junit: Annotated[Optional[Path], typer.Option(
        help="Write the report as JUnit XML (CI test results) to this file.",
        rich_help_panel="Reports")] = None,
    full: Annotated[bool, typer.Option(
        "--full", help="Re-derive every candidate from the inputs and re-solve the model, "
                       "instead of recomputing the schedule's configurations and verifying "
                       "the value function the plan recorded.",
        rich_help_panel="Certificate")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print only failed checks (and why a full check ran).")] = False,
):
    """Check a plan: inputs unchanged, every figure recomputed from them, the configuration
    feasible and optimal for the plan's model, and (with --against) no worse than a reference.

    Exit 0 when every check holds, 6 when one fails (one line each).
    """
    from planner.check.junit import to_junit
    from planner.check.run import run_check

    report = run_check(plan, against, rtol, full)
    if report.mode == "full" and not full:
        console.print(f"full check: {report.mode_reason}", soft_wrap=True, markup=False)
    if json_out:
        atomic_write_text(json_out, report.to_json())
    if junit:
        atomic_write_text(junit, to_junit(report))
    for r in report.failures:
        console.print(f"FAIL {r.line()}", soft_wrap=True, markup=False)
    counts = report.counts()
    if not quiet or not report.passed:
        console.print(f"{'ok' if report.passed else 'FAILED'}: {counts['passed']} passed, "
                      f"{counts['failed']} failed, {counts['skipped']} skipped ({plan}; "
                      f"{report.mode} check)",
                      markup=False)
    if not report.passed:
        raise typer.Exit(EXIT_CHECK_FAILED)
