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


# ------------------------------------------------------------------------------------------
# Vidur (MIT © Microsoft): per-operator times of the linear layers and all-reduce times
# ------------------------------------------------------------------------------------------
VIDUR_GPUS = {"a100": "a100-80gb", "h100": "h100-sxm"}
VIDUR_MODELS = {"Meta-Llama-3-8B": "llama-3-8b", "Meta-Llama-3-70B": "llama-3-70b",
                "Llama-2-70b-hf": "llama-2-70b", "Llama-2-7b-hf": "llama-2-7b"}
VIDUR_GEMM_OPS = ("attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj")
VIDUR_ELEMENTWISE_OPS = ("input_layernorm", "post_attention_layernorm", "attn_rope", "mlp_act",
                         "add")
VIDUR_MLP_COLUMNS = ("num_tokens", "num_tensor_parallel_workers") + tuple(
    f"time_stats.{op}.median" for op in VIDUR_GEMM_OPS + VIDUR_ELEMENTWISE_OPS)
VIDUR_AR_COLUMNS = ("num_workers", "size", "devices_per_node", "rank",
                    "time_stats.all_reduce.median")


def derive_vidur(src: Path, dst: Path) -> list[Path]:
    """Reduce Vidur's profiling CSVs to what the fit uses (written as *_derived.csv).

    mlp.csv → the median time (ms) of every linear and elementwise operator per
    (num_tokens, num_tensor_parallel_workers); all_reduce.csv → rank 0, single-node rows
    (devices_per_node = num_workers), median time (ms) per (num_workers, size in bytes).
    """
    written = []
    for gdir in sorted((src / "compute").iterdir()):
        for mlp in sorted(gdir.glob("meta-llama/*/mlp.csv")):
            frame = _read_csv(mlp, VIDUR_MLP_COLUMNS)
            out = dst / "compute" / gdir.name / mlp.parent.name / "mlp_derived.csv"
            out.parent.mkdir(parents=True, exist_ok=True)
            frame.loc[:, list(VIDUR_MLP_COLUMNS)].sort_values(
                ["num_tensor_parallel_workers", "num_tokens"]).to_csv(
                out, index=False, lineterminator="\n")
            written.append(out)
    for ndir in sorted((src / "network").iterdir()):
        ar = ndir / "all_reduce.csv"
        frame = _read_csv(ar, VIDUR_AR_COLUMNS)
        keep = (frame["rank"] == 0) & (frame["devices_per_node"] == frame["num_workers"])
        out = dst / "network" / ndir.name / "all_reduce_derived.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.loc[keep, ["num_workers", "size", "time_stats.all_reduce.median"]].sort_values(
            ["num_workers", "size"]).to_csv(out, index=False, lineterminator="\n")
        written.append(out)
    return written


def load_vidur_mlp(root: Path | None = None) -> pd.DataFrame:
    """Rows ``gpu, model, tp, tokens, op, time_s``; op is one of the four GEMMs or
    ``elementwise`` (the sum of the norm, RoPE, activation and add operators)."""
    root = Path(root) if root else measured_dir() / "vidur"
    files = sorted((root / "compute").glob("*/*/mlp_derived.csv"))
    if not files:
        raise InputDataError(f"no Vidur operator profiles under {root / 'compute'}")
    frames = []
    for f in files:
        gpu, model = f.parent.parent.name, f.parent.name
        if gpu not in VIDUR_GPUS or model not in VIDUR_MODELS:
            raise InputDataError(f"{f}: unknown GPU {gpu!r} or model {model!r}")
        raw = _read_csv(f, VIDUR_MLP_COLUMNS)
        _positive(f, raw, VIDUR_MLP_COLUMNS)
        base = pd.DataFrame({"gpu": VIDUR_GPUS[gpu], "model": VIDUR_MODELS[model],
                             "tp": raw["num_tensor_parallel_workers"].astype(int),
                             "tokens": raw["num_tokens"].astype(int)})
        for op in VIDUR_GEMM_OPS:
            frames.append(base.assign(op=op, time_s=raw[f"time_stats.{op}.median"] / 1e3))
        elem = sum(raw[f"time_stats.{op}.median"] for op in VIDUR_ELEMENTWISE_OPS)
        frames.append(base.assign(op="elementwise", time_s=elem / 1e3))
    return pd.concat(frames, ignore_index=True)


def load_vidur_allreduce(root: Path | None = None) -> pd.DataFrame:
    """Rows ``gpu, tp, bytes, time_s`` (single-node all-reduce, rank 0)."""
    root = Path(root) if root else measured_dir() / "vidur"
    files = sorted((root / "network").glob("*_dgx/all_reduce_derived.csv"))
    if not files:
        raise InputDataError(f"no Vidur all-reduce profiles under {root / 'network'}")
    frames = []
    for f in files:
        gpu = f.parent.name.removesuffix("_dgx")
        if gpu not in VIDUR_GPUS:
            raise InputDataError(f"{f}: unknown GPU {gpu!r}")
        cols = ("num_workers", "size", "time_stats.all_reduce.median")
        raw = _read_csv(f, cols)
        _positive(f, raw, cols)
        frames.append(pd.DataFrame({"gpu": VIDUR_GPUS[gpu], "tp": raw["num_workers"].astype(int),
                                    "bytes": raw["size"].astype(float),
                                    "time_s": raw["time_stats.all_reduce.median"] / 1e3}))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------------
# greencache's own measurements (profiles/measured/<gpu>-llama-3-8b-shape)
# ------------------------------------------------------------------------------------------
OWN = {"h100-sxm": "h100-sxm-llama-3-8b-shape", "h200": "h200-llama-3-8b-shape"}
OWN_H100 = OWN["h100-sxm"]
_OWN_TABLES = {
    "prefill": ("batch", "new_tokens", "cached_tokens", "time_s", "mode"),
    "decode": ("batch", "context", "time_s", "mode"),
    "mixed": ("new_tokens", "cached_tokens", "decode_batch", "context", "time_s", "mode"),
    "power": ("phase", "batch", "tokens", "context", "mean_power_w", "iteration_s"),
    "kv_io": ("tokens", "bytes", "file_write_s", "file_read_s", "h2d_s", "d2h_s"),
}
_OPTIONAL = ("kv_io",)


def load_own(gpu: str, root: Path | None = None) -> dict[str, pd.DataFrame]:
    """The prefill, decode, mixed and power tables (and kv_io where measured) of the own runs
    on one GPU type."""
    if gpu not in OWN:
        raise InputDataError(f"no own measurements for GPU {gpu!r}; measured: {', '.join(OWN)}")
    root = Path(root) if root else measured_dir() / OWN[gpu]
    out = {}
    for name, cols in _OWN_TABLES.items():
        path = root / f"{name}.csv"
        if name in _OPTIONAL and not path.exists():
            continue
        frame = _read_csv(path, cols)
        num = [c for c in cols if c not in ("mode", "phase", "iteration_s", "cached_tokens",
                                            "context", "batch", "tokens")]
        _positive(path, frame, num)
        out[name] = frame
    return out


def load_own_h100(root: Path | None = None) -> dict[str, pd.DataFrame]:
    return load_own("h100-sxm", root)
