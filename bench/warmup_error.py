"""How far the planner's one-step warm-up model is from the replay's cache, on the shipped traces.

The planner predicts a window whose cache grew from c′ to c at H_t(c′→c) (exact when the cache
entered it holding the LRU(c′) content) and the window after it warm, at H_{t+1}(c). After a
grow that does not fill within its window, the cache entering t + 1 holds less than LRU(c). For
every window t and every grow c′ → c this replays the schedule (c′ before t, c from t on) with
the production cache (``simulate_cache``) and prints, in percentage points of token hit rate:

* the error of the grown window itself (0 by construction: it is exact);
* the error of the window after it against the warm prediction (the one-step model's error).

    .venv/bin/python bench/warmup_error.py            # Azure hour and Mooncake hour, 15-min windows
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from planner.config import PlanOptions
from planner.workload.prepare import load_inputs
from planner.workload.eviction import simulate_cache

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"
CASES = {
    "azure-hour": PlanOptions(trace=str(EX / "AzureLLMInferenceTrace_conv.csv"), window="15min"),
    "mooncake-hour": PlanOptions(trace=str(EX / "conversation_trace.jsonl"), window="15min",
                                 start="2023-11-16T18:00Z"),
}


def errors(opt: PlanOptions):
    inp = load_inputs(opt)
    trace, win = inp.trace, inp.windowing.request_window
    W = inp.windowing.n
    caps = np.asarray(inp.hits.capacities_tokens) // trace.block_tokens
    prompt = np.bincount(win, weights=trace.input_tokens, minlength=W)
    warm, grown = inp.hits.token_hit, inp.hits.grown_token_hit
    rows = []
    for t, (i, j) in itertools.product(range(1, W), itertools.combinations(range(len(caps)), 2)):
        sched = np.array([caps[i]] * t + [caps[j]] * (W - t))
        hit = np.bincount(win, weights=simulate_cache(trace, sched, request_window=win),
                          minlength=W) / np.maximum(prompt, 1)
        after = 100 * (warm[t + 1, j] - hit[t + 1]) if t + 1 < W else np.nan
        rows.append((t, i, j, 100 * (grown[t, i, j] - hit[t]), after))
    return inp, np.array(rows)


def main() -> None:
    for name, opt in CASES.items():
        inp, r = errors(opt)
        levels = inp.options.cache_levels_tb
        grown_err, after = np.abs(r[:, 3]), r[:, 4]
        after = after[np.isfinite(after)]
        worst = r[np.nanargmax(np.abs(r[:, 4]))]
        print(f"{name}: {len(r)} grows; grown window |error| max {grown_err.max():.4f} pp; "
              f"window after (predicted warm − replayed): mean {after.mean():.2f} pp, "
              f"max {np.abs(after).max():.2f} pp (t={int(worst[0]) + 1}, "
              f"{levels[int(worst[1])]:g}→{levels[int(worst[2])]:g} TB), "
              f"share within 1 pp {np.mean(np.abs(after) <= 1):.0%}")


if __name__ == "__main__":
    main()
