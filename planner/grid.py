"""Grid carbon intensity: zone lookup, file formats, and alignment to planning windows.

Two bases exist and must never be mixed in one comparison: ``lifecycle`` (Electricity Maps
"LCA": includes upstream and construction emissions of the generators) and ``direct`` (stack
emissions only). Lifecycle is the default because the embodied side of the ledger is also
cradle-to-gate: both halves then count manufacturing.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from planner.choices import BASES
from planner.errors import InputDataError, UsageError
from planner.input_files import (FIRST_YEAR, LAST_YEAR, arrow_csv, first_out_of_range,
                                  decode, plain_header, quote, read_utf8_bytes,
                                  unreadable_timestamp)
from planner.paths import grids_dir

# The dirtiest hourly grids on record stay below ~1,200 g/kWh (coal-only systems); a value
# above this bound is a unit mistake (kg/MWh vs g/kWh are equal, lb/MWh are not).
MAX_CI = 2000.0
MAX_GAP_HOURS = 24

# Electricity Maps has written its headers several ways ("Carbon Intensity gCO₂eq/kWh (LCA)",
# "Carbon intensity gCO₂eq/kWh (Life cycle)", "… (direct)"): columns are matched without case,
# by the words that carry the meaning.
EM_TIME = "datetime (utc)"
EM_BASIS_WORDS = {"lifecycle": ("(lca)", "(life cycle)", "(lifecycle)"), "direct": ("(direct)",)}
_FILE_RE = re.compile(r"^(?P<zone>.+)_(?P<year>\d{4})_hourly\.csv$")
_NOT_BLANK = re.compile(r"\S")


@dataclass(frozen=True)
class CarbonSeries:
    """Hourly carbon intensity (gCO2e/kWh) with hour-start UTC timestamps."""

    times: pd.DatetimeIndex
    values: np.ndarray
    zone: str
    basis: str
    source: str
    files: tuple[Path, ...] = ()
    attribution: str = ""
    notes: tuple[str, ...] = ()

    @property
    def years(self) -> list[int]:
        return sorted(set(self.times.year))

    def mean(self) -> float:
        return float(self.values.mean())


@dataclass(frozen=True)
class WindowIntensity:
    """Carbon intensity per planning window and how the windows were matched to the series."""

    values: np.ndarray
    aligned: bool
    notes: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------------------------
# zones
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Zone:
    code: str
    aliases: tuple[str, ...]
    folder: str
    fmt: str
    bases: tuple[str, ...]
    files: tuple[Path, ...]

    @property
    def years(self) -> list[int]:
        return sorted(int(_FILE_RE.match(p.name)["year"]) for p in self.files)


def known_zones(root: Path | None = None) -> dict[str, Zone]:
    """Zones shipped in grids/, keyed by upper-case code."""
    return _zones_in(Path(root) if root else grids_dir())


@lru_cache(maxsize=2)
def _zones_in(root: Path) -> dict[str, Zone]:
    # keyed by the resolved folder, so a changed GREENCACHE_DATA is seen
    index = root / "zones.toml"
    if not index.exists():
        raise InputDataError(f"grid index {index} does not exist")
    spec = tomllib.loads(index.read_text(encoding="utf-8"))
    zones: dict[str, Zone] = {}
    for group in spec.values():
        folder = root / group["folder"]
        by_zone: dict[str, list[Path]] = {}
        # The folder listed and matched by _FILE_RE alone (a glob pattern is compiled anew).
        for p in sorted(folder.iterdir()):
            m = _FILE_RE.match(p.name)
            if m:
                by_zone.setdefault(group.get("prefix", "") + m["zone"], []).append(p)
        for code, files in by_zone.items():
            bare = code[len(group.get("prefix", "")):]
            aliases = tuple(group.get("aliases", {}).get(bare, []))
            zones[code.upper()] = Zone(code, aliases, group["folder"], group["format"],
                                       tuple(group["bases"]), tuple(files))
    return zones


def find_zone(code: str) -> Zone:
    zones = known_zones()
    key = code.strip().upper()
    if key in zones:
        return zones[key]
    for z in zones.values():
        if key in (a.upper() for a in z.aliases):
            return z
    raise UsageError(f"unknown grid zone {code!r}; known zones: "
                     f"{', '.join(sorted(z.code for z in zones.values()))} (or pass a CSV file)")


def looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.lower().endswith((".csv", ".csv.gz")) \
        or Path(text).exists()


def load_grid(spec: str, basis: str = "lifecycle") -> CarbonSeries:
    """A zone code (case-insensitive, every shipped year) or a CSV file path."""
    if basis not in BASES:
        raise UsageError(f"unknown carbon-intensity basis {basis!r}; choose lifecycle or direct")
    if looks_like_path(spec):
        return read_grid_file(Path(spec), basis)
    zone = find_zone(spec)
    if basis not in zone.bases:
        raise UsageError(f"zone {zone.code} has only a {'/'.join(zone.bases)} basis; pass "
                         f"--ci-basis {zone.bases[0]}")
    parts = [read_grid_file(p, basis, fmt=zone.fmt) for p in zone.files]
    times = pd.DatetimeIndex(np.concatenate([p.times.asi8 for p in parts])).tz_localize("UTC")
    if np.any(np.diff(times.asi8) <= 0):
        raise InputDataError(f"the shipped files of zone {zone.code} overlap in time")
    values = np.concatenate([p.values for p in parts])
    notes = tuple(n for p in parts for n in p.notes)
    return CarbonSeries(times, values, zone.code, basis, f"shipped zone {zone.code}",
                        files=tuple(zone.files), attribution=parts[0].attribution, notes=notes)


# --------------------------------------------------------------------------------------------
# file formats
# --------------------------------------------------------------------------------------------

def read_grid_file(path: Path, basis: str = "lifecycle", fmt: str | None = None) -> CarbonSeries:
    """Electricity Maps export (old or new header), EIA-930/HPE file, or a simple
    ``timestamp,gco2_per_kwh`` CSV.

    The format is told from the header alone, and only the columns it needs (time, value,
    zone) are read: a year's export has eleven, and turning every cell of the others into a
    string was most of reading the file (for the plan and again for its check)."""
    data = read_utf8_bytes(path, "grid file")
    # A plain first line is the header (the CSV reader's first line that is not blank); other
    # files are read as text whole to find it (and that text serves the careful reader).
    first = plain_header(data)
    text = None if first is not None else decode(data, path, "grid file")
    try:
        cols = _header(first if first is not None else text)
    except csv.Error as e:
        raise InputDataError(f"cannot read grid file {path}: {e}") from None
    if cols is None:
        raise InputDataError(f"grid file {path} is empty")
    if len(set(cols)) != len(cols):
        raise InputDataError(f"{path}: a column name appears twice in the header")
    zone = path.stem
    zone_col = None
    attribution = ""
    em = electricity_maps_columns(cols)
    if em is not None:
        if em.get(basis) is None:
            other = "direct" if basis == "lifecycle" else "lifecycle"
            hint = f"; pass --ci-basis {other}" if em.get(other) else ""
            raise InputDataError(f"{path}: Electricity Maps file has no {basis} carbon-intensity "
                                 f"column{hint}")
        time_col, value_col = em["time"], em[basis]
        zone_col = next((c for c in cols if c.strip().lower() == "zone id"), None)
        attribution = "Electricity Maps (ODbL 1.0)"
        used_basis = basis
    elif "avg_CI" in cols and (cols[0] == "timestamp" or cols[0].startswith("Unnamed")):
        if basis != "direct":
            raise UsageError(f"{path} is an EIA-930 production-based series (direct basis "
                             "only); pass --ci-basis direct")
        # HPE's files carry the time as 'timestamp' or, in one of them, as an unnamed index.
        time_col, value_col, used_basis = cols[0], "avg_CI", "direct"
        attribution = "EIA-930 (public domain) via HPE dc-rl (MIT)"
    elif "timestamp" in cols and "gco2_per_kwh" in cols:
        time_col, value_col, used_basis = "timestamp", "gco2_per_kwh", basis
    else:
        raise InputDataError(
            f"cannot tell the format of grid file {path}: expected an Electricity Maps export "
            "('Datetime (UTC)' and carbon-intensity columns) or 'timestamp,gco2_per_kwh'")
    used = sorted({cols.index(c) for c in (time_col, value_col, zone_col) if c is not None})
    read = _arrow_columns(data, cols, value_col, time_col, zone_col)
    if read is None:
        if text is None:
            text = decode(data, path, "grid file")
        read = _careful_columns(path, data, text, cols, used, value_col, time_col, zone_col)
    times, first_zone, values, blank = read
    if zone_col:
        zone = first_zone
    idx = pd.DatetimeIndex(times).as_unit("ns")
    order = np.argsort(idx.asi8, kind="stable")
    idx, values = idx[order], values[order]
    dup = np.flatnonzero(np.diff(idx.asi8) == 0)
    if len(dup):
        raise InputDataError(f"{path}: timestamp {idx[dup[0]]} appears twice")
    idx, values, blank = _complete_hours(path, idx, values, blank[order])
    values, notes = _fill_gaps(path, idx, values, blank)
    return CarbonSeries(idx, values, zone, used_basis, str(path), files=(path,),
                        attribution=attribution, notes=notes)


# A time stamp written with its zone (to the minute at least), as a whole cell.
_ZONED_STAMP = re.compile(rb"\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d(?::?\d\d)?)(?=,|\r?$)")


def _careful_columns(path: Path, data: bytes, text: str, cols: list[str], used: list[int],
                     value_col: str, time_col: str, zone_col: str | None):
    """(times, zone of the first row, values, blank cells) read by the careful reader, which
    names the line and quotes the cell of the first problem: a row wider than the header, a
    time stamp that is not one or is out of range, a value that is not a carbon intensity."""
    try:
        wide = _first_wide_row(data, text, len(cols))
        if wide is not None:
            raise InputDataError(f"{path}, line {wide[0]}: {wide[1]} fields where the "
                                 f"header has {len(cols)}")
        columns, values, blank = _read_columns(data, cols, used, value_col)
    except (csv.Error, pd.errors.ParserError, ValueError) as e:
        raise InputDataError(f"cannot read grid file {path}: {str(e).splitlines()[0]}") \
            from None
    if len(values) == 0:
        raise InputDataError(f"grid file {path} has no rows")
    stamps = columns[time_col]
    times = pd.to_datetime(stamps, format="ISO8601", utc=True, errors="coerce")
    bad = np.asarray(pd.isna(times))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(unreadable_timestamp(f"{path}, line {i + 2}", stamps[i]))
    bad = _bad_values(values, blank)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(f"{path}, line {i + 2}: carbon intensity "
                             f"{quote(columns[value_col][i])} is not a number of gCO2e/kWh "
                             f"within 0..{MAX_CI:.0f}")
    i = first_out_of_range(times)
    if i is not None:
        raise InputDataError(f"{path}, line {i + 2}: timestamp {quote(stamps[i])} "
                             f"is outside {FIRST_YEAR}..{LAST_YEAR}")
    return times, columns[zone_col][0] if zone_col else None, values, blank


def _arrow_columns(data: bytes, cols: list[str], value_col: str, time_col: str,
                   zone_col: str | None):
    """(times, zone of the first row, values, blank cells) read by Arrow's CSV parser; None
    whenever the careful reader (:func:`_careful_columns`) is needed instead.

    Arrow tokenises a year's export in a fifth of the time pandas takes (it was most of
    reading a grid file, for the plan and again for its check), and it refuses what needs a
    line named: a row with more or fewer fields than the header, a value cell that is not a
    number. It is used only where its reading cannot differ from the careful one's: a plain
    header (:func:`planner.input_files.plain_header`), and every value either blank or one the
    careful reader takes as it stands (:func:`_needs_text`). Both give correctly rounded
    doubles and strip white space around a number.

    Time stamps are parsed by Arrow too: as times without a zone (read as UTC), or, where the
    first row's stamp ends in a zone (``Z``, ``+00:00``: EIA-930's files), as UTC instants.
    The ISO 8601 forms Arrow takes (``2023-01-01 00:00:00``, with ``T``, to the minute or the
    hour, a date alone, fractions of a second, an offset as ``+01:00``, ``+0100`` or ``+01``)
    are a subset of those pandas takes, read to the same instant; a file mixing stamps with
    and without a zone, a one-digit field, a blank cell or a time outside
    FIRST_YEAR..LAST_YEAR goes to the careful reader. (Turning each stamp into a string and
    parsing it again was a third of reading a year's export.) The zone column is read as a
    dictionary (a year's export repeats one name), and only its first row is used.

    Anything else, and any refusal, goes to the careful reader, which names the line of the
    first problem as it always has."""
    import pyarrow as pa

    if plain_header(data) is None:
        return None
    start = data.find(b"\n") + 1
    end = data.find(b"\n", start)
    zoned = start > 0 and _ZONED_STAMP.search(data[start:end if end >= 0 else len(data)]) \
        is not None
    types = {time_col: pa.timestamp("ns", tz="UTC" if zoned else None),
             value_col: pa.float64()}
    if zone_col:
        types[zone_col] = pa.dictionary(pa.int32(), pa.string())
    table = arrow_csv(data, cols, types, include=list(types))
    if table is None or table.num_rows == 0:
        return None
    column = table.column(value_col)
    blank = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    values = column.to_numpy(zero_copy_only=False).astype(float, copy=False)
    if _needs_text(values, blank):
        return None
    stamps = table.column(time_col)
    if stamps.null_count:
        return None
    times = pd.DatetimeIndex(stamps.cast(pa.timestamp("ns")).to_numpy()).tz_localize("UTC")
    if first_out_of_range(times) is not None:
        return None
    zone = table.column(zone_col)[0].as_py() if zone_col else None
    return times, zone, values, blank


def _read_columns(data: bytes, cols: list[str], used: list[int], value_col: str):
    """The used columns (text; the value column as numbers, as numpy arrays), the values and
    their blank cells.

    The CSV reader converts the value column to numbers itself, correctly rounded (its
    round-trip converter: the doubles Arrow's parser and Python's ``float`` give; pandas' default
    converter is off by one unit in the last place for some 17-digit decimals, which the
    EIA-930 files hold), blank cells as NaN.
    A column it cannot read as numbers (text, a cell of spaces), or one with a number out of
    range, is read again as text and converted cell by cell, so that the first bad cell is
    quoted as written; so is one with a negative zero, which ``pd.to_numeric`` makes +0 when
    written as an integer ("-0"). The bytes, once checked as UTF-8, go to the reader as they
    are."""
    names = [cols[i] for i in used]

    def read(numbers: bool) -> pd.DataFrame:
        return pd.read_csv(io.BytesIO(data), header=0, names=cols, usecols=used,
                           keep_default_na=False,
                           dtype={c: float if numbers and c == value_col else str
                                  for c in names},
                           na_values={value_col: [""]} if numbers else None,
                           float_precision="round_trip")

    try:
        frame = read(numbers=True)
        values = frame[value_col].to_numpy(dtype=float)
        blank = np.isnan(values)
        if not _needs_text(values, blank):
            return {c: frame[c].to_numpy() for c in names}, values, blank
    except ValueError:
        pass
    frame = read(numbers=False)
    return ({c: frame[c].to_numpy() for c in names}, *_numbers(frame[value_col].to_numpy()))


def _needs_text(values: np.ndarray, blank: np.ndarray) -> bool:
    """Whether a value column read as numbers must be read again as text: a cell that is not
    a carbon intensity (quoted as written in the refusal), or a negative zero (written "-0",
    which the text path keeps as written)."""
    return bool(_bad_values(values, blank).any() or np.signbit(values[values == 0]).any())


def _bad_values(values: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """Cells that are neither blank nor a carbon intensity within 0..MAX_CI."""
    return (~np.isfinite(values) & ~blank) | (values < 0) | (values > MAX_CI)


def _header(text: str) -> list[str] | None:
    """The column names of a CSV text as the CSV reader takes them (stripped): its first line
    that is not blank, an empty name as ``Unnamed: i``; None when every line is blank. Only
    the text up to that line's end is split (a quoted header may span lines: then all of it)."""
    first = _NOT_BLANK.search(text)
    if first is None:
        return None
    ends = [i for i in (text.find("\n", first.start()), text.find("\r", first.start())) if i >= 0]
    head = text[:min(ends) + 1] if ends and '"' not in text[:min(ends)] else text
    for row in csv.reader(io.StringIO(head, newline="")):
        if row and (len(row) > 1 or row[0].strip()):
            return [c.strip() or f"Unnamed: {i}" for i, c in enumerate(row)]
    return None


def _first_wide_row(data: bytes, text: str, fields: int) -> tuple[int, int] | None:
    """(line, fields) of the first row with more than ``fields`` fields, else None.

    Reading the used columns alone, the CSV reader drops a row's extra fields where reading
    every column refused the row; a stray comma shifts every value after it, so such a row is
    refused here. Without quotes a row is a line (ended by LF, CRLF or a lone CR, as the
    reader takes them) and its fields are its commas plus one, counted on the bytes at once;
    with quotes (commas and line breaks inside a field) the rows are split as CSV."""
    if b'"' in data:
        reader = csv.reader(io.StringIO(text, newline=""))
        for row in reader:
            if len(row) > fields:
                return reader.line_num, len(row)
        return None
    b = np.frombuffer(data, dtype=np.uint8)
    end = b == ord("\n")
    if b"\r" in data:
        end |= (b == ord("\r")) & ~np.append(end[1:], False)
    starts = np.flatnonzero(end) + 1          # each line after the first starts after an end
    starts = np.concatenate(([0], starts[starts < len(b)]))
    commas = np.add.reduceat((b == ord(",")).view(np.uint8), starts, dtype=np.int64)
    wide = np.flatnonzero(commas >= fields)
    return (int(wide[0]) + 1, int(commas[wide[0]]) + 1) if len(wide) else None


def _numbers(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A text column as numbers (NaN where a cell is not one) and its blank cells. A cell is
    read as stripped of white space; only the cells that do not read as they stand (few or
    none) are stripped and read again. Which cells are numbers is ``pd.to_numeric``'s
    judgement; their values are Python's correctly rounded ones, as the other readers give."""
    values = np.asarray(pd.to_numeric(raw, errors="coerce"), dtype=float)
    blank = np.zeros(len(values), dtype=bool)
    retry = np.flatnonzero(np.isnan(values))
    if len(retry):
        stripped = np.array([str(x).strip() for x in raw[retry]], dtype=object)
        values[retry] = np.asarray(pd.to_numeric(stripped, errors="coerce"), dtype=float)
        blank[retry] = stripped == ""
    for i in np.flatnonzero(np.isfinite(values)):
        try:
            values[i] = float(str(raw[i]).strip())
        except ValueError:      # a form pandas reads and Python does not: pandas' value
            pass
    return values, blank


def electricity_maps_columns(cols: list[str]) -> dict | None:
    """The time and per-basis value columns of an Electricity Maps export (case-insensitive),
    or None when the header is not one. A basis whose column is absent maps to None."""
    low = {c: " ".join(c.strip().lower().split()) for c in cols}
    time = next((c for c, n in low.items() if n == EM_TIME), None)
    if time is None:
        return None
    found = {"time": time}
    for basis, words in EM_BASIS_WORDS.items():
        found[basis] = next((c for c, n in low.items() if "intensity" in n
                             and any(n.endswith(w) for w in words)), None)
    if found["lifecycle"] is None and found["direct"] is None:
        return None
    return found


def _complete_hours(path: Path, idx: pd.DatetimeIndex, values: np.ndarray, blank: np.ndarray):
    """Rows missing from the series become blank hours (filled or refused by _fill_gaps), so
    a missing hour is never held over from the previous one."""
    if len(idx) < 2:
        return idx, values, blank
    t = idx.asi8
    step = int(np.diff(t).min())  # the series' own step: hourly files have whole-hour gaps
    off_grid = (t - t[0]) % step != 0
    if off_grid.any():
        raise InputDataError(f"{path}: timestamp {idx[int(np.flatnonzero(off_grid)[0])]} is off "
                             f"the series' {step / 3.6e12:g}-hour step")
    n = (t[-1] - t[0]) // step + 1
    if n == len(t):
        return idx, values, blank
    # Checked before the full index is allocated: rows a century apart must not ask for a
    # century of hours.
    run = np.diff(t) // step - 1
    if run.max() > MAX_GAP_HOURS:
        i = int(np.argmax(run))
        raise InputDataError(f"{path}: {int(run[i]):,} hour(s) missing after {idx[i]}; at most "
                             f"{MAX_GAP_HOURS} inner hours are filled by interpolation")
    full = t[0] + step * np.arange(n, dtype=np.int64)
    pos = (t - t[0]) // step
    v = np.full(n, np.nan)
    v[pos] = values
    b = np.ones(n, dtype=bool)
    b[pos] = blank
    return pd.DatetimeIndex(full).tz_localize("UTC"), v, b


def _fill_gaps(path: Path, idx: pd.DatetimeIndex, values: np.ndarray, blank: np.ndarray):
    """Interpolate reporting gaps (blank hours) of at most MAX_GAP_HOURS consecutive hours.

    EIA-930 has such gaps (22 h in PJM 2022); a longer gap would hide a day's cycle, so it is
    refused rather than invented.
    """
    if not blank.any():
        return values, ()
    run, longest = 0, 0
    for b in blank:
        run = run + 1 if b else 0
        longest = max(longest, run)
    if longest > MAX_GAP_HOURS or blank[0] or blank[-1]:
        i = int(np.flatnonzero(blank)[0])
        raise InputDataError(f"{path}: carbon intensity is missing from {idx[i]} for "
                             f"{longest} consecutive hour(s) or at an end; at most "
                             f"{MAX_GAP_HOURS} inner hours are filled by interpolation")
    x = idx.asi8.astype(float)
    filled = values.copy()
    filled[blank] = np.interp(x[blank], x[~blank], values[~blank])
    note = f"{path.name}: {int(blank.sum())} missing hour(s) filled by linear interpolation"
    return filled, (note,)


# --------------------------------------------------------------------------------------------
# alignment to windows
# --------------------------------------------------------------------------------------------

def window_intensity(series: CarbonSeries, starts: pd.DatetimeIndex,
                     ends: pd.DatetimeIndex) -> WindowIntensity:
    """Time-weighted mean intensity over each window ``[start, end)``.

    The series is piecewise constant (each value holds for its hour, or until the next
    timestamp). When the windows fall outside the series, they are moved to the same month,
    day and hour of the series' latest year that covers a whole year (29 February becomes
    28 February), and the result says so.
    """
    step_ns = _step_ns(series)
    t = series.times.asi8
    edges = np.append(t, t[-1] + step_ns)
    cum = np.concatenate(([0.0], np.cumsum(series.values * np.diff(edges) / 1e9)))
    s, e = starts.as_unit("ns").asi8, ends.as_unit("ns").asi8
    covered = s.min() >= edges[0] and e.max() <= edges[-1]
    if covered:
        return WindowIntensity(_mean_over(edges, cum, s, e), aligned=False)
    years = series.years
    year = years[-1]
    span_s = pd.Timestamp(year=year, month=1, day=1, tz="UTC")
    span_e = pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC")
    if span_s.value < edges[0] or span_e.value > edges[-1]:
        raise InputDataError(
            f"grid series {series.source} covers {series.times[0]:%Y-%m-%d} to "
            f"{series.times[-1]:%Y-%m-%d}, neither the trace's dates nor a whole year to align to")
    year_ns = span_e.value - span_s.value
    mapped = np.array([_same_moment_in(pd.Timestamp(x, tz="UTC"), year).value for x in s])
    dur = e - s
    # Windows are integrated on the cyclic year so one that runs past 31 December wraps to
    # 1 January of the same series year.
    rel_s = mapped - span_s.value
    rel_e = rel_s + dur
    out = np.empty(len(s))
    for i in range(len(s)):
        out[i] = _cyclic_mean(edges, cum, span_s.value, year_ns, rel_s[i], rel_e[i])
    first = pd.Timestamp(s.min(), tz="UTC")
    note = (f"the trace's dates ({first:%Y-%m-%d}…) are outside the grid series "
            f"({series.times[0]:%Y}–{series.times[-1]:%Y}); windows were aligned to the same "
            f"month, day and hour of {year}")
    return WindowIntensity(out, aligned=True, notes=(note,))


def _step_ns(series: CarbonSeries) -> int:
    if len(series.times) < 2:
        raise InputDataError(f"grid series {series.source} needs at least two hours")
    return int(np.median(np.diff(series.times.asi8)))


def _integral(edges, cum, x):
    """∫ CI dt from the first edge to x (seconds × g/kWh), linear inside each step."""
    return np.interp(x, edges, cum)


def _mean_over(edges, cum, s, e):
    return (_integral(edges, cum, e) - _integral(edges, cum, s)) / ((e - s) / 1e9)


def _cyclic_mean(edges, cum, origin, period, a, b):
    total = 0.0
    pos = a
    while pos < b:
        k = pos // period
        seg_end = min(b, (k + 1) * period)
        lo, hi = origin + pos - k * period, origin + seg_end - k * period
        total += _integral(edges, cum, hi) - _integral(edges, cum, lo)
        pos = seg_end
    return total / ((b - a) / 1e9)


def _same_moment_in(ts: pd.Timestamp, year: int) -> pd.Timestamp:
    day = ts.day
    if ts.month == 2 and ts.day == 29:
        day = 28
    return ts.replace(year=year, day=day)
