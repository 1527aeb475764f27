"""Model error against measured data: predictions, absolute percentage errors, summaries.

APE = |predicted − measured| / measured. Summaries give the median and the 90th percentile
of APE per data set, metric and split (fit rows vs held-out rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.catalog import load_catalog
from planner.perf.datasets import load_splitwise, physically_possible
from planner.perf.iteration import IterationModel
from planner.perf.params import ModelParams
from planner.perf.spec import build_spec


def predict_splitwise(params: ModelParams, data: pd.DataFrame | None = None) -> pd.DataFrame:
    """Measured and predicted TTFT and TPOT for every splitwise-sim configuration.

    TTFT is one unchunked prefill iteration of ``batch`` prompts; TPOT a decode iteration of
    ``batch`` requests at the mean context of the run, prompt + tokens / 2. Rows faster than
    the GPUs' peak FLOP/s are flagged ``possible = False`` and left out of error summaries.
    """
    data = load_splitwise() if data is None else data
    cat = load_catalog()
    out = data.copy()
    out["pred_ttft_s"] = np.nan
    out["pred_tpot_s"] = np.nan
    for (model, gpu, tp), idx in out.groupby(["model", "gpu", "tp"]).groups.items():
        spec = build_spec(model, gpu, int(tp), "nvme-gen4", catalog=cat)
        m = IterationModel(spec, params.device(gpu))
        r = out.loc[idx]
        out.loc[idx, "pred_ttft_s"] = m.prefill(r["batch"], r["prompt"]).time_s
        out.loc[idx, "pred_tpot_s"] = m.decode(r["batch"], r["prompt"] + r["tokens"] / 2).time_s
    peaks = {g: cat.gpu(g).bf16_tflops * 1e12 for g in out["gpu"].unique()}
    out["possible"] = physically_possible(out, peaks, cat.model("llama-2-70b").params_b)
    out["ape_ttft"] = (out["pred_ttft_s"] - out["ttft_s"]).abs() / out["ttft_s"]
    out["ape_tpot"] = (out["pred_tpot_s"] - out["tpot_s"]).abs() / out["tpot_s"]
    return out


def ape_summary(frame: pd.DataFrame, by=("dataset", "split"),
                metrics=("ttft", "tpot")) -> pd.DataFrame:
    """Median and p90 APE (in %) and row count per group and metric."""
    rows = []
    for key, g in frame.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        for m in metrics:
            col = f"ape_{m}"
            if col not in g:
                continue
            v = g[col].dropna().to_numpy()
            if v.size == 0:
                continue
            rows.append({**dict(zip(by, key)), "metric": m, "rows": int(v.size),
                         "median_ape_pct": 100 * float(np.median(v)),
                         "p90_ape_pct": 100 * float(np.percentile(v, 90))})
    return pd.DataFrame(rows)
