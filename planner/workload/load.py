"""One entry point for every workload source: request traces and rate series."""

from __future__ import annotations

from pathlib import Path

from planner.choices import RATE_FORMATS, WORKLOAD_FORMATS
from planner.errors import UsageError
from planner.input_files import require_file
from planner.workload.rates import detect_rate_format, read_rate_series, synthesize
from planner.workload.readers import read_trace
from planner.workload.trace import Trace



def load_workload(path: str | Path, fmt: str | None = None, *, scale: float = 1.0,
                  seed: int = 0, series: str | None = None, block_size: int | None = None,
                  timestamp_unit: str | None = None) -> Trace:
    """A request trace as recorded, or one synthesised from a rate series.

    ``scale`` and ``series`` (BurstGPT log type, ServeGen model) apply to rate series only;
    ``block_size`` and ``timestamp_unit`` to request traces only (:func:`read_trace`).
    """
    path = require_file(path, "trace file")
    if fmt is not None and fmt not in WORKLOAD_FORMATS:
        raise UsageError(f"unknown trace format {fmt!r}; choose one of "
                         f"{', '.join(WORKLOAD_FORMATS)}")
    rate_fmt = fmt if fmt in RATE_FORMATS else (None if fmt else detect_rate_format(path))
    if rate_fmt:
        if block_size is not None or timestamp_unit is not None:
            raise UsageError("--block-size and --timestamp-unit apply to request traces; "
                             f"{path.name} is a rate series")
        return synthesize(read_rate_series(path, rate_fmt, series), scale=scale, seed=seed)
    if scale != 1.0:
        raise UsageError("--scale applies to rate series (request counts per interval); "
                         f"{path.name} is a request trace")
    if series is not None:
        raise UsageError("--series applies to BurstGPT and ServeGen rate files")
    return read_trace(path, fmt, block_size=block_size, timestamp_unit=timestamp_unit)
