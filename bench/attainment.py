#!/usr/bin/env python3
"""The modelled within-SLO share a_{t,k} and the planning margins, against replay.

    .venv/bin/python bench/attainment.py          # three cases, ≈ 1 min on 2 cores

For every case it builds the planner's candidates (no headroom, no pruning) and replays a sweep
of schedules through ``greencache simulate``'s code path: every window at cache level 0, 2, 16
and 64 TB and at the fewest stable replicas plus a few (so the sweep crosses the SLO line and
reaches close to capacity). Each (window, configuration) replayed gives one point: the
candidate's predicted share of requests within both SLOs against the replayed share, its
predicted p90s against the replayed ones, and its busiest burst bucket's load fraction.

It prints, per case, the error of a_{t,k} (predicted − replayed share: mean, median absolute,
largest over-prediction) with and without the default headroom, and for a grid of headroom H
and p90 margin m how many points the per-window rule (busiest bucket ≤ H, p90s ≤ (1 − m) ·
SLO) accepts and how many of those replay with a p90 above its SLO.

Cases: the Azure conversation hour at 5- and 15-min windows (defaults), the Mooncake hour
(``make fidelity`` settings: from 2023-11-16T18:00Z, 15-min windows, p90 TTFT SLO 5 s).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner import schedule as schedule_mod  # noqa: E402
from planner.config import DEFAULT_HEADROOM, DEFAULT_SLO_MARGIN, PlanOptions  # noqa: E402
from planner.optimize.candidates import build_candidates  # noqa: E402
from planner.workload.prepare import load_inputs, prepare_replay  # noqa: E402
from planner.replay_run import replay_schedule  # noqa: E402

EX = ROOT / "examples"
CASES = {
    "azure-hour-5min": (dict(trace=str(EX / "AzureLLMInferenceTrace_conv.csv"), window="5min"),
                        (0, 1, 2)),
    "azure-hour-15min": (dict(trace=str(EX / "AzureLLMInferenceTrace_conv.csv"),
                              window="15min"), (0, 1, 2)),
    "mooncake-hour": (dict(trace=str(EX / "conversation_trace.jsonl"),
                           start="2023-11-16T18:00Z", window="15min", slo_ttft_s=5.0),
                      (2, 4, 6, 8, 10, 12, 16)),
}
LEVELS_TB = (0.0, 2.0, 16.0, 64.0)


def sweep(options: dict, extras) -> pd.DataFrame:
    opt = PlanOptions(**options).validate()
    inp = load_inputs(opt)
    st = inp.windowing.stats
    cands = build_candidates(st, inp.hits, inp.ci, inp.profile, inp.hardware,
                             inp.cache_levels_gb, opt.max_replicas, opt.slo_ttft_s,
                             opt.slo_tpot_s, headroom=1.0, prune=False,
                             buckets=inp.buckets).frame
    setup = prepare_replay(opt)
    W = len(st)
    rows = []
    for tb in LEVELS_TB:
        at = cands[np.isclose(cands["cache_gb"], tb * 1000)]
        for extra in extras:
            pick = []
            for t in range(W):
                g = at[at["window"] == t].sort_values("replicas")
                pick.append(g.index[min(extra, len(g) - 1)])
            ch = cands.loc[pick]
            sched = schedule_mod.assemble(st, inp.ci, ch, [inp.hits.source] * W,
                                          opt.slo_ttft_s, opt.slo_tpot_s)
            rep = replay_schedule(setup, sched).windows
            rows.append(pd.DataFrame({
                "window": np.arange(W), "cache_tb": tb, "replicas": ch["replicas"].to_numpy(),
                "requests": st["requests"].to_numpy(),
                "peak_load_fraction": ch["peak_load_fraction"].to_numpy(),
                "predicted_share": ch["within_slo_share"].to_numpy(),
                "replayed_share": rep["slo_attainment"].to_numpy(),
                "predicted_ttft": ch["p90_ttft_s"].to_numpy(),
                "replayed_ttft": rep["replayed_p90_ttft_s"].to_numpy(),
                "predicted_tpot": ch["p90_tpot_s"].to_numpy(),
                "replayed_tpot": rep["replayed_p90_tpot_s"].to_numpy()}))
    df = pd.concat(rows).drop_duplicates(["window", "replicas", "predicted_share"])
    df = df[df["requests"] > 0].reset_index(drop=True)
    df.attrs["slo"] = (opt.slo_ttft_s, opt.slo_tpot_s)
    return df


def report(name: str, df: pd.DataFrame) -> None:
    s_ttft, s_tpot = df.attrs["slo"]
    err = df["predicted_share"] - df["replayed_share"]
    inside = df["peak_load_fraction"] <= DEFAULT_HEADROOM
    print(f"{name}: {len(df)} replayed (window, configuration) points")
    for label, mask in (("all points", np.ones(len(df), bool)),
                        (f"busiest bucket ≤ {DEFAULT_HEADROOM:g}", inside)):
        e = err[mask]
        print(f"  a_t,k − replayed share, {label:<26} mean {e.mean():+.4f}, median |e| "
              f"{e.abs().median():.4f}, largest over-prediction {e.max():+.4f} (n={len(e)})")
    bad = (df["replayed_ttft"] > s_ttft) | (df["replayed_tpot"] > s_tpot)
    print("  per-window rule: accepted / of those replayed above an SLO, by headroom H and "
          "margin m")
    margins = (0.0, 0.05, DEFAULT_SLO_MARGIN, 0.15)
    print("        " + "".join(f"{f'm={m:g}':>12}" for m in margins))
    for h in (1.0, 0.9, DEFAULT_HEADROOM, 0.8):
        cells = []
        for m in margins:
            ok = ((df["peak_load_fraction"] <= h) & (df["predicted_ttft"] <= (1 - m) * s_ttft)
                  & (df["predicted_tpot"] <= (1 - m) * s_tpot))
            cells.append(f"{int(ok.sum())}/{int((ok & bad).sum())}")
        print(f"  H={h:<4g}" + "".join(f"{c:>12}" for c in cells))


def main() -> int:
    for name, (options, extras) in CASES.items():
        report(name, sweep(options, extras))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
