"""Scenario files (--config, --print-config) and the command line's help, through CliRunner."""

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import synthetic_profile
from planner.cli import app
from planner.choices import POLICIES, SOLVERS, WORKLOAD_FORMATS

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"
MOONCAKE = EX / "conversation_trace.jsonl"
runner = CliRunner()


def plan(*args):
    return runner.invoke(app, ["plan", *map(str, args)])


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    d = tmp_path_factory.mktemp("profiles")
    synthetic_profile.write(d)
    return d


def test_example_scenario_plans_from_any_working_folder(tmp_path, monkeypatch):
    # examples/scenario-fr.toml names its trace relative to its own folder.
    monkeypatch.chdir(tmp_path)
    r = plan("--config", EX / "scenario-fr.toml", "--out", "o", "--no-timing", "-q")
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    sc = s["scenario"]
    assert Path(sc["trace"]) == EX / "AzureLLMInferenceTrace_conv.csv"
    assert sc["window"] == "15min" and sc["levels"]["ssd_embodied"] == "high"
    assert sc["slo_ttft_s"] == 2.0 and sc["cache_levels_tb"][-1] == 64.0
    rows = (tmp_path / "o" / "schedule.csv").read_text().splitlines()[1:]
    assert len(rows) == s["windows"]["count"] > 2          # 15-minute windows of one hour


def test_printed_config_gives_the_same_plan(profiles, tmp_path, monkeypatch):
    args = ["--trace", MOONCAKE, "--start", "2023-11-16T18:00Z", "--window", "15min",
            "--profile-dir", profiles, "--grid", "DE", "--slo-ttft", "3", "--cache-levels",
            "0,2,8", "--ssd-embodied", "high", "--eviction", "lcs"]
    r = plan(*args, "--out", tmp_path / "direct", "--no-timing", "-q")
    assert r.exit_code == 0, r.output
    printed = plan(*args, "--print-config", "--out", tmp_path / "never")
    assert printed.exit_code == 0, printed.output
    assert not (tmp_path / "never").exists()                # printing plans nothing
    assert "slo_ttft = 3.0" in printed.output and "cache_levels = [0.0, 2.0, 8.0]" in printed.output
    elsewhere = tmp_path / "a" / "b"
    elsewhere.mkdir(parents=True)
    (elsewhere / "scenario.toml").write_text(printed.output)
    monkeypatch.chdir(elsewhere)
    r = plan("--config", "scenario.toml", "--out", tmp_path / "fed", "--no-timing", "-q")
    assert r.exit_code == 0, r.output
    for f in ("schedule.csv", "components.csv"):
        assert (tmp_path / "fed" / f).read_bytes() == (tmp_path / "direct" / f).read_bytes()
    scen = [json.loads((tmp_path / d / "summary.json").read_text())["scenario"]
            for d in ("direct", "fed")]
    assert {**scen[0], "trace": "", "profile_dir": ""} == {**scen[1], "trace": "",
                                                           "profile_dir": ""}


def test_command_line_overrides_config_even_at_a_default(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('trace = "t.csv"\nsolver = "cbc"\ngrid = "DE"\nallow_slo_violation = true\n'
                   'slo_ttft = 3\n[levels]\nlifetime = "high"\n')
    r = plan("--config", cfg, "--solver", "highs", "--grid", "FR", "--print-config")
    assert r.exit_code == 0, r.output
    out = r.output
    assert 'solver = "highs"' in out and 'grid = "FR"' in out     # given, though the default
    assert "allow_slo_violation = true" in out and "slo_ttft = 3.0" in out   # from the file
    assert 'lifetime = "high"' in out
    # The trace resolves against the file's folder, printed absolute.
    assert f'trace = "{tmp_path / "t.csv"}"' in out
    r = plan("--config", cfg, "--no-allow-slo-violation", "--print-config")
    assert r.exit_code == 0 and "allow_slo_violation = false" in r.output, r.output


@pytest.mark.parametrize("text, words", [
    ('slo_ttft = "fast"', ["slo_ttft must be a number", "got str 'fast'"]),
    ("tp = 4.5", ["tp must be an integer"]),
    ("max_replicas = true", ["max_replicas must be an integer"]),
    ("cache_levels = [0, \"one\"]", ["cache_levels must be a list of numbers"]),
    ("allow_slo_violation = 1", ["allow_slo_violation must be a boolean"]),
    ("trace = 3", ["trace must be a string"]),
    ('solver = "gurobi"', ["solver must be one of highs, cbc"]),
    ('ssd_embodied = "extreme"', ["ssd_embodied must be one of low, central, high"]),
    ("slo_ttft_s = 2.0", ["key slo_ttft_s is now slo_ttft"]),
    ("cache_levels_tb = [0, 1]", ["key cache_levels_tb is now cache_levels"]),
    ('colour = "green"', ["unknown key 'colour'"]),
    ('out = "x"', ["unknown key 'out'"]),
    ('[levels]\nssd_embodied = "high"', ["[levels] ssd_embodied is now the top-level key"]),
    ('[levels]\nsparkle = "high"', ["unknown level 'sparkle'"]),
    ('levels = "high"', ["levels must be a table"]),
    ("slo_ttft = ", ["is not valid TOML"]),
])
def test_bad_scenario_values_exit_3_naming_key_and_file(tmp_path, text, words):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'trace = "t.csv"\n{text}\n' if not text.startswith("trace") else text + "\n")
    r = plan("--config", cfg, "--out", tmp_path / "o")
    assert r.exit_code == 3, r.output
    assert f"scenario file {cfg}" in r.output
    for w in words:
        assert w in r.output
    assert "Traceback" not in r.output and not (tmp_path / "o").exists()


def test_unreadable_scenario_files_exit_3(tmp_path):
    for path, words in ((tmp_path, "is not a file"), (tmp_path / "none.toml", "does not exist")):
        r = plan("--config", path)
        assert r.exit_code == 3 and words in r.output, r.output
    latin = tmp_path / "latin.toml"
    latin.write_bytes('trace = "caf\u00e9.csv"\n'.encode("latin-1"))
    r = plan("--config", latin)
    assert r.exit_code == 3 and "not UTF-8" in r.output, r.output


def _commands(group):
    import typer.main

    root = typer.main.get_command(group)
    stack = [("greencache", root)]
    while stack:
        name, cmd = stack.pop()
        subs = getattr(cmd, "commands", None)
        if subs:
            stack += [(f"{name} {k}", c) for k, c in subs.items()]
        else:
            yield name, cmd


def test_no_help_text_writes_its_own_default():
    # typer shows defaults (show_default); a hand-written "[default: …]" is eaten as markup.
    seen = 0
    for name, cmd in _commands(app):
        for p in cmd.params:
            text = (getattr(p, "help", None) or "").lower()
            assert not re.search(r"[\[(]\s*default", text), f"{name} {p.opts}: {p.help}"
            seen += 1
    assert seen > 60


def test_plan_help_shows_defaults_in_panels():
    r = runner.invoke(app, ["plan", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    for panel in ("Inputs", "Hardware and cache", "SLO", "Carbon", "Solver", "Output"):
        assert f"─ {panel} ─" in r.output
    for shown in ("[default: FR]", "[default: lifecycle]", "[default: 1h]", "[default: 2.0]",
                  "[default: 0,0.5,1,2,4,8,16,32,64]", "[default: highs]", "[default: 64]"):
        assert shown in r.output, shown


def test_choices_come_from_the_library():
    r = runner.invoke(app, ["plan", "--help"], env={"COLUMNS": "250"})
    for values in (SOLVERS, POLICIES, WORKLOAD_FORMATS):
        assert "<" + "|".join(values) + ">" in r.output, values
    r = plan("--trace", MOONCAKE, "--solver", "gurobi")
    assert r.exit_code == 2 and "gurobi" in r.output


def test_relative_grid_file_in_a_scenario(tmp_path, monkeypatch):
    sub = tmp_path / "scen"
    sub.mkdir()
    shutil.copy(MOONCAKE, sub / "trace.jsonl")
    (sub / "ci.csv").write_text("timestamp,gco2_per_kwh\n2023-11-16T18:00Z,50\n")
    (sub / "s.toml").write_text('trace = "trace.jsonl"\ngrid = "ci.csv"\nprofile_dir = "p"\n')
    monkeypatch.chdir(tmp_path)
    r = plan("--config", "scen/s.toml", "--print-config")
    assert r.exit_code == 0, r.output
    for name in ("trace.jsonl", "ci.csv", "p"):
        assert f'"{sub / name}"' in r.output
    # A zone stays a zone.
    (sub / "z.toml").write_text('trace = "trace.jsonl"\ngrid = "de"\n')
    r = plan("--config", "scen/z.toml", "--print-config")
    assert r.exit_code == 0 and 'grid = "de"' in r.output, r.output


def test_every_plan_option_is_a_scenario_key():
    import typer.main

    from planner.cli.plan import NOT_SCENARIO
    from planner.scenario import KIND

    cmd = typer.main.get_command(app).commands["plan"]
    options = {p.name for p in cmd.params} - set(NOT_SCENARIO) - {"help"}
    assert options == set(KIND)


def test_building_the_command_line_loads_no_heavy_library():
    # --help builds every command; the choices it shows come from planner.choices, which
    # must not pull in the solver, numba, pandas or pyarrow.
    import subprocess
    import sys

    code = ("import sys, planner.cli; print(sorted(m for m in ('pandas', 'pulp', 'numba', "
            "'pyarrow', 'scipy', 'highspy') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
