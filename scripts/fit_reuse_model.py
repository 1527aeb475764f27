#!/usr/bin/env python3
"""Refit the session-reuse model and the shipped reuse curve from a Mooncake trace.

    .venv/bin/python scripts/fit_reuse_model.py --date 2025-11-24

reads examples/conversation_trace.jsonl (the Mooncake conversation trace, Apache-2.0, Qin et al.
FAST'25), fits ReuseParams (planner/workload/reuse_fit.py), measures the fit error and writes

    profiles/reuse/mooncake-conversation.json        the model, with provenance and fit error
    profiles/reuse/mooncake-conversation-curve.csv   the trace's exact LRU curve and the model's

The date is an input, not the clock, so that the same inputs regenerate both files byte for
byte (tests/test_reuse_model.py checks this).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.outputs import atomic_write_text, provenance_date  # noqa: E402
from planner.workload.readers import read_trace  # noqa: E402
from planner.workload.reuse_fit import fit_error, fit_reuse_params  # noqa: E402
from planner.workload.reuse_model import ReuseParams  # noqa: E402

FIT_METHOD = ("session structure recovered from prefix hashes (system-prompt blocks: >= "
              "max(20, 0.5% of requests) distinct successors; continuation: reused prefix "
              "beyond the system prompt; parent: latest request holding the last reused block); "
              "p_cont per power-of-two prompt-length bin after a warm-up of the 95th-percentile "
              "gap; empirical quantile functions (101 levels) of turn gaps, parent/child "
              "prompt shares and kept fractions of the common full blocks; system prompts by "
              "share among new sessions")


def render(trace_path: Path, date: str, seeds=(0, 1, 2, 3, 4)):
    """The two files' text for a trace and a date."""
    data = trace_path.read_bytes()
    trace = read_trace(trace_path)
    command = f"scripts/fit_reuse_model.py --trace {trace_path.name} --date {date}"
    provenance = {
        "input": trace_path.name,
        "input_sha256": hashlib.sha256(data).hexdigest(),
        "input_origin": "github.com/kvcache-ai/Mooncake FAST25-release/traces/"
                        "conversation_trace.jsonl, commit 3b5a5941",
        "licence": "derived from Apache-2.0 data: Mooncake traces (kvcache-ai/Mooncake); cite "
                   "Qin et al., 'Mooncake: Trading More Storage for Less Computation', FAST'25",
        "fit_method": FIT_METHOD,
        "date": date,
        "command": command,
    }
    # Round-trip through the file format first: the error is measured with the shipped numbers.
    fitted = fit_reuse_params(trace, provenance)
    params = ReuseParams.from_json(fitted.to_json())
    summary, caps, real_tok, real_req, mod_tok, mod_req = fit_error(trace, params, seeds)
    params = dataclasses.replace(params, fit_error=summary)
    lines = ["capacity_blocks,capacity_tokens,trace_token_hit,trace_request_hit,"
             "modelled_token_hit,modelled_request_hit"]
    for c, a, b, m, n in zip(caps, real_tok, real_req, mod_tok, mod_req):
        lines.append(f"{c},{c * trace.block_tokens},{a:.6f},{b:.6f},{m:.6f},{n:.6f}")
    return params.to_json(), "\n".join(lines) + "\n", summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", type=Path, default=ROOT / "examples" / "conversation_trace.jsonl")
    ap.add_argument("--date", required=True, type=provenance_date,
                    help="fit date recorded in the provenance, YYYY-MM-DD")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "profiles" / "reuse")
    args = ap.parse_args(argv)
    model, curve, summary = render(args.trace, args.date)
    stem = "mooncake-conversation"
    atomic_write_text(args.out_dir / f"{stem}.json", model)
    atomic_write_text(args.out_dir / f"{stem}-curve.csv", curve)
    print(f"wrote {args.out_dir / (stem + '.json')} and {stem}-curve.csv")
    print(f"fit error: token hit MAE {summary['token_hit_mae']:.4f} "
          f"(max {summary['token_hit_max_abs_error']:.4f}), request hit MAE "
          f"{summary['request_hit_mae']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
