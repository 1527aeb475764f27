"""``forecast.csv``, ``accuracy.csv`` and ``forecast.png``: the forecast command's files, as
bytes (deterministic: same frames, same bytes)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from planner.forecast.frame import CI, RATE

FLOAT = "%.6g"          # six significant digits: well past any forecast's accuracy


def _iso(index) -> list[str]:
    return [ts.strftime("%Y-%m-%dT%H:%M:%SZ") for ts in pd.DatetimeIndex(index)]


def forecast_csv(frame: pd.DataFrame) -> str:
    out = frame.copy()
    out.insert(0, "window_start", _iso(out.index))
    return out.to_csv(index=False, float_format=FLOAT, lineterminator="\n")


def accuracy_csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, float_format=FLOAT, lineterminator="\n")


def forecast_png(frame: pd.DataFrame, history: pd.DataFrame, title: str) -> bytes:
    """Rate (p50, the p50–p90 band, actual) and carbon intensity (forecast, actual), with the
    last two days of history before the cutoff for context."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    past = history.iloc[-48:] if len(history) else history
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    x = pd.DatetimeIndex(frame.index).tz_localize(None)
    px = pd.DatetimeIndex(past.index).tz_localize(None)
    ax1.step(px, past[RATE], where="post", color="0.5", lw=1, label="history")
    ax1.fill_between(x, frame[f"{RATE}_p50"], frame[f"{RATE}_p90"], step="post", alpha=0.3,
                     color="tab:blue", label="forecast p50–p90")
    ax1.step(x, frame[f"{RATE}_p50"], where="post", color="tab:blue", label="forecast p50")
    if np.isfinite(frame[f"{RATE}_actual"]).any():
        ax1.step(x, frame[f"{RATE}_actual"], where="post", color="black", lw=1, label="actual")
    ax1.set_ylabel("requests/s")
    ax1.legend(fontsize=7, frameon=False, ncol=4, loc="upper left")
    ax2.step(px, past[CI], where="post", color="0.5", lw=1, label="history")
    ax2.step(x, frame[CI], where="post", color="tab:green", label="forecast")
    if np.isfinite(frame[f"{CI}_actual"]).any():
        ax2.step(x, frame[f"{CI}_actual"], where="post", color="black", lw=1, label="actual")
    ax2.set_ylabel("gCO2e/kWh")
    ax2.legend(fontsize=7, frameon=False, ncol=3, loc="upper left")
    ax1.set_title(title, fontsize=9)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
