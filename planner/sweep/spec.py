"""Sweep files: a base scenario and the axes to vary, read and checked before any work.

A sweep file is TOML with four tables, every key checked (an unknown key or a bad value is an
InputDataError, exit 3, naming the key and the file)::

    [sweep]                      # all optional
    name = "…"                   # the title of the sweep's page
    scenario = "scenario.toml"   # base scenario file, relative to this file
    strategies = ["plan", …]     # deployments replayed at every point (plan always)
    memory_gb = 4.0              # memory asked for each point (default: from the workload)

    [base]                       # scenario keys over the scenario file (the same keys and checks)
    [axes]                       # scenario key = [values]: every combination is a point
    [[variants]]                 # one-at-a-time changes of the base: the sensitivity study
    label = "…"; group = "…"; set = {key = value, …}

Paths in [base], [axes] and variants resolve against the sweep file's folder, as in a
scenario file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from planner.errors import InputDataError
from planner.input_files import read_toml
from planner.scenario import KIND, load_scenario, scenario_values

# Every deployment a point can replay, in the order tables and pages list them; the plan's
# three baselines are written by `plan` itself (baselines.py).
STRATEGIES = ("no_cache", "max_cache", "static_cache", "plan")
TABLES = ("sweep", "base", "axes", "variants")
SWEEP_KEYS = ("name", "scenario", "strategies", "memory_gb")
VARIANT_KEYS = ("label", "group", "set")
MAX_POINTS = 100_000


@dataclass(frozen=True)
class Variant:
    label: str
    group: str
    values: dict


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep file: option values keyed by option name, as :mod:`planner.scenario`
    reads them (paths resolved)."""

    path: Path
    name: str
    base: dict
    axes: dict[str, list]
    variants: tuple[Variant, ...] = ()
    strategies: tuple[str, ...] = STRATEGIES
    memory_gb: float | None = None
    scenario: str | None = None
    notes: list[str] = field(default_factory=list)


def _where(path: Path) -> str:
    return f"sweep file {path}"


def _table(path: Path, raw: dict, name: str) -> dict:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise InputDataError(f"{_where(path)}: {name} must be a table ([{name}]), got "
                             f"{type(value).__name__}")
    return value


def _sweep_table(path: Path, table: dict) -> dict:
    where = _where(path)
    for key in table:
        if key not in SWEEP_KEYS:
            raise InputDataError(f"{where}: unknown key sweep.{key}; [sweep] holds "
                                 f"{', '.join(SWEEP_KEYS)}")
    out = {}
    for key in ("name", "scenario"):
        if key in table:
            if not isinstance(table[key], str) or not table[key].strip():
                raise InputDataError(f"{where}: sweep.{key} must be a non-empty string")
            out[key] = table[key]
    if "strategies" in table:
        s = table["strategies"]
        if not isinstance(s, list) or not all(isinstance(x, str) for x in s):
            raise InputDataError(f"{where}: sweep.strategies must be a list of strings")
        bad = [x for x in s if x not in STRATEGIES]
        if bad:
            raise InputDataError(f"{where}: sweep.strategies holds {bad[0]!r}; choose from "
                                 f"{', '.join(STRATEGIES)}")
        if "plan" not in s:
            raise InputDataError(f"{where}: sweep.strategies must include plan")
        if len(set(s)) != len(s):
            raise InputDataError(f"{where}: sweep.strategies lists a deployment twice")
        out["strategies"] = tuple(x for x in STRATEGIES if x in s)
    if "memory_gb" in table:
        m = table["memory_gb"]
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not math.isfinite(m) \
                or not 0.1 <= m <= 4096:
            raise InputDataError(f"{where}: sweep.memory_gb must be a number within 0.1..4096")
        out["memory_gb"] = float(m)
    return out


def _axes(path: Path, table: dict) -> dict[str, list]:
    where = _where(path)
    axes = {}
    for key, values in table.items():
        if key == "levels":
            raise InputDataError(f"{where}: axes.levels: the [levels] table cannot be an axis; "
                                 "vary its levels through variants")
        if key not in KIND:
            raise InputDataError(f"{where}: unknown key axes.{key}; axes are the scenario keys "
                                 "(greencache plan --help, with _ for -)")
        if not isinstance(values, list) or not values:
            raise InputDataError(f"{where}: axes.{key} must be a non-empty list of values")
        checked = [scenario_values({key: v}, path.parent, f"{where} (axes.{key}[{i}])")[key]
                   for i, v in enumerate(values)]
        if len({repr(v) for v in checked}) != len(checked):
            raise InputDataError(f"{where}: axes.{key} lists a value twice")
        axes[key] = checked
    return axes


def _variants(path: Path, raw) -> tuple[Variant, ...]:
    where = _where(path)
    if not isinstance(raw, list) or not all(isinstance(v, dict) for v in raw):
        raise InputDataError(f"{where}: variants must be an array of tables ([[variants]])")
    out, seen = [], set()
    for i, v in enumerate(raw):
        for key in v:
            if key not in VARIANT_KEYS:
                raise InputDataError(f"{where}: unknown key variants[{i}].{key}; a variant "
                                     f"holds {', '.join(VARIANT_KEYS)}")
        label = v.get("label")
        if not isinstance(label, str) or not label.strip():
            raise InputDataError(f"{where}: variants[{i}].label must be a non-empty string")
        if label in seen:
            raise InputDataError(f"{where}: variants[{i}].label {label!r} is used twice")
        seen.add(label)
        group = v.get("group", label)
        if not isinstance(group, str) or not group.strip():
            raise InputDataError(f"{where}: variants[{i}].group must be a non-empty string")
        changes = v.get("set")
        if not isinstance(changes, dict) or not changes:
            raise InputDataError(f"{where}: variants[{i}].set must be a non-empty table of "
                                 "scenario keys")
        values = scenario_values(changes, path.parent, f"{where} (variants[{i}].set)")
        out.append(Variant(label, group, values))
    return tuple(out)


def load_spec(path: Path) -> SweepSpec:
    """Read and check a sweep file (every key and value; points are checked by
    :func:`planner.sweep.points.expand`)."""
    path = Path(path)
    where = _where(path)
    raw = read_toml(path, where)
    for key in raw:
        if key not in TABLES:
            raise InputDataError(f"{where}: unknown key {key}; a sweep file holds "
                                 f"{', '.join(f'[{t}]' for t in TABLES)}")
    head = _sweep_table(path, _table(path, raw, "sweep"))
    base: dict = {}
    if "scenario" in head:
        base.update(load_scenario(path.parent / head["scenario"]))
    base.update(scenario_values(_table(path, raw, "base"), path.parent, f"{where} ([base])"))
    axes = _axes(path, _table(path, raw, "axes"))
    variants = _variants(path, raw.get("variants", []))
    if "trace" not in base and "trace" not in axes:
        raise InputDataError(f"{where}: no trace: set trace in [base], in the scenario file or "
                             "as an axis")
    n = math.prod(len(v) for v in axes.values()) + len(variants)
    if n > MAX_POINTS:
        raise InputDataError(f"{where}: {n:,} points, more than the {MAX_POINTS:,} a sweep "
                             "runs; split it")
    return SweepSpec(path, head.get("name", path.stem), base, axes, variants,
                     head.get("strategies", STRATEGIES), head.get("memory_gb"),
                     head.get("scenario"))
