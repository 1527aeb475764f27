"""A sweep killed with SIGTERM (a cancelled CI job, a scheduler's limit) stops cleanly: one
line saying what it kept, exit 143, no output folder, its finished points cached for the next
run, and the exit mapping of Ctrl-C and SIGTERM for every command."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from planner.cli import app
from planner.cli.common import EXIT_INTERRUPTED, EXIT_TERMINATED
from planner.interrupt import Terminated

ROOT = Path(__file__).resolve().parent.parent


def test_a_killed_sweep_keeps_its_finished_points_and_writes_nothing(tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text(f'[sweep]\nscenario = "{ROOT / "examples" / "scenario-fr.toml"}"\n'
                    'strategies = ["plan"]\n[axes]\nslo_ttft = [2.0, 2.5, 3.0, 3.5, 4.0]\n')
    out, cache = tmp_path / "out", tmp_path / "cache"
    proc = subprocess.Popen(
        [sys.executable, "-m", "planner", "sweep", str(spec), "--out", str(out), "--cache",
         str(cache), "--workers", "1"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = []
    try:
        deadline = time.monotonic() + 240
        # Not a terminal: the sweep prints a line as each point finishes.
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("point 1/5 done"):
                break
        assert any(x.startswith("point 1/5 done") for x in lines), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_TERMINATED, "".join(lines) + rest
    assert "terminated; " in rest and "cached in" in rest and "Traceback" not in rest, rest
    assert "SIGTERM received" not in rest          # Ray's native stack dump is not printed
    assert not out.exists()
    assert len(list(cache.rglob("*.json"))) >= 1


def test_ctrl_c_and_sigterm_have_their_own_exit_codes(monkeypatch, tmp_path):
    import planner.grid as grid_mod

    runner = CliRunner()
    for raised, code, word in ((KeyboardInterrupt(), EXIT_INTERRUPTED, "interrupted"),
                               (Terminated(), EXIT_TERMINATED, "terminated")):
        def boom(*a, raised=raised, **k):
            raise raised
        monkeypatch.setattr(grid_mod, "load_grid", boom)
        r = runner.invoke(app, ["grid", "show", "FR"])
        assert r.exit_code == code, r.output
        assert f"{word}; no output was written" in r.output
