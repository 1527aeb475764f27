#!/usr/bin/env python3
"""Planner prediction against replay: per-window p90 TTFT and TPOT, SLO attainment, carbon.

    .venv/bin/python bench/fidelity.py                       # every case (≈ 4 min, 2 cores)
    .venv/bin/python bench/fidelity.py --cases azure-hour,azure-hour-15min,mooncake-hour  # quick
    .venv/bin/python bench/fidelity.py --score out/a out/b   # score existing plan folders

For each case it runs ``greencache plan`` and then ``greencache simulate`` on the schedule (the
discrete-event replay of every request), both as a user would, and prints per case:

* the share of windows (with requests) whose predicted p90 TTFT is within 15 % of the replayed
  one (the target: at least 90 % of windows), the median signed and the largest absolute
  relative error (predicted / replayed − 1); the same for p90 TPOT;
* the replayed SLO attainment (share of requests within both SLOs) beside the predicted
  (modelled) one, the windows the schedule marks within SLO whose replayed p90s are not, and
  the carbon the plan predicted against the carbon the replay accounts.

Cases (docs/perf-model.md, "Prediction against replay"):

* ``azure-hour``: examples/AzureLLMInferenceTrace_conv.csv, FR grid, defaults;
* ``azure-hour-15min``: the same with 15-min windows (one replica runs close to its capacity);
* ``mooncake-hour``: examples/conversation_trace.jsonl from 2023-11-16T18:00Z, 15-min windows,
  p90 TTFT SLO 5 s (its prompts average 12k tokens), FR grid;
* ``azure-week``: examples/invocations_ten_second_Conversation.csv (27.3M requests synthesised
  from the 2024 week's 10-s counts), FR grid, defaults (≈ 6 min on 2 cores);
* ``mooncake-synthetic``: Mooncake's synthetic_trace.jsonl (a user's own trace: 17 minutes of
  Poisson arrivals, 15k-token prompts; not shipped, read from ``--synthetic-trace``), its own
  fitted shape (``--auto-profile``), the 10 requests beyond the context dropped, 8 × H100
  (4 × H100 cannot reach a p90 TTFT of 2 s: README, "Judged by replay"), FR grid, 1-h window,
  the default per-window p90 SLO;
* ``mooncake-synthetic-5min``: the same on 5-min windows (4 windows) with the default per-window
  p90 SLO, for per-window agreement, best-effort (``--allow-slo-violation``): the first window,
  its cache still cold, cannot reach a p90 TTFT of 1.8 s with any replica count (its own
  requests alone, without queueing, give 1.97 s).

Cases whose trace is missing are skipped with a note.

``--score`` reads ``<dir>/replay/replay.csv`` and ``replay.json`` of folders made by hand (for
instance by an older version of greencache, to compare before and after). Not part of the test
suite: the week takes minutes. Figures and their reading: docs/perf-model.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"

CASES = {
    "azure-hour": ["--trace", str(EX / "AzureLLMInferenceTrace_conv.csv"), "--grid", "FR"],
    "azure-hour-15min": ["--trace", str(EX / "AzureLLMInferenceTrace_conv.csv"), "--grid", "FR",
                         "--window", "15min"],
    "mooncake-hour": ["--trace", str(EX / "conversation_trace.jsonl"), "--grid", "FR",
                      "--start", "2023-11-16T18:00Z", "--window", "15min", "--slo-ttft", "5"],
    "azure-week": ["--trace", str(EX / "invocations_ten_second_Conversation.csv"),
                   "--grid", "FR"],
    "mooncake-synthetic": ["--trace", "{synthetic}", "--grid", "FR", "--tp", "8",
                           "--auto-profile", "--drop-over-context"],
    "mooncake-synthetic-5min": ["--trace", "{synthetic}", "--grid", "FR", "--tp", "8",
                                "--auto-profile", "--drop-over-context", "--window", "5min",
                                "--allow-slo-violation"],
}
# Mooncake's synthetic trace (Apache-2.0, FAST'25) is not shipped; where the project's data
# folder holds it.
SYNTHETIC = Path("/work/shared/data/traces/synthetic_trace.jsonl")


def case_args(name: str, synthetic: Path) -> list[str]:
    return [a.format(synthetic=synthetic) for a in CASES[name]]


def run_case(name: str, out: Path, extra: list[str], synthetic: Path = SYNTHETIC) -> float:
    """Plan and replay one case into ``out``; returns the seconds both took."""
    cli = [sys.executable, "-m", "planner"]
    t = time.perf_counter()
    for args in (["plan", *case_args(name, synthetic), "--out", str(out), "--no-timing",
                  "--quiet", *extra],
                 ["simulate", "--schedule", str(out / "schedule.csv")]):
        r = subprocess.run(cli + args, cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{name}: greencache {args[0]} failed ({r.returncode}): "
                             f"{(r.stderr or r.stdout).strip()}")
    return time.perf_counter() - t


def score(folder: Path) -> dict:
    """Prediction-against-replay figures of a plan folder holding replay/."""
    w = pd.read_csv(folder / "replay" / "replay.csv")
    totals = json.loads((folder / "replay" / "replay.json").read_text())["totals"]
    w = w[w["requests"] > 0]
    out = {"windows": int(len(w))}
    for metric in ("ttft", "tpot"):
        rel = (w[f"predicted_p90_{metric}_s"] / w[f"replayed_p90_{metric}_s"] - 1).to_numpy()
        out[metric] = {"within_15pct": float(np.mean(np.abs(rel) <= 0.15)),
                       "median_rel_error": float(np.median(rel)),
                       "median_abs_rel_error": float(np.median(np.abs(rel))),
                       "max_abs_rel_error": float(np.max(np.abs(rel)))}
    out["slo_attainment"] = float(totals["slo_attainment"])
    out["predicted_slo_attainment"] = float(totals.get("predicted_slo_attainment", np.nan))
    sched = pd.read_csv(folder / "schedule.csv")
    sched = sched[sched["requests"] > 0].reset_index(drop=True)
    slo = json.loads((folder / "summary.json").read_text())["scenario"]
    replay_ok = ((w["replayed_p90_ttft_s"].to_numpy() <= slo["slo_ttft_s"])
                 & (w["replayed_p90_tpot_s"].to_numpy() <= slo["slo_tpot_s"]))
    out["within_slo_not_on_replay"] = int((sched["slo_met"].to_numpy() & ~replay_ok).sum())
    out["carbon_predicted_kg"] = float(totals["predicted_total_kgco2e"])
    out["carbon_replayed_kg"] = float(totals["total_kgco2e"])
    return out


def print_table(rows: dict[str, dict]) -> None:
    head = ("case", "win", "TTFT ≤15%", "med", "max|e|", "TPOT ≤15%", "med", "max|e|",
            "SLO att.", "predicted", "missed", "kg pred", "kg replay")
    fmt = "{:<24}{:>5}" + "{:>10}{:>8}{:>8}" * 2 + "{:>10}{:>10}{:>8}{:>10}{:>10}"
    print(fmt.format(*head))
    for name, s in rows.items():
        cells = [name, s["windows"]]
        for m in ("ttft", "tpot"):
            cells += [f"{100 * s[m]['within_15pct']:.0f} %",
                      f"{100 * s[m]['median_rel_error']:+.1f}%",
                      f"{100 * s[m]['max_abs_rel_error']:.1f}%"]
        cells += [f"{100 * s['slo_attainment']:.1f} %",
                  f"{100 * s['predicted_slo_attainment']:.1f} %",
                  s["within_slo_not_on_replay"], f"{s['carbon_predicted_kg']:.2f}",
                  f"{s['carbon_replayed_kg']:.2f}"]
        print(fmt.format(*cells))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES),
                    help=f"comma-separated, of {', '.join(CASES)}")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "fidelity",
                    help="folder for the plans and replays (one subfolder per case)")
    ap.add_argument("--score", type=Path, nargs="+", help="only score these plan folders")
    ap.add_argument("--plan-args", default="",
                    help="extra `greencache plan` options for every case, e.g. "
                         "'--workload-shape lognormal'")
    ap.add_argument("--synthetic-trace", type=Path, default=SYNTHETIC,
                    help="Mooncake's synthetic_trace.jsonl, for the mooncake-synthetic cases")
    args = ap.parse_args(argv)
    rows = {}
    if args.score:
        for folder in args.score:
            rows[folder.name] = score(folder)
    else:
        for name in [c for c in args.cases.split(",") if c]:
            if name not in CASES:
                ap.error(f"unknown case {name!r}; choose from {', '.join(CASES)}")
            if "{synthetic}" in CASES[name] and not args.synthetic_trace.is_file():
                print(f"{name}: skipped, no {args.synthetic_trace} (--synthetic-trace)",
                      flush=True)
                continue
            seconds = run_case(name, args.out / name, args.plan_args.split(),
                               args.synthetic_trace)
            rows[name] = {**score(args.out / name), "plan_and_replay_s": round(seconds, 1)}
            print(f"{name}: planned and replayed in {seconds:.0f} s", flush=True)
        (args.out / "fidelity.json").write_text(json.dumps(rows, indent=2) + "\n")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
