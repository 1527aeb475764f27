"""Trace readers: Azure LLM inference CSV, Mooncake and Qwen/Bailian JSONL and a documented
generic CSV.

Every reader returns a :class:`Trace` or raises :class:`InputDataError` whose message names the
file and, for a malformed row, its line number (line 1 is the header of a CSV file).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from planner.choices import TIMESTAMP_UNITS, TRACE_FORMATS
from planner.errors import InputDataError, UsageError
from planner.input_files import (FIRST_YEAR, LAST_YEAR, first_out_of_range, quote, require_file,
                                  unreadable_timestamp)
from planner.workload.trace import (
    DEFAULT_BLOCK_TOKENS,
    MAX_SPAN_S,
    PREFIX_FROM_TRACE,
    Trace,
    replace_fields,
    reorder_csr,
)

# A prompt beyond 2M tokens is past every context window a model in the catalog supports: a value
# that large is a unit or parsing mistake, not a request.
MAX_TOKENS = 2_097_152

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
GENERIC_REQUIRED = ("input_tokens", "output_tokens")

UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds"}
# The JSONL formats' own block size (tokens per hash id) and timestamp unit, as published:
# Mooncake (FAST'25) 512-token blocks and milliseconds; Qwen/Bailian (ATC'25, e.g.
# qwen_traceA_blksz_16.jsonl) 16-token blocks and seconds.
JSONL_DEFAULTS = {"mooncake": (512, "ms"), "bailian": (16, "s")}
# Keys that only a Qwen/Bailian record has: it is told from Mooncake by them.
BAILIAN_KEYS = ("chat_id", "parent_chat_id")

# A request trace averaging more than this many requests a second is not plausible: the busiest
# public traces average tens (Azure 2024 conversation: 75 req/s in its busiest hour), and a
# trace in seconds read as milliseconds is a thousand times denser than it is. Checked from
# this many requests on, so a handful of requests close together is not refused.
MAX_MEAN_RATE_RPS = 1000.0
RATE_CHECK_MIN_REQUESTS = 100
# A relative timestamp beyond a century is not a time offset at all.
MAX_RELATIVE_S = 100 * 365.25 * 86400.0


def read_trace(path: str | Path, fmt: str | None = None, *, block_size: int | None = None,
               timestamp_unit: str | None = None) -> Trace:
    """Read a request trace, detecting its format unless ``fmt`` names one.

    ``block_size``: tokens per hash id, for traces that record hash ids (default: the format's
    own, 512 for Mooncake and generic CSV, 16 for Qwen/Bailian). ``timestamp_unit`` (s, ms, us):
    the unit of the numeric relative timestamps of the JSONL formats (default: the format's
    own); spans or rates implausible in that unit are refused.
    """
    path = require_file(path, "trace file")
    check_block_size(block_size)
    if timestamp_unit is not None and timestamp_unit not in TIMESTAMP_UNITS:
        raise UsageError(f"--timestamp-unit must be one of {', '.join(TIMESTAMP_UNITS)}, got "
                         f"{timestamp_unit!r}")
    fmt = fmt or detect_format(path)
    if fmt not in TRACE_FORMATS:
        raise UsageError(f"unknown trace format {fmt!r}; choose one of {', '.join(TRACE_FORMATS)}")
    if fmt in JSONL_DEFAULTS:
        return read_jsonl(path, fmt, block_size, timestamp_unit)
    if timestamp_unit is not None:
        raise UsageError(f"--timestamp-unit applies to the numeric timestamps of Mooncake and "
                         f"Qwen/Bailian JSONL traces; {path.name} ({fmt}) has "
                         + ("ISO 8601 times" if fmt == "azure" else "times in named units"))
    if fmt == "azure":
        if block_size is not None:
            raise UsageError(f"--block-size applies to traces with hash ids; {path.name} "
                             "(azure) records none")
        trace = read_azure(path)
    else:
        trace = read_generic(path, block_size)
    if trace.duration_s > MAX_SPAN_S:
        raise InputDataError(f"trace {path} spans more than {MAX_SPAN_S / 86400:,.0f} days, which "
                             "is not plausible for a request trace; are the times in the right "
                             "unit?")
    return trace


def check_block_size(block_size: int | None) -> None:
    if block_size is not None and not 1 <= int(block_size) <= 1 << 20:
        raise UsageError(f"--block-size must be within 1..{1 << 20:,} tokens, got {block_size}")


def detect_format(path: Path) -> str:
    """Guess the format from the first line: a JSON object is Mooncake, or Qwen/Bailian when it
    has their chat keys; else the CSV header."""
    with open(path, "rb") as f:
        raw = f.readline(1 << 16)  # a header, not a whole one-line file
    try:
        head = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if len(raw) < 1 << 16 or e.start < len(raw) - 3:  # not a character cut at the limit
            raise InputDataError(f"trace {path}, line 1: not UTF-8 text") from None
        head = raw[:e.start].decode("utf-8")
    head = head.strip().lstrip("\ufeff")
    if not head:
        raise InputDataError(f"trace {path} is empty")
    if head.startswith("{"):
        try:
            first = json.loads(head)
        except json.JSONDecodeError:
            first = {}
        if isinstance(first, dict) and all(k in first for k in BAILIAN_KEYS):
            return "bailian"
        return "mooncake"
    cols = [c.strip() for c in head.split(",")]
    if all(c in cols for c in AZURE_COLUMNS):
        return "azure"
    if all(c in cols for c in GENERIC_REQUIRED):
        return "generic"
    if cols[:2] == ["Time", "TIMESTAMP"]:
        raise InputDataError(
            f"{path} holds request counts per interval (Azure 2024 10-second file), not requests; "
            "rate series are read by the rate-series source, not as a request trace")
    raise InputDataError(
        f"cannot tell the format of {path}: its header {head[:80]!r} matches neither the Azure "
        f"columns {','.join(AZURE_COLUMNS)} nor the generic columns "
        f"timestamp|arrival_s,{','.join(GENERIC_REQUIRED)}; pass --trace-format")


# --------------------------------------------------------------------------------------------
# Azure LLM inference trace (2023 and 2024)
# --------------------------------------------------------------------------------------------

def read_azure(path: Path) -> Trace:
    """Azure LLM inference trace: ``TIMESTAMP,ContextTokens,GeneratedTokens``.

    2023 files carry no zone; the dataset is recorded in UTC (the 2024 release states
    ``+00:00`` explicitly), so zone-less timestamps are read as UTC.
    """
    table = _read_csv(path)
    missing = [c for c in AZURE_COLUMNS if c not in table.column_names]
    if missing:
        raise InputDataError(f"{path}: missing column(s) {', '.join(missing)}")
    times = _parse_timestamps(path, table.column("TIMESTAMP"))
    ctx = _parse_ints(path, table.column("ContextTokens"), "ContextTokens", minimum=1)
    gen = _parse_ints(path, table.column("GeneratedTokens"), "GeneratedTokens", minimum=0)
    return _assemble(path, "azure", times, ctx, gen)


# --------------------------------------------------------------------------------------------
# Mooncake and Qwen/Bailian JSONL
# --------------------------------------------------------------------------------------------

def read_jsonl(path: Path, fmt: str, block_size: int | None = None,
               timestamp_unit: str | None = None) -> Trace:
    """A JSONL trace, one JSON object a line with ``timestamp`` (relative), ``input_length``,
    ``output_length`` and ``hash_ids`` (prefix blocks), in the format's block size and timestamp
    unit unless given.

    Mooncake (FAST'25): milliseconds, 512-token blocks. Qwen/Bailian (Alibaba, ATC'25): seconds,
    16-token blocks, and ``chat_id``, ``parent_chat_id`` (-1 for a first turn), ``turn`` and
    ``type``; a request's session is the first turn its parent chain leads to.
    """
    own_block, own_unit = JSONL_DEFAULTS[fmt]
    block = int(block_size or own_block)
    unit = timestamp_unit or own_unit
    per_unit = TIMESTAMP_UNITS[unit]
    sessions = fmt == "bailian"
    ts, inp, out, offsets, ids, chats, parents = [], [], [], [0], [], [], []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError:
                raise InputDataError(f"{path}, line {lineno}: not UTF-8 text") from None
            if not line.strip():
                continue
            rec, t, i, o, h = _jsonl_record(path, lineno, line, unit, per_unit)
            if sessions:
                for key in ("chat_id", "parent_chat_id"):
                    if key not in rec:
                        raise InputDataError(f"{path}, line {lineno}: missing field {key!r}")
                chat, parent = rec["chat_id"], rec["parent_chat_id"]
            max_blocks = -(-i // block)
            if len(h) > max_blocks:
                raise InputDataError(
                    f"{path}, line {lineno}: {len(h)} hash_ids for {i} input tokens; at most "
                    f"{max_blocks} blocks of {block} tokens fit"
                    + ("" if block_size else "; pass --block-size if its blocks are smaller"))
            if sessions:
                if not all(isinstance(x, int) and not isinstance(x, bool) and
                           -2**63 <= x < 2**63 for x in (chat, parent)):
                    raise InputDataError(f"{path}, line {lineno}: chat_id and parent_chat_id "
                                         "must be integers")
                chats.append(chat)
                parents.append(parent)
            ts.append(t * per_unit)
            inp.append(i)
            out.append(o)
            ids.extend(h)
            offsets.append(len(ids))
    if not ts:
        raise InputDataError(f"trace {path} has no requests")
    arrival = np.asarray(ts, dtype=np.float64)
    check_time_scale(path, arrival, unit, timestamp_unit is not None)
    order = np.argsort(arrival, kind="stable")
    offs, bids = reorder_csr(np.asarray(offsets, dtype=np.int64),
                             np.asarray(ids, dtype=np.int64), order)
    session_ids = session_roots(chats, parents, order) if sessions else None
    return Trace(arrival_s=arrival[order], input_tokens=np.asarray(inp, dtype=np.int64)[order],
                 output_tokens=np.asarray(out, dtype=np.int64)[order], start=None,
                 name=path.name, source_format=fmt, block_offsets=offs, block_ids=bids,
                 block_tokens=block, prefix_source=PREFIX_FROM_TRACE, session_ids=session_ids)


def _jsonl_record(path: Path, lineno: int, line: str, unit: str, per_unit: float):
    """One line's record, timestamp, input and output tokens and hash ids, strictly typed: a
    boolean is not a number, a fractional token count is an error (never truncated), a hash id
    fits 64 bits, and a timestamp lies within the longest plausible span in its unit."""
    try:
        rec = json.loads(line, parse_constant=lambda c: float("nan"))
    except json.JSONDecodeError as e:
        raise InputDataError(f"{path}, line {lineno}: not valid JSON ({e.msg})") from None
    except RecursionError:
        raise InputDataError(f"{path}, line {lineno}: JSON nested too deeply") from None
    if not isinstance(rec, dict):
        raise InputDataError(f"{path}, line {lineno}: expected a JSON object")
    for key in ("timestamp", "input_length", "output_length"):
        if key not in rec:
            raise InputDataError(f"{path}, line {lineno}: missing field {key!r}")
    t = rec["timestamp"]
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise InputDataError(f"{path}, line {lineno}: timestamp must be a number of "
                             f"{UNIT_NAMES[unit]}, got {quote(t)}")
    # Bounded here so that a single absurd row cannot overflow the clock when placed; the
    # span of the whole trace is judged by check_time_scale.
    if not (0 <= t * per_unit <= MAX_RELATIVE_S):  # also refuses NaN
        raise InputDataError(f"{path}, line {lineno}: timestamp must be within 0.."
                             f"{MAX_RELATIVE_S / per_unit:.3g} {UNIT_NAMES[unit]} (a century), "
                             f"got {quote(t)}")
    tokens = []
    for key, minimum in (("input_length", 1), ("output_length", 0)):
        v = rec[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or \
                (isinstance(v, float) and not v.is_integer()):
            raise InputDataError(f"{path}, line {lineno}: {key} must be a whole number of "
                                 f"tokens, got {quote(v)}")
        _check_tokens(path, lineno, key, v, minimum)
        tokens.append(int(v))
    h = rec.get("hash_ids", [])
    if not isinstance(h, list) or not all(
            isinstance(x, int) and not isinstance(x, bool) and -2**63 <= x < 2**63 for x in h):
        raise InputDataError(f"{path}, line {lineno}: hash_ids must be a list of 64-bit integers")
    return rec, float(t), tokens[0], tokens[1], h


def session_roots(chats: list[int], parents: list[int], order: np.ndarray) -> np.ndarray:
    """Per request (in ``order``), its session: the first turn its ``parent_chat_id`` chain
    leads to (a parent the trace does not hold starts the session), numbered 0, 1, … in order
    of first arrival."""
    root: dict[int, int] = {}
    for k in order:
        chat, parent = chats[k], parents[k]
        root[chat] = chat if parent < 0 else root.get(parent, parent)
    number: dict[int, int] = {}
    out = np.empty(len(order), dtype=np.int64)
    for j, k in enumerate(order):
        out[j] = number.setdefault(root[chats[k]], len(number))
    return out


def check_time_scale(path: Path, arrival_s: np.ndarray, unit: str, given: bool) -> None:
    """Refuse a trace whose span or mean rate is implausible with its timestamps in ``unit``."""
    n = len(arrival_s)
    span = float(arrival_s.max() - arrival_s.min()) if n else 0.0
    how = "as given by --timestamp-unit" if given else "this format's unit"
    other = "" if given else "; if they are in another unit, pass --timestamp-unit (s, ms or us)"
    if span > MAX_SPAN_S:
        raise InputDataError(
            f"{path.name}: with timestamps in {UNIT_NAMES[unit]} ({how}) its {n:,} requests span "
            f"{span / 86400:,.0f} days, longer than a year, which is not plausible for a "
            f"request trace{other}")
    if n >= RATE_CHECK_MIN_REQUESTS:
        rate = (n - 1) / span if span > 0 else float("inf")
        if rate > MAX_MEAN_RATE_RPS:
            raise InputDataError(
                f"{path.name}: with timestamps in {UNIT_NAMES[unit]} ({how}) its {n:,} requests "
                f"span {span:,.3g} s, {rate:,.0f} req/s on average, more than the "
                f"{MAX_MEAN_RATE_RPS:,.0f} req/s plausible for a request trace{other}")


# --------------------------------------------------------------------------------------------
# Generic CSV
# --------------------------------------------------------------------------------------------

def read_generic(path: Path, block_size: int | None = None) -> Trace:
    """Generic CSV, one request a row.

    Columns: ``timestamp`` (ISO 8601; no zone means UTC) or ``arrival_s`` (seconds, relative),
    ``input_tokens``, ``output_tokens``; optional ``session_id`` (integer) and ``hash_ids``
    (space-separated integer hashes of the prompt's blocks: 512 tokens, as in Mooncake, unless
    ``block_size`` says otherwise).
    """
    table = _read_csv(path)
    cols = table.column_names
    missing = [c for c in GENERIC_REQUIRED if c not in cols]
    if missing:
        raise InputDataError(f"{path}: missing column(s) {', '.join(missing)}")
    inp = _parse_ints(path, table.column("input_tokens"), "input_tokens", minimum=1)
    out = _parse_ints(path, table.column("output_tokens"), "output_tokens", minimum=0)
    if "timestamp" in cols:
        times = _parse_timestamps(path, table.column("timestamp"))
        trace = _assemble(path, "generic", times, inp, out)
        order = None
    elif "arrival_s" in cols:
        arrival = _parse_floats(path, table.column("arrival_s"), "arrival_s", minimum=0.0)
        order = np.argsort(arrival, kind="stable")
        trace = Trace(arrival_s=arrival[order], input_tokens=inp[order],
                      output_tokens=out[order], start=None, name=path.name,
                      source_format="generic")
    else:
        raise InputDataError(f"{path}: needs a 'timestamp' or an 'arrival_s' column")
    if order is None:
        order = trace_order(times)
    if "session_id" in cols:
        sess = _parse_ints(path, table.column("session_id"), "session_id", minimum=0)
        trace = _with_sessions(trace, sess[order])
    if "hash_ids" in cols:
        block = int(block_size or DEFAULT_BLOCK_TOKENS)
        offsets, ids = _parse_hash_lists(path, table.column("hash_ids"), inp, block)
        offs, bids = reorder_csr(offsets, ids, order)
        trace = replace_fields(trace, block_tokens=block).with_prefixes(offs, bids,
                                                                        PREFIX_FROM_TRACE)
    elif block_size is not None:
        raise UsageError(f"--block-size applies to traces with hash ids; {path.name} has no "
                         "hash_ids column")
    return trace


def trace_order(times: pd.DatetimeIndex) -> np.ndarray:
    return np.argsort(times.asi8, kind="stable")


def _with_sessions(trace: Trace, sessions: np.ndarray) -> Trace:
    return replace_fields(trace, session_ids=sessions)


def _parse_hash_lists(path: Path, column: pa.ChunkedArray, inp: np.ndarray, block: int):
    values = column.to_pylist()
    offsets, ids = [0], []
    for row, (text, n_in) in enumerate(zip(values, inp)):
        parts = (text or "").split()
        try:
            hashes = [int(p) for p in parts if _INT_TEXT.fullmatch(p)]
            if len(hashes) != len(parts) or not all(-2**63 <= x < 2**63 for x in hashes):
                raise ValueError
        except ValueError:
            raise InputDataError(
                f"{path}, line {row + 2}: hash_ids must be space-separated 64-bit integers") \
                from None
        if len(hashes) > -(-int(n_in) // block):
            raise InputDataError(
                f"{path}, line {row + 2}: {len(hashes)} hash_ids for {n_in} input tokens; at "
                f"most {-(-int(n_in) // block)} blocks of {block} tokens fit")
        ids.extend(hashes)
        offsets.append(len(ids))
    return np.asarray(offsets, dtype=np.int64), np.asarray(ids, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# shared parsing helpers
# --------------------------------------------------------------------------------------------

def _read_csv(path: Path) -> pa.Table:
    """Read a CSV with Arrow's multi-threaded parser, every column as text; the per-column
    checks convert them and name the line of the first bad value."""
    try:
        with open(path, "rb") as f:
            header = f.readline().decode("utf-8", errors="replace").strip().lstrip("\ufeff")
    except OSError as e:
        raise InputDataError(f"cannot read {path}: {e.strerror}") from None
    names = [c.strip() for c in header.split(",")]
    read = pacsv.ReadOptions(column_names=names, skip_rows=1)
    if len(set(names)) != len(names):
        raise InputDataError(f"{path}: a column name appears twice in the header")
    # Every column is read as text: Arrow's own integer parsing also takes hex ("0x10"), which
    # would hide a mistake; _parse_ints checks the digits itself.
    text = {n: pa.string() for n in names}
    try:
        table = pacsv.read_csv(path, read_options=read, convert_options=pacsv.ConvertOptions(
            column_types=text, strings_can_be_null=False))
    except pa.ArrowInvalid as e:
        raise InputDataError(_locate_csv_error(path, e)) from None
    if table.num_rows == 0:
        raise InputDataError(f"trace {path} has no requests")
    return table


def _locate_csv_error(path: Path, err: Exception) -> str:
    """Arrow reports a ragged row without its line number; find it by counting fields."""
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        header = f.readline()
        expected = header.count(",") + 1
        for lineno, line in enumerate(f, start=2):
            if line.strip() and line.count(",") + 1 != expected:
                return (f"{path}, line {lineno}: expected {expected} fields, found "
                        f"{line.count(',') + 1}")
    return f"{path}: cannot parse as CSV ({str(err).splitlines()[0]})"


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


_INT_TEXT = re.compile(r"[+-]?[0-9]+")


def _parse_ints(path: Path, column: pa.ChunkedArray, name: str, minimum: int) -> np.ndarray:
    """Decimal integers only: no hex, no fractions, at most 18 digits (so no overflow)."""
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(column)
    ok = pc.match_substring_regex(trimmed, r"^[+-]?[0-9]{1,18}$")
    bad = ~ok.to_numpy(zero_copy_only=False)
    if bad.any():
        i = _first_bad(bad)
        raise InputDataError(f"{path}, line {i + 2}: {name} must be a whole number, got "
                             f"{quote(column[i].as_py())}")
    values = pc.cast(trimmed, pa.int64()).to_numpy().astype(np.int64, copy=False)
    i = _maybe_first(values < minimum)
    if i is not None:
        raise InputDataError(_range_msg(path, i + 2, name, values[i], minimum))
    i = _maybe_first(values > MAX_TOKENS)
    if i is not None:
        raise InputDataError(
            f"{path}, line {i + 2}: {name} = {values[i]} exceeds {MAX_TOKENS:,} tokens")
    return values


def _parse_floats(path: Path, column: pa.ChunkedArray, name: str, minimum: float) -> np.ndarray:
    s = pd.Series(column.to_numpy(zero_copy_only=False))
    num = pd.to_numeric(s.str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(num) | (num < minimum)
    if bad.any():
        i = _first_bad(bad)
        raise InputDataError(f"{path}, line {i + 2}: {name} must be a number ≥ {minimum}, "
                             f"got {quote(s.iloc[i])}")
    return num


def _maybe_first(mask: np.ndarray):
    return _first_bad(mask) if mask.any() else None


def _range_msg(path, lineno, name, value, minimum) -> str:
    if value < 0:
        return f"{path}, line {lineno}: {name} is negative ({value})"
    return f"{path}, line {lineno}: {name} must be at least {minimum}, got {value}"


def _check_tokens(path, lineno, name, value, minimum):
    if value < minimum:
        raise InputDataError(_range_msg(path, lineno, name, value, minimum))
    if value > MAX_TOKENS:
        raise InputDataError(f"{path}, line {lineno}: {name} = {value} exceeds {MAX_TOKENS:,} tokens")


def _parse_timestamps(path: Path, column: pa.ChunkedArray) -> pd.DatetimeIndex:
    """ISO 8601 timestamps, with or without a UTC offset (no offset means UTC)."""
    col = pa.chunked_array([c.cast(pa.string()) for c in column.chunks]) if column.num_chunks \
        else column
    for target in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):
        try:
            ts = col.cast(target)
            break
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            ts = None
    if ts is not None:
        idx = pd.DatetimeIndex(ts.to_pandas()).as_unit("ns")
        if idx.tz is None:
            idx = idx.tz_localize("UTC")
        else:
            idx = idx.tz_convert("UTC")
        return idx
    # Slow path, taken only for a file with a bad value: find the first unparseable line.
    s = pd.Series(col.to_numpy(zero_copy_only=False))
    parsed = pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = _first_bad(bad)
        raise InputDataError(unreadable_timestamp(f"{path}, line {i + 2}", s.iloc[i]))
    i = first_out_of_range(parsed)
    if i is not None:
        raise InputDataError(f"{path}, line {i + 2}: timestamp {quote(s.iloc[i])} is outside "
                             f"{FIRST_YEAR}..{LAST_YEAR}")
    return pd.DatetimeIndex(parsed).as_unit("ns")


def _assemble(path: Path, fmt: str, times: pd.DatetimeIndex, inp: np.ndarray,
              out: np.ndarray) -> Trace:
    i = first_out_of_range(times)
    if i is not None:
        raise InputDataError(f"{path}, line {i + 2}: timestamp {times[i]} is outside "
                             f"{FIRST_YEAR}..{LAST_YEAR}")
    ns = times.asi8
    order = np.argsort(ns, kind="stable")
    ns = ns[order]
    start_ns = int(ns[0])
    arrival = (ns - start_ns) / 1e9
    start = pd.Timestamp(start_ns, tz="UTC")
    return Trace(arrival_s=arrival, input_tokens=inp[order], output_tokens=out[order],
                 start=start, name=path.name, source_format=fmt)
