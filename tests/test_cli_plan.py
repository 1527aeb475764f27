"""`greencache plan` through typer's CliRunner: outputs, determinism and every exit code."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

import synthetic_profile
from planner.cli import app
from planner.schedule import SCHEDULE_COLUMNS

EX = Path(__file__).resolve().parent.parent / "examples"
MOONCAKE = EX / "conversation_trace.jsonl"
runner = CliRunner()


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    d = tmp_path_factory.mktemp("profiles")
    synthetic_profile.write(d)
    return d


def plan(*args):
    return runner.invoke(app, ["plan", *map(str, args)])


def base(profiles, out, *extra):
    return plan("--trace", MOONCAKE, "--start", "2023-11-16T18:00Z", "--window", "15min",
                "--profile-dir", profiles, "--out", out, *extra)


def test_plan_writes_schedule_and_summary(profiles, tmp_path):
    r = base(profiles, tmp_path / "o", "--grid", "DE")
    assert r.exit_code == 0, r.output
    header = (tmp_path / "o" / "schedule.csv").read_text().splitlines()[0]
    assert header == ",".join(SCHEDULE_COLUMNS)
    import json
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["solver"]["status"] == "optimal"
    assert s["solver"]["mip_gap"] == pytest.approx(0, abs=1e-9)
    assert set(s["baselines"]) == {"no_cache", "max_cache", "static_cache"}
    # Per-window resizing can only match or beat the best single size on the same candidates.
    assert s["baselines"]["static_cache"]["reduction_pct"] >= -1e-9
    assert s["windows"]["count"] == 4
    assert "kgCO2e" in s["explanation"]


def test_same_inputs_give_byte_identical_outputs(profiles, tmp_path):
    for name in ("a", "b"):
        assert base(profiles, tmp_path / name, "--no-timing").exit_code == 0
    for f in ("schedule.csv", "summary.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_cbc_gives_the_same_schedule(profiles, tmp_path):
    assert base(profiles, tmp_path / "h").exit_code == 0
    r = base(profiles, tmp_path / "c", "--solver", "cbc")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "h" / "schedule.csv").read_bytes() == \
        (tmp_path / "c" / "schedule.csv").read_bytes()


def test_write_model(profiles, tmp_path):
    r = base(profiles, tmp_path / "o", "--write-model", tmp_path / "m")
    assert r.exit_code == 0, r.output
    mps = (tmp_path / "m" / "plan.mps").read_text()
    assert "one_config(t=0)" in mps and "slo_ttft(t=3)" in mps


@pytest.mark.parametrize("args", [
    ["--grid", "NOWHERE"],
    ["--window", "7min"],
    ["--slo-ttft", "-1"],
    ["--solver", "gurobi"],
    ["--model", "gpt-5"],
    ["--cache-levels", "0,one"],
])
def test_usage_errors_exit_2(profiles, tmp_path, args):
    r = base(profiles, tmp_path / "o", *args)
    assert r.exit_code == 2, r.output
    assert not (tmp_path / "o").exists()
    assert "Traceback" not in r.output


def test_missing_trace_option_exits_2(tmp_path):
    assert plan("--out", tmp_path / "o").exit_code == 2


def test_input_errors_exit_3(profiles, tmp_path):
    r = plan("--trace", tmp_path / "missing.csv", "--profile-dir", profiles, "--out", tmp_path / "o")
    assert r.exit_code == 3 and "does not exist" in r.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text(MOONCAKE.read_text().splitlines()[0] + "\n{oops\n")
    r = plan("--trace", bad, "--profile-dir", profiles, "--out", tmp_path / "o")
    assert r.exit_code == 3 and "line 2" in r.output
    r = base(tmp_path / "no-profiles", tmp_path / "o")
    assert r.exit_code == 3 and "no profile table" in r.output
    assert not (tmp_path / "o").exists()


def test_infeasible_slo_exits_4_and_writes_nothing(profiles, tmp_path):
    r = base(profiles, tmp_path / "o", "--slo-ttft", "0.001", "--slo-margin", "0")
    assert r.exit_code == 4, r.output
    assert "p90 TTFT ≤ 0.001 s is out of reach" in r.output
    assert not (tmp_path / "o").exists()
    # With the default margin the bound named is the SLO less the margin, and it says so.
    r = base(profiles, tmp_path / "o", "--slo-ttft", "0.001")
    assert r.exit_code == 4, r.output
    assert "p90 TTFT ≤ 0.0009 s is out of reach" in r.output and "--slo-margin" in r.output


def test_allow_slo_violation_plans_best_effort(profiles, tmp_path):
    r = base(profiles, tmp_path / "o", "--slo-ttft", "0.001", "--allow-slo-violation")
    assert r.exit_code == 0, r.output
    rows = (tmp_path / "o" / "schedule.csv").read_text().splitlines()[1:]
    assert rows and all(",false," in row for row in rows)


def test_overload_exits_4(profiles, tmp_path):
    r = base(profiles, tmp_path / "o", "--max-replicas", "1")
    assert r.exit_code == 4 and "cannot keep up" in r.output


def test_solver_time_limit_exits_5(profiles, tmp_path, monkeypatch):
    import planner.plan_solve as solve_mod
    from planner.optimize.solve import SolveResult, TerminationCondition

    def stopped(m, *a, **k):
        return SolveResult("highs", TerminationCondition.time_limit, "Time limit reached",
                           float("nan"), float("nan"), float("nan"), 0.1)

    monkeypatch.setattr(solve_mod, "solve", stopped)
    monkeypatch.setattr(solve_mod, "solve_chain", stopped)
    r = base(profiles, tmp_path / "o")
    assert r.exit_code == 5 and "time limit" in r.output
    assert not (tmp_path / "o").exists()


def test_lcs_eviction_plans_and_says_so(profiles, tmp_path):
    r = base(profiles, tmp_path / "o", "--eviction", "lcs")
    assert r.exit_code == 0, r.output
    rows = (tmp_path / "o" / "schedule.csv").read_text().splitlines()[1:]
    assert any(",trace-lcs," in row for row in rows)


def test_scenario_file_and_command_line_override(profiles, tmp_path):
    cfg = tmp_path / "scenario.toml"
    cfg.write_text(f'trace = "{MOONCAKE}"\nstart = "2023-11-16T18:00Z"\nwindow = "15min"\n'
                   f'profile_dir = "{profiles}"\ngrid = "DE"\nslo_ttft = 3.0\n'
                   'ssd_embodied = "high"\n')
    r = plan("--config", cfg, "--grid", "FR", "--out", tmp_path / "o")
    assert r.exit_code == 0, r.output
    import json
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["inputs"]["grid"]["zone"] == "FR"                  # the command line wins
    assert s["scenario"]["slo_ttft_s"] == 3.0
    assert s["scenario"]["levels"]["ssd_embodied"] == "high"
    cfg.write_text('trace = "x"\ncolour = "green"\n')
    r = plan("--config", cfg, "--out", tmp_path / "o2")
    assert r.exit_code == 3 and "unknown key 'colour'" in r.output


def test_workload_shape_chosen_per_trace(tmp_path):
    import json

    d = tmp_path / "profiles"
    for shape in ("azure-conv", "mooncake-conv"):
        synthetic_profile.write(d, shape=shape)
    r = base(d, tmp_path / "auto", "--no-timing")
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "auto" / "summary.json").read_text())
    chosen = s["inputs"]["profile"]["workload_shape"]
    assert chosen["name"] == "mooncake-conv" and chosen["distance"] < 0.01
    assert chosen["distances"]["azure-conv"] > 0.25
    assert s["inputs"]["profile"]["path"].endswith("__mooncake-conv.csv")
    assert any("mooncake-conv workload shape" in n for n in s["notes"])
    r = base(d, tmp_path / "named", "--workload-shape", "azure-conv")
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "named" / "summary.json").read_text())
    assert s["inputs"]["profile"]["workload_shape"]["name"] == "azure-conv"
    r = base(d, tmp_path / "bad", "--workload-shape", "azure-code")
    assert r.exit_code == 2 and "available: azure-conv, mooncake-conv" in r.output
    assert not (tmp_path / "bad").exists()


def test_old_table_layout_is_one_sentence(tmp_path):
    d = tmp_path / "profiles"
    path = synthetic_profile.write(d, shape="azure-conv")
    path.rename(d / "llama-3-70b__h100-sxm-tp4__nvme-gen4.csv")
    r = base(d, tmp_path / "o")
    assert r.exit_code == 3 and "before workload shapes" in r.output


def test_warmup_switch(profiles, tmp_path):
    import json
    counts = {}
    for flag in ("--warmup", "--no-warmup"):
        r = base(profiles, tmp_path / flag, flag, "--quiet")
        assert r.exit_code == 0, r.output
        s = json.loads((tmp_path / flag / "summary.json").read_text())
        assert s["scenario"]["warmup"] is (flag == "--warmup")
        counts[flag] = s["candidates"]["cold_start_in_model"]
    # 4 windows: every grow into windows 1–3 is a candidate of its own, and none without.
    assert counts["--warmup"] > 0 and counts["--no-warmup"] == 0
