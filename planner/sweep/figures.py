"""A sweep's figures, as PNG bytes (no date or software in their metadata, so a re-run writes
the same bytes):

* ``heatmap.png``: the plan's replayed reduction against the fixed (largest) cache by zone
  (rows, by mean carbon intensity) × SSD embodied level (columns), over the points whose other
  axes sit at their first value;
* ``pareto.png``: replayed carbon against replayed SLO attainment of every point's plan and
  baselines, with the plans' Pareto front (no other plan emits less at an attainment at least
  as high);
* ``tornado.png``: how far each sensitivity group moves the reduction from the base point's
  (:mod:`planner.sweep.sensitivity`);
* ``timeline.png``: the base point's carbon intensity, load, cache and replicas, plan against
  the fixed cache.

Labels come from the points' own scenario (largest cache level, replica hardware).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from planner.sweep.points import Point
from planner.sweep.sensitivity import METRIC, ranges

LEVEL_ORDER = {"low": 0, "central": 1, "high": 2}
STRATEGY_MARKERS = {"plan": ("o", "#2ca02c", "plan"), "max_cache": ("s", "#ff7f0e", "fixed cache"),
                    "no_cache": ("^", "#999999", "no SSD tier"),
                    "static_cache": ("D", "#1f77b4", "best single size")}


def fmt(x, nd=1) -> str:
    """A figure as the page and the figures print it: ``nd`` decimals, "–" when missing."""
    if x is None or (isinstance(x, (float, np.floating)) and not np.isfinite(x)):
        return "–"
    # rounded first, so that a small negative figure prints as 0.0, not -0.0
    return f"{round(float(x), nd) + 0.0:.{nd}f}"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "text.parse_math": False})
    return plt


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def fixed_label(records: list[dict | None]) -> str:
    """The fixed-cache baseline as the points' scenarios size it: "fixed 64 TB cache" when
    every point's largest level is 64 TB, "fixed largest cache" when they differ."""
    sizes = sorted({r["labels"]["largest_cache_tb"] for r in records if r})
    return f"fixed {sizes[0]:g} TB cache" if len(sizes) == 1 else "fixed largest cache"


def heatmap_cells(points: list[Point], frame: pd.DataFrame) -> pd.DataFrame:
    """zone × SSD embodied level → the reduction (NaN where a point failed)."""
    axes = list(dict.fromkeys(k for p in points for k in p.axes))
    others = [a for a in axes if a not in ("grid", "ssd_embodied")]
    # Points come in the order of the axes' product: the first holding an axis has its first value.
    firsts = {a: next(p.axes[a] for p in points if a in p.axes) for a in others}
    rows = []
    for i, p in enumerate(points):
        if axes and "axes" not in p.roles:
            continue
        if any(p.axes.get(a) != firsts.get(a) for a in others):
            continue
        rows.append({"zone": frame.loc[i, "zone"] if isinstance(frame.loc[i, "zone"], str)
                     else p.options.grid, "ci": frame.loc[i, "mean_gco2_per_kwh"],
                     "level": p.options.levels.ssd_embodied, "value": frame.loc[i, METRIC]})
    return pd.DataFrame(rows, columns=["zone", "ci", "level", "value"])


def heatmap_png(cells: pd.DataFrame, fixed: str) -> bytes | None:
    if cells.empty:
        return None
    plt = _plt()
    order = cells.groupby("zone")["ci"].max().sort_values(na_position="last").index.tolist()
    levels = sorted(cells["level"].unique(), key=lambda x: LEVEL_ORDER.get(x, 9))
    grid = cells.pivot_table(index="zone", columns="level", values="value",
                             aggfunc="first", dropna=False).reindex(index=order, columns=levels)
    fig, ax = plt.subplots(figsize=(3.6 + 1.1 * len(levels), 1.4 + 0.38 * len(order)),
                           layout="constrained")
    vals = grid.to_numpy(dtype=float)
    lim = max(1.0, float(np.nanmax(np.abs(vals)))) if np.isfinite(vals).any() else 1.0
    im = ax.imshow(vals, cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(levels)), levels)
    ax.set_xlabel("SSD embodied carbon (catalog level)")
    ci = cells.groupby("zone")["ci"].max()
    ax.set_yticks(range(len(order)), [f"{z} ({ci[z]:.0f} g)" if np.isfinite(ci[z]) else z
                                      for z in order])
    for (r, c), v in np.ndenumerate(vals):
        ax.text(c, r, "failed" if not np.isfinite(v) else fmt(v), ha="center",
                va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label="reduction % (replayed)")
    ax.set_title(f"Plan against the {fixed}", loc="left")
    return _png(fig)


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other beats: higher-or-equal x (attainment) at lower y
    (carbon), ordered by x."""
    order = np.lexsort((y, -x))     # attainment descending, then carbon ascending
    front, best = [], np.inf
    for i in order:
        if y[i] < best:
            front.append(i)
            best = y[i]
    return np.array(front[::-1], dtype=int)


def pareto_png(frame: pd.DataFrame, fixed: str) -> bytes | None:
    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for k, (marker, color, label) in STRATEGY_MARKERS.items():
        x = ok["plan_slo_attainment" if k == "plan" else f"{k}_slo_attainment"]
        y = ok["plan_replayed_kgco2e" if k == "plan" else f"{k}_replayed_kgco2e"]
        keep = x.notna() & y.notna()
        if keep.any():
            ax.scatter(100 * x[keep], y[keep], marker=marker, s=22, color=color,
                       alpha=0.85 if k == "plan" else 0.5,
                       label=fixed if k == "max_cache" else label)
    x = ok["plan_slo_attainment"].to_numpy(dtype=float)
    y = ok["plan_replayed_kgco2e"].to_numpy(dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() > 1:
        f = pareto_front(x[keep], y[keep])
        ax.step(100 * x[keep][f], y[keep][f], where="post", color="#2ca02c", lw=0.9,
                label="plans' Pareto front")
    ax.set_xlabel("requests within both SLOs % (replayed)")
    ax.set_ylabel("kgCO2e (replayed)")
    ax.set_title("Carbon against SLO attainment, every point", loc="left")
    ax.legend(frameon=False, fontsize=7)
    return _png(fig)


def tornado_png(base_value: float | None, items, fixed: str) -> bytes | None:
    if base_value is None or not items:
        return None
    plt = _plt()
    rows = ranges(base_value, items)[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 1.0 + 0.42 * len(rows)), layout="constrained")
    for y, (g, lo, hi, _, _) in enumerate(rows):
        # Ends labelled with their values; the page's table names the point behind each.
        ax.barh(y, max(hi - lo, 1e-9), left=lo, color="#1f77b4", alpha=0.75, height=0.6)
        ax.text(lo, y, f"{fmt(lo)} ", ha="right", va="center", fontsize=7)
        ax.text(hi, y, f" {fmt(hi)}", ha="left", va="center", fontsize=7)
    ax.axvline(base_value, color="#444", lw=0.8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    lo_all = min(r[1] for r in rows)
    hi_all = max(r[2] for r in rows)
    pad = 0.15 * max(hi_all - lo_all, 1.0)
    ax.set_xlim(lo_all - pad, hi_all + pad)
    ax.set_xlabel(f"plan vs {fixed} % (replayed); line: the base point")
    ax.set_title("Sensitivity of the reduction", loc="left")
    return _png(fig)


def timeline_png(record: dict, title: str, replica_label: str, fixed: str) -> bytes | None:
    t = record.get("timeline") if record else None
    if not t or "max_cache_cache_gb" not in t:
        return None
    plt = _plt()
    x = pd.DatetimeIndex(t["window_start"]).tz_convert("UTC").tz_localize(None)
    arr = lambda k: np.asarray(t[k], dtype=float)  # noqa: E731
    fig, ax = plt.subplots(4, 1, figsize=(10, 7.5), sharex=True, layout="constrained")
    ax[0].step(x, arr("ci_gco2_per_kwh"), where="post", color="#444")
    ax[0].set_ylabel("gCO2e/kWh")
    ax[0].set_title(f"{title}: grid carbon intensity", loc="left")
    ax[1].step(x, arr("rate_rps"), where="post", color="#1f77b4")
    ax[1].set_ylabel("req/s")
    ax[1].set_title("load", loc="left")
    for i, (col, what, unit) in enumerate((("cache_gb", "SSD cache size", 1000.0),
                                           ("replicas", f"replicas ({replica_label} each)", 1.0))):
        a = ax[2 + i]
        a.step(x, arr(f"plan_{col}") / unit, where="post", color="#2ca02c", label="plan")
        a.step(x, arr(f"max_cache_{col}") / unit, where="post", color="#ff7f0e", ls="--",
               label=fixed)
        a.set_ylabel("cache TB" if col == "cache_gb" else "replicas")
        a.set_title(what, loc="left")
        a.legend(frameon=False, fontsize=7)
    return _png(fig)
