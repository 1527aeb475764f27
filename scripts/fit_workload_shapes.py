#!/usr/bin/env python3
"""Write the shipped workload shapes (length / mean, reuse potential) from the example traces.

    .venv/bin/python scripts/fit_workload_shapes.py --date 2026-11-25

reads the Azure LLM inference traces 2023 (conversation, code; CC BY 4.0) and the Mooncake
conversation trace (Apache-2.0) in examples/ and writes ``profiles/shapes/<name>.json``
(planner/perf/shapes.py), each with its input file, sha256, licence and date. Reuse potential:
each request's cached prompt tokens in an unbounded LRU prefix cache that has seen every earlier
request, over its prompt, for requests after a warm-up of WARMUP_S (a cold cache understates
reuse); Mooncake's from its own prefix hashes, Azure's from prefixes synthesised by the
session-reuse model (seed 0), so theirs are modelled. The date is an
input, not the clock, so the same inputs regenerate the files byte for byte
(tests/test_perf_shapes.py checks this). Regenerate the profile tables afterwards
(`make profiles`): their metadata record the sha256 of the shape they were simulated with.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.outputs import atomic_write_text, provenance_date  # noqa: E402
from planner.perf.shape_fit import reuse_potential  # noqa: E402
from planner.perf.shapes import fit_shape  # noqa: E402
from planner.workload.readers import read_trace  # noqa: E402

# name: (example file, what it is, licence and citation)
SOURCES = {
    "azure-conv": ("AzureLLMInferenceTrace_conv.csv",
                   "Azure LLM inference 2023, conversation (one hour, 19,366 requests)",
                   "derived from CC BY 4.0 data, (c) Microsoft Azure; cite Patel et al., "
                   "'Splitwise', ISCA 2024"),
    "azure-code": ("AzureLLMInferenceTrace_code.csv",
                   "Azure LLM inference 2023, code (one hour, 8,819 requests)",
                   "derived from CC BY 4.0 data, (c) Microsoft Azure; cite Patel et al., "
                   "'Splitwise', ISCA 2024"),
    "mooncake-conv": ("conversation_trace.jsonl",
                      "Mooncake conversation trace (one hour, 12,031 requests)",
                      "derived from Apache-2.0 data (kvcache-ai/Mooncake); cite Qin et al., "
                      "'Mooncake', FAST 2025"),
}
METHOD = ("empirical quantiles (numpy linear) of length / trace mean at the probabilities of "
          "planner/perf/shapes.py; outputs of 0 tokens counted as 1 (an engine emits at least "
          "the end-of-sequence token); reuse potential = cached prompt tokens in an unbounded "
          "LRU prefix cache / prompt tokens, for requests after the first 600 s, quantiles per "
          "prompt-length quantile bin")


def render(name: str, date: str, examples: Path = ROOT / "examples") -> str:
    file, what, licence = SOURCES[name]
    path = examples / file
    trace = read_trace(path)
    # The example traces are an hour long: their warm-up is the first 600 s.
    g, prefixes = reuse_potential(trace, seed=0)
    provenance = {"input": f"examples/{file}",
                  "input_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                  "licence": licence, "method": METHOD, "date": date,
                  "reuse": ("from the trace's own prefix hashes" if prefixes == "trace" else
                            "modelled: prefixes synthesised by the session-reuse model "
                            "(profiles/reuse/mooncake-conversation.json, seed 0)"),
                  "command": f"scripts/fit_workload_shapes.py --date {date}"}
    shape = fit_shape(name, trace.input_tokens, trace.output_tokens, what, provenance, g)
    return shape.to_json()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--date", required=True, type=provenance_date,
                    help="date recorded in the provenance, YYYY-MM-DD")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "profiles" / "shapes")
    args = ap.parse_args(argv)
    for name in SOURCES:
        atomic_write_text(args.out_dir / f"{name}.json", render(name, args.date))
        print(f"wrote {args.out_dir / (name + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
