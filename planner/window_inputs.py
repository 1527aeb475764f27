"""``window_inputs.json``: the window inputs a plan's candidates were computed from.

A plan derives, from its trace, per-window statistics, hit rates per cache level and burst
buckets; the candidates (and so the whole schedule) follow from those plus the grid, the
profile table and the catalog. Writing them beside the schedule lets ``greencache check``
re-derive every number of the plan through the production functions in a fraction of the
plan's time, without re-reading the trace or recomputing hit curves. The file's SHA-256 is in
summary.json, so an edit to it is caught like an edit to any other input.

The window statistics are written as JSON numbers (Python's shortest round-trip repr); the
hit-rate and burst arrays, most of the file (a long horizon's warm-up curves are windows ×
levels²), as their little-endian float64 bytes in base64 with their shape, which reads back in
milliseconds where parsing the same numbers as text took a large share of a check. Either way
reading the file back gives the plan's values bit for bit. Schema 1 (every array as JSON
numbers) is still read.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputDataError
from planner.input_files import utc_times
from planner.workload.curves import HitCurves
from planner.workload.windows import LoadBuckets

FILE_NAME = "window_inputs.json"
SCHEMA = 2
READABLE_SCHEMAS = (1, 2)

# The window statistics the candidates and the schedule read (workload/windows.py).
STAT_COLUMNS = ("hours", "requests", "rate_rps", "mean_input_tokens", "mean_output_tokens",
                "prompt_tokens", "output_tokens")


@dataclass(frozen=True)
class WindowInputs:
    stats: pd.DataFrame
    hits: HitCurves
    buckets: LoadBuckets | None


def _rows(a: np.ndarray) -> dict:
    """A 2-D float array as its shape and little-endian float64 bytes in base64."""
    a = np.ascontiguousarray(np.asarray(a, dtype="<f8"))
    return {"shape": list(a.shape), "float64_le": base64.b64encode(a.tobytes()).decode("ascii")}


def _array(value) -> np.ndarray:
    """An array written by :func:`_rows`, or (schema 1) as nested JSON numbers."""
    if isinstance(value, dict):
        data = base64.b64decode(value["float64_le"], validate=True)
        return np.frombuffer(data, dtype="<f8").reshape([int(x) for x in value["shape"]]) \
            .astype(float)
    return np.asarray(value, dtype=float)


def to_json(stats: pd.DataFrame, hits: HitCurves, buckets: LoadBuckets | None) -> str:
    """The record as JSON text (deterministic: same inputs, same bytes)."""
    windows = {
        "window_start": [ts.isoformat() for ts in pd.DatetimeIndex(stats["window_start"])],
        "window_end": [ts.isoformat() for ts in pd.DatetimeIndex(stats["window_end"])],
    }
    for col in STAT_COLUMNS:
        values = stats[col].to_numpy()
        windows[col] = ([int(x) for x in values] if col == "requests"
                        else [float(x) for x in values])
    record = {
        "schema": SCHEMA,
        "windows": windows,
        "hit_curves": {
            "source": hits.source, "modelled": bool(hits.modelled),
            "capacities_tokens": [int(x) for x in hits.capacities_tokens],
            "token_hit": _rows(hits.token_hit), "request_hit": _rows(hits.request_hit),
            # With warm-up: [window][previous level × level], flattened row by row.
            "grown_token_hit": None if hits.grown_token_hit is None else
            _rows(hits.grown_token_hit.reshape(len(stats), -1)),
            "grown_request_hit": None if hits.grown_request_hit is None else
            _rows(hits.grown_request_hit.reshape(len(stats), -1)),
        },
        "bursts": None if buckets is None else {
            "sub_window_s": float(buckets.sub_window_s), "rate_rps": _rows(buckets.rate_rps),
            "request_share": _rows(buckets.request_share),
            "time_share": _rows(buckets.time_share),
        },
    }
    if hits.warm_share is not None:
        # Only plans whose shape was fitted from the trace have it (HitCurves); the others'
        # records stay as they were.
        record["hit_curves"]["warm_share"] = _rows(hits.warm_share)
    return json.dumps(record, separators=(",", ":")) + "\n"


def read(path: Path) -> WindowInputs:
    """The record written by :func:`to_json`; a missing or malformed file is an input error."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path} does not exist: the plan was made by an older greencache "
                             "or the file was removed; plan again to check it")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("schema") not in READABLE_SCHEMAS:
            raise ValueError(f"schema {raw.get('schema')!r}, expected one of "
                             f"{READABLE_SCHEMAS}")
        w = raw["windows"]
        # Written by isoformat(): read as ISO 8601 (not guessed from the first), both columns
        # in one call.
        n = len(w["window_start"])
        times = utc_times(list(w["window_start"]) + list(w["window_end"]))
        if times.isna().any():
            raise ValueError("a window time is not an ISO 8601 time")
        stats = pd.DataFrame({
            "window_start": times[:n],
            "window_end": times[n:],
            **{col: np.asarray(w[col], dtype=np.int64 if col == "requests" else float)
               for col in STAT_COLUMNS},
        })
        h = raw["hit_curves"]
        caps = np.asarray(h["capacities_tokens"], dtype=np.int64)
        grown = [None if h.get(k) is None else
                 _array(h[k]).reshape(len(stats), len(caps), len(caps))
                 for k in ("grown_token_hit", "grown_request_hit")]
        hits = HitCurves(caps,
                         _array(h["token_hit"]).reshape(len(stats), -1),
                         _array(h["request_hit"]).reshape(len(stats), -1),
                         str(h["source"]), bool(h["modelled"]), grown_token_hit=grown[0],
                         grown_request_hit=grown[1],
                         warm_share=None if h.get("warm_share") is None else
                         _array(h["warm_share"]).reshape(-1))
        b = raw["bursts"]
        buckets = None if b is None else LoadBuckets(
            _array(b["rate_rps"]).reshape(len(stats), -1),
            _array(b["request_share"]).reshape(len(stats), -1),
            _array(b["time_share"]).reshape(len(stats), -1),
            float(b["sub_window_s"]))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
            ValueError, AttributeError, binascii.Error) as e:
        raise InputDataError(f"{path} is not a greencache window-inputs record "
                             f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                             ) from None
    return WindowInputs(stats, hits, buckets)
