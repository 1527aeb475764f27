"""Profile tables: tail latency and power of one replica against load, hit rate and token mix.

A profile table is the planner's only view of serving performance, so that a synthetic table
(from the latency model) and a measured one are interchangeable.

File pair ``profiles/tables/<model>__<gpu>-tp<tp>__<ssd>.csv`` + ``.meta.json``.

CSV columns, in this order (one row for every combination of the four axes):

=====================  ==========================================================================
``rate_rps``           offered load per replica, requests/s (axis; the first value is 0)
``hit_rate``           fraction of prompt tokens served from the SSD KV tier (axis, 0..1)
``mean_input_tokens``  mean prompt length of the workload (axis)
``mean_output_tokens`` mean generated length of the workload (axis)
``stable``             1 when the replica keeps up with the load, 0 when its queue grows
``p50_ttft_s`` …       p50 / p90 / p99 time to first token, seconds (empty when unstable)
``p50_tpot_s`` …       p50 / p90 / p99 time per output token after the first, seconds
``gpu_power_w``        mean power per GPU of the replica, W (model loaded, at that load)
``ssd_read_gbps``      mean SSD read rate of the replica (KV loads of hits), GB/s
``ssd_write_gbps``     mean SSD write rate of the replica (KV admissions), GB/s
=====================  ==========================================================================

The ``.meta.json`` sidecar records provenance: ``model``, ``gpu``, ``tp``, ``ssd``,
``drives_per_replica``, ``precision``, ``method`` (how the numbers were produced),
``modelled`` (true unless every row was measured), ``generator``, ``generated``, ``inputs``,
``notes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputDataError
from planner.paths import profiles_dir

AXES = ("rate_rps", "hit_rate", "mean_input_tokens", "mean_output_tokens")
VALUES = ("p50_ttft_s", "p90_ttft_s", "p99_ttft_s", "p50_tpot_s", "p90_tpot_s", "p99_tpot_s",
          "gpu_power_w", "ssd_read_gbps", "ssd_write_gbps")
COLUMNS = AXES + ("stable",) + VALUES
META_REQUIRED = ("model", "gpu", "tp", "ssd", "drives_per_replica", "method", "modelled")

# Latency written for an unstable grid point before interpolation: large enough to fail any
# SLO, finite so that a stable neighbour's interpolation is not poisoned by NaN.
_UNSTABLE_LATENCY_S = 1.0e6


def table_name(model: str, gpu: str, tp: int, ssd: str) -> str:
    return f"{model}__{gpu}-tp{tp}__{ssd}"


def tables_dir() -> Path:
    return profiles_dir() / "tables"


@dataclass(frozen=True)
class ProfileLookup:
    """Interpolated profile values for a batch of query points (arrays of equal length)."""

    p90_ttft_s: np.ndarray
    p90_tpot_s: np.ndarray
    gpu_power_w: np.ndarray
    ssd_read_gbps: np.ndarray
    ssd_write_gbps: np.ndarray
    stable: np.ndarray  # bool: the load is within the capacity interpolated between mixes
    p50_ttft_s: np.ndarray | None = None
    p50_tpot_s: np.ndarray | None = None


class ProfileTable:
    """A loaded profile table with interpolation over its four axes.

    Hit rate interpolates linearly, token lengths in log space (where latency is closer to
    linear); between token mixes the table is read at equal utilisation (load over each mix's
    capacity, see ``_interpolate``), so a knee that moves with the mix is not averaged away.
    Loads beyond a mix's last stable rate are reported unstable, never extrapolated; token
    mixes outside the table's range raise :class:`InputDataError`.
    """

    def __init__(self, frame: pd.DataFrame, meta: dict, source: str = "<memory>"):
        self.meta = meta
        self.source = source
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise InputDataError(f"profile table {source} lacks column(s) {', '.join(missing)}")
        missing = [k for k in META_REQUIRED if k not in meta]
        if missing:
            raise InputDataError(f"profile metadata for {source} lacks {', '.join(missing)}")
        self.frame = frame.sort_values(list(AXES)).reset_index(drop=True)
        self.axes = [np.unique(self.frame[a].to_numpy(dtype=float)) for a in AXES]
        shape = tuple(len(a) for a in self.axes)
        if int(np.prod(shape)) != len(self.frame):
            raise InputDataError(
                f"profile table {source} is not a full grid: {len(self.frame)} rows for axes of "
                f"sizes {shape}")
        for name, ax in zip(AXES, self.axes):
            if len(ax) < 2:
                raise InputDataError(f"profile table {source}: axis {name} needs ≥ 2 values")
        if self.axes[0][0] != 0.0:
            raise InputDataError(f"profile table {source}: the rate axis must start at 0")
        if self.axes[1][0] < 0 or self.axes[1][-1] > 1:
            raise InputDataError(f"profile table {source}: hit_rate must lie in [0, 1]")
        if self.axes[2][0] <= 0 or self.axes[3][0] <= 0:
            raise InputDataError(f"profile table {source}: token axes must be positive")
        stable = self.frame["stable"].to_numpy(dtype=float).reshape(shape) > 0.5
        # a mix's capacity: its last rate of an unbroken run of stable rows from rate 0
        # (index -1 when even rate 0 is unstable)
        run = np.cumprod(stable, axis=0).astype(bool)
        self._cap_idx = run.sum(axis=0) - 1
        self._cap = np.where(self._cap_idx >= 0, self.axes[0][np.maximum(self._cap_idx, 0)],
                             -1.0)
        self._grid = {}
        for col in VALUES:
            v = self.frame[col].to_numpy(dtype=float).reshape(shape)
            if np.isnan(v[run]).any():
                raise InputDataError(f"profile table {source}: {col} has empty stable cells")
            if not col.endswith("_s") and np.isnan(v).any():
                raise InputDataError(f"profile table {source}: {col} has empty cells")
            self._grid[col] = v

    # ---------------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.meta["model"]

    @property
    def tp(self) -> int:
        return int(self.meta["tp"])

    @property
    def modelled(self) -> bool:
        return bool(self.meta["modelled"])

    @property
    def max_rate(self) -> float:
        return float(self.axes[0][-1])

    def token_range(self) -> tuple[tuple[float, float], tuple[float, float]]:
        return ((self.axes[2][0], self.axes[2][-1]), (self.axes[3][0], self.axes[3][-1]))

    def check_mix(self, mean_input: np.ndarray, mean_output: np.ndarray, labels) -> None:
        """Raise if a window's token mix lies outside the table (no silent extrapolation)."""
        (in_lo, in_hi), (out_lo, out_hi) = self.token_range()
        for name, vals, lo, hi in (("mean prompt", mean_input, in_lo, in_hi),
                                   ("mean output", mean_output, out_lo, out_hi)):
            vals = np.asarray(vals, dtype=float)
            bad = (vals < lo) | (vals > hi)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputDataError(
                    f"window {labels[i]} has a {name} length of {vals[i]:,.0f} tokens, outside "
                    f"the profile {self.source} ({lo:,.0f}–{hi:,.0f}); generate a table that "
                    "covers it with `greencache profile synth`")

    def hit_energy_j_per_token(self, mean_input: float, mean_output: float) -> float:
        """GPU energy a cache hit saves per prompt token, from the table itself:
        g · [P(ρ, h=0) − P(ρ, h=1)] / (ρ · mean prompt), at half the largest load the replica
        sustains without a cache (a representative operating point). NaN when the table shows
        no saving there."""
        rates = self.axes[0][1:]
        look = self.lookup(rates, np.zeros(len(rates)), mean_input, mean_output)
        stable = rates[look.stable]
        if not len(stable):
            return float("nan")
        rho = 0.5 * float(stable[-1])
        p = self.lookup(np.array([rho, rho]), np.array([0.0, 1.0]), mean_input, mean_output)
        saved_w = self.tp * float(p.gpu_power_w[0] - p.gpu_power_w[1])
        return saved_w / (rho * mean_input) if saved_w > 0 else float("nan")

    def lookup(self, rate_rps, hit_rate, mean_input, mean_output) -> ProfileLookup:
        rate = np.asarray(rate_rps, dtype=float)
        n = rate.shape[0]
        hit = np.broadcast_to(np.asarray(hit_rate, dtype=float), (n,))
        lin = np.broadcast_to(np.log(np.asarray(mean_input, dtype=float)), (n,))
        lout = np.broadcast_to(np.log(np.asarray(mean_output, dtype=float)), (n,))
        if np.any(rate < 0) or np.any((hit < 0) | (hit > 1)):
            raise ValueError("rates must be ≥ 0 and hit rates within [0, 1]")
        return self._interpolate(rate, hit, lin, lout)

    def _interpolate(self, rate, hit, lin, lout) -> ProfileLookup:
        """Interpolation at equal utilisation between neighbouring token mixes.

        The 8 grid mixes (hit rate, log prompt, log output) around a query carry weights w_c
        (multilinear) and capacities C_c (last stable rate). The query's capacity is
        C = exp(Σ w_c log C_c); it is stable when rate ≤ C. Each corner is read at the same
        utilisation u = rate / C, i.e. at rate u·C_c ≤ C_c, linearly between its rate rows, and
        the values are combined with w_c. So the knee moves smoothly between token mixes, and no
        value comes from beyond a corner's last stable rate. An unstable query reports
        ``_UNSTABLE_LATENCY_S`` and the power and SSD traffic of the replica at its capacity.
        """
        rates = self.axes[0]
        locs = [_locate(ax, x) for ax, x in ((self.axes[1], hit), (np.log(self.axes[2]), lin),
                                             (np.log(self.axes[3]), lout))]
        corners = []
        for dh in (0, 1):
            for di in (0, 1):
                for do in (0, 1):
                    w = np.ones_like(rate)
                    idx = []
                    for d, (j, t) in zip((dh, di, do), locs):
                        w = w * (t if d else 1.0 - t)
                        idx.append(j + d)
                    corners.append((w, tuple(idx)))
        none = np.zeros(rate.shape, dtype=bool)
        zero = np.zeros(rate.shape, dtype=bool)
        logcap = np.zeros_like(rate)
        for w, idx in corners:
            used = w > 1e-12
            cap = self._cap[idx]
            none |= used & (cap < 0)
            zero |= used & (cap == 0)
            logcap += np.where(used & (cap > 0), w * np.log(np.where(cap > 0, cap, 1.0)), 0.0)
        cap_q = np.where(none, -1.0, np.where(zero, 0.0, np.exp(logcap)))
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(rate == 0, 0.0, rate / np.where(cap_q > 0, cap_q, np.nan))
        u = np.where(np.isnan(u), np.inf, u)
        stable = (~none) & (u <= 1.0 + 1e-12) & (rate <= self.max_rate)
        u_eval = np.minimum(u, 1.0)
        out = {c: np.zeros_like(rate) for c in ("p90_ttft_s", "p90_tpot_s", "gpu_power_w",
                                                "ssd_read_gbps", "ssd_write_gbps",
                                                "p50_ttft_s", "p50_tpot_s")}
        for w, idx in corners:
            k = np.maximum(self._cap_idx[idx], 0)
            r_c = u_eval * np.maximum(self._cap[idx], 0.0)
            j = np.clip(np.searchsorted(rates, r_c, side="right") - 1, 0, np.maximum(k - 1, 0))
            j1 = np.minimum(j + 1, k)
            span = rates[j1] - rates[j]
            t = np.where(span > 0, np.clip((r_c - rates[j]) / np.where(span > 0, span, 1.0),
                                           0.0, 1.0), 0.0)
            for c in out:
                g = self._grid[c]
                v0 = g[(j, *idx)]
                v1 = g[(j1, *idx)]
                val = v0 * (1.0 - t) + v1 * t
                out[c] += np.where(w > 1e-12, w * np.nan_to_num(val, nan=_UNSTABLE_LATENCY_S), 0.0)
        for c in ("p90_ttft_s", "p90_tpot_s", "p50_ttft_s", "p50_tpot_s"):
            out[c] = np.where(stable, out[c], _UNSTABLE_LATENCY_S)
        return ProfileLookup(stable=stable, **out)


def _locate(axis: np.ndarray, x: np.ndarray):
    """Lower cell index and fractional position of x on an axis (clipped to its range)."""
    j = np.clip(np.searchsorted(axis, x, side="right") - 1, 0, len(axis) - 2)
    t = np.clip((x - axis[j]) / (axis[j + 1] - axis[j]), 0.0, 1.0)
    return j, t

def load_profile(model: str, gpu: str, tp: int, ssd: str,
                 directory: Path | None = None) -> ProfileTable:
    directory = Path(directory) if directory else tables_dir()
    name = table_name(model, gpu, tp, ssd)
    return read_profile(directory / f"{name}.csv")


def read_profile(csv_path: Path) -> ProfileTable:
    csv_path = Path(csv_path)
    meta_path = csv_path.with_suffix(".meta.json")
    if not csv_path.exists():
        known = sorted(p.stem for p in csv_path.parent.glob("*.csv")) \
            if csv_path.parent.exists() else []
        hint = f"; shipped tables: {', '.join(known)}" if known else ""
        raise InputDataError(f"no profile table {csv_path}{hint}")
    if not meta_path.exists():
        raise InputDataError(f"profile table {csv_path} has no metadata file {meta_path.name}")
    try:
        frame = pd.read_csv(csv_path)
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, pd.errors.ParserError) as e:
        raise InputDataError(f"cannot read profile table {csv_path}: {e}") from None
    return ProfileTable(frame, meta, source=str(csv_path))


def write_profile(frame: pd.DataFrame, meta: dict, csv_path: Path) -> None:
    """Write a table and its metadata in the documented column order, both or neither."""
    from planner.outputs import OutputSet

    csv_path = Path(csv_path)
    ordered = frame.loc[:, list(COLUMNS)].sort_values(list(AXES))
    text = ordered.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    out = OutputSet(csv_path.parent)
    out.add_text(csv_path.name, text)
    out.add_text(csv_path.with_suffix(".meta.json").name,
                 json.dumps(meta, indent=2, sort_keys=True) + "\n")
    out.commit()
