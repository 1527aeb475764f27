#!/usr/bin/env python3
"""A user's own trace: fitting its workload shape and synthesising the table `plan
--auto-profile` builds for it, timed apart from planning.

    .venv/bin/python bench/bench_fit_shape.py [TRACE] [--window 1h,5min] [--tp 4]

Default trace: Mooncake's synthetic_trace.jsonl (17 minutes, 3,993 requests, 15k-token
prompts; not shipped, read from the project's data folder), else the shipped Mooncake
conversation hour. For each window length: the trace read and windowed as `plan` does
(`--drop-over-context`), the shape fitted (`planner.perf.shape_fit.fit_trace_shape`) and the
table built into an empty cache (`cached_table`, the grid covering the windows' means), on
Llama-3-70B, H100 × tp, Gen4. Target: fit + table ≤ 60 s on 2 cores. CPU time (this process
and its workers) is printed beside the wall time: on a machine shared with other jobs the
wall time counts their share too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.config import PlanOptions  # noqa: E402
from planner.grid import load_grid  # noqa: E402
from planner.paths import examples_dir, sha256_file  # noqa: E402
from planner.perf.shape_fit import cached_table, fit_trace_shape, shape_name  # noqa: E402
from planner.workload.prepare import busy_token_means, load_trace  # noqa: E402
from planner.workload.windows import make_windows, parse_window  # noqa: E402

TARGET_S = 60.0
SYNTHETIC = Path("/work/shared/data/traces/synthetic_trace.jsonl")


def cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace", type=Path, nargs="?",
                    default=SYNTHETIC if SYNTHETIC.is_file()
                    else examples_dir() / "conversation_trace.jsonl")
    ap.add_argument("--window", default="1h,5min", help="comma-separated window lengths")
    ap.add_argument("--tp", type=int, default=4)
    args = ap.parse_args(argv)
    opt = PlanOptions(trace=str(args.trace), tp=args.tp, drop_over_context=True).validate()
    trace, dropped = load_trace(opt, load_grid(opt.grid, opt.ci_basis))
    print(f"{args.trace.name}: {len(trace):,} requests ({dropped} beyond the context dropped), "
          f"Llama-3-70B on {args.tp} × H100, {os.cpu_count()} CPUs")
    rows = {}
    for window in args.window.split(","):
        means = busy_token_means(make_windows(trace, parse_window(window)))
        with tempfile.TemporaryDirectory() as cache:
            os.environ["GREENCACHE_CACHE"] = cache
            t0, c0 = time.perf_counter(), cpu_s()
            shape = fit_trace_shape(trace, shape_name(args.trace.stem), args.trace.name,
                                    sha256_file(args.trace))
            t1, c1 = time.perf_counter(), cpu_s()
            folder = cached_table(shape, opt.model, opt.gpu, opt.tp, opt.ssd,
                                  window_inputs=means[0], window_outputs=means[1])
            t2, c2 = time.perf_counter(), cpu_s()
            meta = json.loads(next(folder.glob("*.meta.json")).read_text())["options"]
        points = (len(meta["load_axis"]) * len(meta["hit_axis"]) * len(meta["input_axis"])
                  * len(meta["output_axis"]))
        total = t2 - t0
        rows[window] = {"fit_s": round(t1 - t0, 1), "table_s": round(t2 - t1, 1),
                        "total_s": round(total, 1), "cpu_s": round(c2 - c0, 1),
                        "points": points, "inputs": meta["input_axis"],
                        "outputs": meta["output_axis"]}
        print(f"  {window:>6} windows: fit {t1 - t0:5.1f} s, table {t2 - t1:5.1f} s "
              f"({points:,} points; prompts {meta['input_axis']}, outputs "
              f"{meta['output_axis']}), together {total:5.1f} s wall, {c2 - c0:5.1f} s CPU "
              f"(target ≤ {TARGET_S:.0f} s: {'met' if total <= TARGET_S else 'MISSED'})",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
