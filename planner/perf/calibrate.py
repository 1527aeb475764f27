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
        m = IterationModel(spec, params.device(gpu), "splitwise")
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


# ------------------------------------------------------------------------------------------
# The calibration report of the fitted model: every data set, fit and held-out rows
# ------------------------------------------------------------------------------------------
def _split(mask) -> np.ndarray:
    return np.where(np.asarray(mask, dtype=bool), "held-out", "fit")


def prediction_frame(params: ModelParams, data: dict) -> pd.DataFrame:
    """One row per measured quantity: dataset, split, metric, measured, predicted, ape.

    Metrics: ``ttft`` (a prefill iteration), ``tpot`` (a decode step), ``mixed`` (a chunked
    prefill iteration with decodes), ``layer-prefill`` / ``layer-decode`` (Vidur: the per-layer
    time of the four GEMMs plus the elementwise operators at > 256 / ≤ 256 tokens),
    ``all-reduce``.
    """
    from planner.perf.fit import predict_own, predict_splitwise_rows, predict_vidur

    frames = []
    sw, masks = data["splitwise"], data["masks"]
    for gpu, idx in sw.groupby("gpu").indices.items():
        r = sw.iloc[idx]
        keep = data["possible"][idx]
        pt, pp = predict_splitwise_rows(params.device(gpu), r)
        name = f"splitwise llama-2-70b {gpu}"
        for metric, meas, pred in (("ttft", r["ttft_s"], pt), ("tpot", r["tpot_s"], pp)):
            frames.append(pd.DataFrame({
                "dataset": name, "split": _split(masks["splitwise"][idx])[keep],
                "metric": metric, "measured": meas.to_numpy()[keep], "predicted": pred[keep],
                "label": (r["tp"].astype(str) + "×" + r["batch"].astype(str) + "×"
                          + r["prompt"].astype(str)).to_numpy()[keep]}))
    v = data["vidur"]
    for gpu, idx in v.groupby("gpu").indices.items():
        r = v.iloc[idx].copy()
        r["pred"] = predict_vidur(params.device(gpu), r)
        r["held"] = masks["vidur"][idx]
        g = r.groupby(["model", "tp", "tokens"]).agg(measured=("time_s", "sum"),
                                                     predicted=("pred", "sum"),
                                                     held=("held", "first")).reset_index()
        for model, gm in g.groupby("model"):
            metric = np.where(gm["tokens"] > 256, "layer-prefill", "layer-decode")
            frames.append(pd.DataFrame({
                "dataset": f"vidur {model} {gpu}", "split": _split(gm["held"]), "metric": metric,
                "measured": gm["measured"], "predicted": gm["predicted"],
                "label": (gm["tp"].astype(str) + "×" + gm["tokens"].astype(str))}))
    ar = data["allreduce"]
    for (gpu, tp), idx in ar.groupby(["gpu", "tp"]).indices.items():
        r = ar.iloc[idx]
        c = params.device(gpu).comm[int(tp)]
        frames.append(pd.DataFrame({
            "dataset": f"vidur all-reduce {gpu}", "split": _split(masks["allreduce"][idx]),
            "metric": "all-reduce", "measured": r["time_s"],
            "predicted": c.alpha_s + r["bytes"] / c.bytes_per_s,
            "label": f"tp{tp}×" + r["bytes"].astype(int).astype(str)}))
    own_sets = [("h100-sxm", data["own"], masks)]
    own_sets += [(gpu, d, None) for gpu, d in data.get("validation", {}).items()]
    for gpu, own, m in own_sets:
        po = predict_own(params.device(gpu), own)
        for key, metric in (("prefill", "ttft"), ("decode", "tpot"), ("mixed", "mixed")):
            r = own[key]
            graph = (r["mode"] == "graph").to_numpy()
            # a validation data set is held out whole: none of its rows reach the fit
            split = _split(m[f"own_{key}"] if m is not None else np.ones(len(r), bool))
            frames.append(pd.DataFrame({
                "dataset": f"own {gpu.split('-')[0]} llama-3-8b-shape", "split": split[graph],
                "metric": metric, "measured": r["time_s"].to_numpy()[graph],
                "predicted": po[key][graph], "label": r.index.astype(str)[graph]}))
    out = pd.concat(frames, ignore_index=True)
    out["ape"] = (out["predicted"] - out["measured"]).abs() / out["measured"]
    return out


def report_table(pred: pd.DataFrame) -> pd.DataFrame:
    """Median and p90 APE (%) per data set, metric and split."""
    rows = []
    for (d, m, s), g in pred.groupby(["dataset", "metric", "split"], sort=True):
        v = g["ape"].to_numpy()
        rows.append({"dataset": d, "metric": m, "split": s, "rows": int(v.size),
                     "median_ape_pct": 100 * float(np.median(v)),
                     "p90_ape_pct": 100 * float(np.percentile(v, 90))})
    return pd.DataFrame(rows)


def plot_predictions(pred: pd.DataFrame, directory) -> list:
    """Predicted against measured (log-log), one PNG per data set, held-out rows marked."""
    import io
    import re
    from pathlib import Path

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from planner.outputs import atomic_write_bytes

    directory = Path(directory)
    written = []
    for name, g in pred.groupby("dataset", sort=True):
        fig, ax = plt.subplots(figsize=(5.5, 5))
        for (metric, split), s in g.groupby(["metric", "split"], sort=True):
            ax.scatter(s["measured"], s["predicted"], s=10 if split == "fit" else 22,
                       marker="o" if split == "fit" else "x", alpha=0.7,
                       label=f"{metric} ({split})")
        lo = float(min(g["measured"].min(), g["predicted"].min()))
        hi = float(max(g["measured"].max(), g["predicted"].max()))
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("measured (s)")
        ax.set_ylabel("predicted (s)")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
        plt.close(fig)
        path = directory / (re.sub(r"[^a-z0-9.]+", "-", name.lower()) + ".png")
        atomic_write_bytes(path, buf.getvalue())
        written.append(path)
    return written
