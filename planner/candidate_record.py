"""``candidates.npy``: the plan's candidate table as its model saw it.

One row per candidate the plan built (after the replica bound and Pareto pruning), with the
columns the model and the coupling read: window, replicas, level index, the level a cold start
grew from (−1 for a warm candidate), drives, the p90s and the within-SLO share the SLO rows and
the attainment budget read, and the carbon the objective reads (total, embodied, SSD wear);
``in_model`` marks the rows the solved model held (``plan_solve.model_candidates``: within the
planned SLO, not beaten by fewer replicas, not beyond the incumbent bound). Cache sizes follow
from the level index and the scenario's levels.

``value_function.npy`` beside it (where :mod:`planner.optimize.value` covers the scenario):
the value function of the model over those rows, a certificate of the optimum that check
verifies in linear time.

``greencache check`` certifies the plan's optimality from these files without re-deriving the
candidates (README, "Checking a plan in CI"); their SHA-256 is in summary.json beside the
other inputs', so an edit is caught like an edit to any input. NumPy ``.npy`` files: written
and read in milliseconds, floats bit for bit, the same bytes for the same plan.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputDataError
from planner.optimize import value
from planner.optimize.coupling import Coupling
from planner.optimize.model import models_warmup

FILE_NAME = "candidates.npy"
VALUE_FILE = value.FILE_NAME

DTYPE = np.dtype([
    ("window", "<i4"), ("replicas", "<i4"), ("level", "<i2"), ("prev_level", "<i2"),
    ("ssd_drives", "<i4"), ("in_model", "u1"),
    ("p90_ttft_s", "<f8"), ("p90_tpot_s", "<f8"), ("within_slo_share", "<f8"),
    ("total_kgco2e", "<f8"), ("embodied_kgco2e", "<f8"), ("emb_ssd_wear", "<f8"),
])
KEY = ("window", "replicas", "level", "prev_level")


def _keys(frame: pd.DataFrame) -> np.ndarray:
    """One integer per (window, replicas, level, prev_level)."""
    cols = [frame[k].to_numpy().astype(np.int64) for k in KEY]
    return ((cols[0] * 100_000 + cols[1]) * 1_000 + cols[2]) * 1_000 + cols[3] + 1


def _increasing(keys: np.ndarray) -> bool:
    """Whether the keys strictly increase (a table as the plan writes it: in key order)."""
    return bool((keys[1:] > keys[:-1]).all())


def find(table: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Position in ``table`` (its configurations unique) of each of ``rows``' configurations,
    −1 where it has none. A table in key order, as written, is searched without building a
    hash index of it."""
    keys, want = _keys(table), _keys(rows)
    if not len(keys) or not _increasing(keys):
        return pd.Index(keys).get_indexer(want)
    pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    return np.where(keys[pos] == want, pos, -1)


def in_model(frame: pd.DataFrame, kept: pd.DataFrame) -> np.ndarray:
    """Whether each candidate of ``frame`` is among the model's rows ``kept``."""
    return np.isin(_keys(frame), _keys(kept))


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def model_rows(frame: pd.DataFrame, held: np.ndarray, bounds: tuple[float, float]):
    """The rows the value function is over: held by the model and within the planned p90
    bounds (without best-effort windows, the same rows), in table order."""
    within = (frame["p90_ttft_s"].to_numpy() <= bounds[0]) & \
        (frame["p90_tpot_s"].to_numpy() <= bounds[1])
    return frame[held & within]


def value_states(rows: pd.DataFrame, coupling: Coupling, n_windows: int) -> value.States:
    return value.states(rows, coupling, n_windows, models_warmup(rows, coupling))


def records(frame: pd.DataFrame, kept: pd.DataFrame, coupling: Coupling,
            bounds: tuple[float, float], n_windows: int, value_applies: bool) -> dict[str, bytes]:
    """The files of the plan's candidates ``frame``, of which the model held ``kept``: the
    table, and with ``value_applies`` its value function."""
    rec = np.zeros(len(frame), dtype=DTYPE)
    for name in DTYPE.names:
        if name != "in_model":
            rec[name] = frame[name].to_numpy()
    held = in_model(frame, kept)
    rec["in_model"] = held
    out = {FILE_NAME: _npy(rec)}
    if value_applies:
        S = value_states(model_rows(frame, held, bounds), coupling, n_windows)
        out[VALUE_FILE] = _npy(value.value_function(S))
    return out


def read_values(path: Path, S: value.States) -> np.ndarray:
    """The recorded value function, one (D, C) block per model row of ``S``."""
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputDataError(f"{path} is not a readable value function: {e}") from None
    want = (len(S.t), S.dwell, S.changes)
    if values.dtype != np.float64 or values.shape != want:
        raise InputDataError(f"{path} holds {values.shape} values, the model's states need "
                             f"{want}")
    return values


def read(path: Path, levels_gb: np.ndarray) -> pd.DataFrame:
    """The recorded table as a candidate frame (``cache_gb``, ``prev_cache_gb`` from the
    scenario's levels ``levels_gb``; ``in_model`` as bool)."""
    try:
        rec = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputDataError(f"{path} is not a readable candidate table: {e}") from None
    if rec.dtype != DTYPE or rec.ndim != 1:
        raise InputDataError(f"{path} is not a greencache candidate table (columns "
                             f"{rec.dtype.names})")
    levels = np.asarray(levels_gb, dtype=float)
    lev, prev = rec["level"], rec["prev_level"]
    if len(rec) and (lev.min() < 0 or lev.max() >= len(levels) or prev.min() < -1
                     or prev.max() >= len(levels)):
        raise InputDataError(f"{path} names cache levels the scenario does not have")
    # Built at once, the derived columns with the recorded ones (not written one by one).
    frame = pd.DataFrame({**{name: rec[name] for name in DTYPE.names},
                          "in_model": rec["in_model"].astype(bool),
                          "cache_gb": levels[lev],
                          "prev_cache_gb": np.where(prev >= 0, levels[np.maximum(prev, 0)],
                                                    np.nan)})
    keys = _keys(frame)
    if not _increasing(keys) and not pd.Index(keys).is_unique:
        raise InputDataError(f"{path} lists a candidate twice")
    return frame
