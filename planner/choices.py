"""Every closed set of values the product offers, defined once, and its command-line Enum.

The library validates against the tuples below (the solver module imports ``SOLVERS``, the
trace readers ``TRACE_FORMATS`` …) and every command that takes one of these kinds uses the
Enum built from the same tuple, so a value added here is offered by every --help at once and
a value dropped disappears from all of them. This module imports nothing heavy, so building
the command line (and ``--help``) does not load the solver, numba or pandas.
"""

from __future__ import annotations

from enum import Enum

from planner.catalog import LEVELS

SOLVERS = ("highs", "cbc")                                  # optimize/solve.py
POLICIES = ("lru", "lcs")                                   # eviction: LRU, least carbon savings
BASES = ("lifecycle", "direct")                             # carbon-intensity basis, grid.py
TRACE_FORMATS = ("azure", "mooncake", "bailian", "generic")  # request traces, workload/readers.py
RATE_FORMATS = ("azure-counts", "burstgpt", "servegen")     # rate series, workload/rates.py
WORKLOAD_FORMATS = TRACE_FORMATS + RATE_FORMATS
# Units a trace's numeric relative timestamps may be in, as seconds per unit.
TIMESTAMP_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
CAPACITY_MODES = ("pooled", "owned")                        # optimize/coupling.py
OWNED_IDLE = ("off", "on")                                  # owned but unallocated hardware
# What a plan knows of its windows: "perfect" the trace and grid themselves, "forecast" only
# what was known before each decision (foresight/).
FORESIGHT = ("perfect", "forecast")
# Engines the performance parameters describe. "graph": an engine replaying CUDA graphs (vLLM
# V1, SGLang, TensorRT-LLM), calibrated on greencache's own H100 runs; "splitwise": the engine
# behind splitwise-sim's measurements (2023), calibrated on them.
ENGINES = ("graph", "splitwise")
PRECISIONS = ("bf16", "fp8")                                # weights and KV, perf/spec.py
METHODS = ("simulated", "analytic")                         # profile tables, perf/synth.py
MEASURE_APIS = ("completions", "chat")                      # endpoint APIs, measure/client.py
SERVE_MODES = ("delays", "simulated")                       # test server, measure/engines.py
# Benchmark result files `profile import` reads (perf/imports/), and auto-detection.
IMPORT_FORMATS = ("auto", "vllm-bench", "guidellm", "genai-perf")
# Forecast models of request rate, token means and carbon intensity (forecast/models.py).
# "seasonal-naive" is the baseline every other model must beat; "auto" picks by a holdout.
FORECAST_MODELS = ("auto", "seasonal-naive", "auto-ets", "auto-arima", "mstl")


def choice(name: str, values) -> type[Enum]:
    """A str Enum whose values are ``values`` (member names with ``_`` for ``-``)."""
    return Enum(name, [(v.replace("-", "_"), v) for v in values], type=str)


Solver = choice("Solver", SOLVERS)
Eviction = choice("Eviction", POLICIES)
CiBasis = choice("CiBasis", BASES)
Level = choice("Level", LEVELS)
TraceFormat = choice("TraceFormat", TRACE_FORMATS)          # request traces only
WorkloadFormat = choice("WorkloadFormat", WORKLOAD_FORMATS)  # request traces and rate series
TimestampUnit = choice("TimestampUnit", TIMESTAMP_UNITS)
Capacity = choice("Capacity", CAPACITY_MODES)
OwnedIdle = choice("OwnedIdle", OWNED_IDLE)
Foresight = choice("Foresight", FORESIGHT)
Engine = choice("Engine", ENGINES)
Precision = choice("Precision", PRECISIONS)
ProfileMethod = choice("ProfileMethod", METHODS)
MeasureApi = choice("MeasureApi", MEASURE_APIS)
ServeMode = choice("ServeMode", SERVE_MODES)
ImportFormat = choice("ImportFormat", IMPORT_FORMATS)
ForecastModel = choice("ForecastModel", FORECAST_MODELS)


def value(member: Enum | None) -> str | None:
    """The library's string for a choice (None stays None)."""
    return None if member is None else member.value
