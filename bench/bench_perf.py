"""Benchmarks of the performance model (printed, not asserted; `make bench` runs them).

1. One replica simulated over 10,000 Poisson requests (Llama-3-70B, 4 × H100, Azure-conv-like
   lengths, half of each prompt cached, 60 % of the saturated throughput). Target < 2 s.
2. One full profile table (Llama-3-8B, 1 × H100, Gen4 SSD, azure-conv shape; 3,920 rows).
   Target < 2 min on 2 cores.
Numba compiles on first use (cached on disk afterwards); the first figure of each benchmark
includes it when the cache is cold, the second does not.
"""

import os
import time

import numpy as np


def bench_simulator():
    from planner.perf.iteration import IterationModel
    from planner.perf.params import load_params
    from planner.perf.shapes import load_shape
    from planner.perf.simulator import replica_costs, shape_draws, simulate, simulate_points
    from planner.perf.spec import build_spec

    p = load_params()
    spec = build_spec("llama-3-70b", "h100-sxm", 4, "nvme-gen4")
    costs = replica_costs(IterationModel(spec, p.device("h100-sxm")), p.power)
    draws = shape_draws(load_shape("lognormal", p), [(0, 0)], 800, 7)
    mu = simulate_points(costs, np.zeros(1), np.array([0.5]), np.array([1155.0]),
                         np.array([211.0]), [800], [0], draws, spec.max_context)[0, 0]
    n = 10_000
    rng = np.random.default_rng(7)
    arr = np.cumsum(rng.exponential(1 / (0.6 * mu), n))
    pr = np.clip(np.rint(1155 * np.exp(0.98 * rng.standard_normal(n) - 0.48)), 1, 100_000)
    out = np.clip(np.rint(211 * np.exp(0.93 * rng.standard_normal(n) - 0.43)), 1, 4000)
    ca = np.floor(0.5 * pr)
    for label in ("first call (may include numba compilation)", "second call"):
        t = time.perf_counter()
        run, _, _ = simulate(costs, arr, pr.astype(int), ca.astype(int), out.astype(int), 4)
        dt = time.perf_counter() - t
        print(f"simulate 10,000 requests, {label}: {dt:.3f} s "
              f"(rate {0.6 * mu:.2f} req/s, p90 TTFT {np.percentile(run.ttft_s, 90):.3f} s)")


def bench_table():
    from planner.perf.synth import SynthOptions, synthesize

    print(f"cores available: {os.cpu_count()}")
    t = time.perf_counter()
    frame, _ = synthesize(SynthOptions("llama-3-8b", "h100-sxm", 1, "nvme-gen4",
                                       date="2026-01-01"))
    dt = time.perf_counter() - t
    print(f"one full table (llama-3-8b, h100-sxm tp1, nvme-gen4, azure-conv): {dt:.1f} s, "
          f"{len(frame):,} rows")


if __name__ == "__main__":
    bench_simulator()
    bench_table()
