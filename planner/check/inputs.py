"""Inputs: every file the summary records with a SHA-256 is hashed again and compared.

The summary's ``inputs`` section is walked generically (any entry with ``path`` and
``sha256``, nested or in lists), so an input a later version records is checked too. Paths are
as the plan wrote them: shipped data as ``greencache:…`` under the data root, other files as
given (relative to the folder the plan ran in); the plan's own derived files
(``window_inputs.json``, ``candidates.npy``, ``value_function.npy``) relative to the plan
folder.
"""

from __future__ import annotations

from pathlib import Path

from planner.check.plan_folder import PlanFolder
from planner.check.results import CheckReport
from planner.paths import data_root, recorded_path, sha256_file
from planner.candidate_record import FILE_NAME as CANDIDATE_TABLE, VALUE_FILE
from planner.window_inputs import FILE_NAME as WINDOW_INPUTS

# Files the plan derived and wrote into its own folder, recorded by name alone.
PLAN_FILES = (WINDOW_INPUTS, CANDIDATE_TABLE, VALUE_FILE)

GROUP = "inputs"


def recorded_files(inputs: dict, prefix: str = "") -> list[tuple[str, str, str]]:
    """(label, path, sha256) of every recorded file, in the summary's order."""
    out = []
    for key, value in inputs.items():
        label = f"{prefix}{key}"
        if isinstance(value, dict):
            if isinstance(value.get("path"), str) and isinstance(value.get("sha256"), str):
                out.append((label, value["path"], value["sha256"]))
            out.extend(recorded_files({k: v for k, v in value.items()
                                       if isinstance(v, (dict, list))}, f"{label}."))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    out.extend(recorded_files({str(i): item}, f"{label}."))
    return out


def locate(plan: PlanFolder, path: str) -> Path:
    """Where a recorded path is now (the first candidate that exists, else the first)."""
    p = recorded_path(path)
    if p.name in PLAN_FILES and not p.is_absolute() and len(p.parts) == 1:
        return plan.directory / p
    for candidate in (p, data_root() / p):
        if candidate.exists():
            return candidate
    return p


def check_inputs(plan: PlanFolder, report: CheckReport) -> dict[str, Path]:
    """Adds one result per recorded file; returns label → located path of those that match."""
    good: dict[str, Path] = {}
    files = recorded_files(plan.summary.get("inputs", {}))
    if not files:
        report.add(GROUP, "recorded inputs", False, "summary.json records no input files")
    for label, path, recorded in files:
        where = locate(plan, path)
        name = f"{label} {path}"
        if not where.is_file():
            report.add(GROUP, name, False, f"missing (recorded sha256 {recorded[:12]}…)")
            continue
        actual = sha256_file(where)
        if actual != recorded:
            report.add(GROUP, name, False, f"changed since the plan: sha256 {actual[:12]}… on "
                                           f"disk, {recorded[:12]}… recorded")
            continue
        report.add(GROUP, name, True, "sha256 matches")
        good[label] = where
    return good
