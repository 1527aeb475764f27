"""Closed-form operating point of one replica: the first latency model, kept as a cross-check.

At offered load λ with mean prompt P (hit fraction h, so C = hP cached tokens), mean output D
and token budget B per iteration, a continuously batching engine settles at an iteration time t
where every iteration carries b = λ D t decoding requests and c = λ n t prompt tokens
(n = P − k computed tokens, k ≤ C the cached tokens worth loading, :mod:`planner.perf.ssd`):

    t = T_iter(N = b + c, S = b + λ t, pairs = λ t n (k + (n + 1)/2), ctx = b (P + D/2) + λ t P)

solved by fixed-point iteration; no fixed point, b + c > B, b above the sequence limit or the
KV of b requests above HBM capacity means the replica cannot keep up (unstable).

Prompts queue for the prefill share of the budget: an M/G/1 queue (Pollaczek–Khinchine) with
service S(x) = T_exposed_load + x / r + t for a prompt of x new tokens, where
r = (B − b) / T_iter(B) is the prefill token rate; ρ = λ E[S], mean wait
W = λ E[S²] / (2 (1 − ρ)). Quantiles take an exponential tail, P(W > w) = ρ exp(−ρ w / W),
and the log-normal length quantile for S: TTFT_q = W_q + S(x_q). TPOT is the mean iteration
time t at every percentile (one request's TPOT averages over its D iterations). GPU power is
the busy-iteration power for the fraction 1 − exp(−λ E[T_sys]) of time the replica holds a
request (M/G/∞), loaded-idle power otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.perf.iteration import IterationModel
from planner.perf.lengths import LengthModel, lognormal_quantile
from planner.perf.power import PowerParams, iteration_power_w
from planner.perf.ssd import best_loaded_tokens

QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class OperatingPoint:
    stable: bool
    ttft_s: tuple[float, float, float]   # p50, p90, p99
    tpot_s: tuple[float, float, float]
    gpu_power_w: float
    ssd_read_gbps: float
    ssd_write_gbps: float


def _f(x) -> float:
    return float(np.asarray(x).reshape(-1)[0])


def prefix_plan(model: IterationModel, prompt: float, hit: float, token_budget: int):
    """(new tokens computed, cached tokens loaded, exposed load time) for one prompt alone:
    the engine loads the best share k of the C = hP cached tokens (:mod:`planner.perf.ssd`)."""
    s = model.spec
    cached = min(hit * prompt, prompt - 1.0)
    if cached <= 0 or s.kv_load_bytes_per_s <= 0:
        return prompt, 0.0, 0.0
    t0, a, b, c = model.prefill_coefficients(token_budget)
    k, total = best_loaded_tokens(prompt, cached, s.kv_bytes_per_token / s.kv_load_bytes_per_s,
                                  t0, a, b, c, s.layers)
    if k <= 0:
        return prompt, 0.0, 0.0
    n = prompt - k
    t_new = t0 + a * n + b * n * (k + (n + 1) / 2) + c * (n + k)
    return n, k, max(0.0, total - t_new)


def operating_point(model: IterationModel, power: PowerParams, lengths: LengthModel,
                    rate: float, hit: float, mean_in: float, mean_out: float,
                    token_budget: int, max_seqs: int) -> OperatingPoint:
    s = model.spec
    lam, P, D = float(rate), float(mean_in), float(mean_out)
    n, C, exposed = prefix_plan(model, P, hit, token_budget)
    written_tokens = P - min(hit * P, P - 1.0)
    unstable = OperatingPoint(False, (np.nan,) * 3, (np.nan,) * 3, float(s.tdp_w), 0.0, 0.0)
    kv_cap = s.kv_capacity_tokens(token_budget)

    def iteration_at(t):
        b = lam * D * t
        c = lam * n * t
        pairs = lam * t * n * (C + (n + 1) / 2)
        ctx = b * (P + D / 2) + lam * t * P
        return model.iteration(b + c, b + lam * t, pairs, ctx), b, c

    t = _solve_fixed_point(lambda x: _f(iteration_at(x)[0].time_s),
                           _f(model.decode(1, P).time_s))
    if t is None:
        return unstable
    cost, b, c = iteration_at(t)
    if b + c > token_budget or b > max_seqs or b * (P + D) > kv_cap:
        return unstable

    # prefill service: the budget left by decodes, at the iteration time of a full budget
    chunk = token_budget - b
    full = _f(model.iteration(token_budget, b + 1, chunk * (C + chunk / 2),
                              b * (P + D / 2) + chunk + C).time_s)
    r = chunk / full
    mean_s = exposed + n / r + t
    var_s = (n / r) ** 2 * np.expm1(lengths.sigma_input ** 2)
    rho = lam * mean_s
    if rho >= 1.0:
        return unstable
    wait = lam * (var_s + mean_s ** 2) / (2 * (1 - rho)) if lam > 0 else 0.0
    ttft = []
    for q in QUANTILES:
        w_q = (wait / rho) * np.log(rho / (1 - q)) if rho > 1 - q and wait > 0 else 0.0
        x_q = lognormal_quantile(n, lengths.sigma_input, q)
        ttft.append(float(w_q + exposed + x_q / r + t))

    busy_power = _f(iteration_power_w(cost.time_s, cost.flop_time_s, cost.byte_time_s,
                                      s.loaded_idle_w, s.tdp_w, power))
    busy = 1.0 - np.exp(-lam * (wait + mean_s + D * t))
    gpu_w = busy * busy_power + (1 - busy) * s.loaded_idle_w
    read = lam * C * s.kv_bytes_per_token
    write = min(lam * written_tokens * s.kv_bytes_per_token, s.kv_store_bytes_per_s) \
        if s.drives > 0 else 0.0
    return OperatingPoint(True, tuple(ttft), (t, t, t), float(gpu_w), read / 1e9, write / 1e9)


def _solve_fixed_point(f, t0: float) -> float | None:
    """t = f(t) for an increasing, nearly affine f (secant steps on f(t) − t from t0);
    None when the only crossing lies beyond 1000 s or there is none (the load is too high)."""
    a, fa = t0, f(t0) - t0
    if fa <= 0:
        return t0
    b = t0 + fa
    for _ in range(60):
        fb = f(b) - b
        if not np.isfinite(fb) or b > 1e3:
            return None
        if abs(fb) <= 1e-12 + 1e-10 * b:
            return b
        if fb == fa:
            return None
        a, b, fa = b, b - fb * (b - a) / (fb - fa), fb
        if b <= 0:
            return None
    return None


def max_stable_rate(model, power, lengths, hit, mean_in, mean_out, token_budget, max_seqs,
                    rel_tol: float = 1e-3) -> float:
    """Largest λ the closed form calls stable (bisection; stability is monotone in λ)."""
    ok = lambda lam: operating_point(model, power, lengths, lam, hit, mean_in, mean_out,  # noqa
                                     token_budget, max_seqs).stable
    lo, hi = 0.0, 1.0
    while ok(hi):
        lo, hi = hi, hi * 2
        if hi > 1e7:
            return hi
    while hi - lo > rel_tol * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo
