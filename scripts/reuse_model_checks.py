#!/usr/bin/env python3
"""Checks of the shipped session-reuse model beyond its fit error (figures in docs/cache-reuse.md).

    .venv/bin/python scripts/reuse_model_checks.py [--traces DIR]

1. Per-window fit: the model re-synthesising the Mooncake conversation trace, 15-minute windows
   with the cache state carried over, against the trace's own exact per-window curves.
2. Transfer: the same model (fitted on the conversation trace) re-synthesising the Mooncake
   *synthetic* trace's requests, against that trace's own curve. It is a different workload
   (long shared documents, no common system prompt), so this shows how far the model carries.
3. Azure 2023 traces: modelled curves with the fitted shared system prompt and without it
   (``system_prompt_prob = 0``), the assumption that moves them most.

All curves are exact LRU, capacities log-spaced from one block to the working set; errors are
mean absolute errors in token hit rate over those capacities, mean of 5 seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from planner.workload.hitcurve import window_hit_curves  # noqa: E402
from planner.workload.readers import read_trace  # noqa: E402
from planner.workload.reuse_fit import capacity_grid  # noqa: E402
from planner.workload.reuse_model import load_reuse_params, synthesize_prefixes  # noqa: E402

SEEDS = (0, 1, 2, 3, 4)


def modelled(trace, params, window, n, caps_tokens):
    curves = [window_hit_curves(synthesize_prefixes(trace, seed=s, params=params, replace=True),
                                window, n, caps_tokens).token_hit for s in SEEDS]
    return np.mean(curves, axis=0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=Path, default=Path("/work/shared/data/traces"))
    args = ap.parse_args(argv)
    params = load_reuse_params()

    conv = read_trace(ROOT / "examples" / "conversation_trace.jsonl")
    caps = capacity_grid(conv) * conv.block_tokens
    w = (conv.arrival_s // 900).astype(np.int64)
    real = window_hit_curves(conv, w, int(w.max()) + 1, caps).token_hit
    model = modelled(conv, params, w, int(w.max()) + 1, caps)
    per_window = np.abs(model - real).mean(axis=1)
    print("1. per-window fit (conversation trace, 15-min windows): token-hit MAE per window "
          + ", ".join(f"{e:.4f}" for e in per_window) + f"; all {np.abs(model - real).mean():.4f}")

    synth_path = args.traces / "synthetic_trace.jsonl"
    if synth_path.exists():
        syn = read_trace(synth_path)
        caps_s = capacity_grid(syn) * syn.block_tokens
        one = np.zeros(len(syn), dtype=np.int64)
        real_s = window_hit_curves(syn, one, 1, caps_s).token_hit[0]
        model_s = modelled(syn, params, one, 1, caps_s)[0]
        print(f"2. transfer to synthetic_trace.jsonl: token-hit MAE {np.abs(model_s - real_s).mean():.4f}"
              f" (trace {real_s[-1]:.3f} vs model {model_s[-1]:.3f} at the largest capacity)")
    no_sys = dataclasses.replace(params, system_prompt_prob=0.0)
    for name in ("AzureLLMInferenceTrace_conv.csv", "AzureLLMInferenceTrace_code.csv"):
        az = read_trace(ROOT / "examples" / name)
        one = np.zeros(len(az), dtype=np.int64)
        probe = synthesize_prefixes(az, params=params)
        caps_a = np.array([1, 100, 1000, 10_000, len(np.unique(probe.block_ids))]) * 512
        with_sys = [window_hit_curves(synthesize_prefixes(az, seed=s, params=params), one, 1,
                                      caps_a).token_hit[0] for s in SEEDS]
        without = [window_hit_curves(synthesize_prefixes(az, seed=s, params=no_sys), one, 1,
                                     caps_a).token_hit[0] for s in SEEDS]
        fmt = lambda v: ", ".join(f"{x:.3f}" for x in np.mean(v, axis=0))  # noqa: E731
        print(f"3. {name} (modelled) token hit at {', '.join(str(c // 512) for c in caps_a)} "
              f"blocks: with system prompt {fmt(with_sys)}; without {fmt(without)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
