"""``window_inputs.json``: the window inputs a plan's candidates were computed from.

A plan derives, from its trace, per-window statistics, hit rates per cache level and burst
buckets; the candidates (and so the whole schedule) follow from those plus the grid, the
profile table and the catalog. Writing them beside the schedule lets ``greencache check``
re-derive every number of the plan through the production functions in a fraction of the
plan's time, without re-reading the trace or recomputing hit curves. The file's SHA-256 is in
summary.json, so an edit to it is caught like an edit to any other input.

Floats are written with Python's shortest round-trip repr, so reading the file back gives the
plan's values bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputDataError
from planner.workload.hitcurve import HitCurves
from planner.workload.windows import LoadBuckets

FILE_NAME = "window_inputs.json"
SCHEMA = 1

# The window statistics the candidates and the schedule read (workload/windows.py).
STAT_COLUMNS = ("hours", "requests", "rate_rps", "mean_input_tokens", "mean_output_tokens",
                "prompt_tokens", "output_tokens")


@dataclass(frozen=True)
class WindowInputs:
    stats: pd.DataFrame
    hits: HitCurves
    buckets: LoadBuckets | None


def _rows(a: np.ndarray) -> list:
    return [[float(x) for x in row] for row in np.asarray(a, dtype=float)]


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
    return json.dumps(record, separators=(",", ":")) + "\n"


def read(path: Path) -> WindowInputs:
    """The record written by :func:`to_json`; a missing or malformed file is an input error."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path} does not exist: the plan was made by an older greencache "
                             "or the file was removed; plan again to check it")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("schema") != SCHEMA:
            raise ValueError(f"schema {raw.get('schema')!r}, expected {SCHEMA}")
        w = raw["windows"]
        stats = pd.DataFrame({
            "window_start": pd.to_datetime(w["window_start"], utc=True),
            "window_end": pd.to_datetime(w["window_end"], utc=True),
            **{col: np.asarray(w[col], dtype=np.int64 if col == "requests" else float)
               for col in STAT_COLUMNS},
        })
        h = raw["hit_curves"]
        caps = np.asarray(h["capacities_tokens"], dtype=np.int64)
        grown = [None if h.get(k) is None else
                 np.asarray(h[k], dtype=float).reshape(len(stats), len(caps), len(caps))
                 for k in ("grown_token_hit", "grown_request_hit")]
        hits = HitCurves(caps,
                         np.asarray(h["token_hit"], dtype=float).reshape(len(stats), -1),
                         np.asarray(h["request_hit"], dtype=float).reshape(len(stats), -1),
                         str(h["source"]), bool(h["modelled"]), grown_token_hit=grown[0],
                         grown_request_hit=grown[1])
        b = raw["bursts"]
        buckets = None if b is None else LoadBuckets(
            np.asarray(b["rate_rps"], dtype=float).reshape(len(stats), -1),
            np.asarray(b["request_share"], dtype=float).reshape(len(stats), -1),
            np.asarray(b["time_share"], dtype=float).reshape(len(stats), -1),
            float(b["sub_window_s"]))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
            ValueError, AttributeError) as e:
        raise InputDataError(f"{path} is not a greencache window-inputs record "
                             f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                             ) from None
    return WindowInputs(stats, hits, buckets)
