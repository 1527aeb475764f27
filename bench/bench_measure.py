"""Benchmark of `greencache profile measure` (printed, not asserted; `make bench` runs it).

Starts the simulator-backed test server (`profile serve-sim --mode simulated`: Llama-3-8B on
one H200, the replica simulator's engine run online) as a process on loopback, measures the
sweep the H200 run used (5 rates × 3 reuse levels × 2 prompt × 2 output lengths, 2.5 s per
point) and prints its wall time. Target: the sweep under 5 minutes. Then builds the modelled
table for the same replica and the sweep's workload shape (`profile synth --shape`) and prints
the median and p90 absolute error of its p90 TTFT and TPOT at the measured points
(`profile compare`).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ["--rates", "0.5,1,2,4,8", "--reuse", "0,0.5,0.9", "--input-tokens", "512,2048",
         "--output-tokens", "16,64", "--duration-per-point", "2.5s", "--lone-requests", "3",
         "--date", "2026-11-30"]
NAME = "llama-3-8b__h200-tp1__nvme-gen4__fixed-lengths"


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "planner", *args], cwd=ROOT, check=True,
                          text=True, capture_output=True, **kw)


def main():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "planner", "profile", "serve-sim",
                               "--mode", "simulated", "--gpu", "h200", "--model", "llama-3-8b",
                               "--port", "0"], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        line = server.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            cli("profile", "measure", "--endpoint", url, "--model", "llama-3-8b", "--gpu",
                "h200", "--power-url", f"{url}/metrics", "--out", f"{tmp}/measured", *SWEEP,
                env=env)
            wall = time.perf_counter() - t0
            rec = json.loads(Path(f"{tmp}/measured/{NAME}.sweep.json").read_text())
            n = len(rec["points"])
            print(f"sweep: {n} points (5 rates × 3 reuse × 4 token mixes, lone rows included) "
                  f"in {wall:.0f} s wall, {rec['provenance']['elapsed_s']:.0f} s measuring "
                  "(target: under 300 s)")
            cli("profile", "synth", "--model", "llama-3-8b", "--gpu", "h200", "--tp", "1",
                "--ssd", "nvme-gen4", "--shape", f"{tmp}/measured/fixed-lengths.shape.json",
                "--hit-rates", "0,0.5,0.9", "--inputs", "512,2048", "--outputs", "16,64",
                "--date", "2026-11-30", "--out", f"{tmp}/modelled", env=env)
            out = cli("profile", "compare", f"{tmp}/measured/{NAME}.csv",
                      f"{tmp}/modelled/{NAME}.csv", env=env).stdout
            summary = json.loads(out[out.index("{"):])
            for what in ("ttft", "tpot"):
                s = summary[what]
                print(f"p90 {what.upper()} modelled vs measured at {summary['points']} points: "
                      f"median |error| {s['median_abs_error_ms']:.1f} ms "
                      f"({s['median_abs_error_pct']:.0f} %), p90 {s['p90_abs_error_ms']:.1f} ms "
                      f"({s['p90_abs_error_pct']:.0f} %)")
    finally:
        server.send_signal(2)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
