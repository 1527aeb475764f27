"""Benchmark of a plan's input stage, `load_inputs` (printed, not asserted; `make bench` runs it).

The 2024 Azure conversation week at scale 1 (27.3M requests synthesised from the ten-second
counts, prefixes from the reuse model, exact LRU curves with warm-up, burst buckets), with
15-minute and 1-hour windows, each in its own process so that its peak memory (RSS) is its
own. ``plan``: as `greencache plan` prepares them (the prefix blocks let go of once the curves
are computed); ``sweep``: as a sweep's shared inputs (blocks and sessions kept for the
replays). Prints CPU seconds (what other jobs on a shared machine do not inflate), wall
seconds, the peak RSS and the RSS left held by the inputs.

BENCH_INPUTS_SCALE changes the scale; BENCH_INPUTS_CASES picks cases (default all four).
"""

import json
import os
import resource
import subprocess
import sys
import time

CASES = {"plan-15min": ("15min", False), "plan-1h": ("1h", False),
         "sweep-15min": ("15min", True), "sweep-1h": ("1h", True)}
TRACE = "examples/invocations_ten_second_Conversation.csv"


def rss_gb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024 / 1e9
    return float("nan")


def run_case(name: str) -> dict:
    from planner.config import PlanOptions
    from planner.workload.prepare import load_inputs

    window, keep = CASES[name]
    scale = float(os.environ.get("BENCH_INPUTS_SCALE", "1"))
    opt = PlanOptions(trace=TRACE, window=window, capacity="owned", scale=scale).validate()
    cpu0, t0 = time.process_time(), time.perf_counter()
    inputs = load_inputs(opt, keep_blocks=keep)
    return {"case": name, "scale": scale, "requests": len(inputs.trace),
            "windows": inputs.windowing.n, "cpu_s": round(time.process_time() - cpu0, 1),
            "wall_s": round(time.perf_counter() - t0, 1),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
            "held_rss_gb": round(rss_gb(), 2)}


def main():
    if len(sys.argv) > 1:
        print(json.dumps(run_case(sys.argv[1])))
        return
    for name in os.environ.get("BENCH_INPUTS_CASES", ",".join(CASES)).split(","):
        out = subprocess.run([sys.executable, __file__, name], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"inputs, {r['case']} (week at scale {r['scale']:g}: {r['requests']:,} requests, "
              f"{r['windows']} windows): CPU {r['cpu_s']} s, wall {r['wall_s']} s, peak RSS "
              f"{r['peak_rss_gb']} GB, held after {r['held_rss_gb']} GB")


if __name__ == "__main__":
    main()
