"""Workload shapes: how a workload's lengths spread around their means, and how its cache
hits spread over its requests.

A profile-table point is a token mix (mean prompt, mean output) and a hit rate h. The requests
simulated for it draw their lengths as ``x = mean · s``, where the multiplier ``s`` follows a
*shape*: the distribution of length / mean of a real workload, stored as its quantile function
at fixed probabilities (:data:`PROBABILITIES`, dense in the upper tail, where long prompts set
the TTFT tail) and drawn by inverse transform, ``s = Q(u)`` with ``u`` uniform, linearly
between the stored quantiles.

Hits: a request's *reuse potential* g is the share of its prompt an unbounded prefix cache
would serve (its longest prefix seen before). Real hits are concentrated: a continued
conversation reuses most of its prompt, a new one at most its system prompt, and how often a
prompt continues depends on its length. A shape stores g's distribution conditional on the
prompt's length quantile (:data:`REUSE_BINS`), and a point at hit rate h gives request i the
cached share f_i = g_i · h / G when h ≤ G, else g_i + (1 − g_i)(h − G)/(1 − G), with G the
token-weighted mean of g over the point's requests: a cache that holds a fraction of what is
reusable keeps that fraction of every request's reusable prefix, and beyond G (more hits than
the reference workload ever had) the rest is topped up evenly. Either way the point's token hit
rate is exactly h. Without reuse data (``lognormal``) every request gets f = h.

Why not one parametric family: the p90 of TTFT follows the longest prompts, and real traces
differ exactly there. Azure conversation prompts stop at ≈3.6 × their mean at p99, where a
log-normal with the same p90/p50 spread reaches ≈6 ×; Mooncake's conversation prompts reach
7.1 ×. ``docs/perf-model.md`` ("Prediction against replay") measures what that does to p90 TTFT.

Shipped shapes (``profiles/shapes/<name>.json``, written by ``scripts/fit_workload_shapes.py``
from the example traces, with provenance) plus ``lognormal``, built from the σ of the parameter
file (the shape the tables used before). :func:`choose_shape` picks, for a trace, the shape
whose quantiles are nearest to the trace's own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from planner.errors import InputDataError, UsageError
from planner.paths import profiles_dir

LOGNORMAL = "lognormal"
# Probabilities at which a shape's quantiles are stored: every percent up to p90, then finer
# steps into the tail (the top 1 % of prompts holds the requests that set p90 TTFT under load).
PROBABILITIES = tuple(np.round(np.concatenate([
    np.arange(0, 91) / 100, 0.9 + np.arange(1, 19) * 0.005, 0.99 + np.arange(1, 10) * 0.001,
    [0.9995, 1.0]]), 6).tolist())
# Prompt-length quantile bins of the reuse potential's conditional distribution, and the
# probabilities at which it is stored in each.
REUSE_BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
REUSE_PROBABILITIES = tuple(np.round(np.arange(21) / 20, 6).tolist())
# Probabilities at which a trace is compared with a shape (:func:`shape_distance`).
CHECK_PROBABILITIES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
# Beyond this distance (largest |log ratio| of quantiles) no shape describes a trace well; the
# planner says so in its notes.
POOR_FIT_DISTANCE = 0.25


def shapes_dir() -> Path:
    return profiles_dir() / "shapes"


@dataclass(frozen=True)
class WorkloadShape:
    """Quantiles of length / mean at :data:`PROBABILITIES` for prompts and outputs, and the
    reuse potential's quantiles per prompt-length bin (``reuse_quantiles``: one tuple per bin
    of :data:`REUSE_BINS`, at :data:`REUSE_PROBABILITIES`; empty for uniform hits).

    Prompt and output multipliers are drawn independently: on the shipped traces their
    correlation is weak (Pearson 0.06–0.09 on the Mooncake windows), and swapping outputs
    between requests moved replayed p90 TTFT by less than the run-to-run noise.
    """

    name: str
    input_quantiles: tuple[float, ...]
    output_quantiles: tuple[float, ...]
    description: str = ""
    provenance: dict = field(default_factory=dict)
    statistics: dict = field(default_factory=dict)
    reuse_quantiles: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self):
        for what, q in (("prompt", self.input_quantiles), ("output", self.output_quantiles)):
            a = np.asarray(q, dtype=float)
            if a.shape != (len(PROBABILITIES),) or not np.all(np.isfinite(a)) or a[0] < 0 \
                    or np.any(np.diff(a) < 0):
                raise InputDataError(f"workload shape {self.name!r}: its {what} quantiles must be "
                                     f"{len(PROBABILITIES)} finite non-decreasing values ≥ 0")
        if self.reuse_quantiles:
            r = np.asarray(self.reuse_quantiles, dtype=float)
            if r.shape != (len(REUSE_BINS) - 1, len(REUSE_PROBABILITIES)) or np.any(r < 0) \
                    or np.any(r > 1) or np.any(np.diff(r, axis=1) < 0):
                raise InputDataError(f"workload shape {self.name!r}: its reuse quantiles must be "
                                     f"{len(REUSE_BINS) - 1} rows of {len(REUSE_PROBABILITIES)} "
                                     "non-decreasing shares within [0, 1]")

    def multipliers(self, u_in: np.ndarray, u_out: np.ndarray):
        """Length / mean for uniform draws ``u_in``, ``u_out`` (inverse transform)."""
        p = np.asarray(PROBABILITIES)
        return (np.interp(u_in, p, np.asarray(self.input_quantiles)),
                np.interp(u_out, p, np.asarray(self.output_quantiles)))

    def reuse(self, u_in: np.ndarray, u_g: np.ndarray) -> np.ndarray:
        """Reuse potential of requests whose prompt was drawn at probability ``u_in``, from
        uniform draws ``u_g`` (1 everywhere without reuse data: hits spread evenly)."""
        u_in = np.asarray(u_in, dtype=float)
        if not self.reuse_quantiles:
            return np.ones(u_in.shape)
        b = np.clip(np.searchsorted(REUSE_BINS, u_in, side="right") - 1, 0,
                    len(REUSE_BINS) - 2)
        q = np.asarray(self.reuse_quantiles, dtype=float)
        p = np.asarray(REUSE_PROBABILITIES)
        out = np.empty(u_in.shape)
        for k in range(len(REUSE_BINS) - 1):
            m = b == k
            out[m] = np.interp(np.asarray(u_g)[m], p, q[k])
        return out

    def quantile(self, which: str, q) -> np.ndarray:
        vals = self.input_quantiles if which == "input" else self.output_quantiles
        return np.interp(q, np.asarray(PROBABILITIES), np.asarray(vals))

    def to_json(self) -> str:
        d = {"name": self.name, "description": self.description,
             "probabilities": list(PROBABILITIES),
             "input_quantiles": [float(f"{v:.6g}") for v in self.input_quantiles],
             "output_quantiles": [float(f"{v:.6g}") for v in self.output_quantiles],
             "reuse_bins": list(REUSE_BINS), "reuse_probabilities": list(REUSE_PROBABILITIES),
             "reuse_quantiles": [[float(f"{v:.6g}") for v in row]
                                 for row in self.reuse_quantiles],
             "statistics": self.statistics, "provenance": self.provenance}
        return json.dumps(d, indent=2, sort_keys=True) + "\n"

    def digest(self) -> str:
        """sha256 of the quantiles: what a profile table records to name its draws exactly."""
        text = json.dumps([self.name, [f"{v:.6g}" for v in self.input_quantiles],
                           [f"{v:.6g}" for v in self.output_quantiles],
                           [[f"{v:.6g}" for v in row] for row in self.reuse_quantiles]])
        return hashlib.sha256(text.encode()).hexdigest()

    def summary(self) -> dict:
        """What a table's metadata says about its shape."""
        q = (0.5, 0.9, 0.99)
        return {"name": self.name, "sha256": self.digest(), "description": self.description,
                "hits": ("spread by the reuse potential of the reference requests"
                         if self.reuse_quantiles else "the same share of every prompt"),
                "input_quantiles_over_mean": {f"p{int(x * 100)}": round(float(v), 4) for x, v in
                                              zip(q, self.quantile("input", q))},
                "output_quantiles_over_mean": {f"p{int(x * 100)}": round(float(v), 4) for x, v in
                                               zip(q, self.quantile("output", q))}}


def _quantiles_over_mean(values) -> tuple[float, ...]:
    v = np.asarray(values, dtype=float)
    if v.size < 100 or np.any(v <= 0):
        raise InputDataError("a workload shape needs at least 100 positive lengths")
    q = np.quantile(v / v.mean(), PROBABILITIES)
    return tuple(float(f"{x:.6g}") for x in q)


def fit_shape(name: str, input_tokens, output_tokens, description: str = "",
              provenance: dict | None = None, reuse=None) -> WorkloadShape:
    """The empirical shape of a trace's lengths (quantiles of length / mean) and, given
    ``reuse`` (each request's reuse potential, NaN for requests to leave out of it, such as a
    cold-cache warm-up), the reuse potential's quantiles per prompt-length quantile bin."""
    inp = np.asarray(input_tokens, dtype=float)
    out = np.maximum(np.asarray(output_tokens, dtype=float), 1.0)
    stats = {"requests": int(inp.size), "mean_input_tokens": round(float(inp.mean()), 2),
             "mean_output_tokens": round(float(out.mean()), 2)}
    rq: tuple = ()
    if reuse is not None:
        g = np.asarray(reuse, dtype=float)
        if g.shape != inp.shape or np.any(g[np.isfinite(g)] < 0) or np.any(g > 1):
            raise InputDataError("reuse potentials must be shares within [0, 1], one per request")
        # the prompt's length quantile (mid-rank: ties share it), as drawn by inverse transform
        order = np.argsort(inp, kind="stable")
        lo = np.searchsorted(inp[order], inp, side="left")
        hi = np.searchsorted(inp[order], inp, side="right")
        q = (lo + hi) / 2.0 / inp.size
        use = np.isfinite(g)
        rows = []
        for a, b in zip(REUSE_BINS[:-1], REUSE_BINS[1:]):
            m = use & (q >= a) & ((q < b) if b < 1 else (q <= b))
            if m.sum() < 10:
                raise InputDataError(f"workload shape {name!r}: fewer than 10 requests with a "
                                     f"reuse potential between prompt quantiles {a} and {b}")
            rows.append(tuple(float(f"{v:.6g}") for v in np.quantile(g[m],
                                                                      REUSE_PROBABILITIES)))
        rq = tuple(rows)
        stats["reusable_token_share"] = round(float((g[use] * inp[use]).sum()
                                                    / inp[use].sum()), 4)
        stats["reuse_requests"] = int(use.sum())
    return WorkloadShape(name, _quantiles_over_mean(inp), _quantiles_over_mean(out), description,
                       provenance or {}, stats, rq)


def lognormal_shape(sigma_input: float, sigma_output: float) -> WorkloadShape:
    """Log-normal multipliers exp(σ z − σ²/2) (mean 1); the 0 and 1 probabilities are taken
    at 10⁻⁶ from the ends, where the distribution itself is unbounded."""
    from scipy.stats import norm

    z = norm.ppf(np.clip(np.asarray(PROBABILITIES), 1e-6, 1 - 1e-6))
    q = lambda s: tuple(float(f"{x:.6g}") for x in np.exp(s * z - 0.5 * s * s))  # noqa: E731
    return WorkloadShape(LOGNORMAL, q(sigma_input), q(sigma_output),
                       f"log-normal, sigma {sigma_input:.4f} (prompts) and {sigma_output:.4f} "
                       "(outputs): the median p90/p50 spread of the example traces")


def shipped_shape_names() -> list[str]:
    d = shapes_dir()
    return sorted(p.stem for p in d.glob("*.json")) if d.exists() else []


def known_shape_names() -> list[str]:
    return shipped_shape_names() + [LOGNORMAL]


def load_shape(name: str, params=None) -> WorkloadShape:
    """A shipped shape by name, ``lognormal`` from the parameter file's σ, or a shape file
    (``.json``, as ``greencache profile fit-shape`` writes)."""
    if str(name).endswith(".json"):
        path = Path(name)
        if not path.is_file():
            raise InputDataError(f"workload shape file {path} does not exist")
        return read_shape(path)
    if name == LOGNORMAL:
        if params is None:
            from planner.perf.params import load_params

            params = load_params()
        return lognormal_shape(params.lengths.sigma_input, params.lengths.sigma_output)
    path = shapes_dir() / f"{name}.json"
    if not path.exists():
        raise UsageError(f"unknown workload shape {name!r}; known: "
                         f"{', '.join(known_shape_names())}")
    return read_shape(path)


def read_shape(path: Path) -> WorkloadShape:
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(d["probabilities"]) != PROBABILITIES:
            raise InputDataError(f"workload shape {path} uses other probabilities than this "
                                 "version of greencache")
        rq = tuple(tuple(r) for r in d.get("reuse_quantiles", []))
        if rq and (tuple(d["reuse_bins"]) != REUSE_BINS
                   or tuple(d["reuse_probabilities"]) != REUSE_PROBABILITIES):
            raise InputDataError(f"workload shape {path} uses other reuse bins than this version "
                                 "of greencache")
        return WorkloadShape(d["name"], tuple(d["input_quantiles"]), tuple(d["output_quantiles"]),
                           d.get("description", ""), d.get("provenance", {}),
                           d.get("statistics", {}), rq)
    except (ValueError, KeyError, TypeError) as e:
        raise InputDataError(f"cannot read workload shape {path}: {e}") from None


def shape_distance(shape: WorkloadShape, input_tokens, output_tokens) -> float:
    """Largest |ln(trace quantile / shape quantile)| of length / mean over
    :data:`CHECK_PROBABILITIES`, prompts and outputs together (0 = the same shape there)."""
    worst = 0.0
    for which, v in (("input", input_tokens), ("output", output_tokens)):
        v = np.maximum(np.asarray(v, dtype=float), 1.0)
        mine = np.quantile(v / v.mean(), CHECK_PROBABILITIES)
        theirs = shape.quantile(which, CHECK_PROBABILITIES)
        worst = max(worst, float(np.max(np.abs(np.log(np.maximum(mine, 1e-9)
                                                      / np.maximum(theirs, 1e-9))))))
    return worst


def choose_shape(shapes: list[WorkloadShape], input_tokens, output_tokens):
    """(shape, its distance, every shape's distance in the order given) of the shape nearest to
    a trace's lengths; ties go to the first."""
    if not shapes:
        raise InputDataError("no workload shape to choose from")
    d = [shape_distance(s, input_tokens, output_tokens) for s in shapes]
    k = int(np.argmin(d))
    return shapes[k], d[k], d
