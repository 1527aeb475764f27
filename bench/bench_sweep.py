"""Benchmark of sweeps (printed, not asserted; `make bench` runs it).

1. Ray's per-task overhead on a local instance of 2 CPUs: the round trip of one empty task
   (submit, run, result back), and the throughput of 400 empty tasks.
2. The cost of a point, in this process through the functions a sweep's tasks call: the shared
   inputs of a workload (trace, windows, hit curves: once per workload), a first point (plan
   and the replays of its four deployments), a second point of the same workload on another
   grid (its baselines' replays come from the worker's cache, as in a sweep over zones), and
   the peak memory (RSS). The workload is SWEEP_BENCH_TRACE (default the shipped Azure
   conversation hour, in scenario-fr.toml's 15-min windows) at SWEEP_BENCH_SCALE (rate
   series only); the experiment's week: SWEEP_BENCH_TRACE=examples/invocations_ten_second_
   Conversation.csv SWEEP_BENCH_WINDOW=1h.
3. Points per hour a cluster of N nodes would run, extrapolated from 1 and 2 (not measured on a
   cluster): N × cores per node × 3600 / (point seconds + overhead).
"""

import os
import resource
import time


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def ray_overhead(n: int = 400) -> tuple[float, float]:
    import ray

    from planner.sweep.runner import start_ray

    started = start_ray(None, 2)

    @ray.remote(num_cpus=1)
    def empty(i):
        return i

    ray.get([empty.remote(i) for i in range(20)])          # workers started and warm
    t0 = time.perf_counter()
    for i in range(50):
        ray.get(empty.remote(i))
    latency = (time.perf_counter() - t0) / 50
    t0 = time.perf_counter()
    ray.get([empty.remote(i) for i in range(n)])
    per_task = (time.perf_counter() - t0) / n
    if started:
        ray.shutdown()
    return latency, per_task


def point_cost():
    from dataclasses import replace

    from planner.sweep.point import run_point
    from planner.sweep.spec import STRATEGIES
    from planner.scenario import load_scenario, plan_options
    from planner.workload.prepare import load_inputs

    values = load_scenario("examples/scenario-fr.toml")
    values["trace"] = os.environ.get("SWEEP_BENCH_TRACE", values["trace"])
    values["window"] = os.environ.get("SWEEP_BENCH_WINDOW", values["window"])
    if "SWEEP_BENCH_SCALE" in os.environ:
        values["scale"] = float(os.environ["SWEEP_BENCH_SCALE"])
    opt = plan_options(values)
    t0, cpu0 = time.perf_counter(), time.process_time()
    shared = load_inputs(opt)
    t_shared = time.perf_counter() - t0
    cpu_shared = time.process_time() - cpu0
    n = len(shared.trace)
    print(f"workload: {os.path.basename(opt.trace)} scale {opt.scale:g}, {n:,} requests, "
          f"{shared.windowing.n} windows of {opt.window}; shared inputs {t_shared:.1f} s "
          f"(CPU {cpu_shared:.1f} s), "
          f"peak RSS {peak_gb():.2f} GB")
    _, first = run_point(opt, STRATEGIES, shared)
    print(f"first point (FR): plan {first['plan']:.1f} s + replays {first['replay']:.1f} s "
          f"= {first['total']:.1f} s (CPU {first['cpu']:.1f} s), peak RSS {peak_gb():.2f} GB")
    _, second = run_point(replace(opt, grid="DE"), STRATEGIES, shared)
    print(f"second point (DE, same workload): plan {second['plan']:.1f} s + replays "
          f"{second['replay']:.1f} s = {second['total']:.1f} s (CPU {second['cpu']:.1f} s), "
          f"peak RSS {peak_gb():.2f} GB")
    return cpu_shared, first["cpu"], second["cpu"]


def main():
    latency, per_task = ray_overhead()
    print(f"ray: one empty task's round trip {1e3 * latency:.2f} ms; 400 empty tasks on 2 CPUs "
          f"{1e3 * per_task:.2f} ms each")
    t_shared, first, second = point_cost()
    # CPU seconds, not wall: on a shared machine the wall clock counts other people's work.
    point = second + per_task
    print(f"extrapolated, not measured on a cluster (a point of a workload already replayed "
          f"once, {second:.1f} CPU s + Ray's {1e3 * per_task:.1f} ms, after its shared inputs; "
          "each core as fast as this machine's):")
    for nodes, cores in ((1, 2), (4, 16), (16, 16), (64, 16)):
        print(f"  {nodes:3d} node(s) × {cores:2d} cores: "
              f"{nodes * cores * 3600 / point:,.0f} points/hour")


if __name__ == "__main__":
    main()
