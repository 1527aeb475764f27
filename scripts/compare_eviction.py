#!/usr/bin/env python3
"""LRU against least-carbon-savings (LCS) eviction on the shipped and real traces.

    .venv/bin/python scripts/compare_eviction.py [--traces DIR] [--plot docs/figures/lru-vs-lcs.png]

For each trace (Mooncake conversation and synthetic, the two Azure 2023 traces with prefixes
synthesised by the session-reuse model, labelled modelled) it computes the whole-trace token hit
rate of an exact LRU cache and of LCS caches under three carbon settings (``SETTINGS``), at
capacities of 1 %, 3 %, 10 %, 30 % and 100 % of the trace's working set (its distinct blocks),
with the default prefill-energy estimate. The settings differ in the break-even time of one hit
(how long one hit on a block pays for holding it idle): Llama-3-70B KV on NVMe with central
embodied carbon (0.02 kg/GB over 5 years) at 50 and at 400 gCO2e/kWh (about FR and DE), and
Llama-3-8B with the high embodied figure (0.16 kg/GB) at 50 gCO2e/kWh, whose break-even time is
about one hour, the length of these traces. It prints a Markdown table (used in
docs/cache-reuse.md) and, with --plot, draws the curves.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from planner.workload.eviction import lcs_params_from_catalog  # noqa: E402
from planner.workload.hitcurve import window_hit_curves  # noqa: E402
from planner.workload.readers import read_trace  # noqa: E402
from planner.workload.reuse_model import synthesize_prefixes  # noqa: E402

TRACES = ("conversation_trace.jsonl", "synthetic_trace.jsonl",
          "AzureLLMInferenceTrace_conv.csv", "AzureLLMInferenceTrace_code.csv")
FRACTIONS = (0.01, 0.03, 0.10, 0.30, 1.0)
# (label, model, SSD embodied level, gCO2e/kWh): FR- and DE-like grids, and storage-expensive.
SETTINGS = (("70B central 50 g", "llama-3-70b", "central", 50.0),
            ("70B central 400 g", "llama-3-70b", "central", 400.0),
            ("8B high 50 g", "llama-3-8b", "high", 50.0))


def curves_for(path: Path, grid_points: int = 30):
    trace = read_trace(path)
    if not trace.has_prefixes:
        trace = synthesize_prefixes(trace, seed=0)
    distinct = len(np.unique(trace.block_ids))
    report_caps = np.maximum(1, np.round(np.array(FRACTIONS) * distinct)).astype(np.int64)
    grid = np.unique(np.concatenate((np.geomspace(1, distinct, grid_points).round(),
                                     report_caps))).astype(np.int64)
    caps_tokens = grid * trace.block_tokens
    one = np.zeros(len(trace), dtype=np.int64)
    out = {"trace": trace, "grid": grid, "report": report_caps, "distinct": distinct,
           "lru": window_hit_curves(trace, one, 1, caps_tokens)}
    for label, model, level, ci in SETTINGS:
        lcs = lcs_params_from_catalog(model, "nvme-gen4", ci, level=level)
        out[label] = window_hit_curves(trace, one, 1, caps_tokens, policy="lcs", lcs=lcs)
        out[label + " break-even h"] = lcs.break_even_hours(trace.block_tokens, ci)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=Path, default=Path("/work/shared/data/traces"))
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args(argv)
    results = []
    for name in TRACES:
        path = args.traces / name
        if not path.exists():
            path = ROOT / "examples" / name
        if not path.exists():
            print(f"skipping {name}: not found")
            continue
        results.append((name, curves_for(path)))
    r0 = results[0][1]
    for label, *_ in SETTINGS:
        print(f"LCS {label}: one hit on a full block repays {r0[label + ' break-even h']:.1f} h "
              "of holding it")
    print()
    head = "| trace | source | capacity (share of working set) | LRU | " + \
        " | ".join(f"LCS {label}" for label, *_ in SETTINGS) + " |"
    print(head)
    print("|" + "---|" * (4 + len(SETTINGS)))
    for name, r in results:
        idx = np.searchsorted(r["grid"], r["report"])
        for f, i in zip(FRACTIONS, idx):
            cells = [f"{r['lru'].token_hit[0, i]:.3f}"] + \
                [f"{r[label].token_hit[0, i]:.3f}" for label, *_ in SETTINGS]
            print(f"| {name} | {r['lru'].source} | {f:.0%} ({r['grid'][i]:,} blocks) | "
                  + " | ".join(cells) + " |")
    print()
    for name, r in results:
        lru = r["lru"].token_hit[0]
        for label, *_ in SETTINGS:
            d = r[label].token_hit[0] - lru
            print(f"{name}: LCS {label} − LRU over {len(lru)} capacities: mean {d.mean():+.4f}, "
                  f"min {d.min():+.4f}, max {d.max():+.4f}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
        for ax, (name, r) in zip(axes.flat, results):
            x = r["grid"] / r["distinct"]
            ax.plot(x, r["lru"].token_hit[0], color="black", lw=2, label="LRU (exact)")
            for (label, *_), style, color in zip(SETTINGS, ("-", "--", "-"),
                                                 ("tab:green", "tab:olive", "tab:red")):
                ax.plot(x, r[label].token_hit[0], ls=style, color=color, label=f"LCS {label}")
            ax.set_xscale("log")
            ax.set_title(name + (" (modelled prefixes)" if r["lru"].modelled else ""),
                         fontsize=9)
            ax.set_xlabel("capacity / working set")
            ax.set_ylabel("token hit rate")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        fig.savefig(args.plot, dpi=100, metadata={"Software": None})
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
