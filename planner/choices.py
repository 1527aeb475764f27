"""The command line's choices, one Enum per kind, built from the library's own constants.

Every command that takes a solver, an eviction policy, a trace format, a carbon-intensity basis
a catalog level, a timestamp unit or a capacity mode uses the Enum defined here, so a value the library learns is offered
everywhere at once and a value it drops disappears from every --help.
"""

from __future__ import annotations

from enum import Enum

from planner.catalog import LEVELS
from planner.config import TIMESTAMP_UNITS
from planner.grid import BASES
from planner.optimize.coupling import CAPACITY_MODES, OWNED_IDLE
from planner.optimize.solve import SOLVERS
from planner.perf.iteration import ENGINES
from planner.perf.spec import PRECISIONS
from planner.perf.synth import METHODS
from planner.workload.eviction import POLICIES
from planner.workload.load import WORKLOAD_FORMATS
from planner.workload.readers import TRACE_FORMATS


def choice(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum whose values are ``values`` (member names with ``_`` for ``-``)."""
    return Enum(name, [(v.replace("-", "_"), v) for v in values], type=str)


Solver = choice("Solver", SOLVERS)
Eviction = choice("Eviction", POLICIES)
CiBasis = choice("CiBasis", BASES)
Level = choice("Level", LEVELS)
TraceFormat = choice("TraceFormat", TRACE_FORMATS)          # request traces only
WorkloadFormat = choice("WorkloadFormat", WORKLOAD_FORMATS)  # request traces and rate series
Engine = choice("Engine", ENGINES)
Precision = choice("Precision", PRECISIONS)
ProfileMethod = choice("ProfileMethod", METHODS)
TimestampUnit = choice("TimestampUnit", tuple(TIMESTAMP_UNITS))
Capacity = choice("Capacity", CAPACITY_MODES)
OwnedIdle = choice("OwnedIdle", OWNED_IDLE)


def value(member: Enum | None) -> str | None:
    """The library's string for a choice (None stays None)."""
    return None if member is None else member.value
