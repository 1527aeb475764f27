"""Cutting a trace into planning windows and summarising the demand in each.

Windows are aligned to multiples of the window length in UTC (hours start on the hour, as the
grid's carbon series does). The first and last windows are clipped to the span of the trace,
so a trace that starts at 18:15 has a first window 18:15-19:00 whose rate is computed over the
45 minutes it covers, not diluted over a full hour.

The result is a ``DataFrame`` with one row per window (the ``WindowStats`` columns below); it is
the seam between workloads and the optimiser: an aggregate rate series can produce the same
frame without materialising requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.errors import InputDataError, UsageError
from planner.workload.trace import Trace

WINDOW_COLUMNS = (
    "window_start",        # UTC timestamp, inclusive
    "window_end",          # UTC timestamp, exclusive
    "hours",               # covered duration in hours (end - start)
    "requests",            # arrivals in the window
    "rate_rps",            # requests / covered seconds
    "mean_input_tokens",   # mean prompt length (0 when empty)
    "mean_output_tokens",  # mean generated length (0 when empty)
    "prompt_tokens",       # sum of prompt tokens
    "output_tokens",       # sum of generated tokens
)

MIN_WINDOW = pd.Timedelta(minutes=1)
MAX_WINDOW = pd.Timedelta(days=7)


def parse_duration(text: str, what: str) -> pd.Timedelta:
    """'1h', '15min', '30m', '48h', '90s', '1d' → a positive Timedelta; ``what`` names it in
    the error (e.g. 'window length', '--horizon')."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)\s*", str(text).lower())
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"cannot read {what} {text!r}; write e.g. 1h, 15min, 30m, 2d")
    value, unit = float(m.group(1)), m.group(2)
    unit = {"s": "s", "sec": "s", "m": "min", "min": "min", "h": "h", "hr": "h", "d": "D"}[unit]
    return pd.Timedelta(value, unit=unit)


def parse_window(text: str) -> pd.Timedelta:
    """'1h', '15min', '30m', '2h', '90s', '1d' → Timedelta, within 1 minute .. 7 days."""
    td = parse_duration(text, "window length")
    if td < MIN_WINDOW or td > MAX_WINDOW:
        raise UsageError(f"window length {text!r} is out of range (1 minute to 7 days)")
    if pd.Timedelta(hours=1) % td != pd.Timedelta(0) and td % pd.Timedelta(hours=1) != pd.Timedelta(0):
        raise UsageError(f"window length {text!r} must divide an hour or be whole hours, so "
                         "windows line up with the hourly carbon series")
    return td


@dataclass(frozen=True)
class Windowing:
    """Window boundaries and the window of every request (``-1`` never happens here)."""

    stats: pd.DataFrame
    request_window: np.ndarray
    length: pd.Timedelta

    @property
    def n(self) -> int:
        return len(self.stats)

    def labels(self) -> list[str]:
        return [ts.strftime("%Y-%m-%dT%H:%M:%SZ") for ts in self.stats["window_start"]]


def make_windows(trace: Trace, length: pd.Timedelta) -> Windowing:
    """Assign requests to clock-aligned windows and summarise each window."""
    if len(trace) == 0:
        raise InputDataError("trace has no requests")
    idx = arrival_ns(trace)
    first_ns, last_ns = int(idx[0]), int(idx[-1])
    step = length.value
    first_edge = (first_ns // step) * step
    n = int((last_ns - first_edge) // step) + 1
    edges = first_edge + step * np.arange(n + 1, dtype=np.int64)
    # In place: a week's requests are 27M, and each temporary of them 218 MB.
    idx -= first_edge
    idx //= step
    # Clip to whole seconds around the first and last arrival, so that schedule times read
    # cleanly; a single-instant trace still covers one second and its rate stays finite.
    sec = 1_000_000_000
    span_start = (first_ns // sec) * sec
    span_end = max(-(-last_ns // sec) * sec, span_start + sec)
    starts = np.maximum(edges[:-1], span_start)
    ends = np.minimum(edges[1:], span_end)
    ends = np.maximum(ends, starts + sec)
    return Windowing(_stats(starts, ends, idx, trace.input_tokens, trace.output_tokens, n), idx,
                     length)


def arrival_ns(trace: Trace, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Absolute arrival times in ns (UTC) of requests ``lo..hi-1``."""
    ns = trace.arrival_s[lo:hi] * 1e9
    np.round(ns, out=ns)
    out = ns.astype(np.int64)
    del ns
    out += trace.absolute_start.value
    return out


def _stats(starts_ns, ends_ns, idx, inp, out, n) -> pd.DataFrame:
    requests = np.bincount(idx, minlength=n)
    prompt = np.bincount(idx, weights=inp.astype(float), minlength=n)
    gen = np.bincount(idx, weights=out.astype(float), minlength=n)
    seconds = (ends_ns - starts_ns) / 1e9
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_in = np.where(requests > 0, prompt / np.maximum(requests, 1), 0.0)
        mean_out = np.where(requests > 0, gen / np.maximum(requests, 1), 0.0)
    return pd.DataFrame({
        "window_start": pd.to_datetime(starts_ns, utc=True),
        "window_end": pd.to_datetime(ends_ns, utc=True),
        "hours": seconds / 3600.0,
        "requests": requests.astype(np.int64),
        "rate_rps": requests / seconds,
        "mean_input_tokens": mean_in,
        "mean_output_tokens": mean_out,
        "prompt_tokens": prompt,
        "output_tokens": gen,
    })


@dataclass(frozen=True)
class LoadBuckets:
    """How the load varies inside each window: K buckets of sub-windows, grouped by rate.

    ``rate_rps[t, k]`` is the mean rate of bucket k of window t, ``request_share[t, k]`` the share
    of the window's requests that arrived in it and ``time_share[t, k]`` the share of the
    window's time it covers. Σ_k time_share · rate = the window's mean rate exactly.
    """

    rate_rps: np.ndarray
    request_share: np.ndarray
    time_share: np.ndarray
    sub_window_s: float


def load_buckets(trace: Trace, windowing: Windowing, sub_window_s: float = 60.0,
                 buckets: int = 8) -> LoadBuckets:
    """Cut every window into sub-windows of ``sub_window_s``, sort them by their arrival rate
    and merge them into ``buckets`` groups of (nearly) equal time.

    A window's mean rate hides its bursts, and tail latency follows the bursts: the planner
    reads latency at each bucket's rate and mixes the results by request share.
    """
    st = windowing.stats
    W = len(st)
    starts = pd.DatetimeIndex(st["window_start"]).as_unit("ns").asi8
    ends = pd.DatetimeIndex(st["window_end"]).as_unit("ns").asi8
    step = int(round(sub_window_s * 1e9))
    rate = np.zeros((W, buckets))
    req = np.zeros((W, buckets))
    tim = np.zeros((W, buckets))
    # Requests are sorted by arrival, so each window's are one run of them.
    window = windowing.request_window
    if np.any(window[1:] < window[:-1]):
        raise ValueError("request_window must be non-decreasing (the trace is sorted)")
    bounds = np.searchsorted(window, np.arange(W + 1))
    for t in range(W):
        lo, hi = int(bounds[t]), int(bounds[t + 1])
        edges = np.arange(starts[t], ends[t], step, dtype=np.int64)
        edges = np.append(edges, ends[t])
        dur = np.diff(edges) / 1e9
        counts = np.histogram(arrival_ns(trace, lo, hi), bins=edges)[0] if hi > lo else \
            np.zeros(len(dur), dtype=np.int64)
        # Edge sub-windows shorter than a second are merged rather than read as huge rates.
        r = counts / np.maximum(dur, 1.0)
        srt = np.argsort(r, kind="stable")
        group = np.minimum((np.cumsum(dur[srt]) - dur[srt] / 2) / dur.sum() * buckets,
                           buckets - 1).astype(int)
        c = np.bincount(group, weights=counts[srt], minlength=buckets)
        d = np.bincount(group, weights=dur[srt], minlength=buckets)
        total = max(counts.sum(), 1)
        rate[t] = np.where(d > 0, c / np.maximum(d, 1e-9), 0.0)
        req[t] = c / total
        tim[t] = d / d.sum()
    return LoadBuckets(rate, req, tim, sub_window_s)
