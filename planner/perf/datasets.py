"""Readers for the measured performance data the model is fitted and checked on.

Each reader validates its file (missing file, missing column, malformed or out-of-range value:
one clear sentence naming the line) and returns one row per measured configuration, with the
median over repeated runs as the measurement.

* splitwise-sim ``perf_model.csv`` (MIT © 2024 Pratyush Patel): Llama-2-70B and BLOOM-176B
  prompt (TTFT) and token (TPOT) times on A100/H100 at TP 2/4/8.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputDataError
from planner.paths import profiles_dir

SPLITWISE_COLUMNS = ("model", "hardware", "prompt_size", "batch_size", "token_size",
                     "prompt_time", "token_time", "tensor_parallel")
# splitwise-sim names → catalog keys
SPLITWISE_MODELS = {"llama2-70b": "llama-2-70b"}
SPLITWISE_GPUS = {"a100-80gb": "a100-80gb", "h100-80gb": "h100-sxm"}


def measured_dir() -> Path:
    return profiles_dir() / "measured"


def _read_csv(path: Path, required) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"measured data file {path} does not exist")
    try:
        frame = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as e:
        raise InputDataError(f"cannot read {path}: {e}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputDataError(f"{path} lacks column(s) {', '.join(missing)}")
    return frame


def _positive(path: Path, frame: pd.DataFrame, cols) -> None:
    for c in cols:
        v = pd.to_numeric(frame[c], errors="coerce")
        bad = ~(v > 0) | ~np.isfinite(v)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputDataError(
                f"{path} line {i + 2}: {c} must be a positive number (got {frame[c].iloc[i]!r})")
        frame[c] = v


def load_splitwise(path: Path | None = None) -> pd.DataFrame:
    """One row per (model, gpu, tp, batch, prompt, tokens) with median TTFT and TPOT in s.

    Columns: ``model, gpu, tp, batch, prompt, tokens, ttft_s, tpot_s, runs``. Only the models
    and GPUs the catalog knows are kept (Llama-2-70B on A100-80GB and H100; the power-capped
    H100 rows repeat the uncapped token times and are left out).
    """
    path = Path(path) if path else measured_dir() / "splitwise-sim" / "perf_model.csv"
    raw = _read_csv(path, SPLITWISE_COLUMNS)
    _positive(path, raw, ("prompt_size", "batch_size", "token_size", "prompt_time",
                          "token_time", "tensor_parallel"))
    keep = raw["model"].isin(list(SPLITWISE_MODELS)) & raw["hardware"].isin(list(SPLITWISE_GPUS))
    x = raw[keep].copy()
    x["model"] = x["model"].map(SPLITWISE_MODELS)
    x["gpu"] = x["hardware"].map(SPLITWISE_GPUS)
    g = (x.groupby(["model", "gpu", "tensor_parallel", "batch_size", "prompt_size",
                    "token_size"], sort=True)
         .agg(ttft_ms=("prompt_time", "median"), tpot_ms=("token_time", "median"),
              runs=("prompt_time", "size")).reset_index())
    out = pd.DataFrame({
        "model": g["model"], "gpu": g["gpu"], "tp": g["tensor_parallel"].astype(int),
        "batch": g["batch_size"].astype(int), "prompt": g["prompt_size"].astype(int),
        "tokens": g["token_size"].astype(int), "ttft_s": g["ttft_ms"] / 1e3,
        "tpot_s": g["tpot_ms"] / 1e3, "runs": g["runs"].astype(int)})
    return out.reset_index(drop=True)


def physically_possible(frame: pd.DataFrame, peak_flops_per_gpu: dict[str, float],
                        params_b: float) -> np.ndarray:
    """False for prefill rows faster than the GPUs' peak: 2 · params · tokens / TTFT above
    tp × peak FLOP/s cannot be a real prefill (two TP2 batch-64 rows of splitwise-sim)."""
    flops = 2.0 * params_b * 1e9 * frame["batch"] * frame["prompt"]
    peak = frame["gpu"].map(peak_flops_per_gpu) * frame["tp"]
    return (flops / frame["ttft_s"] <= peak).to_numpy()
