"""Reading a plan's own output files back (schedule.csv, summary.json, replay.csv,
compare.csv), validated against their schema: they may have been edited by hand, so every
value `simulate`, `compare` and `report` use is checked, naming the line (CSV) or the key
(JSON) of the first bad one."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd

from planner.catalog import Levels
from planner.config import PlanOptions
from planner.errors import InputDataError
from planner.input_files import (FIRST_YEAR, LAST_YEAR, first_out_of_range, quote, read_text,
                                  unreadable_timestamp, utc_times)
from planner.schedule import SCHEDULE_COLUMNS

# A deployment beyond these is an edit gone wrong, not a plan: the replay would allocate per
# replica and per GB. They match the planner's own option limits (--max-replicas 4096,
# --cache-levels up to 10000 TB).
MAX_REPLICAS = 4096
MAX_CACHE_GB = 10_000_000.0

_SCHEDULE_NUMBERS = ("requests", "rate_rps", "mean_input_tokens", "mean_output_tokens",
                     "ci_gco2_per_kwh", "replicas", "gpus", "cache_gb", "ssd_drives", "hit_rate",
                     "p90_ttft_s", "p90_tpot_s", "within_slo_share", "energy_kwh",
                     "operational_kgco2e",
                     "embodied_kgco2e", "total_kgco2e")
_INTEGERS = ("requests", "replicas", "gpus", "ssd_drives")
REPLAY_NUMBERS = ("predicted_p90_ttft_s", "replayed_p90_ttft_s", "predicted_p90_tpot_s",
                  "replayed_p90_tpot_s")
COMPARE_NUMBERS = ("requests", "slo_attainment", "total_kgco2e", "predicted_total_kgco2e")


def _csv(path: Path, what: str) -> pd.DataFrame:
    """A plan file as a frame of text columns (blank lines skipped), every row as wide as the
    header. Split by the csv module: these files hold a row per window, where pandas' reader
    cost milliseconds of fixed overhead per file (most of reading a short schedule back)."""
    text = read_text(path, what)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = [(reader.line_num, row) for row in reader if row]
    except csv.Error as e:
        raise InputDataError(f"cannot read {what} {path}, line {reader.line_num}: {e}") from None
    if not rows:
        raise InputDataError(f"{what} {path} is empty")
    header = rows[0][1]
    if len(set(header)) != len(header):
        raise InputDataError(f"{what} {path}: a column name appears twice in the header")
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise InputDataError(f"{path}, line {line}: {len(row)} fields where the header has "
                                 f"{len(header)}")
    if len(rows) == 1:
        raise InputDataError(f"{what} {path} has no rows")
    cells = np.array([row for _, row in rows[1:]], dtype=object)
    # One block of text cells (the number columns are taken from it at once, _numbers).
    return pd.DataFrame(cells, columns=header, copy=False)


def _require_columns(df: pd.DataFrame, columns, path: Path, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputDataError(f"{path} is not a greencache {what}: no column {missing[0]}")


def _numbers(df: pd.DataFrame, columns, path: Path, integers=()) -> dict[str, np.ndarray]:
    """Columns as finite numbers (integers where named), else the first bad line; returned as
    arrays for :func:`_replaced`. Every column's text is converted in one call (a call's fixed
    cost, column by column, was most of reading a schedule back), cell by cell as
    ``pd.to_numeric`` converts each column; a whole number below 2^53 is exact as a double."""
    columns = list(columns)
    if not columns:
        return {}
    # The columns taken from the frame's cells at once (a frame _csv read is one block of
    # text: no copy), not column by column.
    raw = df.to_numpy()[:, df.columns.get_indexer(columns)]
    v = np.asarray(pd.to_numeric(raw.ravel(), errors="coerce"), dtype=float).reshape(raw.shape)
    bad = ~np.isfinite(v)
    whole = np.array([col in integers for col in columns])
    if whole.any():
        w = v[:, whole]
        bad[:, whole] |= ~bad[:, whole] & ((w % 1 != 0) | (np.abs(w) >= 2**53))
    if bad.any():
        # The first column (in the order asked) with a bad cell, and its first bad line.
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        i = int(np.flatnonzero(bad[:, j])[0])
        col = columns[j]
        kind = "a whole number below 2^53" if col in integers else "a finite number"
        raise InputDataError(f"{path}, line {i + 2}: {col} must be {kind}, got "
                             f"{quote(raw[i, j])}")
    return {col: v[:, j].astype(np.int64) if whole[j] else v[:, j].copy()
            for j, col in enumerate(columns)}


def _replaced(df: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """``df`` with the given columns replaced (in place in the column order), built at once
    from the arrays (``df`` is not used again: its arrays are taken, not copied)."""
    return pd.DataFrame({c: columns[c] if c in columns else df[c].to_numpy()
                         for c in df.columns}, index=df.index, copy=False)


def _times(df: pd.DataFrame, path: Path) -> dict[str, pd.Series]:
    """window_start and window_end parsed (UTC), in order and without overlap."""
    # Both columns parsed in one call (a call's fixed cost was most of a short schedule's).
    n = len(df)
    raw = np.concatenate([df["window_start"].to_numpy(), df["window_end"].to_numpy()])
    both = utc_times(raw)
    out = {}
    for k, col in enumerate(("window_start", "window_end")):
        parsed = both[k * n:(k + 1) * n]
        if parsed.isna().any():
            i = int(np.flatnonzero(parsed.isna())[0])
            raise InputDataError(unreadable_timestamp(f"{path}, line {i + 2}", df[col].iloc[i], col))
        i = first_out_of_range(parsed)
        if i is not None:
            raise InputDataError(f"{path}, line {i + 2}: {col} {quote(df[col].iloc[i])} is "
                                 f"outside {FIRST_YEAR}..{LAST_YEAR}")
        out[col] = pd.Series(parsed, index=df.index, name=col)
    # As nanoseconds (an array of timestamp objects compares one pair at a time).
    start, end = (pd.DatetimeIndex(out[c]).as_unit("ns").asi8
                  for c in ("window_start", "window_end"))
    bad = end <= start
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(f"{path}, line {i + 2}: window_end must be after window_start")
    if len(df) > 1:
        overlap = start[1:] < end[:-1]
        if overlap.any():
            i = int(np.flatnonzero(overlap)[0]) + 1
            raise InputDataError(f"{path}, line {i + 2}: windows must be in time order without "
                                 "overlap (this one starts before the previous one ends)")
    return out


def read_schedule(path: Path) -> pd.DataFrame:
    """A schedule.csv, every column of the schema checked."""
    path = Path(path)
    df = _csv(path, "schedule")
    _require_columns(df, SCHEDULE_COLUMNS, path, "schedule")
    times = _times(df, path)
    numbers = _numbers(df, _SCHEDULE_NUMBERS, path, integers=_INTEGERS)
    checks = (("replicas", 1, MAX_REPLICAS), ("cache_gb", 0.0, MAX_CACHE_GB),
              ("hit_rate", 0.0, 1.0), ("requests", 0, None), ("gpus", 0, None),
              ("ssd_drives", 0, None), ("ci_gco2_per_kwh", 0.0, None))
    for col, lo, hi in checks:
        v = numbers[col]
        bad = (v < lo) | ((v > hi) if hi is not None else False)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            span = f"within {lo}..{hi:g}" if hi is not None else f"≥ {lo}"
            raise InputDataError(f"{path}, line {i + 2}: {col} must be {span}, got {v[i]:g}")
    raw = df["slo_met"].to_numpy()
    slo = np.array([cell.strip().lower() for cell in raw], dtype=object)
    bad = (slo != "true") & (slo != "false")
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(f"{path}, line {i + 2}: slo_met must be True or False, got "
                             f"{quote(raw[i])}")
    return _replaced(df, {**times, **numbers, "slo_met": slo == "true"})


FORECAST_NUMBERS = ("lead_h", "input_tokens_mean", "output_tokens_mean", "ci_gco2_per_kwh",
                    "actual_rate", "actual_input_tokens_mean", "actual_output_tokens_mean",
                    "actual_ci_gco2_per_kwh")


def read_forecast(path: Path) -> pd.DataFrame:
    """forecast.csv (planner/foresight/forecast_file.py): times parsed, every number finite,
    at least the median rate forecast."""
    path = Path(path)
    df = _csv(path, "forecast table")
    rates = [c for c in df.columns if c.startswith("rate_p")]
    _require_columns(df, ("window_start", "issued_at", "model", "rate_p50") + FORECAST_NUMBERS,
                     path, "forecast table")
    df = _replaced(df, _numbers(df, FORECAST_NUMBERS + tuple(rates), path))
    for col in ("window_start", "issued_at"):
        parsed = pd.to_datetime(df[col], utc=True, errors="coerce", format="ISO8601")
        if parsed.isna().any():
            i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
            raise InputDataError(unreadable_timestamp(f"{path}, line {i + 2}", df[col].iloc[i],
                                                      col))
        df[col] = parsed
    return df


def read_window_table(path: Path, what: str, numbers, integers=()) -> pd.DataFrame:
    """replay.csv (``what`` = "replay") or compare.csv ("comparison"): the columns the report
    and figures read, as finite numbers."""
    path = Path(path)
    df = _csv(path, what)
    _require_columns(df, numbers, path, what)
    df = _replaced(df, _numbers(df, numbers, path, integers))
    for col in df.columns:
        if col not in numbers:
            converted = pd.to_numeric(df[col], errors="coerce")
            if converted.notna().all():
                df[col] = converted
    return df


def read_compare(path: Path) -> pd.DataFrame:
    df = read_window_table(path, "comparison", COMPARE_NUMBERS, integers=("requests",))
    _require_columns(df, ("day", "strategy", "label"), path, "comparison")
    for col in ("day", "strategy", "label"):
        df[col] = df[col].astype(str)
    if not (df["day"] == "total").any():
        raise InputDataError(f"{path} is not a greencache comparison: no 'total' rows")
    for col in ("reduction_vs_max_cache_pct", "reduction_vs_no_cache_pct", "carbon_regret_pct",
                "slo_regret_points"):
        if col in df.columns:
            text = df[col].astype(str).str.strip()
            values = pd.to_numeric(df[col], errors="coerce")
            bad = values.isna() & ~text.str.lower().isin(("", "nan"))
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputDataError(f"{path}, line {i + 2}: {col} must be a number, got "
                                     f"{quote(df[col].iloc[i])}")
            df[col] = values
    pairs = df[["strategy", "day"]]
    if pairs.duplicated().any():
        i = int(np.flatnonzero(pairs.duplicated().to_numpy())[0])
        raise InputDataError(f"{path}, line {i + 2}: a second row for the same strategy and day")
    days = df.groupby("strategy")["day"].apply(frozenset)
    if days.nunique() > 1:
        raise InputDataError(f"{path}: every strategy must have a row for every day")
    return df


def read_replay(path: Path) -> pd.DataFrame:
    return read_window_table(path, "replay", REPLAY_NUMBERS)


# --------------------------------------------------------------------------------------------
# summary.json
# --------------------------------------------------------------------------------------------

def _get(obj, key_path: str, path: Path, kind):
    """The value at a dotted key path, checked to be of ``kind``: "number" (finite),
    "int", "str", "str?" (or null), "dict", "list"."""
    cur, parent, key = obj, None, None
    for key in key_path.split("."):
        if not isinstance(cur, dict) or key not in cur:
            raise InputDataError(f"{path} is not a greencache summary: no key {key_path}")
        parent, cur = cur, cur[key]
    ok = {"number": _finite,
          "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
          "str": lambda v: isinstance(v, str),
          "str?": lambda v: v is None or isinstance(v, str),
          "number?": lambda v: v is None or _finite(v),
          "dict": lambda v: isinstance(v, dict),
          "list": lambda v: isinstance(v, list)}[kind](cur)
    if not ok:
        want = {"number": "a finite number", "int": "a whole number ≥ 0", "str": "text",
                "str?": "text or null", "number?": "a finite number or null", "dict": "an object", "list": "a list"}[kind]
        raise InputDataError(f"{path}: {key_path} must be {want}, got {quote(cur)}")
    if kind in ("number", "number?") and isinstance(cur, int):
        # A JSON integer is held as a float, as every reader of the value computes with it
        # (an integer beyond a C long broke the report's figures).
        parent[key] = cur = float(cur)
    return cur


def _finite(v) -> bool:
    """A JSON number that is a finite double (an integer too large for one is not)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


_SUMMARY_SCHEMA = (
    ("scenario", "dict"), ("inputs.trace.path", "str"), ("inputs.trace.sha256", "str"),
    ("inputs.profile.path", "str"), ("inputs.profile.sha256", "str"),
    ("inputs.catalog.path", "str"), ("inputs.catalog.sha256", "str"),
    ("inputs.grid.zone", "str"), ("inputs.grid.basis", "str"), ("inputs.grid.attribution", "str?"),
    ("windows.count", "int"), ("windows.hours", "number"), ("windows.slo_violated", "int"),
    ("totals.total_kgco2e", "number"), ("totals.operational_kgco2e", "number"),
    ("totals.embodied_kgco2e", "number"), ("totals.energy_kwh", "number"),
    ("explanation", "str"), ("baselines", "dict"), ("notes", "list"), ("modelled", "dict"),
)
# What the report's provisioning section reads, when the summary has one.
_PROVISIONING_SCHEMA = (
    ("capacity", "str"), ("fleet.replicas", "int"), ("fleet.gpus", "int"),
    ("fleet.servers", "int"), ("fleet.ssd_drives", "int"), ("fleet.ssd_physical_tb", "number"),
    ("ssd_wear.expected_life_years", "number?"), ("ssd_wear.wear_out_years", "number?"),
    ("ssd_wear.calendar_years", "number"), ("embodied_committed_kgco2e.total", "number"),
    ("embodied_committed_kgco2e.gpus", "number"), ("embodied_committed_kgco2e.hosts", "number"),
    ("embodied_committed_kgco2e.ssd", "number"),
    ("reconfigurations.cache_level_changes", "int"), ("reconfigurations.cache_grows", "int"),
    ("reconfigurations.cache_shrinks", "int"), ("reconfigurations.replica_changes", "int"),
    ("reconfigurations.replicas_started", "int"),
)
_BASELINE_NUMBERS = ("total_kgco2e", "operational_kgco2e", "embodied_kgco2e", "energy_kwh")


def read_summary(path: Path) -> dict:
    """A plan's summary.json with every field the report and replays read checked."""
    path = Path(path)
    data = read_json_object(path, "summary")
    for key_path, kind in _SUMMARY_SCHEMA:
        _get(data, key_path, path, kind)
    if "provisioning" in data:
        for key_path, kind in _PROVISIONING_SCHEMA:
            _get(data, f"provisioning.{key_path}", path, kind)
    for i, note in enumerate(data["notes"]):
        if not isinstance(note, str):
            raise InputDataError(f"{path}: notes[{i}] must be text, got {quote(note)}")
    for name, b in data["baselines"].items():
        if not isinstance(b, dict):
            raise InputDataError(f"{path}: baselines.{name} must be an object")
        if "total_kgco2e" in b:
            for key in _BASELINE_NUMBERS:
                _get(data, f"baselines.{name}.{key}", path, "number")
            if "reduction_pct" in b:
                _get(data, f"baselines.{name}.reduction_pct", path, "number")
            if "slo_violated_windows" in b:
                _get(data, f"baselines.{name}.slo_violated_windows", path, "int")
        elif "status" in b:
            _get(data, f"baselines.{name}.status", path, "str")
    return data


def scenario_from_summary(path: Path, **overrides) -> PlanOptions:
    """The plan's options as recorded in its summary.json, with the given overrides."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"summary {path} does not exist (it holds the plan's scenario); "
                             "pass --summary")
    return scenario_options(read_summary(path), path, **overrides)


def scenario_options(summary: dict, path: Path, **overrides) -> PlanOptions:
    """The options recorded in a summary already read (by :func:`read_summary`) from ``path``,
    with the given overrides."""
    raw = summary["scenario"]
    known = {f.name for f in fields(PlanOptions)}
    values = {k: v for k, v in raw.items() if k in known}
    try:
        values["levels"] = Levels(**values.get("levels", {}))
        values["cache_levels_tb"] = tuple(float(x) for x in values.get("cache_levels_tb", ()))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return PlanOptions(**values).validate()
    except (TypeError, ValueError) as e:
        # A hand-edited scenario value of the wrong type (text for a number, a list for text).
        raise InputDataError(f"{path}: the scenario holds a value of the wrong type "
                             f"({quote(str(e))})") from None


def _reject_constant(path: Path, name: str):
    raise InputDataError(f"{path}: {name} is not a number JSON allows")


def read_json_object(path: Path, what: str) -> dict:
    """A JSON object file (replay.json, compare.json) read for display only."""
    text = read_text(path, what)
    try:
        data = json.loads(text, parse_constant=lambda c: _reject_constant(path, c))
    except json.JSONDecodeError as e:
        raise InputDataError(f"{path}, line {e.lineno}: not valid JSON ({e.msg})") from None
    except RecursionError:
        raise InputDataError(f"{path}: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise InputDataError(f"{what} {path} must hold a JSON object")
    return data
