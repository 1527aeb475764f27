"""Observations → windows: what each stretch of time served and how fast.

Sources:

* **per-request CSV** (production logs, or a measured run's per-request file): one row per
  request, columns ``time`` (ISO 8601, or seconds as a number), ``ttft_s``, ``tpot_s``
  (blank for a one-token output) and optionally ``input_tokens``, ``output_tokens`` (whole
  numbers) and ``hit`` (share of the prompt's tokens served from the KV cache, 0..1). Rows
  are grouped into windows of ``window_s`` seconds from the first request; a window's rate is
  its requests over its length (the first and last clipped to the observed span), its p90s
  those of its requests, its hit rate the prompt-token-weighted mean.
* **GPU power CSV** (optional, with per-request CSVs): ``time``, ``gpu_power_w`` (W per
  GPU) samples; a window's power is the mean of its samples.
* **measured sweep** (the ``.sweep.json`` record ``greencache profile measure`` writes beside
  its table): each measured point of its ``points`` under load (not the lone requests at
  rate 0) is one window, at the point's offered
  rate per replica, its hit rate (the engine's own prefix-cache count where the endpoint
  exposed one, else the hit rate the prompts were built for), token means, p90s and GPU power;
  its length is its timed requests over its rate.
* **replay** (``replay.csv`` of ``greencache simulate``): one row per plan window with its
  requests, replicas, replayed hit rate and p90s, and the plan's own prediction for it
  (``predicted_p90_*``), which is then the expected value; the token means come from the
  plan's ``schedule.csv`` beside the replay folder.

A window counts only with at least ``MIN_REQUESTS`` requests: the p90 of fewer is mostly
noise.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputDataError, UsageError
from planner.input_files import quote, read_text

MIN_REQUESTS = 20
LOG_REQUIRED = ("time", "ttft_s", "tpot_s")
LOG_OPTIONAL = ("input_tokens", "output_tokens", "hit")
REPLAY_REQUIRED = ("window_start", "window_end", "requests", "replicas", "replayed_hit_rate",
                   "replayed_p90_ttft_s", "replayed_p90_tpot_s", "predicted_p90_ttft_s",
                   "predicted_p90_tpot_s")
WINDOW_COLUMNS = ("start", "seconds", "requests", "replicas", "hit_rate", "mean_input_tokens",
                  "mean_output_tokens", "p90_ttft_s", "p90_tpot_s", "gpu_power_w",
                  "expected_p90_ttft_s", "expected_p90_tpot_s", "label")


@dataclass
class Observed:
    """Observation windows (``WINDOW_COLUMNS``; expected_* NaN unless the source predicts)."""

    kind: str                 # logs | measured | replay
    windows: pd.DataFrame
    requests: int
    assumed: list[str] = field(default_factory=list)
    few_requests: int = 0     # windows left out for having fewer than MIN_REQUESTS


def _csv(path: Path, what: str) -> pd.DataFrame:
    text = read_text(path, what)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as e:
        raise InputDataError(f"cannot read {what} {path}: "
                             f"{quote(str(e).splitlines()[0] if str(e) else e)}") from None
    frame.columns = [c.strip() for c in frame.columns]
    if frame.empty:
        raise InputDataError(f"{what} {path} holds no rows")
    return frame


def _numbers(frame: pd.DataFrame, col: str, path: Path, what: str, blank_ok: bool = False,
             lo: float = 0.0, hi: float = np.inf, whole: bool = False) -> np.ndarray:
    raw = frame[col].str.strip()
    v = pd.to_numeric(raw.where(raw != "", None), errors="coerce").to_numpy(dtype=float)
    bad = (np.isnan(v) & ((raw != "").to_numpy() | (not blank_ok))) | \
        (~np.isnan(v) & ((v < lo) | (v > hi) | ~np.isfinite(v)))
    if whole:
        bad |= ~np.isnan(v) & (v != np.round(v))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rng = f"within {lo:g}..{hi:g}" if np.isfinite(hi) else f"≥ {lo:g}"
        kind = "a whole number" if whole else "a number"
        raise InputDataError(f"{what} {path}, line {i + 2}: {col} must be {kind} {rng}, got "
                             f"{quote(frame[col].iloc[i])}")
    return v


def _times(frame: pd.DataFrame, path: Path, what: str) -> np.ndarray:
    """Seconds since the epoch (ISO 8601 times) or as given (numbers)."""
    raw = frame["time"].str.strip()
    num = pd.to_numeric(raw, errors="coerce")
    if num.notna().all():
        t = num.to_numpy(dtype=float)
        if not np.isfinite(t).all():
            i = int(np.flatnonzero(~np.isfinite(t))[0])
            raise InputDataError(f"{what} {path}, line {i + 2}: time must be finite")
        return t
    parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
    if parsed.isna().any():
        i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise InputDataError(f"{what} {path}, line {i + 2}: cannot read time "
                             f"{quote(frame['time'].iloc[i])} (ISO 8601 or seconds)")
    return (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()


def _check_columns(frame: pd.DataFrame, required, path: Path, what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputDataError(f"{what} {path} lacks column(s) {', '.join(missing)} (header: "
                             f"{quote(','.join(frame.columns))})")


def read_logs(path: str | Path, window_s: float, replicas: int,
              mean_input: float | None = None, mean_output: float | None = None,
              power: str | Path | None = None) -> Observed:
    """Per-request observations → windows (module docstring)."""
    if not 1 <= window_s <= 86_400:
        raise UsageError(f"--window must be within 1..86400 seconds, got {window_s:g}")
    if not 1 <= replicas <= 4096:
        raise UsageError(f"--replicas must be within 1..4096, got {replicas}")
    path = Path(path)
    what = "observed requests"
    f = _csv(path, what)
    _check_columns(f, LOG_REQUIRED, path, what)
    t = _times(f, path, what)
    ttft = _numbers(f, "ttft_s", path, what, hi=3600.0)
    tpot = _numbers(f, "tpot_s", path, what, blank_ok=True, hi=600.0)
    assumed = []
    tokens = {}
    for col, given, name in (("input_tokens", mean_input, "--mean-input"),
                             ("output_tokens", mean_output, "--mean-output")):
        if col in f.columns:
            tokens[col] = _numbers(f, col, path, what, lo=1, whole=True, hi=1e7)
        elif given is not None:
            tokens[col] = np.full(len(f), float(given))
            assumed.append(f"{col}: not in the file; {name} {given:g} for every request")
        else:
            raise UsageError(f"{path} has no {col} column: give the workload's mean with "
                             f"{name}")
    if "hit" in f.columns:
        hit = _numbers(f, "hit", path, what, hi=1.0)
    else:
        hit = np.zeros(len(f))
        assumed.append("hit: not in the file; hit rate 0 assumed for every request")
    t0, t1 = float(t.min()), float(t.max())
    k = np.floor((t - t0) / window_s).astype(np.int64)
    n = int(k.max()) + 1
    rows = []
    few = 0
    for w in range(n):
        sel = k == w
        cnt = int(sel.sum())
        if cnt < MIN_REQUESTS:
            few += int(cnt > 0)
            continue
        start = t0 + w * window_s
        seconds = min(start + window_s, t1) - start if w == n - 1 else window_s
        seconds = max(seconds, 1e-9)
        inp = tokens["input_tokens"][sel]
        tp = tpot[sel]
        tp = tp[~np.isnan(tp)]
        rows.append((start, seconds, cnt, replicas,
                     float((hit[sel] * inp).sum() / inp.sum()), float(inp.mean()),
                     float(tokens["output_tokens"][sel].mean()),
                     float(np.percentile(ttft[sel], 90)),
                     float(np.percentile(tp, 90)) if tp.size else np.nan, np.nan, np.nan,
                     np.nan, f"from {start - t0:g} s"))
    windows = pd.DataFrame(rows, columns=list(WINDOW_COLUMNS))
    if power is not None:
        windows = _with_power(windows, Path(power), window_s)
    return Observed("logs", windows, len(f), assumed, few)


def _with_power(windows: pd.DataFrame, path: Path, window_s: float) -> pd.DataFrame:
    what = "observed GPU power"
    f = _csv(path, what)
    _check_columns(f, ("time", "gpu_power_w"), path, what)
    t = _times(f, path, what)
    p = _numbers(f, "gpu_power_w", path, what, lo=1.0, hi=5000.0)
    out = windows.copy()
    for i, start in enumerate(out["start"]):
        sel = (t >= start) & (t < start + window_s)
        if sel.any():
            out.loc[out.index[i], "gpu_power_w"] = float(p[sel].mean())
    return out


def read_replay(path: str | Path) -> Observed:
    """A replay's replay.csv → windows, with the plan's predictions as the expected values
    and the token means of the plan's schedule.csv (the replay folder's parent)."""
    path = Path(path)
    what = "replay"
    f = _csv(path, what)
    _check_columns(f, REPLAY_REQUIRED, path, what)
    sched_path = path.parent.parent / "schedule.csv"
    if not sched_path.is_file():
        raise InputDataError(f"replay {path}: the plan's schedule.csv is not in "
                             f"{path.parent.parent} (the replay folder's parent), and it holds "
                             "the windows' token means")
    s = _csv(sched_path, "schedule")
    _check_columns(s, ("window_start", "mean_input_tokens", "mean_output_tokens"), sched_path,
                   "schedule")
    if len(s) != len(f) or not (s["window_start"].str.strip().to_numpy()
                                == f["window_start"].str.strip().to_numpy()).all():
        raise InputDataError(f"replay {path} and {sched_path} do not have the same windows")
    start = pd.to_datetime(f["window_start"].str.strip(), utc=True, errors="coerce",
                           format="ISO8601")
    end = pd.to_datetime(f["window_end"].str.strip(), utc=True, errors="coerce",
                         format="ISO8601")
    if start.isna().any() or end.isna().any() or ((end - start).dt.total_seconds() <= 0).any():
        i = int(np.flatnonzero((start.isna() | end.isna()
                                | ((end - start).dt.total_seconds() <= 0)).to_numpy())[0])
        raise InputDataError(f"replay {path}, line {i + 2}: window_start and window_end must "
                             "be ISO 8601 times, start before end")
    req = _numbers(f, "requests", path, what, whole=True)
    rep = _numbers(f, "replicas", path, what, lo=1, hi=4096, whole=True)
    cols = {c: _numbers(f, c, path, what, blank_ok=True, hi=1e6) for c in
            ("replayed_p90_ttft_s", "replayed_p90_tpot_s", "predicted_p90_ttft_s",
             "predicted_p90_tpot_s")}
    hit = _numbers(f, "replayed_hit_rate", path, what, hi=1.0)
    mi = _numbers(s, "mean_input_tokens", sched_path, "schedule", blank_ok=True)
    mo = _numbers(s, "mean_output_tokens", sched_path, "schedule", blank_ok=True)
    keep = req >= MIN_REQUESTS
    windows = pd.DataFrame({
        "start": (start - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(),
        "seconds": (end - start).dt.total_seconds().to_numpy(), "requests": req.astype(int),
        "replicas": rep.astype(int), "hit_rate": hit, "mean_input_tokens": mi,
        "mean_output_tokens": mo, "p90_ttft_s": cols["replayed_p90_ttft_s"],
        "p90_tpot_s": cols["replayed_p90_tpot_s"], "gpu_power_w": np.nan,
        "expected_p90_ttft_s": cols["predicted_p90_ttft_s"],
        "expected_p90_tpot_s": cols["predicted_p90_tpot_s"],
        "label": f["window_start"].str.strip().to_numpy()})[keep].reset_index(drop=True)
    assumed = ["GPU power: a replay records energy per window (GPUs, host and SSDs with "
               "PUE), not GPU power; no power factor is fitted"]
    return Observed("replay", windows.loc[:, list(WINDOW_COLUMNS)], int(req.sum()), assumed,
                    int(((req > 0) & ~keep).sum()))


SWEEP_KEYS = ("rate_rps", "input_tokens", "output_tokens", "requests_timed", "p90_ttft_s",
              "p90_tpot_s")


def read_sweep(path: str | Path, replicas: int) -> Observed:
    """A measured sweep's record → one window per measured point (module docstring)."""
    import json

    path = Path(path)
    try:
        doc = json.loads(read_text(path, "sweep record"))
    except json.JSONDecodeError as e:
        raise InputDataError(f"sweep record {path}, line {e.lineno}: not JSON ({e.msg})") \
            from None
    points = doc.get("points") if isinstance(doc, dict) else None
    if not isinstance(points, list):
        raise InputDataError(f"sweep record {path} lacks 'points'")
    rows, few, assumed = [], 0, []
    for k, p in enumerate(points):
        where = f"sweep record {path}: points[{k}]"
        if not isinstance(p, dict):
            raise InputDataError(f"{where} must be an object")
        if p.get("status") != "measured":
            continue
        if p.get("rate_rps") == 0:
            continue  # the lone requests sent one at a time: no offered load to place
        vals = {}
        for key in SWEEP_KEYS:
            v = p.get(key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) \
                    or v <= 0:
                raise InputDataError(f"{where}.{key} must be a positive number, got "
                                     f"{quote(v)}")
            vals[key] = float(v)
        if vals["requests_timed"] < MIN_REQUESTS:
            few += 1
            continue
        hit = p.get("engine_hit_rate")
        if not isinstance(hit, (int, float)) or isinstance(hit, bool):
            hit = p.get("intended_hit_rate")
            what = f"point {p.get('point', k)}: the endpoint reported no prefix-cache hits; " \
                   "the hit rate its prompts were built for is used"
            if what not in assumed:
                assumed.append(what)
        if not isinstance(hit, (int, float)) or isinstance(hit, bool) or not 0 <= hit <= 1:
            raise InputDataError(f"{where} has no hit rate within 0..1 (engine_hit_rate or "
                                 "intended_hit_rate)")
        power = p.get("gpu_power_w")
        power = float(power) if isinstance(power, (int, float)) and not isinstance(
            power, bool) and power > 0 else np.nan
        rate = vals["rate_rps"]
        rows.append((float(k), vals["requests_timed"] / rate, int(vals["requests_timed"]),
                     replicas, float(hit), vals["input_tokens"], vals["output_tokens"],
                     vals["p90_ttft_s"], vals["p90_tpot_s"], power, np.nan, np.nan,
                     f"{p.get('point', k)} (sweep point)"))
    windows = pd.DataFrame(rows, columns=list(WINDOW_COLUMNS))
    requests = int(windows["requests"].sum()) if len(windows) else 0
    return Observed("measured", windows, requests, assumed, few)


def read_observed(path: str | Path, window_s: float = 60.0, replicas: int = 1,
                  mean_input: float | None = None, mean_output: float | None = None,
                  power: str | Path | None = None) -> Observed:
    """A replay.csv (told by its header), a measured sweep's record (``.json``) or a
    per-request CSV."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        if power is not None:
            raise UsageError("--power applies to per-request observations; a sweep record "
                             "holds its own power")
        return read_sweep(path, replicas)
    head = read_text(path, "observations").lstrip().split("\n", 1)[0]
    if head.startswith("window_start,window_end,requests,replicas"):
        if power is not None:
            raise UsageError("--power applies to per-request observations, not a replay")
        return read_replay(path)
    return read_logs(path, window_s, replicas, mean_input, mean_output, power)
