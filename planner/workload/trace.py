"""The in-memory request trace every reader produces and every later stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Mooncake's hash_ids are 512-token blocks; the synthesised prefixes of the reuse model use the
# same size so that curves from measured and modelled traces are comparable.
DEFAULT_BLOCK_TOKENS = 512

# Nor is a request trace (or rate series) longer than a year plausible: a trace in
# milliseconds read as seconds is a thousand times longer than it is, and planning it would
# allocate per window before anything else failed. Refused when read.
MAX_SPAN_S = 366 * 86400.0

PREFIX_FROM_TRACE = "trace"        # block hashes recorded in the trace itself (Mooncake)
PREFIX_MODELLED = "modelled"       # block hashes synthesised by the reuse model
PREFIX_NONE = "none"               # no prefix information at all (raw Azure)


@dataclass(frozen=True, eq=False)
class Trace:
    """A request trace in columnar form, sorted by arrival.

    Arrays have one entry per request. ``block_ids`` holds the prefix-block hashes of every
    request back to back, in prompt order; request ``i`` owns
    ``block_ids[block_offsets[i]:block_offsets[i + 1]]``. Two requests whose leading ids are
    equal share that prompt prefix, so its KV cache can be reused.

    ``start`` anchors ``arrival_s`` to wall-clock time (UTC). Traces recorded with relative
    times only (Mooncake) have ``start=None`` until the caller places them with ``with_start``.
    """

    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    start: pd.Timestamp | None
    name: str
    source_format: str
    block_offsets: np.ndarray | None = None
    block_ids: np.ndarray | None = None
    block_tokens: int = DEFAULT_BLOCK_TOKENS
    prefix_source: str = PREFIX_NONE
    session_ids: np.ndarray | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        n = len(self.arrival_s)
        if len(self.input_tokens) != n or len(self.output_tokens) != n:
            raise ValueError("trace columns differ in length")
        if self.block_offsets is not None:
            if self.block_ids is None or len(self.block_offsets) != n + 1:
                raise ValueError("block_offsets must have one entry per request plus one")
        if n and np.any(np.diff(self.arrival_s) < 0):
            raise ValueError("trace arrivals must be sorted")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def has_prefixes(self) -> bool:
        return self.block_ids is not None

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) else 0.0

    @property
    def absolute_start(self) -> pd.Timestamp:
        if self.start is None:
            raise ValueError("trace has relative timestamps; place it with with_start()")
        return self.start

    def arrival_times(self) -> pd.DatetimeIndex:
        """Absolute arrival times (UTC)."""
        base = self.absolute_start
        return pd.DatetimeIndex(base + pd.to_timedelta(self.arrival_s, unit="s"))

    def with_start(self, start: pd.Timestamp, note: str | None = None) -> Trace:
        """The same trace anchored at ``start`` (UTC)."""
        notes = self.notes + ((note,) if note else ())
        return replace_fields(self, start=start, notes=notes)

    def with_prefixes(self, block_offsets, block_ids, prefix_source, session_ids=None,
                      note: str | None = None) -> Trace:
        notes = self.notes + ((note,) if note else ())
        return replace_fields(self, block_offsets=np.asarray(block_offsets, dtype=np.int64),
                        block_ids=np.asarray(block_ids, dtype=np.int64),
                        prefix_source=prefix_source,
                        session_ids=self.session_ids if session_ids is None else session_ids,
                        notes=notes)

    def blocks_of(self, i: int) -> np.ndarray:
        if self.block_ids is None:
            raise ValueError("trace has no prefix blocks")
        return self.block_ids[self.block_offsets[i]:self.block_offsets[i + 1]]

    def subset(self, mask_or_index) -> Trace:
        """Requests selected by a boolean mask or sorted index array, blocks included."""
        idx = np.flatnonzero(mask_or_index) if np.asarray(mask_or_index).dtype == bool \
            else np.asarray(mask_or_index, dtype=np.int64)
        offsets = ids = None
        if self.block_ids is not None:
            offsets, ids = reorder_csr(self.block_offsets, self.block_ids, idx)
        return replace_fields(self, arrival_s=self.arrival_s[idx], input_tokens=self.input_tokens[idx],
                        output_tokens=self.output_tokens[idx], block_offsets=offsets,
                        block_ids=ids,
                        session_ids=None if self.session_ids is None else self.session_ids[idx])


def reorder_csr(offsets: np.ndarray, ids: np.ndarray, order: np.ndarray):
    """Rows ``order`` of a CSR list-of-lists (offsets, ids), as a new (offsets, ids) pair."""
    lengths = np.diff(offsets)[order]
    new_offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    return new_offsets, ids[_ranges(offsets[order], lengths)]


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for every (s, l) pair, without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    out = np.ones(total, dtype=np.int64)
    nonempty = lengths > 0
    first = np.concatenate(([0], ends[:-1]))[nonempty]
    s = starts[nonempty]
    prev_last = np.concatenate(([0], (s + lengths[nonempty] - 1)[:-1]))
    out[first] = s - prev_last
    out[0] = s[0]
    return np.cumsum(out)


def replace_fields(trace: Trace, **changes) -> Trace:
    values = {f: getattr(trace, f) for f in trace.__dataclass_fields__}
    values.update(changes)
    return Trace(**values)
