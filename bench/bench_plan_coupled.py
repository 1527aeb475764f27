"""Benchmark of coupled plans (printed, not asserted; `make bench` runs it).

Each case runs in its own process, so its peak memory (RSS) is its own. Prints the wall time of
each stage (inputs, candidates, the plan's solve, the baselines) and the CPU time of all of
them (what other jobs on a shared machine do not inflate), the solve method, MIP gap and the
peak RSS, against the targets, and the input stage's own CPU time and peak RSS
(bench_inputs.py measures that stage alone, with 15-min and 1-h windows):

* BurstGPT, 61 days of hourly windows, coupled (owned capacity, 2 h minimum dwell, 4 changes
  a day): ≤ 15 s and ≤ 1 GB;
* the 2024 conversation week at scale 1 (27.3M requests), 15-min windows, owned, min dwell:
  ≤ 60 s and ≤ 2.5 GB, MIP gap ≤ 1e-4 proven (BENCH_WEEK_SCALE changes the scale; the week is
  the slowest case, BENCH_CASES=burstgpt leaves it out).

Each case also solves the same candidates as a rolling horizon (7-day blocks, 1-day overlap)
and prints its time and its gap to the full solve.
"""

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace

CASES = {
    "burstgpt": dict(trace="examples/burstgpt_hourly.csv", window="1h", target_s=15,
                     target_gb=1.0),
    "week": dict(trace="examples/invocations_ten_second_Conversation.csv", window="15min",
                 target_s=60, target_gb=2.5),
}


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def run_case(name: str) -> dict:
    from planner.baselines import solve_baselines
    from planner.config import PlanOptions
    from planner.plan import plan_candidates
    from planner.plan_solve import plan_coupling, solve_candidates
    from planner.workload.prepare import load_inputs

    case = CASES[name]
    scale = float(os.environ.get("BENCH_WEEK_SCALE", "1")) if name == "week" else 1.0
    opt = PlanOptions(trace=case["trace"], window=case["window"], capacity="owned",
                      scale=scale).validate()
    times = {}
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    inputs = load_inputs(opt, keep_blocks=False)     # as `greencache plan` prepares them
    times["inputs"] = time.perf_counter() - t0
    stage_inputs = {"cpu_s": round(time.process_time() - cpu0, 2),
                    "peak_rss_gb": round(peak_gb(), 2)}
    t0 = time.perf_counter()
    cands = plan_candidates(opt, inputs.windowing.stats, inputs.hits, inputs.ci,
                            inputs.profile, inputs.hardware, inputs.cache_levels_gb,
                            inputs.buckets)
    times["candidates"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    coupling = plan_coupling(inputs, opt, cands.frame)
    requests = inputs.windowing.stats["requests"].to_numpy(dtype=float)
    solved = solve_candidates(cands.frame, opt, coupling, requests=requests)
    times["solve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    solve_baselines(cands.frame, opt, inputs.cache_levels_gb, coupling, requests)
    times["baselines"] = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    r = solved.result
    # The rolling horizon on the same candidates: a week per block, a day of overlap.
    per_day = int(round(24 / coupling_window_h(inputs)))
    t0 = time.perf_counter()
    rolled = solve_candidates(cands.frame, replace(opt, rolling_block=7 * per_day,
                                                   rolling_overlap=per_day), coupling,
                              requests=requests).result
    rolling = {"s": round(time.perf_counter() - t0, 2), "objective": rolled.objective,
               "gap_to_full": (rolled.objective - r.objective) / r.objective}
    return {"case": name, "requests": int(len(inputs.trace)), "windows": int(inputs.windowing.n),
            "candidates": int(len(cands.frame)), "method": r.method, "status": r.status.value,
            "mip_gap": r.mip_gap, "objective_kgco2e": r.objective,
            "owned_replicas": r.owned_replicas, "owned_drives": r.owned_drives,
            "times_s": {k: round(v, 2) for k, v in times.items()},
            "total_s": round(sum(times.values()), 2), "cpu_s": round(cpu, 2),
            "peak_rss_gb": round(peak_gb(), 2), "inputs": stage_inputs,
            "target_s": case["target_s"], "target_gb": case["target_gb"], "rolling": rolling}


def coupling_window_h(inputs) -> float:
    import pandas as pd

    return inputs.windowing.length / pd.Timedelta(hours=1)


def main():
    if len(sys.argv) > 1:
        print(json.dumps(run_case(sys.argv[1])))
        return
    names = os.environ.get("BENCH_CASES", "burstgpt,week").split(",")
    for name in names:
        out = subprocess.run([sys.executable, __file__, name], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name}: {r['requests']:,} requests, {r['windows']} windows, "
              f"{r['candidates']:,} candidates; stages {r['times_s']} → {r['total_s']} s "
              f"(target ≤ {r['target_s']} s; CPU {r['cpu_s']} s), peak RSS {r['peak_rss_gb']} GB "
              f"(target ≤ {r['target_gb']} GB; inputs CPU {r['inputs']['cpu_s']} s, peak RSS "
              f"{r['inputs']['peak_rss_gb']} GB); solve {r['method']} {r['status']}, MIP gap "
              f"{r['mip_gap']:.2g}; owned {r['owned_replicas']} replicas, "
              f"{r['owned_drives']} drives; {r['objective_kgco2e']:.3f} kgCO2e; rolling horizon "
              f"(7-day blocks, 1-day overlap) {r['rolling']['s']} s, gap to the full solve "
              f"{100 * r['rolling']['gap_to_full']:.4f} %")


if __name__ == "__main__":
    main()
