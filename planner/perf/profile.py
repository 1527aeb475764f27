"""Profile tables: tail latency and power of one replica against load, hit rate and token mix.

A profile table is the planner's only view of serving performance, so that a synthetic table
(from the latency model) and a measured one are interchangeable.

File pair ``profiles/tables/<model>__<gpu>-tp<tp>__<ssd>__<shape>.csv`` + ``.meta.json``, where
``<shape>`` names the workload shape (:mod:`planner.perf.shapes`) of the requests the numbers
describe: the same replica serves Azure-like and Mooncake-like prompts with different tails.

CSV columns, in this order (one row for every combination of the four axes):

=====================  ==========================================================================
``load_fraction``      offered load over the token mix's capacity (axis: 0 first, 1 last)
``hit_rate``           fraction of prompt tokens served from the SSD KV tier (axis, 0..1)
``mean_input_tokens``  mean prompt length of the workload (axis)
``mean_output_tokens`` mean generated length of the workload (axis)
``rate_rps``           offered load per replica, requests/s: load_fraction × the mix's capacity
``p50_ttft_s`` …       p50 / p90 / p99 time to first token, seconds
``p50_tpot_s`` …       p50 / p90 / p99 time per output token after the first, seconds
``gpu_power_w``        mean power per GPU of the replica, W (model loaded, at that load)
``ssd_read_gbps``      mean SSD read rate of the replica (KV loads of hits), GB/s
``ssd_write_gbps``     mean SSD write rate of the replica (KV admissions), GB/s
=====================  ==========================================================================

A mix's *capacity* is its ``rate_rps`` at load fraction 1: the largest load the table vouches
for (for simulated tables, 0.9 × the saturated throughput); beyond it the queue is unstable.
Why a load-fraction axis rather than one rate axis shared by all mixes: with a shared axis a
mix's capacity is known only to the nearest rate row below it (up to a third too low with the
31 geometric rows the tables had), the mixes with the least capacity get a handful of rows,
and a query between mixes is read at a utilisation that the quantisation distorts: it
over-predicted p90 TTFT of the Azure week by ≈30 % (docs/perf-model.md, "Prediction against
replay"). On a load-fraction axis every mix has the same rows up to its exact capacity.

The ``.meta.json`` sidecar records provenance: ``model``, ``gpu``, ``tp``, ``ssd``,
``drives_per_replica``, ``method`` (how the numbers were produced), ``modelled`` (true unless
every row was measured), ``workload_shape`` (``name`` at least), ``generator``, ``generated``,
``inputs``, ``notes``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputDataError
from planner.input_files import arrow_csv, plain_header, quote, read_text, read_utf8_bytes
from planner.paths import profiles_dir

AXES = ("load_fraction", "hit_rate", "mean_input_tokens", "mean_output_tokens")
VALUES = ("p50_ttft_s", "p90_ttft_s", "p99_ttft_s", "p50_tpot_s", "p90_tpot_s", "p99_tpot_s",
          "gpu_power_w", "ssd_read_gbps", "ssd_write_gbps")
COLUMNS = AXES + ("rate_rps",) + VALUES
META_REQUIRED = ("model", "gpu", "tp", "ssd", "drives_per_replica", "method", "modelled",
                 "workload_shape")
# The shape a table is read for when the caller names none: that of the project's default
# example workload (the Azure conversation trace).
DEFAULT_SHAPE = "azure-conv"

# Latency reported for an unstable query: large enough to fail any SLO, finite so that sums
# and comparisons stay well defined.
_UNSTABLE_LATENCY_S = 1.0e6
_LOOKUP_COLUMNS = ("p90_ttft_s", "p90_tpot_s", "gpu_power_w", "ssd_read_gbps",
                   "ssd_write_gbps", "p50_ttft_s", "p50_tpot_s", "p99_ttft_s", "p99_tpot_s")
_LATENCY = ("p90_ttft_s", "p90_tpot_s", "p50_ttft_s", "p50_tpot_s", "p99_ttft_s", "p99_tpot_s")


def table_name(model: str, gpu: str, tp: int, ssd: str, shape: str = DEFAULT_SHAPE) -> str:
    return f"{model}__{gpu}-tp{tp}__{ssd}__{shape}"


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
    p99_ttft_s: np.ndarray | None = None
    p99_tpot_s: np.ndarray | None = None
    # Load over the query mix's capacity (the table's load fraction; > 1 is unstable).
    load_fraction: np.ndarray | None = None


class ProfileTable:
    """A loaded profile table with interpolation over its four axes.

    Between token mixes the table is read at equal utilisation (load over each mix's capacity,
    see ``_interpolate``), so a knee that moves with the mix is not averaged away; latencies
    interpolate geometrically, power and SSD traffic arithmetically. Loads
    beyond the interpolated capacity are reported unstable, never extrapolated; token mixes
    outside the table's range raise :class:`InputDataError`.
    """

    def __init__(self, frame: pd.DataFrame, meta: dict, source: str = "<memory>"):
        self.meta = meta
        self.source = source
        if "stable" in frame.columns and "load_fraction" not in frame.columns:
            raise InputDataError(
                f"profile table {source} has the old layout (one rate axis for every mix); "
                "regenerate it with `greencache profile synth` (make profiles)")
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise InputDataError(f"profile table {source} lacks column(s) {', '.join(missing)}")
        missing = [k for k in META_REQUIRED if k not in meta]
        if missing:
            raise InputDataError(f"profile metadata for {source} lacks {', '.join(missing)}")
        if not isinstance(meta["workload_shape"], dict) or "name" not in meta["workload_shape"]:
            raise InputDataError(f"profile metadata for {source}: workload_shape must name its "
                                 "shape")
        numbers = {}
        for col in COLUMNS:
            raw = frame[col]
            if raw.dtype.kind in "fiu":
                # Read as numbers already (the usual table): only infinities can be wrong.
                values = raw.to_numpy(dtype=float)
                bad = np.isinf(values)
            else:
                converted = pd.to_numeric(raw, errors="coerce")
                values = converted.to_numpy(dtype=float)
                # Text and infinities here; empty cells are named below.
                bad = (converted.isna() & raw.notna()).to_numpy() | np.isinf(values)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputDataError(f"profile table {source}, line {i + 2}: {col} must be a "
                                     f"finite number, got {quote(raw.iloc[i])}")
            numbers[col] = values
        # Rows in axis order (a stable sort, NaN last: what sort_values by the axes gives),
        # found on the arrays; a table written in that order, as tables are, is not copied
        # again. The converted columns in place, built at once.
        order = np.lexsort([numbers[a] for a in reversed(AXES)])
        if (order == np.arange(len(order))).all():
            order = slice(None)
        numbers = {c: v[order] for c, v in numbers.items()}
        # The frame itself is built when first asked for (the planner reads the grids below;
        # building it was a fixed cost of every plan and check).
        self._columns = {c: numbers[c] if c in numbers else frame[c].to_numpy()[order]
                         for c in frame.columns}
        self._frame = None
        rows = len(numbers[AXES[0]])
        self.axes = [np.unique(numbers[a]) for a in AXES]
        shape = tuple(len(a) for a in self.axes)
        if int(np.prod(shape)) != rows:
            raise InputDataError(
                f"profile table {source} is not a full grid: {rows} rows for axes of "
                f"sizes {shape}")
        for name, ax in zip(AXES, self.axes):
            if len(ax) < 2:
                raise InputDataError(f"profile table {source}: axis {name} needs ≥ 2 values")
        if self.axes[0][0] != 0.0 or self.axes[0][-1] != 1.0:
            raise InputDataError(f"profile table {source}: the load_fraction axis must run from "
                                 "0 to 1")
        if self.axes[1][0] < 0 or self.axes[1][-1] > 1:
            raise InputDataError(f"profile table {source}: hit_rate must lie in [0, 1]")
        if self.axes[2][0] <= 0 or self.axes[3][0] <= 0:
            raise InputDataError(f"profile table {source}: token axes must be positive")
        for col in ("rate_rps",) + VALUES:
            if np.isnan(numbers[col]).any():
                raise InputDataError(f"profile table {source}: {col} has empty cells")
        rate = numbers["rate_rps"].reshape(shape)
        self._cap = rate[-1]
        if np.any(self._cap <= 0):
            raise InputDataError(f"profile table {source}: every token mix needs a capacity "
                                 "(rate_rps at load fraction 1) above 0")
        # rate_rps must be load_fraction × capacity (written with 6 significant digits)
        expect = self.axes[0][:, None, None, None] * self._cap[None]
        if not np.allclose(rate, expect, rtol=1e-4, atol=0.0):
            raise InputDataError(f"profile table {source}: rate_rps is not load_fraction times "
                                 "the mix's capacity")
        self._grid = {c: numbers[c].reshape(shape) for c in VALUES}

    # ---------------------------------------------------------------------------------------
    @property
    def frame(self) -> pd.DataFrame:
        """The table, every column of the file, rows in axis order, numbers as doubles."""
        if self._frame is None:
            self._frame = pd.DataFrame(self._columns)
        return self._frame

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
    def shape(self) -> str:
        return str(self.meta["workload_shape"]["name"])

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
        g · [P(ρ, h=0) − P(ρ, h=1)] / (ρ · mean prompt), at half the capacity of the replica
        without a cache (a representative operating point). NaN when the table shows no
        saving there."""
        rho = 0.5 * float(self.capacity(0.0, mean_input, mean_output)[0])
        p = self.lookup(np.array([rho, rho]), np.array([0.0, 1.0]), mean_input, mean_output)
        saved_w = self.tp * float(p.gpu_power_w[0] - p.gpu_power_w[1])
        return saved_w / (rho * mean_input) if saved_w > 0 else float("nan")

    def value_range(self, column: str) -> tuple[float, float]:
        """Smallest and largest value of a column over the whole table. Power and SSD traffic
        are interpolated arithmetically (convex weights), so every lookup lies within it."""
        grid = self._grid[column]
        return float(grid.min()), float(grid.max())

    def capacity(self, hit_rate, mean_input, mean_output) -> np.ndarray:
        """Largest stable load (requests/s) of the query mixes, interpolated between mixes.

        1/C, the time per request at the stability limit, is interpolated multilinearly in hit
        rate and in the (linear) token means: per-request work is, to first order, affine in
        the uncached prompt tokens and the output tokens, so 1/C is too. Against the
        simulator's saturated throughput at eight query mixes this rule came out 1.6–5.8 % low
        (mean 3.4 %), geometric interpolation in log tokens 1.2–4.7 % (mean 3.8 %)."""
        hit, mi, mo = (np.atleast_1d(np.asarray(x, dtype=float)) for x in
                       (hit_rate, mean_input, mean_output))
        n = max(len(hit), len(mi), len(mo))
        hit, mi, mo = (np.broadcast_to(x, (n,)) for x in (hit, mi, mo))
        locs = [_locate(ax, x) for ax, x in ((self.axes[1], hit), (self.axes[2], mi),
                                             (self.axes[3], mo))]
        inv = np.zeros(n)
        for w, idx in _corners(locs, n):
            inv += w / self._cap[idx]
        return 1.0 / inv

    def lookup(self, rate_rps, hit_rate, mean_input, mean_output) -> ProfileLookup:
        rate = np.asarray(rate_rps, dtype=float)
        n = rate.shape[0]
        hit = np.broadcast_to(np.asarray(hit_rate, dtype=float), (n,))
        mi = np.broadcast_to(np.asarray(mean_input, dtype=float), (n,))
        mo = np.broadcast_to(np.asarray(mean_output, dtype=float), (n,))
        if np.any(rate < 0) or np.any((hit < 0) | (hit > 1)):
            raise ValueError("rates must be ≥ 0 and hit rates within [0, 1]")
        return self._interpolate(rate, hit, mi, mo)

    def _interpolate(self, rate, hit, mi, mo) -> ProfileLookup:
        """Interpolation at equal utilisation between neighbouring token mixes.

        The query's capacity C comes from :meth:`capacity`; it is stable when rate ≤ C. Its
        utilisation u = rate / C is the load fraction at which each of the 8 neighbouring mixes
        (hit rate, log prompt, log output) is read, linearly between load-fraction rows. So the
        knee moves smoothly between token mixes, and no value comes from beyond a mix's
        capacity. The corners combine with multilinear weights: latencies geometrically (their
        logs), because prefill time grows faster than linearly with the prompt (attention is
        quadratic in it), so a latency is closer to a power of the token means than to a line
        in their logs (arithmetic weights over-predicted p90 TTFT by 5–21 % between the
        8,192- and 16,384-token prompt mixes, geometric ones were within −9 to +4 % of the
        simulator at the query mix); power and SSD traffic arithmetically. An unstable query
        reports ``_UNSTABLE_LATENCY_S`` and the power and SSD traffic of the replica at its
        capacity.
        """
        n = rate.shape[0]
        cap = self.capacity(hit, mi, mo)
        u = rate / cap
        stable = u <= 1.0 + 1e-9
        lf = self.axes[0]
        ue = np.minimum(u, 1.0)
        j = np.clip(np.searchsorted(lf, ue, side="right") - 1, 0, len(lf) - 2)
        t = np.clip((ue - lf[j]) / (lf[j + 1] - lf[j]), 0.0, 1.0)
        locs = [_locate(ax, x) for ax, x in ((self.axes[1], hit), (np.log(self.axes[2]),
                                                                  np.log(mi)),
                                             (np.log(self.axes[3]), np.log(mo)))]
        out = {c: np.zeros(n) for c in _LOOKUP_COLUMNS}
        shape = self._grid[_LOOKUP_COLUMNS[0]].shape
        # one flat index per corner, shared by every column (the load-fraction row j + 1 is
        # one row stride further): the same values as indexing each column by the tuple
        step = int(np.prod(shape[1:]))
        for w, idx in _corners(locs, n):
            flat = np.ravel_multi_index((j, *idx), shape)
            for c in out:
                g = self._grid[c].reshape(-1)
                v = g.take(flat) * (1.0 - t) + g.take(flat + step) * t
                out[c] += w * (np.log(np.maximum(v, 1e-12)) if c in _LATENCY else v)
        for c in _LATENCY:
            out[c] = np.where(stable, np.exp(out[c]), _UNSTABLE_LATENCY_S)
        return ProfileLookup(stable=stable, load_fraction=u, **out)


def _locate(axis: np.ndarray, x: np.ndarray):
    """Lower cell index and fractional position of x on an axis (clipped to its range)."""
    j = np.clip(np.searchsorted(axis, x, side="right") - 1, 0, len(axis) - 2)
    t = np.clip((x - axis[j]) / (axis[j + 1] - axis[j]), 0.0, 1.0)
    return j, t


def _corners(locs, n: int):
    """(weight, index tuple) of the 2^len(locs) grid corners around each query (multilinear)."""
    out = []
    for bits in range(1 << len(locs)):
        w = np.ones(n)
        idx = []
        for d, (j, t) in enumerate(locs):
            up = (bits >> (len(locs) - 1 - d)) & 1
            w = w * (t if up else 1.0 - t)
            idx.append(j + up)
        out.append((w, tuple(idx)))
    return out


def available_shapes(model: str, gpu: str, tp: int, ssd: str,
                     directory: Path | None = None) -> list[str]:
    """Workload shapes that have a table for this replica configuration, sorted."""
    directory = Path(directory) if directory else tables_dir()
    prefix = f"{model}__{gpu}-tp{tp}__{ssd}__"
    return sorted(p.stem[len(prefix):] for p in directory.glob(f"{prefix}*.csv"))


def load_profile(model: str, gpu: str, tp: int, ssd: str, directory: Path | None = None,
                 shape: str | None = None) -> ProfileTable:
    """The table of a replica configuration for a workload shape (default ``DEFAULT_SHAPE``)."""
    directory = Path(directory) if directory else tables_dir()
    name = table_name(model, gpu, tp, ssd, shape or DEFAULT_SHAPE)
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
    # The bytes, once checked as UTF-8, go to the CSV reader as they are (not encoded again).
    data = read_utf8_bytes(csv_path, "profile table")
    meta_text = read_text(meta_path, "profile metadata")
    try:
        frame = _arrow_frame(data)
        if frame is None:
            frame = pd.read_csv(io.BytesIO(data))
        meta = json.loads(meta_text)
    except (ValueError, pd.errors.ParserError, RecursionError) as e:
        raise InputDataError(f"cannot read profile table {csv_path}: "
                             f"{quote(str(e).splitlines()[0] if str(e) else e)}") from None
    if not isinstance(meta, dict):
        raise InputDataError(f"profile metadata {meta_path} must hold a JSON object")
    return ProfileTable(frame, meta, source=str(csv_path))


def _arrow_frame(data: bytes) -> pd.DataFrame | None:
    """The table read by Arrow's CSV parser (every column as doubles, blank cells NaN), or None
    when pandas must read it instead.

    Arrow parses a shipped table in a fifth of pandas' time (it was most of loading one, for
    the plan and again for its check). It is used only where its reading cannot differ: a plain
    header (:func:`planner.input_files.plain_header`) naming columns of the layout once each,
    and every cell a number or blank (for tables written with six significant digits both
    parsers give the same doubles). It refuses anything else (a text cell, a ragged row), and
    pandas reads the file as it always has, so :class:`ProfileTable` names what is wrong in the
    same words."""
    import pyarrow as pa

    header = plain_header(data)
    if header is None:
        return None
    names = header.split(",")
    if len(set(names)) != len(names) or not set(names) <= set(COLUMNS):
        return None
    table = arrow_csv(data, names, {c: pa.float64() for c in names})
    if table is None:
        return None
    return pd.DataFrame({c: table.column(c).to_numpy(zero_copy_only=False).astype(float)
                         for c in names})


def write_profile(frame: pd.DataFrame, meta: dict, csv_path: Path) -> None:
    """Write a table and its metadata in the documented column order, both or neither."""
    from planner.outputs import FileSet

    csv_path = Path(csv_path)
    ordered = frame.loc[:, list(COLUMNS)].sort_values(list(AXES))
    text = ordered.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    out = FileSet()
    out.add_text(csv_path, text)
    out.add_text(csv_path.with_suffix(".meta.json"),
                 json.dumps(meta, indent=2, sort_keys=True) + "\n")
    out.commit()
