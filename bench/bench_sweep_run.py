"""Benchmark of a whole sweep (printed, not asserted; `make bench` runs it).

Runs `greencache sweep SWEEP_RUN_FILE` (default examples/sweep-small.toml) twice into a fresh
cache: the first run plans and replays every point, the second takes them all from the cache.
Prints each run's wall time and the peak memory of the sweep: the proportional set size (PSS,
which counts memory shared between processes, such as Ray's object store, once) summed over
the command and every process under it (Ray's services and workers), sampled every 0.5 s.
Targets: the experiment (SWEEP_RUN_FILE=examples/experiment.toml) within 30 min and 8 GB on 2
cores; a re-run from the cache within 1 min. Also prints the load average around each run:
on a shared machine the wall time counts other people's work too.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            kids.setdefault(ppid, []).append(int(d))
    return kids


def tree_pss_bytes(root: int) -> int:
    kids, todo, total = children(), [root], 0
    while todo:
        pid = todo.pop()
        todo.extend(kids.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def run(args: list[str]) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_pss_bytes(proc.pid))
        time.sleep(0.5)
    return time.perf_counter() - t0, peak / 1e9, proc.returncode


def main():
    spec = os.environ.get("SWEEP_RUN_FILE", "examples/sweep-small.toml")
    workers = os.environ.get("SWEEP_RUN_WORKERS", "2")
    with tempfile.TemporaryDirectory(prefix="greencache-bench-sweep-") as tmp:
        args = [sys.executable, "-m", "planner", "sweep", spec, "--out", f"{tmp}/out",
                "--cache", f"{tmp}/cache", "--workers", workers]
        for name in ("first run", "cached re-run"):
            load = os.getloadavg()[0]
            wall, peak, rc = run(args)
            print(f"{spec} {name}: {wall:.1f} s wall, peak PSS {peak:.2f} GB, exit {rc} "
                  f"({workers} workers; load average {load:.1f} before, "
                  f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
