"""Request-rate series as a trace source: Azure 2024 ten-second counts, BurstGPT hourly counts
and ServeGen ten-minute rates.

A rate series says how many requests arrived per interval, not which. ``synthesize`` turns it
into a request trace, deterministically from a seed:

* arrivals: the ``k`` requests of a bin are placed uniformly at random inside it (a Poisson
  process conditioned on its count has uniform order statistics);
* token lengths: (prompt, output) pairs drawn jointly, with replacement, from a real Azure 2023
  trace of the same kind (conversation or code), so their correlation is kept;
* ``scale`` multiplies every count (to size the load to a deployment); counts stay integers by
  carrying the fractional remainder from bin to bin, so the total is ``round(scale · total)``.

Every bin draws from its own generator seeded by (seed, bin index): any slice of the series can
be regenerated alone, identically, which is what keeps streaming synthesis and chunked replay
consistent with each other.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from planner.choices import RATE_FORMATS
from planner.errors import InputDataError, UsageError
from planner.input_files import (
    FIRST_YEAR,
    LAST_YEAR,
    first_out_of_range,
    quote,
    read_text,
    require_file,
    unreadable_timestamp,
)
from planner.paths import examples_dir
from planner.workload.trace import MAX_SPAN_S, Trace

# Ten times the Azure 2024 week (27.3M requests): beyond this a series is a unit mistake, and
# synthesising it would exhaust memory before anything else failed.
MAX_SYNTH_REQUESTS = 300_000_000
TOKEN_SOURCES = {"conversation": "AzureLLMInferenceTrace_conv.csv",
                 "coding": "AzureLLMInferenceTrace_code.csv"}


@dataclass(frozen=True)
class RateSeries:
    """Requests per bin. ``bin_start_s`` counts from ``start`` (UTC) or, for series without
    dates (BurstGPT, ServeGen), from an arbitrary origin that the caller places."""

    bin_start_s: np.ndarray
    bin_s: np.ndarray
    counts: np.ndarray            # float: a rate series may give expected, not whole, counts
    start: pd.Timestamp | None
    kind: str                     # conversation | coding: which token distribution fits
    name: str
    source_format: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total(self) -> float:
        return float(self.counts.sum())

    @property
    def span_s(self) -> float:
        return float(self.bin_start_s[-1] + self.bin_s[-1] - self.bin_start_s[0])

    def integer_counts(self, scale: float = 1.0) -> np.ndarray:
        """Whole requests per bin after scaling: n_i = ⌊S_i⌉ − ⌊S_{i−1}⌉ with S the running
        sum of scale · counts (the remainder carries over, so nothing is lost or invented)."""
        if not 0 < scale <= 1000:
            raise UsageError(f"--scale must be within (0, 1000], got {scale}")
        # Checked before any request is drawn: memory grows with the number of requests.
        if self.total * scale > MAX_SYNTH_REQUESTS:
            raise InputDataError(f"{self.name} at scale {scale:g} asks for "
                                 f"{self.total * scale:,.3g} requests, more than the "
                                 f"{MAX_SYNTH_REQUESTS:,} greencache synthesises")
        running = np.rint(np.cumsum(self.counts * scale)).astype(np.int64)
        return np.diff(np.concatenate(([0], running)))


def detect_rate_format(path: Path) -> str | None:
    with open(path, "rb") as f:
        head = f.readline().decode("utf-8", errors="replace").strip().lstrip("\ufeff")
    cols = [c.strip() for c in head.split(",")]
    if cols[:2] == ["Time", "TIMESTAMP"]:
        return "azure-counts"
    if cols[:2] == ["day", "hour"] and "all" in cols:
        return "burstgpt"
    if {"t_s", "rate_rps_sum", "model"} <= set(cols):
        return "servegen"
    return None


def read_rate_series(path: Path, fmt: str | None = None, column: str | None = None) -> RateSeries:
    """Read a rate series; ``column`` picks BurstGPT's log type (conversation, api, all) or
    ServeGen's model (m-large, m-mid, m-small, deepseek-r1, mm-image)."""
    path = require_file(path, "rate file")
    fmt = fmt or detect_rate_format(path)
    if fmt not in RATE_FORMATS:
        raise InputDataError(f"{path} is not a rate series this tool reads "
                             f"({', '.join(RATE_FORMATS)})")
    try:
        frame = pd.read_csv(io.StringIO(read_text(path, "rate file")), dtype=str,
                            keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise InputDataError(f"cannot read {path}: {str(e).splitlines()[0]}") from None
    if frame.empty:
        raise InputDataError(f"rate file {path} has no rows")
    frame.columns = _header(path, frame.columns)
    series = {"azure-counts": _azure_counts, "burstgpt": _burstgpt,
              "servegen": _servegen}[fmt](path, frame, column)
    if series.span_s > MAX_SPAN_S:
        raise InputDataError(f"rate file {path} spans more than the {MAX_SPAN_S / 86400:,.0f} "
                             "days a plan covers")
    return series


def _header(path: Path, columns) -> list[str]:
    """Column names as the format was detected: stripped of surrounding white space, each
    once."""
    names = [str(c).strip() for c in columns]
    if len(set(names)) != len(names):
        raise InputDataError(f"{path}: a column name appears twice in the header")
    return names


def _numbers(path: Path, frame: pd.DataFrame, col: str, integer: bool) -> np.ndarray:
    if col not in frame.columns:
        raise InputDataError(f"{path}: missing column {col!r}")
    values = pd.to_numeric(frame[col].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if integer:
        bad |= values != np.floor(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "a whole number ≥ 0" if integer else "a number ≥ 0"
        raise InputDataError(f"{path}, line {i + 2}: {col} must be {what}, got "
                             f"{quote(frame[col].iloc[i])}")
    return values


def _kind_from_name(name: str) -> str:
    return "coding" if "cod" in name.lower() else "conversation"


def _azure_counts(path: Path, frame: pd.DataFrame, column) -> RateSeries:
    """Azure LLM 2024 ten-second counts: row T counts arrivals in [T − 5 s, T + 5 s) (round to
    nearest 10 s, SOURCES.md); the first and last rows are half bins. The count is in the
    column named TIMESTAMP."""
    times = pd.to_datetime(frame["Time"], format="ISO8601", utc=True, errors="coerce")
    bad = times.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(unreadable_timestamp(f"{path}, line {i + 2}", frame["Time"].iloc[i], "time"))
    counts = _numbers(path, frame, "TIMESTAMP", integer=True)
    i = first_out_of_range(times)
    if i is not None:
        raise InputDataError(f"{path}, line {i + 2}: time {quote(frame['Time'].iloc[i])} is "
                             f"outside {FIRST_YEAR}..{LAST_YEAR}")
    t = pd.DatetimeIndex(times).as_unit("ns").asi8
    if np.any(np.diff(t) <= 0):
        i = int(np.flatnonzero(np.diff(t) <= 0)[0])
        raise InputDataError(f"{path}, line {i + 3}: times must increase")
    # Clipping to the first and last labels makes those two rows the half bins they are.
    lo = np.maximum(t - 5_000_000_000, t[0])
    hi = np.minimum(t + 5_000_000_000, t[-1])
    start = pd.Timestamp(int(t[0]), tz="UTC")
    bin_s = np.maximum((hi - lo) / 1e9, 1e-9)
    return RateSeries((lo - t[0]) / 1e9, bin_s, counts, start, _kind_from_name(path.name),
                      path.name, "azure-counts",
                      notes=(f"{path.name}: request counts per 10 s (Azure LLM inference 2024, "
                             "CC BY 4.0); requests and token lengths are synthesised",))


def _burstgpt(path: Path, frame: pd.DataFrame, column) -> RateSeries:
    column = column or "conversation"
    if column not in ("conversation", "api", "all"):
        raise UsageError(f"BurstGPT series are conversation, api or all; got {column!r}")
    day = _numbers(path, frame, "day", integer=True)
    hour = _numbers(path, frame, "hour", integer=True)
    counts = _numbers(path, frame, column, integer=True)
    idx = day * 24 + hour
    if np.any(np.diff(idx) != 1):
        i = int(np.flatnonzero(np.diff(idx) != 1)[0])
        raise InputDataError(f"{path}, line {i + 3}: hours must follow each other")
    bin_start = (idx - idx[0]) * 3600.0
    return RateSeries(bin_start, np.full(len(idx), 3600.0), counts, None,
                      "coding" if column == "api" else "conversation", path.name, "burstgpt",
                      notes=(f"{path.name}: BurstGPT hourly {column} counts (CC BY 4.0), no "
                             "calendar date; requests and token lengths are synthesised",))


def _servegen(path: Path, frame: pd.DataFrame, column) -> RateSeries:
    column = column or "m-large"
    models = sorted(frame["model"].unique())
    if column not in models:
        raise UsageError(f"ServeGen models in {path.name}: {', '.join(models)}; got {column!r}")
    sub = frame[frame["model"] == column].reset_index(drop=True)
    t = _numbers(path, sub, "t_s", integer=True)
    rate = _numbers(path, sub, "rate_rps_sum", integer=False)
    active = _numbers(path, sub, "clients_active", integer=True)
    notes = [f"{path.name}: ServeGen {column} 10-minute rates (Apache-2.0, aggregated by us); "
             "requests and token lengths are synthesised"]
    gaps = active == 0
    if gaps.all():
        raise InputDataError(f"{path}: every window of {column} is a gap")
    if gaps.any():
        # Windows with every client at zero are gaps in the release, not idle time
        # (SOURCES.md): interpolate them from their neighbours and say so.
        rate = rate.copy()
        rate[gaps] = np.interp(t[gaps], t[~gaps], rate[~gaps])
        notes.append(f"{int(gaps.sum())} gap window(s) of {column} filled by interpolation")
    step = np.diff(t)
    if np.any(step <= 0):
        raise InputDataError(f"{path}: t_s of {column} must increase")
    bin_s = np.append(step, step[-1] if len(step) else 600.0).astype(float)
    return RateSeries(t - t[0], bin_s, rate * bin_s, None, "conversation", path.name,
                      "servegen", notes=tuple(notes))


# --------------------------------------------------------------------------------------------
# synthesis
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TokenTable:
    """(prompt, output) pairs of a real trace, drawn from jointly."""

    input_tokens: np.ndarray
    output_tokens: np.ndarray
    source: str

    @classmethod
    def for_kind(cls, kind: str, path: Path | None = None) -> TokenTable:
        from planner.workload.readers import read_trace

        path = Path(path) if path else examples_dir() / TOKEN_SOURCES[kind]
        t = read_trace(path)
        return cls(t.input_tokens, t.output_tokens, path.name)


def _bin_rng(seed: int, i: int) -> np.random.Generator:
    return np.random.default_rng([seed, i])


def synthesize_bins(series: RateSeries, counts: np.ndarray, tokens: TokenTable, seed: int,
                    first: int, last: int):
    """Arrivals (seconds from the series origin) and token lengths of bins [first, last)."""
    n = int(counts[first:last].sum())
    arrival = np.empty(n)
    inp = np.empty(n, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    pos = 0
    pool = len(tokens.input_tokens)
    for i in range(first, last):
        k = int(counts[i])
        if k == 0:
            continue
        rng = _bin_rng(seed, i)
        arrival[pos:pos + k] = series.bin_start_s[i] + np.sort(rng.random(k)) * series.bin_s[i]
        pick = rng.integers(0, pool, k)
        inp[pos:pos + k] = tokens.input_tokens[pick]
        out[pos:pos + k] = tokens.output_tokens[pick]
        pos += k
    return arrival, inp, out


def synthesize(series: RateSeries, scale: float = 1.0, seed: int = 0,
               tokens: TokenTable | None = None) -> Trace:
    """The whole series as a request trace (see the module docstring for the method)."""
    tokens = tokens or TokenTable.for_kind(series.kind)
    counts = series.integer_counts(scale)
    if counts.sum() == 0:
        raise InputDataError(f"{series.name} scaled by {scale:g} has no requests")
    arrival, inp, out = synthesize_bins(series, counts, tokens, seed, 0, len(counts))
    note = (f"{int(counts.sum()):,} requests synthesised from {series.name} (scale {scale:g}, "
            f"seed {seed}); token lengths drawn from {tokens.source}")
    # Bins are disjoint and ordered, and each bin's arrivals are sorted, so the trace is too.
    return Trace(arrival, inp, out, series.start, series.name, series.source_format,
                 notes=series.notes + (note,))


def write_azure_csv(series: RateSeries, path: Path, scale: float = 1.0, seed: int = 0,
                    tokens: TokenTable | None = None, start: pd.Timestamp | None = None,
                    bins_per_chunk: int = 2048, progress=None) -> int:
    """Stream the synthesised requests to ``path`` in the Azure 2024 format
    (``TIMESTAMP,ContextTokens,GeneratedTokens``, UTC with ``+00:00``), a chunk of bins at a
    time so memory stays bounded by the chunk. Staged and renamed into place at the end
    (planner.outputs), so a failure or a kill leaves no partial file. Returns the number of
    requests."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from planner.outputs import staged_file

    tokens = tokens or TokenTable.for_kind(series.kind)
    origin = series.start if series.start is not None else start
    if origin is None:
        raise UsageError(f"{series.name} has no dates; pass --start to place it")
    counts = series.integer_counts(scale)
    total = 0
    with staged_file(path) as f:
        f.write(b"TIMESTAMP,ContextTokens,GeneratedTokens\n")
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        for first in range(0, len(counts), bins_per_chunk):
            last = min(first + bins_per_chunk, len(counts))
            arrival, inp, out = synthesize_bins(series, counts, tokens, seed, first, last)
            us = origin.value // 1000 + np.floor(arrival * 1e6).astype(np.int64)
            # A zone-less timestamp casts to text ~5× faster than a UTC one; the offset is
            # appended as text.
            text = pa.array(us, type=pa.timestamp("us")).cast(pa.string())
            text = pc.binary_join_element_wise(text, pa.scalar("+00:00"), "")
            pacsv.write_csv(pa.table({"t": text, "i": inp, "o": out}), f, options)
            total += len(arrival)
            if progress:
                progress(last, len(counts))
    return total
