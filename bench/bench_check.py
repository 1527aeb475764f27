"""Benchmark: `greencache check` against the plan it checks (printed, not asserted; `make bench`).

For each shipped example, plans it with the command line (as `make plan` does), then checks the
untouched plan against itself (`check --plan OUT --against OUT`), each in a fresh process, and
prints wall and CPU seconds (user + system; CPU is what the 2-core machine's other load does
not inflate) of both and their ratio. Target: the check within 10 % of the plan's time.

Both commands pay the same interpreter start-up and imports (about 1 s of CPU here); the second
table prints, in one warm process, the plan's own work (`run_plan`) against the check's
(`run_check`), which is what grows with the example.

    .venv/bin/python bench/bench_check.py                       # the hour-long examples
    BENCH_CHECK_CASES=all .venv/bin/python bench/bench_check.py # also the Azure week (27.3M
                                        # requests) and BurstGPT 61 days; =long: only those two
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"

CASES = {
    # `make plan` and `make plan-de`
    "azure-hour-FR": ["--trace", EX / "AzureLLMInferenceTrace_conv.csv", "--grid", "FR"],
    "azure-hour-DE": ["--trace", EX / "AzureLLMInferenceTrace_conv.csv", "--grid", "DE"],
    "azure-code-hour": ["--trace", EX / "AzureLLMInferenceTrace_code.csv", "--grid", "FR"],
    # the fidelity settings of the Mooncake hour (its p90 TTFT cannot meet 2 s)
    "mooncake-hour": ["--trace", EX / "conversation_trace.jsonl", "--grid", "FR", "--start",
                      "2023-11-16T18:00Z", "--window", "15min", "--slo-ttft", "5"],
}
# Minutes each and gigabytes of memory: only the fresh-process figures are taken.
LONG = {
    "azure-week": ["--trace", EX / "invocations_ten_second_Conversation.csv", "--grid", "FR"],
    "burstgpt-61-days": ["--trace", EX / "burstgpt_hourly.csv", "--grid", "FR"],
}


def timed(args) -> tuple[float, float, int]:
    """Wall and CPU seconds of a greencache command in a fresh process, and its exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rc = subprocess.run([sys.executable, "-m", "planner", *map(str, args)], cwd=ROOT,
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, rc


def in_process(args, out: Path) -> tuple[float, float]:
    """Seconds of run_plan and of run_check in this (warm) process."""
    from planner.check.run import run_check
    from planner.config import PlanOptions
    from planner.plan import run_plan
    from planner.replay_run import scenario_from_summary

    opt = scenario_from_summary(out / "summary.json")
    assert isinstance(opt, PlanOptions)
    run_plan(opt)                                   # warm the caches both would use
    t0 = time.perf_counter()
    run_plan(opt)
    t_plan = time.perf_counter() - t0
    run_check(out, out)
    t0 = time.perf_counter()
    report = run_check(out, out)
    t_check = time.perf_counter() - t0
    assert report.passed, [r.line() for r in report.failures]
    return t_plan, t_check


def main():
    which = os.environ.get("BENCH_CHECK_CASES", "short")
    cases = {**(CASES if which in ("short", "all") else {}),
             **(LONG if which in ("long", "all") else {})}
    rows, work = [], []
    with tempfile.TemporaryDirectory(prefix="greencache-bench-check-") as tmp:
        for name, args in cases.items():
            out = Path(tmp) / name
            pw, pc, rc = timed(["plan", *args, "--out", out, "--quiet"])
            if rc != 0:
                print(f"{name}: plan exited {rc}; skipped")
                continue
            cw, cc, rc = timed(["check", "--plan", out, "--against", out, "--quiet"])
            if rc != 0:
                print(f"{name}: check exited {rc} on an untouched plan")
                continue
            rows.append((name, pw, cw, pc, cc))
            if name in CASES:
                work.append((name, *in_process(args, out)))
    print("command line, fresh processes (check --plan OUT --against OUT):")
    print(f"{'case':18s} {'plan wall':>9s} {'check wall':>10s} {'ratio':>6s}   "
          f"{'plan CPU':>8s} {'check CPU':>9s} {'ratio':>6s}")
    for name, pw, cw, pc, cc in rows:
        print(f"{name:18s} {pw:8.2f}s {cw:9.2f}s {cw / pw:6.1%}   {pc:7.2f}s {cc:8.2f}s "
              f"{cc / pc:6.1%}")
    print("\nin one warm process (no start-up or imports): run_plan against run_check")
    for name, tp, tc in work:
        print(f"{name:18s} plan {tp:7.3f}s  check {tc:7.3f}s  {tc / tp:6.1%}")
    print("target: check ≤ 10 % of the plan's time")


if __name__ == "__main__":
    main()
