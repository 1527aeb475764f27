"""Scenario files: `greencache plan` options written as TOML, read and printed.

A scenario's keys are the plan options' names with ``_`` for ``-`` (``slo_ttft`` for
``--slo-ttft``); catalog levels that have no option of their own (``host_power``, ``ssd_power``,
``lifetime``, ``pue``) sit in a ``[levels]`` table. Relative paths inside a file resolve against
the file's folder, so a scenario means the same thing from any working folder. The printed form
(:func:`scenario_toml`) uses the same keys, with absolute paths, and reads back to the same
options.
"""

from __future__ import annotations

import math
import os
import typing
from dataclasses import fields
from enum import Enum
from pathlib import Path

from planner.catalog import Levels
from planner.choices import (Capacity, CiBasis, Eviction, ForecastModel, Foresight, Level,
                             OwnedIdle, Solver, TimestampUnit, WorkloadFormat)
from planner.config import PlanOptions
from planner.errors import InputDataError
from planner.grid import looks_like_path
from planner.input_files import read_toml

# A PlanOptions field carrying its unit in its name (slo_ttft_s, cache_levels_tb) is the option
# without it (--slo-ttft, --cache-levels); every other option is named like its field. Scenario
# files written before the keys followed the options used the field names; those keys are
# refused with the new name rather than silently ignored.
UNIT_SUFFIXES = ("_s", "_tb")
OPTION_OF_FIELD = {f.name: f.name[:-len(u)] for f in fields(PlanOptions)
                   for u in UNIT_SUFFIXES if f.name.endswith(u)}
# Catalog levels with an option of their own (top-level keys); the rest go in [levels].
LEVEL_OPTIONS = ("ssd_embodied", "gpu_embodied", "host_embodied")
TABLE_LEVELS = tuple(f.name for f in fields(Levels) if f.name not in LEVEL_OPTIONS)
PATH_KEYS = ("trace", "profile_dir", "reuse_model", "correction")
CHOICES: dict[str, type[Enum]] = {"trace_format": WorkloadFormat, "ci_basis": CiBasis,
                                  "solver": Solver, "eviction": Eviction,
                                  "timestamp_unit": TimestampUnit, "capacity": Capacity,
                                  "owned_idle": OwnedIdle, "foresight": Foresight,
                                  "forecast_model": ForecastModel,
                                  **{name: Level for name in LEVEL_OPTIONS}}

_HINTS = typing.get_type_hints(PlanOptions)


def _kind(field_name: str) -> str:
    """What a TOML value of this PlanOptions field must be: text, number, integer, ..."""
    hint = _HINTS[field_name]
    args = set(typing.get_args(hint)) - {type(None)}
    base = args.pop() if len(args) == 1 else hint
    if base is bool:
        return "boolean"
    if base is int:
        return "integer"
    if base is float:
        return "number"
    if typing.get_origin(base) is tuple:
        return "list of numbers"
    return "string"


OPTION_KEYS = {OPTION_OF_FIELD.get(f.name, f.name): f.name for f in fields(PlanOptions)
               if f.name != "levels"}
KIND = {key: _kind(name) for key, name in OPTION_KEYS.items()}
KIND.update({name: "string" for name in LEVEL_OPTIONS})


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def check_value(where: str, key: str, value, kind: str):
    """``value`` as the options need it, or an InputDataError naming key, type and ``where``
    (the file: ``scenario file x.toml``, ``sweep file y.toml``)."""
    ok = {"string": isinstance(value, str),
          "boolean": isinstance(value, bool),
          "integer": isinstance(value, int) and not isinstance(value, bool),
          "number": isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value),
          "list of numbers": isinstance(value, list) and all(
              isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
              for x in value)}[kind]
    if not ok:
        article = "an" if kind[0] in "aeiou" else "a"
        raise InputDataError(f"{where}: {key} must be {article} {kind}, got "
                             f"{type(value).__name__} {_show(value)}")
    choices = Level if key.startswith("levels.") else CHOICES.get(key)
    if choices is not None and value not in {c.value for c in choices}:
        raise InputDataError(f"{where}: {key} must be one of "
                             f"{', '.join(c.value for c in choices)}, got {_show(value)}")
    if kind == "number":
        return float(value)
    if kind == "list of numbers":
        return tuple(float(x) for x in value)
    return value


def relative_to(base: Path, key: str, value: str) -> str:
    """A path written in a scenario file, taken from the file's folder."""
    if key == "grid" and not ((base / value).exists() or looks_like_path(value)):
        return value                          # a zone code, not a file
    if os.path.isabs(value):
        return value
    return os.path.normpath(base / value)


def load_scenario(path: Path) -> dict:
    """Read a scenario TOML into option values keyed by option name (``levels``: a dict).

    Every key is checked against the plan's options and every value against its type before
    anything else runs; a bad one is an InputDataError (exit 3) naming the key and the file.
    """
    path = Path(path)
    raw = read_toml(path, f"scenario file {path}")
    return scenario_values(raw, path.parent, f"scenario file {path}")


def scenario_values(raw: dict, base: Path, where: str) -> dict:
    """Option values from a parsed scenario table (a scenario file, or a table of a sweep
    file): every key checked against the plan's options and every value against its type,
    paths taken from ``base``; a bad one is an InputDataError naming the key and ``where``."""
    values: dict = {}
    for key, value in raw.items():
        if key == "levels":
            values["levels"] = _levels_table(where, value)
            continue
        if key in OPTION_OF_FIELD:
            raise InputDataError(f"{where}: key {key} is now "
                                 f"{OPTION_OF_FIELD[key]} (the option's name)")
        if key not in KIND:
            raise InputDataError(f"{where}: unknown key {_show(key)}; keys are "
                                 "the plan options with _ for - (greencache plan --help)")
        value = check_value(where, key, value, KIND[key])
        if key in PATH_KEYS or key == "grid":
            value = relative_to(base, key, value)
        values[key] = value
    return values


def _levels_table(where: str, table) -> dict:
    if not isinstance(table, dict):
        raise InputDataError(f"{where}: levels must be a table ([levels]), got "
                             f"{type(table).__name__}")
    out = {}
    for key, value in table.items():
        if key in LEVEL_OPTIONS:
            raise InputDataError(f"{where}: [levels] {key} is now the top-level "
                                 f"key {key} (the option's name)")
        if key not in TABLE_LEVELS:
            raise InputDataError(f"{where}: unknown level {_show(key)}; [levels] "
                                 f"holds {', '.join(TABLE_LEVELS)}")
        out[key] = check_value(where, f"levels.{key}", value, "string")
    return out


def plan_options(values: dict) -> PlanOptions:
    """PlanOptions from option values keyed by option name (a scenario, then the command line).

    Missing keys take PlanOptions' defaults; the result is validated.
    """
    values = dict(values)
    levels = dict(values.pop("levels", {}))
    for name in LEVEL_OPTIONS:
        if name in values:
            levels[name] = values.pop(name)
    kwargs = {OPTION_KEYS[k]: v for k, v in values.items()}
    return PlanOptions(levels=Levels(**levels), **kwargs).validate()


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(x) for x in value) + "]"
    # A TOML basic string: escape what TOML cannot hold as is.
    out = []
    for ch in str(value):
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def scenario_toml(options: PlanOptions) -> str:
    """The scenario as a TOML file that `--config` reads back to the same options.

    Unset options (None) are left out, so they keep their defaults; paths are absolute, so the
    file can be moved anywhere.
    """
    lines = ["# greencache plan scenario: keys are the plan options with _ for -;",
             "# read back with `greencache plan --config FILE`."]
    for key, name in OPTION_KEYS.items():
        value = getattr(options, name)
        if name == "max_changes_per_day" and value is None:
            value = -1                        # unlimited; TOML has no None
        if value is None:
            continue
        if key in PATH_KEYS or (key == "grid" and looks_like_path(value)):
            value = os.path.abspath(value)
        lines.append(f"{key} = {_toml_value(value)}")
    for name in LEVEL_OPTIONS:
        lines.append(f"{name} = {_toml_value(getattr(options.levels, name))}")
    lines += ["", "[levels]"]
    lines += [f"{name} = {_toml_value(getattr(options.levels, name))}" for name in TABLE_LEVELS]
    return "\n".join(lines) + "\n"
