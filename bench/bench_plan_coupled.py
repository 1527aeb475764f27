"""Benchmark of coupled plans (printed, not asserted; `make bench` runs it).

Each case runs in its own process, so its peak memory is its own. Prints the wall and CPU
time of each stage (inputs, candidates, the plan's solve, the baselines; CPU time is what
other jobs on a shared machine do not inflate), the solve method, MIP gap, the peak RSS of
the whole case and of the stages after the inputs (the peak is reset once the inputs are
prepared: Linux's /proc/self/clear_refs; the RSS the inputs still hold then is printed too),
and the machine's load, against the targets (bench_inputs.py measures the input stage alone,
with 15-min and 1-h windows):

* BurstGPT, 61 days of hourly windows, coupled (owned capacity, 2 h minimum dwell, 4 changes
  a day): ≤ 15 s and ≤ 1 GB;
* the 2024 conversation week at scale 1 (27.3M requests), 15-min windows, owned, min dwell,
  change limit and the attainment budget (``--slo-attainment 0.9``): ≤ 60 s and ≤ 2.5 GB,
  MIP gap ≤ 1e-4 proven (BENCH_WEEK_SCALE changes the scale);
* a year of hourly windows (8,760), coupled as BurstGPT: ≤ 2 min. No year-long trace ships:
  the case tiles the 2024 conversation week's ten-second counts over the 365 days from
  2023-01-01 at scale 0.0005 (711k requests, synthesised like any rate series; the quietest
  hour keeps about 38, so every window's token mix stays inside the profile), planned on
  FR's 2023 grid hour by hour, with at most 8 replicas (64 would exceed the candidates a
  plan may hold: 8,760 × 64 × 9 > 1,000,000).

Each case also solves the same candidates as a rolling horizon (7-day blocks, 1-day overlap)
and prints its time and its gap to the full solve. BENCH_CASES picks cases (comma-separated;
default all three, the week last: it is the slowest).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "burstgpt": dict(trace="examples/burstgpt_hourly.csv", window="1h", target_s=15,
                     target_gb=1.0),
    "year": dict(trace=None, window="1h", target_s=120, target_gb=None, max_replicas=8,
                 scale=0.0005),
    "week": dict(trace="examples/invocations_ten_second_Conversation.csv", window="15min",
                 target_s=60, target_gb=2.5, slo_attainment=0.9),
}
YEAR_HOURS = 8760


def status_gb(field: str = "VmHWM") -> float:
    """A memory figure of /proc/self/status: VmHWM, the peak RSS since the last reset, or
    VmRSS, the RSS now."""
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1e6
    return float("nan")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def year_trace(folder: Path) -> Path:
    """The conversation week's ten-second counts tiled to a year (module docstring), in the
    Azure 2024 format, from 2023-01-01 (a Sunday, as the week's first day)."""
    import numpy as np
    import pandas as pd

    week = pd.read_csv(ROOT / "examples" / "invocations_ten_second_Conversation.csv")
    counts = week["TIMESTAMP"].to_numpy()[:7 * 8640]
    bins = YEAR_HOURS * 360
    tiled = np.resize(counts, bins)
    time = pd.date_range("2023-01-01", periods=bins, freq="10s")
    path = folder / "conversation_year_ten_second.csv"
    pd.DataFrame({"Time": time.strftime("%Y-%m-%d %H:%M:%S"), "TIMESTAMP": tiled}).to_csv(
        path, index=False)
    return path


def run_case(name: str) -> dict:
    from planner.baselines import solve_baselines
    from planner.config import PlanOptions
    from planner.plan import plan_candidates
    from planner.plan_solve import plan_coupling, solve_candidates
    from planner.workload.prepare import load_inputs

    case = CASES[name]
    scale = float(os.environ.get("BENCH_WEEK_SCALE", "1")) if name == "week" else \
        case.get("scale", 1.0)
    folder = tempfile.TemporaryDirectory(prefix="greencache-bench-")
    trace = case["trace"] or str(year_trace(Path(folder.name)))
    opt = PlanOptions(trace=trace, window=case["window"], capacity="owned", scale=scale,
                      slo_attainment=case.get("slo_attainment"),
                      max_replicas=case.get("max_replicas", 64)).validate()
    load = os.getloadavg()[0]
    times, cpus = {}, {}

    def stage(name, work):
        t0, c0 = time.perf_counter(), time.process_time()
        out = work()
        times[name] = time.perf_counter() - t0
        cpus[name] = time.process_time() - c0
        return out

    # As `greencache plan` prepares them.
    inputs = stage("inputs", lambda: load_inputs(opt, keep_blocks=False))
    inputs_gb = status_gb()
    held_gb = status_gb("VmRSS")
    reset_peak()
    cands = stage("candidates", lambda: plan_candidates(
        opt, inputs.windowing.stats, inputs.hits, inputs.ci, inputs.profile, inputs.hardware,
        inputs.cache_levels_gb, inputs.buckets))
    coupling = plan_coupling(inputs, opt, cands.frame)
    requests = inputs.windowing.stats["requests"].to_numpy(dtype=float)
    solved = stage("solve", lambda: solve_candidates(cands.frame, opt, coupling,
                                                     requests=requests))
    stage("baselines", lambda: solve_baselines(cands.frame, opt, inputs.cache_levels_gb,
                                               coupling, requests))
    after_gb = status_gb()
    r = solved.result
    ch = solved.chosen
    # The rolling horizon on the same candidates: a week per block, a day of overlap.
    per_day = int(round(24 / coupling_window_h(inputs)))
    t0 = time.perf_counter()
    rolled = solve_candidates(cands.frame, replace(opt, rolling_block=7 * per_day,
                                                   rolling_overlap=per_day), coupling,
                              requests=requests).result
    rolling = {"s": round(time.perf_counter() - t0, 2), "objective": rolled.objective,
               "method": rolled.method,
               "gap_to_full": (rolled.objective - r.objective) / r.objective}
    folder.cleanup()
    return {"case": name, "scale": scale, "requests": int(len(inputs.trace)),
            "windows": int(inputs.windowing.n),
            "candidates": int(len(cands.frame)), "method": r.method, "status": r.status.value,
            "mip_gap": r.mip_gap, "objective_kgco2e": r.objective,
            "owned_replicas": r.owned_replicas, "owned_drives": r.owned_drives,
            "level_changes": int((ch["level"].diff().fillna(0) != 0).sum()),
            "times_s": {k: round(v, 2) for k, v in times.items()},
            "total_s": round(sum(times.values()), 2),
            "cpu_s": {k: round(v, 2) for k, v in cpus.items()},
            "total_cpu_s": round(sum(cpus.values()), 2),
            "peak_rss_gb": round(max(inputs_gb, after_gb), 2),
            "inputs_peak_gb": round(inputs_gb, 2), "held_after_inputs_gb": round(held_gb, 2),
            "after_inputs_peak_gb": round(after_gb, 2), "load": round(load, 1),
            "target_s": case["target_s"], "target_gb": case["target_gb"], "rolling": rolling}


def coupling_window_h(inputs) -> float:
    import pandas as pd

    return inputs.windowing.length / pd.Timedelta(hours=1)


def main():
    if len(sys.argv) > 1:
        print(json.dumps(run_case(sys.argv[1])))
        return
    names = os.environ.get("BENCH_CASES", "burstgpt,year,week").split(",")
    for name in names:
        out = subprocess.run([sys.executable, __file__, name], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        memory = f"(target ≤ {r['target_gb']} GB)" if r["target_gb"] else ""
        print(f"{name} (scale {r['scale']:g}): {r['requests']:,} requests, {r['windows']} "
              f"windows, {r['candidates']:,} candidates; load {r['load']}; stages "
              f"{r['times_s']} → {r['total_s']} s wall (target ≤ {r['target_s']} s); CPU "
              f"{r['cpu_s']} → {r['total_cpu_s']} s; peak RSS {r['peak_rss_gb']} GB {memory}: "
              f"inputs {r['inputs_peak_gb']} GB, the stages after them "
              f"{r['after_inputs_peak_gb']} GB (of which the inputs hold "
              f"{r['held_after_inputs_gb']} GB); solve {r['method']} {r['status']}, "
              f"MIP gap {r['mip_gap']:.2g}; owned {r['owned_replicas']} replicas, "
              f"{r['owned_drives']} drives; {r['level_changes']} level changes; "
              f"{r['objective_kgco2e']:.3f} kgCO2e; rolling horizon (7-day blocks, 1-day "
              f"overlap, {r['rolling']['method']}) {r['rolling']['s']} s, gap to the full "
              f"solve {100 * r['rolling']['gap_to_full']:.4f} %")


if __name__ == "__main__":
    main()
