"""Benchmark of the week-long pipeline (printed, not asserted; `make bench` runs it).

Plans the complete Azure LLM conversation week (27.3M requests at scale 1; REPLAY_SCALE in the
environment changes it) on the French grid, then replays every request under the plan. Prints
the time of each stage, requests replayed per second and the peak memory (RSS) of the process.
Target: the replay of the week under 10 minutes on the 2-core machine.
"""

import os
import resource
import time


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def main():
    from planner.config import PlanOptions
    from planner.evaluate import SimulatedReplica, account, serve
    from planner.plan import run_plan

    scale = float(os.environ.get("REPLAY_SCALE", "1"))
    opt = PlanOptions(trace="examples/invocations_ten_second_Conversation.csv", grid="FR",
                      scale=scale)
    t0 = time.perf_counter()
    result = run_plan(opt)
    t_plan = time.perf_counter() - t0
    inp = result.inputs
    print(f"plan: {len(inp.trace):,} requests, {len(result.schedule)} windows, "
          f"{t_plan:.1f} s, peak RSS {peak_gb():.2f} GB")
    sim = SimulatedReplica(opt.model, opt.gpu, opt.tp, opt.ssd)
    t0 = time.perf_counter()
    served = serve(inp.trace, result.schedule, inp.hardware, sim, inp.kv_bytes_per_token)
    r = account(served, inp.trace, result.schedule, inp.ci, inp.hardware, opt.slo_ttft_s,
                opt.slo_tpot_s)
    t_replay = time.perf_counter() - t0
    n = r.totals["requests"]
    print(f"replay: {n:,} requests in {t_replay:.1f} s = {n / t_replay:,.0f} requests/s, "
          f"peak RSS {peak_gb():.2f} GB (target: under 600 s)")
    print(f"replayed: {100 * r.totals['slo_attainment']:.1f} % within SLO, "
          f"{r.totals['total_kgco2e']:.1f} kgCO2e (predicted "
          f"{r.totals['predicted_total_kgco2e']:.1f}); p90 TTFT within 15 % of the prediction "
          f"in {100 * r.totals['windows_p90_ttft_within_15pct']:.0f} % of windows")


if __name__ == "__main__":
    main()
