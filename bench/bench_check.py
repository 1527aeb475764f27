"""Benchmark: `greencache check` against the plan it checks (printed, not asserted; `make bench`).

For each case it plans with the command line, then checks the untouched plan against itself
(`check --plan OUT --against OUT`), by default (certified from the plan's recorded candidate
table and value function) and with `--full` (every candidate re-derived, the model re-solved).
CPU seconds (user + system: what the shared machine's other load inflates least) of:

* fresh: each command in a fresh process, start-up and imports included;
* work: in a fresh process, after importing what both commands import (the greencache
  package, pandas, scipy, PuLP, HiGHS), the library call behind the command (``run_plan`` with
  the plan's recorded options, ``run_check``): its first run, as a CI job runs it;
* warm: the same call again in that process (caches warm, numba's kernels compiled; the
  hour only).

Work and warm are the least over ``BENCH_CHECK_PROCESSES`` (default 3) fresh processes for
the short cases (on the shared machine one sample spreads by a fifth), one for the long.

Target: the default check within 10 % of the plan's time.

    .venv/bin/python bench/bench_check.py                     # the shipped hours (Azure
                                                              # conversation and code, Mooncake)
    BENCH_CHECK_CASES=all .venv/bin/python bench/bench_check.py   # also BurstGPT's 61 days
                                                                  # (about 2 min)
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"

CASES = {
    "azure-hour-FR": ["--trace", EX / "AzureLLMInferenceTrace_conv.csv", "--grid", "FR"],
    "azure-code-hour-FR": ["--trace", EX / "AzureLLMInferenceTrace_code.csv", "--grid", "FR"],
    # as `make fidelity` plans it: its prompts average 12k tokens, so a 5-s p90 TTFT SLO
    "mooncake-hour-FR": ["--trace", EX / "conversation_trace.jsonl", "--grid", "FR",
                         "--start", "2023-11-16T18:00Z", "--window", "15min",
                         "--slo-ttft", "5"],
}
LONG = {
    "burstgpt-61-days": ["--trace", EX / "burstgpt_hourly.csv", "--grid", "FR"],
}
# The short cases' after-imports figures are the least over this many fresh processes.
PROCESSES = int(os.environ.get("BENCH_CHECK_PROCESSES", "3"))

# Run in a fresh interpreter: imports first (what both commands load), then the library call
# behind the command twice (run_plan with the plan's own options; run_check), CPU seconds of
# each run printed as JSON. The command line's own parsing (typer builds its command group on
# every call, about 0.3 s) is left out with the imports.
WORKER = """
import json, sys, time
from pathlib import Path
import highspy, pandas, pulp, scipy.special
import planner.check.junit, planner.cli, planner.report
from planner.check.run import run_check
from planner.plan import run_plan
from planner.plan_files import scenario_from_summary
what, out, runs = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
opt = scenario_from_summary(out / "summary.json")
times = []
for _ in range(runs):
    t = time.process_time()
    if what == "plan":
        run_plan(opt)
    else:
        report = run_check(out, out, full=what == "full")
        assert report.passed, [r.line() for r in report.failures]
    times.append(time.process_time() - t)
print(json.dumps(times))
"""


def fresh(args) -> tuple[float, int]:
    """CPU seconds of a greencache command in a fresh process, and its exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    rc = subprocess.run([sys.executable, "-m", "planner", *map(str, args)], cwd=ROOT,
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), rc


def after_imports(what: str, out: Path, runs: int, processes: int = 1) -> list[float]:
    """CPU seconds of the plan's (``what`` = plan) or the check's (check, full) first (and
    second) run in one process, after imports: the least over ``processes`` fresh processes
    (on a shared machine a single sample spreads by a fifth; the least is the work itself)."""
    best = [float("inf")] * runs
    for _ in range(processes):
        r = subprocess.run([sys.executable, "-c", WORKER, what, str(out), str(runs)], cwd=ROOT,
                           capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        if r.returncode != 0:
            raise SystemExit(r.stderr)
        times = json.loads(r.stdout.strip().splitlines()[-1])
        best = [min(a, b) for a, b in zip(best, times)]
    return best + [float("nan")] * (2 - runs)


def main():
    which = os.environ.get("BENCH_CHECK_CASES", "short")
    cases = {**(CASES if which in ("short", "all") else {}),
             **(LONG if which in ("long", "all") else {})}
    rows = []
    with tempfile.TemporaryDirectory(prefix="greencache-bench-check-") as tmp:
        for name, args in cases.items():
            out = Path(tmp) / name
            plan = ["plan", *args, "--out", out, "--quiet", "--no-timing"]
            p_fresh, rc = fresh(plan)
            if rc != 0:
                print(f"{name}: plan exited {rc}; skipped")
                continue
            check = ["check", "--plan", out, "--against", out, "--quiet"]
            c_fresh, rc = fresh(check)
            f_fresh, rc_full = fresh([*check, "--full"])
            if rc or rc_full:
                print(f"{name}: check exited {rc or rc_full} on an untouched plan")
                continue
            # A long case's plan is run once more, not twice: no warm figures, one process.
            runs = 2 if name in CASES else 1
            procs = PROCESSES if name in CASES else 1
            rows.append((name, (p_fresh, *after_imports("plan", out, runs, procs)),
                         (c_fresh, *after_imports("check", out, runs, procs)),
                         (f_fresh, *after_imports("full", out, runs, procs))))
    print("CPU seconds; check --plan OUT --against OUT (default) and with --full; "
          "ratio = check / plan")
    print(f"{'case':20s} {'measure':8s} {'plan':>8s} {'check':>8s} {'ratio':>7s} "
          f"{'--full':>8s} {'ratio':>7s}")
    for name, p, c, f in rows:
        for j, what in enumerate(("fresh", "work", "warm")):
            if p[j] != p[j]:        # not measured (NaN)
                continue
            print(f"{name:20s} {what:8s} {p[j]:7.3f}s {c[j]:7.3f}s {c[j] / p[j]:7.1%} "
                  f"{f[j]:7.3f}s {f[j] / p[j]:7.1%}")
    print("fresh: fresh processes, start-up and imports included; work: after imports, first "
          f"run; warm: second run in the same process (work and warm: the least of {PROCESSES} "
          "processes for the short cases). Target: check ≤ 10 % of the plan.")


if __name__ == "__main__":
    main()
