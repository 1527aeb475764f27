"""`profile import` as one library call: read the files, merge with --into's runs, build the
table through :mod:`planner.perf.imports.table`, write it where `plan --profile-dir` finds it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from planner.errors import UsageError
from planner.perf import profile as prof
from planner.perf.imports import read_results
from planner.perf.imports.run import ImportedRun
from planner.perf.imports.table import import_table, merge_runs, runs_of_table


@dataclass
class ImportResult:
    path: Path
    frame: pd.DataFrame
    meta: dict
    runs: list[ImportedRun]
    new_runs: list[ImportedRun]


def _replica(into: prof.ProfileTable | None, model, gpu, tp, ssd) -> dict:
    given = {"model": model, "gpu": gpu, "tp": tp, "ssd": ssd}
    if into is not None:
        for k, v in given.items():
            if v is not None and v != into.meta[k]:
                raise UsageError(f"--{k} {v} differs from the --into table's {into.meta[k]}")
        return {k: into.meta[k] for k in ("model", "gpu", "tp", "ssd", "drives_per_replica")}
    absent = [f"--{k}" for k, v in given.items() if v is None]
    if absent:
        raise UsageError(f"{', '.join(absent)} required (the replica the files measured), "
                         "unless --into names a table to extend")
    from planner.perf.spec import build_spec

    spec = build_spec(model, gpu, tp, ssd)       # raises on an unknown key or a misfit
    return {**given, "drives_per_replica": spec.drives}


def _target(out: str, replica: dict, shape: str) -> Path:
    name = prof.table_name(replica["model"], replica["gpu"], replica["tp"], replica["ssd"],
                           shape) + ".csv"
    p = Path(out)
    if p.suffix.lower() == ".csv":
        if p.name != name:
            raise UsageError(f"--out {p.name} would not be found by `plan --profile-dir`: name "
                             f"the table {name}, or give a folder")
        return p
    return p / name


def import_files(files: list[str], out: str, fmt: str = "auto", into: str | None = None,
                 model=None, gpu=None, tp=None, ssd=None, shape: str = "measured",
                 token_span: float = 0.25, profile_dir: str | None = None,
                 date: str | None = None) -> ImportResult:
    from planner.perf.shape_fit import shape_name

    if shape_name(shape) != shape:
        raise UsageError(f"--shape must be letters, digits and dashes, got {shape!r}")
    base = prof.read_profile(Path(into)) if into else None
    replica = _replica(base, model, gpu, tp, ssd)
    if base is not None and base.shape != shape and shape == "measured":
        shape = base.shape
    target = _target(out, replica, shape)
    new = [run for f in files for run in read_results(f, fmt)]
    runs = merge_runs(runs_of_table(base), new) if base is not None else new
    fill = _fill_table(replica, profile_dir)
    frame, meta = import_table(runs, replica, shape, fill, token_span, date)
    prof.write_profile(frame, meta, target)
    return ImportResult(target, frame, meta, runs, new)


def _fill_table(replica: dict, profile_dir: str | None) -> prof.ProfileTable | None:
    """The replica's modelled table (default shape first), or None when it has none."""
    directory = Path(profile_dir) if profile_dir else None
    args = (replica["model"], replica["gpu"], replica["tp"], replica["ssd"])
    shapes = prof.available_shapes(*args, directory)
    for s in sorted(shapes, key=lambda s: s != prof.DEFAULT_SHAPE):
        table = prof.load_profile(*args, directory, shape=s)
        # A measured table (method "measured: …") is no model to fill from.
        if not str(table.meta.get("method", "")).startswith("measured"):
            return table
    return None
