"""The ``greencache`` command line: thin typer commands over the library, no maths here.

Each command group lives in its own module and is mounted on the root app below.
Exit codes (README): 0 success, 1 internal error, 2 usage error, 3 invalid input data,
4 infeasible SLO, 5 solver failure or time limit, 6 a check of `greencache check` failed,
7 a point of `greencache sweep` failed; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import typer

from planner.cli.common import app
from planner.interrupt import stop_on_sigterm
from planner.cli import plan as _plan  # noqa: F401  (registers `plan`)
from planner.cli import grid as _grid  # noqa: F401  (registers `grid`)
from planner.cli import trace as _trace  # noqa: F401  (registers `trace ...`)
from planner.cli import synth as _synth  # noqa: F401  (registers `trace synth`)
from planner.cli import report as _report  # noqa: F401  (registers `report`)
from planner.cli import simulate as _simulate  # noqa: F401  (registers `simulate`, `compare`)
from planner.cli import profile as _profile  # noqa: F401  (registers `profile ...`)
from planner.cli import measure as _measure  # noqa: F401  (registers `profile measure`, `serve-sim`)
from planner.cli import profile_observed as _observed  # noqa: F401  (`profile import`, `correct`)
from planner.cli import check as _check  # noqa: F401  (registers `check`)
from planner.cli import examples as _examples  # noqa: F401  (registers `examples`)
from planner.cli import forecast as _forecast  # noqa: F401  (registers `forecast`)
from planner.cli import sweep as _sweep  # noqa: F401  (registers `sweep`)


def main() -> None:
    stop_on_sigterm()
    app()


__all__ = ["app", "main", "typer"]
