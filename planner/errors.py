"""Error types the CLI turns into one sentence and a documented exit code.

Library code raises these instead of printing or exiting, so every stage stays testable
on its own and the CLI is the single place that maps failures to exit codes.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INFEASIBLE = 4
EXIT_SOLVER = 5
# `greencache check`: the plan was read, and some check of it failed (not an error of greencache
# or of its input: the verdict a CI job acts on).
EXIT_CHECK_FAILED = 6
# `greencache sweep`: every output was written, and at least one point failed (each is a row of
# results.csv with its error and that error's own exit code).
EXIT_POINTS_FAILED = 7


class GreencacheError(Exception):
    """Base class: ``str(err)`` is the one sentence shown to the user."""

    exit_code = EXIT_INPUT


class UsageError(GreencacheError):
    """The command line asks for something contradictory or unknown (exit 2)."""

    exit_code = EXIT_USAGE


class InputDataError(GreencacheError):
    """An input file or value is missing, malformed or out of range (exit 3)."""

    exit_code = EXIT_INPUT


class InfeasibleError(GreencacheError):
    """No candidate meets the SLO in at least one window (exit 4)."""

    exit_code = EXIT_INFEASIBLE

    def __init__(self, message: str, diagnostics=None):
        super().__init__(message)
        self.diagnostics = diagnostics or []


class SolverError(GreencacheError):
    """The solver failed, or stopped at its time limit without a proven optimum (exit 5)."""

    exit_code = EXIT_SOLVER
