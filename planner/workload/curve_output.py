"""Hit curves as a CSV table and as a figure (for `greencache trace hitcurve`).

CSV columns, one row per (window, capacity), windows in time order, capacities as given:

=====================  ==========================================================================
``window_start``       UTC, ISO 8601 (``Z``)
``window_end``         UTC, ISO 8601 (``Z``)
``capacity_tokens``    cache capacity in tokens
``capacity_blocks``    whole blocks that fit (``capacity_tokens // block_tokens``)
``capacity_gb``        KV bytes of those blocks for the chosen model, GB (10^9); empty without one
``token_hit_rate``     fraction of the window's prompt tokens served from the cache
``request_hit_rate``   fraction of the window's requests with at least one cached block
``source``             method: trace-lru-exact, trace-lru-shards-1%, trace-lcs, modelled-sessions…
``modelled``           true when the prefixes were synthesised by the reuse model
=====================  ==========================================================================

Numbers are printed with fixed precision so that the same inputs give byte-identical files.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from planner.workload.curves import HitCurves

CSV_COLUMNS = ("window_start", "window_end", "capacity_tokens", "capacity_blocks",
               "capacity_gb", "token_hit_rate", "request_hit_rate", "source", "modelled")


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def curve_csv(curves: HitCurves, window_starts, window_ends, block_tokens: int,
              kv_bytes_per_token: int = 0) -> str:
    """The CSV text of ``curves`` (module docstring)."""
    caps = np.asarray(curves.capacities_tokens, dtype=np.int64)
    blocks = caps // int(block_tokens)
    gb = [f"{b * block_tokens * kv_bytes_per_token / 1e9:.6f}" if kv_bytes_per_token else ""
          for b in blocks]
    lines = [",".join(CSV_COLUMNS)]
    modelled = "true" if curves.modelled else "false"
    for w, (ws, we) in enumerate(zip(window_starts, window_ends)):
        a, b = _iso(pd.Timestamp(ws)), _iso(pd.Timestamp(we))
        for c in range(len(caps)):
            lines.append(f"{a},{b},{caps[c]},{blocks[c]},{gb[c]},{curves.token_hit[w, c]:.6f},"
                         f"{curves.request_hit[w, c]:.6f},{curves.source},{modelled}")
    return "\n".join(lines) + "\n"


def overall_curve(curves: HitCurves, prompt_tokens: np.ndarray, requests: np.ndarray):
    """The whole trace's curve from per-window ones (token- and request-weighted means)."""
    pt = np.asarray(prompt_tokens, dtype=np.float64)
    rq = np.asarray(requests, dtype=np.float64)
    tok = (curves.token_hit * pt[:, None]).sum(0) / max(pt.sum(), 1.0)
    req = (curves.request_hit * rq[:, None]).sum(0) / max(rq.sum(), 1.0)
    return tok, req


def plot_png(curves: HitCurves, prompt_tokens, requests, labels, block_tokens: int,
             kv_bytes_per_token: int = 0, title: str = "", max_windows: int = 12) -> bytes:
    """PNG bytes: token hit rate against capacity per window (thin), the whole trace (thick)
    and its request hit rate (dashed); capacity in GB when a model is known, else tokens."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    caps = np.asarray(curves.capacities_tokens, dtype=np.float64)
    x = (caps // block_tokens) * block_tokens * kv_bytes_per_token / 1e9 if kv_bytes_per_token \
        else caps
    keep = x > 0  # log axis
    fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    n_w = curves.token_hit.shape[0]
    if n_w > 1:
        step = max(1, int(np.ceil(n_w / max_windows)))
        for w in range(0, n_w, step):
            ax.plot(x[keep], curves.token_hit[w, keep], lw=0.8, alpha=0.5, label=labels[w])
    tok, req = overall_curve(curves, prompt_tokens, requests)
    ax.plot(x[keep], tok[keep], lw=2.2, color="black", label="token hit rate, whole trace")
    ax.plot(x[keep], req[keep], lw=1.5, ls="--", color="black",
            label="request hit rate, whole trace")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.03)
    ax.set_xlabel("cache capacity (GB of KV)" if kv_bytes_per_token else "cache capacity (tokens)")
    ax.set_ylabel("hit rate")
    label = curves.source + (" (MODELLED prefixes)" if curves.modelled else "")
    ax.set_title(f"{title}\n{label}" if title else label, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
