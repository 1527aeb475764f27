"""Checks every input file passes before it is read: it exists, is a file, can be read, and
(for text) is UTF-8. Failures are InputDataError (exit 3) naming the file, in one sentence."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from planner.errors import InputDataError

# Quoted input in an error message is cut to this many characters: a message is one sentence,
# never a megabyte of someone's file.
QUOTE_CHARS = 60


def quote(value) -> str:
    """``repr`` of a value from a file, cut short for an error message."""
    text = repr(value)
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1] + "…"


# Timestamps outside these years are typing mistakes ("-1", "9999"), and arithmetic on them
# (placing, aligning to a grid year) would leave pandas' nanosecond range.
FIRST_YEAR, LAST_YEAR = 1970, 2200
_FIRST, _LAST = np.datetime64(f"{FIRST_YEAR}-01-01", "s"), np.datetime64(f"{LAST_YEAR}-01-01", "s")


def first_out_of_range(times) -> int | None:
    """Index of the first UTC timestamp outside FIRST_YEAR..LAST_YEAR, else None. Takes
    parsed times of any resolution (pandas keeps year 9999 at second resolution)."""
    import pandas as pd

    # Compared as integers in the times' own unit (UTC; NaT, the least integer, is not out of
    # range: it is named as unreadable), not as an array of timestamps.
    t = pd.DatetimeIndex(times)
    v = t.asi8
    lo, hi = (b.astype(f"datetime64[{t.unit}]").astype(np.int64) for b in (_FIRST, _LAST))
    bad = ((v < lo) | (v >= hi)) & (v != np.iinfo(np.int64).min)
    return int(np.flatnonzero(bad)[0]) if bad.any() else None


# The one form greencache writes a time in (schedule.csv: "2024-05-01T00:00:00Z"; its JSON
# records: isoformat(), "2024-05-01T00:00:00+00:00"): whole seconds, UTC.
_WRITTEN_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:Z|\+00:00)")


def utc_times(raw):
    """Text times as a UTC DatetimeIndex (nanoseconds), NaT where a cell is not a time: what
    ``pd.to_datetime(raw, format="ISO8601", utc=True, errors="coerce")`` gives.

    Where every cell is in the form greencache writes (whole seconds, ``Z`` or ``+00:00``),
    NumPy parses them instead (a call to pandas' parser cost a millisecond of fixed overhead,
    for the few windows of a schedule and again for its window inputs); NumPy takes that form
    to the same instant and refuses a day, hour or second out of range (29 February of a
    common year, 24:00, 23:59:60), which then go to pandas, as does any other form."""
    import pandas as pd

    cells = list(raw)
    plain = []
    for cell in cells:
        m = _WRITTEN_TIME.fullmatch(cell) if isinstance(cell, str) else None
        if m is None:
            break
        plain.append(m.group(1))
    else:
        try:
            wall = np.array(plain, dtype="datetime64[s]")
        except ValueError:
            wall = None
        # Years outside FIRST_YEAR..LAST_YEAR go to pandas too (they would leave the
        # nanosecond range unchecked here), which the callers then name.
        if wall is not None and len(wall) and wall.min() >= _FIRST and wall.max() < _LAST:
            return pd.DatetimeIndex(wall.astype("datetime64[ns]")).tz_localize("UTC")
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(cells, dtype=object), utc=True,
                                           errors="coerce", format="ISO8601"))


def unreadable_timestamp(where: str, raw, what: str = "timestamp") -> str:
    """The sentence for a timestamp that did not parse. A well-formed date whose year lies
    outside FIRST_YEAR..LAST_YEAR is named as out of range: pandas before 3.0 holds times in
    nanoseconds and cannot parse year 9999 at all, where later versions can."""
    import re

    m = re.match(r"\s*([+-]?\d{4,})-\d{2}-\d{2}", str(raw))
    if m and not FIRST_YEAR <= int(m.group(1)) < LAST_YEAR:
        return f"{where}: {what} {quote(raw)} is outside {FIRST_YEAR}..{LAST_YEAR}"
    return f"{where}: cannot read {what} {quote(raw)}"


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path once it is known to be a readable file."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{what} {path} does not exist")
    if path.is_dir():
        raise InputDataError(f"{what} {path} is a folder, not a file")
    if not path.is_file():
        raise InputDataError(f"{what} {path} is not a regular file")
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise InputDataError(f"cannot read {what} {path}: {e.strerror}") from None
    return path


def read_toml(path: str | Path, where: str) -> dict:
    """A TOML file as a dict; a missing, unreadable, non-UTF-8 or invalid file is one sentence
    beginning with ``where`` (e.g. "scenario file x.toml")."""
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{where} does not exist" if not path.exists()
                             else f"{where} is not a file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputDataError(f"cannot read {where}: "
                             f"{getattr(e, 'strerror', None) or 'not UTF-8 text'}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputDataError(f"{where} is not valid TOML: {e}") from None


def read_text(path: str | Path, what: str) -> str:
    """The whole file as text, refused (naming the file and byte) unless it is UTF-8."""
    return decode(_read_bytes(path, what), path, what)


def read_utf8_bytes(path: str | Path, what: str) -> bytes:
    """The whole file's bytes, refused (naming the file and byte) unless they are UTF-8 text:
    for a reader that hands them to a parser and needs no text of its own."""
    data = _read_bytes(path, what)
    # A file that is ASCII after its first line (a grid export names "gCO₂eq" in its header
    # alone) is UTF-8 when that line is: checked without decoding the rest, whose text would
    # be widened character by character for the header's sake (a millisecond a year's file).
    # (Every byte below 0x80 is ASCII; read in place: a slice of the rest was a copy of the
    # file, and its fresh pages cost more than the test.)
    end = data.find(b"\n") + 1
    if not (end and (end == len(data)
                     or np.frombuffer(data, dtype=np.uint8, offset=end).max() < 0x80)):
        end = len(data)
    decode(data[:end], path, what)
    return data


def _read_bytes(path: str | Path, what: str) -> bytes:
    """The whole file's bytes once it is known to be a readable file."""
    path = require_file(path, what)
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputDataError(f"cannot read {what} {path}: {e.strerror}") from None


def decode(data: bytes, path: Path, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputDataError(f"{what} {path}, line {line}: not UTF-8 text (byte "
                             f"0x{data[e.start]:02x})") from None


def check_utf8(path: Path, what: str, chunk: int = 1 << 24) -> None:
    """Stream the file once to refuse non-UTF-8 text before a reader that would fail on it
    half-way (or silently replace the bytes) sees it."""
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            try:
                dec.decode(block, final=not block)
            except UnicodeDecodeError as e:
                line += block.count(b"\n", 0, max(e.start, 0))
                raise InputDataError(f"{what} {path}, line {line}: not UTF-8 text") from None
            if not block:
                return
            line += block.count(b"\n")


def plain_header(data: bytes) -> str | None:
    """The first line of CSV bytes (a UTF-8 byte-order mark and its line end taken off), or
    None when a parser's reading of the file could depend on how it treats the header: the
    line is blank (readers differ on skipping it), quoted (a quoted name may span lines), or
    ends in a lone CR (the line is then the whole file)."""
    end = data.find(b"\n")
    first = data[:end if end >= 0 else len(data)].removeprefix(b"\xef\xbb\xbf")
    first = first.removesuffix(b"\r")
    if not first.strip() or b'"' in first or b"\r" in first:
        return None
    return first.decode("utf-8")


def arrow_csv(data: bytes, names: list[str], types: dict, include: list[str] | None = None):
    """CSV bytes whose header is ``names`` parsed by Arrow (the header line skipped; blank
    cells null, text kept as written), or None when Arrow refuses them (a ragged row, a cell
    that is not of its column's type): the caller's careful reader then names the line. For
    the files of a few hundred kilobytes a plan and its check read more than once."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # One thread: such a file parses in milliseconds, and starting Arrow's thread pool costs
    # more CPU than it saves.
    try:
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=False),
            convert_options=pacsv.ConvertOptions(include_columns=include, column_types=types,
                                                 null_values=[""], strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None

