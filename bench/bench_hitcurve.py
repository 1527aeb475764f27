#!/usr/bin/env python3
"""Benchmark of the hit-curve methods: prints times, peak memory and the SHARDS error.

    .venv/bin/python bench/bench_hitcurve.py            # what `make bench` runs
    .venv/bin/python bench/bench_hitcurve.py --quick    # 1M references only

Also timed: LCS (one direct simulation per capacity) and its miniature simulations on a 1 %
sample, with their error against the exact LCS curve.

Targets (on the 2-core CI-class machine): exact curve over 10M block references in
under 60 s and 2 GB peak memory; SHARDS at 1 % over 10M references in under 5 s with a mean
absolute error under 0.01 in token hit rate against exact.

Generator (``generate``), seeded from the real Mooncake conversation trace's statistics:
arrivals are a renewal process whose inter-arrival times are drawn (with replacement) from the
trace's own inter-arrival times, prompt lengths are drawn from its ``input_length`` values, and
the prefix blocks are synthesised by the session-reuse model fitted on it
(``profiles/reuse/mooncake-conversation.json``: continuation probability by prompt length,
turn gaps, prompt shares, kept fractions, the shared system-prompt block). Requests are added
until the block references reach the target. Everything is seeded: the same target gives the
same trace.

Each case runs in a fresh process, so its peak resident memory (``ru_maxrss``) is its own; the
figure printed is that process peak (interpreter, numba runtime and the generated trace
included) and, separately, the growth during the timed call. The numba functions are loaded
from their on-disk cache by a small warm-up call before timing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

WINDOW_S = 3600.0
POINTS = 40
SHARDS_RATE = 0.01
SHARDS_SEEDS = (0, 1, 2, 3, 4)


def generate(n_refs: int, seed: int = 0):
    """A Mooncake-like trace with about ``n_refs`` block references (module docstring)."""
    from planner.workload.readers import read_trace
    from planner.workload.reuse_model import synthesize_prefixes
    from planner.workload.trace import Trace

    real = read_trace(ROOT / "examples" / "conversation_trace.jsonl")
    rng = np.random.default_rng(seed)
    gaps = np.diff(real.arrival_s)
    blocks_per_request = float(np.mean(-(-real.input_tokens // 512)))
    n = int(n_refs / blocks_per_request * 1.05) + 100
    lengths = rng.choice(real.input_tokens, n)
    cum = np.cumsum(-(-lengths // 512))
    n = int(np.searchsorted(cum, n_refs)) + 1
    arrival = np.concatenate(([0.0], np.cumsum(rng.choice(gaps, n - 1))))
    base = Trace(arrival_s=arrival, input_tokens=lengths[:n].astype(np.int64),
                 output_tokens=np.ones(n, dtype=np.int64), start=None,
                 name=f"generated-{n_refs}", source_format="generic")
    return synthesize_prefixes(base, seed=seed)


def rss_now() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux → MB


def setup(n_refs: int):
    from planner.workload.reuse_fit import capacity_grid

    t0 = time.perf_counter()
    trace = generate(n_refs)
    gen_s = time.perf_counter() - t0
    window = (trace.arrival_s // WINDOW_S).astype(np.int64)
    n_windows = int(window.max()) + 1
    caps = np.concatenate(([0], capacity_grid(trace, POINTS) * trace.block_tokens))
    return trace, window, n_windows, caps, gen_s


def warm_up():
    from planner.workload.hitcurve import window_hit_curves

    small = generate(5_000, seed=99)
    one = np.zeros(len(small), dtype=np.int64)
    t0 = time.perf_counter()
    window_hit_curves(small, one, 1, [512, 5120])
    window_hit_curves(small, one, 1, [512, 5120], sample_rate=0.5)
    return time.perf_counter() - t0


def case_exact(n_refs: int) -> dict:
    from planner.workload.hitcurve import window_hit_curves

    load_s = warm_up()
    trace, window, n_windows, caps, gen_s = setup(n_refs)
    before = rss_now()
    t0 = time.perf_counter()
    curves = window_hit_curves(trace, window, n_windows, caps)
    elapsed = time.perf_counter() - t0
    return {"case": "exact", "refs": int(trace.block_offsets[-1]), "requests": len(trace),
            "distinct_blocks": int(len(np.unique(trace.block_ids))), "windows": n_windows,
            "capacities": len(caps), "seconds": elapsed, "peak_rss_mb": peak_rss(),
            "growth_mb": peak_rss() - before, "generate_s": gen_s, "jit_load_s": load_s,
            "token_hit_at_largest": float(curves.token_hit[:, -1].mean())}


def case_shards(n_refs: int) -> dict:
    from planner.workload.hitcurve import window_hit_curves

    warm_up()
    trace, window, n_windows, caps, _ = setup(n_refs)
    one = np.zeros(len(trace), dtype=np.int64)
    times, mae_whole, mae_window, max_whole = [], [], [], []
    exact_w = window_hit_curves(trace, window, n_windows, caps)
    exact_1 = window_hit_curves(trace, one, 1, caps)
    for seed_shift in SHARDS_SEEDS:
        # Sampling seed: a different hash salt per run, so the spread over samples shows.
        from planner.workload import shards

        t0 = time.perf_counter()
        tok, req, r, kept = shards.shards_hits(
            trace.block_offsets, trace.block_ids, trace.input_tokens, window, n_windows,
            trace.block_tokens, np.unique(caps // trace.block_tokens).astype(float),
            SHARDS_RATE, seed=seed_shift)
        times.append(time.perf_counter() - t0)
        prompt = np.bincount(window, weights=trace.input_tokens, minlength=n_windows)
        per_window = tok / prompt[:, None]
        whole = tok.sum(0) / prompt.sum()
        back = np.searchsorted(np.unique(caps // trace.block_tokens), caps // trace.block_tokens)
        mae_window.append(float(np.abs(per_window[:, back] - exact_w.token_hit).mean()))
        mae_whole.append(float(np.abs(whole[back] - exact_1.token_hit[0]).mean()))
        max_whole.append(float(np.abs(whole[back] - exact_1.token_hit[0]).max()))
    # The public entry point (what the CLI and planner call), timed once.
    t0 = time.perf_counter()
    window_hit_curves(trace, window, n_windows, caps, sample_rate=SHARDS_RATE)
    api_s = time.perf_counter() - t0
    return {"case": "shards", "rate": SHARDS_RATE, "refs": int(trace.block_offsets[-1]),
            "kept_share": kept, "seconds_mean": float(np.mean(times)),
            "seconds_max": float(np.max(times)), "api_seconds": api_s,
            "mae_whole_mean": float(np.mean(mae_whole)), "mae_whole_max": float(np.max(mae_whole)),
            "abs_err_whole_max": float(np.max(max_whole)),
            "mae_per_window_mean": float(np.mean(mae_window)), "windows": n_windows,
            "seeds": len(SHARDS_SEEDS), "capacities": len(caps), "peak_rss_mb": peak_rss()}


def case_lcs(n_refs: int) -> dict:
    """LCS: one direct simulation per capacity; and miniature simulations on a 1 % sample."""
    from planner.workload.eviction import lcs_params_from_catalog
    from planner.workload.hitcurve import window_hit_curves

    warm_up()
    trace, window, n_windows, caps, _ = setup(n_refs)
    distinct = len(np.unique(trace.block_ids))
    if n_refs > 2_000_000:
        caps = (np.array([0.01, 0.03, 0.10, 0.30]) * distinct).astype(np.int64) * 512
    lcs = lcs_params_from_catalog("llama-3-70b", "nvme-gen4", 50.0)
    t0 = time.perf_counter()
    exact = window_hit_curves(trace, window, n_windows, caps, policy="lcs", lcs=lcs)
    exact_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    mini = window_hit_curves(trace, window, n_windows, caps, policy="lcs", lcs=lcs,
                             sample_rate=SHARDS_RATE)
    mini_s = time.perf_counter() - t0
    prompt = np.bincount(window, weights=trace.input_tokens, minlength=n_windows)
    whole = lambda c: (c.token_hit * prompt[:, None]).sum(0) / prompt.sum()  # noqa: E731
    return {"case": "lcs", "refs": int(trace.block_offsets[-1]), "capacities": len(caps),
            "seconds": exact_s, "mini_seconds": mini_s,
            "mini_mae_whole": float(np.abs(whole(mini) - whole(exact)).mean()),
            "peak_rss_mb": peak_rss()}


def shipped_traces_error() -> list[str]:
    """SHARDS error on the real Mooncake traces (small: 1 % keeps only a few thousand refs)."""
    from planner.workload.hitcurve import window_hit_curves
    from planner.workload.readers import read_trace
    from planner.workload.reuse_fit import capacity_grid

    lines = []
    for path in (ROOT / "examples" / "conversation_trace.jsonl",
                 Path("/work/shared/data/traces/synthetic_trace.jsonl")):
        if not path.exists():
            continue
        trace = read_trace(path)
        one = np.zeros(len(trace), dtype=np.int64)
        caps = np.concatenate(([0], capacity_grid(trace, POINTS) * trace.block_tokens))
        exact = window_hit_curves(trace, one, 1, caps)
        for rate in (0.01, 0.10):
            errs, req_errs = [], []
            for seed in SHARDS_SEEDS:
                from planner.workload import shards

                blocks = np.unique(caps // trace.block_tokens)
                tok, req, _, _ = shards.shards_hits(
                    trace.block_offsets, trace.block_ids, trace.input_tokens, one, 1,
                    trace.block_tokens, blocks.astype(float), rate, seed=seed)
                back = np.searchsorted(blocks, caps // trace.block_tokens)
                errs.append(np.abs(tok[0, back] / trace.input_tokens.sum()
                                   - exact.token_hit[0]).mean())
                req_errs.append(np.abs(req[0, back] / len(trace) - exact.request_hit[0]).mean())
            lines.append(f"SHARDS {rate:>4.0%} on {path.name} ({int(trace.block_offsets[-1]):,} "
                         f"refs): token-hit MAE {np.mean(errs):.4f} mean / {np.max(errs):.4f} "
                         f"worst of {len(SHARDS_SEEDS)} seeds; request-hit MAE "
                         f"{np.mean(req_errs):.4f}")
    return lines


def run_case(name: str, n_refs: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--case", name, "--refs", str(n_refs)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark case {name} {n_refs} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="hit-curve benchmark")
    ap.add_argument("--case", choices=("exact", "shards", "lcs"))
    ap.add_argument("--refs", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="1M references only")
    args = ap.parse_args(argv)
    if args.case:
        fn = {"exact": case_exact, "shards": case_shards, "lcs": case_lcs}[args.case]
        print(json.dumps(fn(args.refs)))
        return 0
    import os

    sizes = (1_000_000,) if args.quick else (1_000_000, 10_000_000)
    print(f"hit-curve benchmark on {os.cpu_count()} CPU(s); generator: Mooncake conversation "
          f"statistics + fitted session-reuse model; 1 h windows, 0 and {POINTS} log-spaced "
          "capacities (fewer where they round to the same block count)")
    for n in sizes:
        e = run_case("exact", n)
        print(f"exact LRU   {e['refs']:>11,} refs ({e['requests']:,} requests, "
              f"{e['distinct_blocks']:,} distinct blocks, {e['windows']} windows): "
              f"{e['capacities']} capacities: {e['seconds']:6.2f} s, peak RSS {e['peak_rss_mb']:,.0f} MB "
              f"(+{e['growth_mb']:,.0f} MB during the pass); generation {e['generate_s']:.1f} s, "
              f"numba cache load {e['jit_load_s']:.1f} s")
    for n in sizes:
        s = run_case("shards", n)
        print(f"SHARDS {s['rate']:.0%}  {s['refs']:>11,} refs: {s['seconds_mean']:5.2f} s mean "
              f"(max {s['seconds_max']:.2f}, via window_hit_curves {s['api_seconds']:.2f} s), "
              f"{s['kept_share']:.2%} of refs kept; token-hit MAE vs exact over "
              f"{s['capacities']} capacities: whole trace {s['mae_whole_mean']:.4f} mean / "
              f"{s['mae_whole_max']:.4f} worst of {s['seeds']} seeds (max abs error "
              f"{s['abs_err_whole_max']:.4f}), per window {s['mae_per_window_mean']:.4f}")
    for line in shipped_traces_error():
        print(line)
    for n in sizes:
        c = run_case("lcs", n)
        print(f"LCS         {c['refs']:>11,} refs, {c['capacities']} capacities: "
              f"{c['seconds']:6.2f} s exact ({c['seconds'] / c['capacities']:.2f} s per capacity, "
              f"2 threads); miniature on a 1 % sample {c['mini_seconds']:.2f} s, token-hit MAE vs "
              f"exact LCS {c['mini_mae_whole']:.4f}; peak RSS {c['peak_rss_mb']:,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
