"""The log-normal length model: lengths of a given mean, ``x = mean · exp(σ z − σ²/2)`` with
z ~ N(0, 1), whose spread σ is matched to the p90/p50 ratio of real traces:
σ = ln(p90 / p50) / z_0.9. :func:`fit_length_model` takes the median σ over the shipped traces.

It is the ``lognormal`` workload shape (:mod:`planner.perf.shapes`) and the closed-form
model's length distribution. The shipped tables use the traces' own shapes instead: matched at
p90/p50, the log-normal still reaches much further into the tail than real prompts do (Azure
conversation: p99 at 6.1 × the mean against 3.6 ×), and p90 TTFT follows that tail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

Z90 = 1.2815515655446004  # standard normal 0.9 quantile


@dataclass(frozen=True)
class LengthModel:
    sigma_input: float
    sigma_output: float
    source: str

    def to_dict(self) -> dict:
        return asdict(self)


def spread_sigma(values) -> float:
    """σ = ln(p90 / p50) / z_0.9 of a sample of lengths."""
    v = np.asarray(values, dtype=float)
    p50, p90 = np.percentile(v, [50, 90])
    return float(np.log(p90 / p50) / Z90)


def fit_length_model(traces) -> LengthModel:
    """Median spread over traces (each with ``input_tokens``, ``output_tokens`` and ``name``)."""
    si = [spread_sigma(t.input_tokens) for t in traces]
    so = [spread_sigma(t.output_tokens) for t in traces]
    names = ", ".join(t.name for t in traces)
    return LengthModel(float(np.median(si)), float(np.median(so)),
                       f"median p90/p50 spread of {names}")


def draw_lengths(mean: float, sigma: float, z: np.ndarray, lo: int = 1,
                 hi: int | None = None) -> np.ndarray:
    """Lengths with the given mean from standard-normal draws ``z`` (rounded, clipped)."""
    x = np.rint(mean * np.exp(sigma * np.asarray(z) - 0.5 * sigma * sigma))
    x = np.maximum(x, lo)
    if hi is not None:
        x = np.minimum(x, hi)
    return x.astype(np.int64)


def lognormal_quantile(mean: float, sigma: float, q: float) -> float:
    from scipy.stats import norm

    return float(mean * np.exp(sigma * norm.ppf(q) - 0.5 * sigma * sigma))
