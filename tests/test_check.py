"""`greencache check` through typer's CliRunner: an untouched plan checks clean; every kind of
tampering the check claims to catch exits 6 with a line naming it; JSON and JUnit reports."""

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import EXIT_CHECK_FAILED, EXIT_INPUT

ROOT = Path(__file__).resolve().parent.parent
AZURE = ROOT / "examples" / "AzureLLMInferenceTrace_conv.csv"
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [*map(str, args)])


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """The README's example plan (the shipped Azure hour, FR), made once."""
    out = tmp_path_factory.mktemp("plan") / "out"
    r = invoke("plan", "--trace", AZURE, "--grid", "FR", "--out", out, "--no-timing", "-q")
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture
def plan_copy(planned, tmp_path):
    dst = tmp_path / "plan"
    shutil.copytree(planned, dst)
    return dst


def edit_schedule(folder: Path, window: int, column: str, value: str) -> str:
    """Set one cell of schedule.csv (as text, the way a hand edit would); returns the old."""
    path = folder / "schedule.csv"
    rows = list(csv.reader(io.StringIO(path.read_text())))
    col = rows[0].index(column)
    old, rows[window + 1][col] = rows[window + 1][col], value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue())
    return old


def failures(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("FAIL ")]


def test_untouched_plan_checks_clean_against_itself(planned, tmp_path):
    js, xml = tmp_path / "check.json", tmp_path / "check.xml"
    r = invoke("check", "--plan", planned, "--against", planned, "--json", js, "--junit", xml)
    assert r.exit_code == 0, r.output
    assert failures(r) == []
    report = json.loads(js.read_text())
    assert report["passed"] is True and report["counts"]["failed"] == 0
    groups = {c["group"] for c in report["checks"] if c["outcome"] == "passed"}
    assert groups == {"inputs", "arithmetic", "certificate", "regression"}
    # Every recorded input was hashed: trace, grid file(s), profile, catalog, window inputs.
    hashed = [c["name"] for c in report["checks"] if c["group"] == "inputs"]
    assert any(n.startswith("trace ") for n in hashed) and \
        any(n.startswith("window_inputs ") for n in hashed)
    assert all(d["total_kgco2e"]["difference"] == 0 for d in report["window_differences"])
    suites = ET.parse(xml).getroot()
    assert suites.get("failures") == "0" and int(suites.get("tests")) == len(report["checks"])


def test_cache_level_edited(plan_copy):
    sched = (plan_copy / "schedule.csv").read_text().splitlines()
    old = edit_schedule(plan_copy, 1, "cache_gb", "8000" if ",0,0," in sched[2] else "0")
    assert old in ("0", "16000", "8000")
    r = invoke("check", "--plan", plan_copy)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    lines = failures(r)
    # The hit rate, latencies and carbon no longer match what that cache level gives.
    window = [ln for ln in lines if ln.startswith("FAIL arithmetic: window ")]
    assert len(window) == 1 and "hit_rate" in window[0] and "total_kgco2e" in window[0]


def test_carbon_figure_edited(plan_copy):
    path = plan_copy / "schedule.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    edit_schedule(plan_copy, 0, "total_kgco2e", f"{float(rows[0]['total_kgco2e']) + 0.01:.5f}")
    r = invoke("check", "--plan", plan_copy)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    lines = failures(r)
    assert any("total_kgco2e" in ln and "≠ recomputed" in ln for ln in lines), lines
    # The printed windows no longer add up to the summary's total either.
    assert any(ln.startswith("FAIL arithmetic: totals:") for ln in lines), lines


def test_components_edited(plan_copy):
    path = plan_copy / "components.csv"
    lines = path.read_text().splitlines()
    head = lines[0].split(",")
    cells = lines[1].split(",")
    j = head.index("emb_ssd_kgco2e")
    cells[j] = f"{float(cells[j]) + 0.001:.6f}"
    path.write_text("\n".join([lines[0], ",".join(cells)] + lines[2:]) + "\n")
    r = invoke("check", "--plan", plan_copy)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    assert any(ln.startswith("FAIL arithmetic: components.csv:") and "emb_ssd_kgco2e" in ln
               and "≠ recomputed" in ln for ln in failures(r)), r.output
    cells[j] = "lots"
    path.write_text("\n".join([lines[0], ",".join(cells)] + lines[2:]) + "\n")
    r = invoke("check", "--plan", plan_copy)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    assert any("components.csv: unreadable" in ln and "line 2: emb_ssd_kgco2e must be a finite "
               "number" in ln for ln in failures(r)), r.output


def test_summary_total_edited(plan_copy):
    path = plan_copy / "summary.json"
    s = json.loads(path.read_text())
    s["totals"]["total_kgco2e"] = round(s["totals"]["total_kgco2e"] * 0.9, 6)
    path.write_text(json.dumps(s, indent=2))
    r = invoke("check", "--plan", plan_copy)
    assert r.exit_code == EXIT_CHECK_FAILED
    assert any("totals.total_kgco2e" in ln for ln in failures(r)), r.output


def test_input_file_changed(plan_copy, tmp_path):
    trace = tmp_path / "trace.csv"
    shutil.copy(AZURE, trace)
    path = plan_copy / "summary.json"
    s = json.loads(path.read_text())
    s["inputs"]["trace"]["path"] = s["scenario"]["trace"] = str(trace)
    path.write_text(json.dumps(s, indent=2))
    assert invoke("check", "--plan", plan_copy).exit_code == 0   # the same bytes elsewhere
    with open(trace, "a") as f:
        f.write("2023-11-16 19:14:10.000000,100,10\n")
    r = invoke("check", "--plan", plan_copy)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    assert failures(r) == [f"FAIL inputs: trace {trace}: changed since the plan: sha256 "
                           + failures(r)[0].split("sha256 ", 1)[1]]
    assert "recorded" in failures(r)[0]


def test_window_inputs_edited(plan_copy):
    path = plan_copy / "window_inputs.json"
    raw = json.loads(path.read_text())
    raw["windows"]["rate_rps"][0] *= 0.5
    path.write_text(json.dumps(raw))
    r = invoke("check", "--plan", plan_copy)
    assert r.exit_code == EXIT_CHECK_FAILED
    assert any(ln.startswith("FAIL inputs: window_inputs") for ln in failures(r)), r.output


def test_constraint_violated(plan_copy):
    """A tighter TTFT SLO in the plan's scenario than one window's configuration meets: the
    certificate names the violated row of the model."""
    rows = list(csv.DictReader(io.StringIO((plan_copy / "schedule.csv").read_text())))
    t = max(range(len(rows)), key=lambda i: float(rows[i]["p90_ttft_s"]))
    path = plan_copy / "summary.json"
    s = json.loads(path.read_text())
    s["scenario"]["slo_ttft_s"] = round(0.97 * float(rows[t]["p90_ttft_s"]), 4)
    path.write_text(json.dumps(s, indent=2))
    r = invoke("check", "--plan", plan_copy)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    lines = failures(r)
    assert any(ln.startswith(f"FAIL certificate: constraint slo_ttft(t={t}): ") and
               "does not hold" in ln for ln in lines), lines
    assert any("slo_met 'true' ≠ recomputed 'false'" in ln for ln in lines), lines


def rewrite_window0(plan_copy, same_level: bool):
    """Window 0 given a costlier configuration within the SLO (at the same cache level or at
    another), and every figure of the folder rewritten consistently by the production
    functions, so that only the certificate can tell."""
    import pandas as pd

    from planner.check.arithmetic import rederive
    from planner.check.inputs import check_inputs
    from planner.check.plan_folder import read_plan_folder
    from planner.check.results import CheckReport
    from planner.optimize.charges import charge
    from planner.provisioning import provisioning
    from planner.schedule import assemble, components_csv, to_csv

    folder = read_plan_folder(plan_copy)
    report = CheckReport(str(plan_copy), None)
    red = rederive(folder, check_inputs(folder, report), report)
    frame, opt = red.candidates.frame, red.options
    now = red.chosen.iloc[0]
    alt = frame[(frame["window"] == 0) & (frame["p90_ttft_s"] <= opt.slo_ttft_s)
                & (frame["p90_tpot_s"] <= opt.slo_tpot_s)
                & (frame["total_kgco2e"] > now["total_kgco2e"] * 1.01)
                & ((frame["level"] == now["level"]) == same_level)]
    assert len(alt), "window 0 needs a costlier candidate within the SLO for this test"
    chosen = charge(pd.concat([alt.iloc[[0]], red.chosen.iloc[1:]]), red.coupling)
    src = [folder.summary["modelled"]["hit_rate_source"]] * len(chosen)
    sched = assemble(red.stats, red.ci, chosen, src, opt.slo_ttft_s, opt.slo_tpot_s)
    (plan_copy / "schedule.csv").write_text(to_csv(sched))
    (plan_copy / "components.csv").write_text(components_csv(red.stats, chosen))
    hours = red.stats["hours"].to_numpy()
    from planner.catalog import load_catalog, resolve
    hw = resolve(load_catalog(), opt.gpu, opt.tp, opt.ssd, opt.levels, opt.pue)
    (plan_copy / "provisioning.json").write_text(json.dumps(
        provisioning(chosen, hours, hw, opt.capacity), indent=2) + "\n")
    s = json.loads((plan_copy / "summary.json").read_text())
    for k in ("energy_kwh", "operational_kgco2e", "embodied_kgco2e", "total_kgco2e"):
        s["totals"][k] = round(float(chosen[k].sum()), 6)
    for k in s["totals"]["by_component_kgco2e"]:
        s["totals"]["by_component_kgco2e"][k] = round(float(chosen[k].sum()), 6)
    s["totals"]["gpu_hours"] = round(float((chosen["gpus"].to_numpy() * hours).sum()), 6)
    s["totals"]["cache_tb_hours"] = round(float((chosen["cache_gb"].to_numpy() / 1000
                                                 * hours).sum()), 6)
    s["solver"]["objective_kgco2e"] = float(chosen["total_kgco2e"].sum())
    (plan_copy / "summary.json").write_text(json.dumps(s, indent=2))
    return invoke("check", "--plan", plan_copy)


def test_not_optimal(plan_copy):
    r = rewrite_window0(plan_copy, same_level=True)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    lines = failures(r)
    # Either the model never offers it (more replicas than a cheaper candidate needs) or the
    # re-solve's optimum is below it: both say the plan is not optimal.
    assert len(lines) == 1 and lines[0].startswith("FAIL certificate: "), lines
    assert "the plan is not optimal" in lines[0] or "exceeds the allowed" in lines[0], lines


def test_dwell_violated(plan_copy):
    """Another cache level in the first window only: the default minimum dwell is broken, and
    the infeasible subset names its row."""
    r = rewrite_window0(plan_copy, same_level=False)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    lines = failures(r)
    cert = [x for x in lines if x.startswith("FAIL certificate: constraints: infeasible")]
    assert len(cert) == 1 and "dwell(t=" in cert[0], lines
    # With warm-up the window after the rewritten one grew from another level: its printed
    # (warm) figures no longer match the cold start the check recomputes, which it reports.
    assert all(x.startswith("FAIL arithmetic") for x in lines if x not in cert), lines


def test_worse_plan_against_reference(planned, tmp_path):
    worse = tmp_path / "worse"
    r = invoke("plan", "--trace", AZURE, "--grid", "FR", "--cache-levels", "0", "--out", worse,
               "--no-timing", "-q")
    assert r.exit_code == 0, r.output
    assert invoke("check", "--plan", worse).exit_code == 0     # consistent on its own
    js = tmp_path / "r.json"
    r = invoke("check", "--plan", worse, "--against", planned, "--json", js)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    lines = failures(r)
    assert len(lines) == 1 and lines[0].startswith("FAIL regression: total carbon: ")
    diffs = json.loads(js.read_text())["window_differences"]
    assert [d["cache_gb"]["plan"] for d in diffs] == [0.0] * len(diffs)
    assert any(d["total_kgco2e"]["difference"] > 0 for d in diffs)
    # The better plan against the worse one passes, and a generous tolerance lets it through.
    assert invoke("check", "--plan", planned, "--against", worse).exit_code == 0
    assert invoke("check", "--plan", worse, "--against", planned, "--rtol", "0.9").exit_code == 0


def test_junit_lists_each_failure(plan_copy, tmp_path):
    edit_schedule(plan_copy, 0, "replicas", "3")
    xml = tmp_path / "c.xml"
    r = invoke("check", "--plan", plan_copy, "--junit", xml)
    assert r.exit_code == EXIT_CHECK_FAILED
    root = ET.parse(xml).getroot()
    failed = root.findall(".//failure")
    assert int(root.get("failures")) == len(failed) == len(failures(r)) >= 1


def test_bad_plan_folder_is_invalid_input(tmp_path, plan_copy):
    r = invoke("check", "--plan", tmp_path / "nowhere")
    assert r.exit_code == EXIT_INPUT and "does not exist" in r.output
    (plan_copy / "schedule.csv").write_text("not,a,schedule\n1,2,3\n")
    r = invoke("check", "--plan", plan_copy)
    assert r.exit_code == EXIT_INPUT and "not a greencache schedule" in r.output


def readme_block(marker: str) -> str:
    """The fenced block that follows ``<!-- marker -->`` in the README."""
    text = (ROOT / "README.md").read_text()
    after = text.split(f"<!-- {marker} -->", 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


def test_readme_shell_ci_recipe_runs(planned, tmp_path):
    """The README's plain shell CI job, as written, with `greencache` running this checkout."""
    import os
    import subprocess
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "greencache"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m planner "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT), "OUT": str(tmp_path / "out"),
           "REPORTS": str(tmp_path / "reports"), "REFERENCE": str(planned)}
    script = readme_block("ci-recipe: shell")
    r = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((tmp_path / "reports" / "check.json").read_text())
    assert report["passed"] and report["against"] == str(planned)
    assert ET.parse(tmp_path / "reports" / "check.xml").getroot().get("failures") == "0"
    assert (tmp_path / "reports" / "schedule.csv").exists()
    # Against a reference that emitted half as much, the job fails with the check's code.
    s = json.loads((planned / "summary.json").read_text())
    ref = tmp_path / "ref"
    shutil.copytree(planned, ref)
    s["totals"]["total_kgco2e"] = round(s["totals"]["total_kgco2e"] * 0.5, 6)
    (ref / "summary.json").write_text(json.dumps(s))
    env["REFERENCE"] = str(ref)
    r = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == EXIT_CHECK_FAILED, r.stdout + r.stderr
    assert "FAIL regression: total carbon:" in r.stdout


def test_best_effort_plan_with_own_profiles_checks_clean(tmp_path):
    """A plan of windows that cannot meet the SLO (planned best-effort) from profile tables
    outside the shipped ones, on a trace with its own prefix hashes: the certificate follows
    the two-phase solve, and the recorded profile path is the one re-read."""
    import synthetic_profile

    profiles = tmp_path / "profiles"
    profiles.mkdir()
    synthetic_profile.write(profiles)
    out = tmp_path / "o"
    r = invoke("plan", "--trace", ROOT / "examples" / "conversation_trace.jsonl", "--start",
               "2023-11-16T18:00Z", "--window", "15min", "--profile-dir", profiles,
               "--slo-ttft", "0.001", "--allow-slo-violation", "--out", out, "-q")
    assert r.exit_code == 0, r.output
    js = tmp_path / "c.json"
    r = invoke("check", "--plan", out, "--json", js)
    assert r.exit_code == 0, r.output
    checks = {c["name"]: c for c in json.loads(js.read_text())["checks"]}
    assert checks["optimality"]["outcome"] == "passed"
    assert any(n.startswith("profile ") and str(profiles) in n for n in checks)


def check_json(folder, tmp_path, *extra):
    js = tmp_path / "mode.json"
    r = invoke("check", "--plan", folder, "--json", js, *extra)
    return r, json.loads(js.read_text())


def rehash(folder: Path, key: str) -> None:
    """Record the current SHA-256 of a plan file in summary.json (a consistent forgery)."""
    from planner.paths import sha256_file

    path = folder / "summary.json"
    s = json.loads(path.read_text())
    s["inputs"][key]["sha256"] = sha256_file(folder / s["inputs"][key]["path"])
    path.write_text(json.dumps(s, indent=2))


def test_default_check_is_certified_from_the_recorded_table(planned, tmp_path):
    r, report = check_json(planned, tmp_path)
    assert r.exit_code == 0, r.output
    assert report["mode"] == "recorded" and report["mode_reason"] == ""
    checks = {c["name"]: c for c in report["checks"]}
    assert "recorded value function, verified for all 2 windows" in \
        checks["optimality"]["message"]
    assert checks["recorded candidates"]["outcome"] == "passed"
    hashed = [c["name"] for c in report["checks"] if c["group"] == "inputs"]
    assert any(n.startswith("candidates candidates.npy") for n in hashed)
    assert any(n.startswith("value_function value_function.npy") for n in hashed)


def test_full_check_rederives_and_resolves(planned, tmp_path):
    r, report = check_json(planned, tmp_path, "--full")
    assert r.exit_code == 0, r.output
    assert report["mode"] == "full" and report["mode_reason"] == "asked for (--full)"
    checks = {c["name"]: c for c in report["checks"]}
    assert "re-solved optimum" in checks["optimality"]["message"]
    assert "recorded candidates" not in checks
    assert "full check:" not in r.output        # asked for: nothing to explain


def test_plan_from_another_version_is_checked_in_full(plan_copy, tmp_path):
    path = plan_copy / "summary.json"
    s = json.loads(path.read_text())
    s["greencache"]["version"] = "0.0.1"
    path.write_text(json.dumps(s, indent=2))
    r, report = check_json(plan_copy, tmp_path)
    assert r.exit_code == 0, r.output
    assert report["mode"] == "full"
    assert "full check: the plan was made by greencache 0.0.1" in r.output


@pytest.mark.parametrize("name", ["candidates.npy", "value_function.npy"])
def test_recorded_certificate_edited(plan_copy, tmp_path, name):
    """A byte of the recorded table or value function changed: the hash names the file, and
    the check re-derives everything instead of trusting it."""
    import numpy as np

    path = plan_copy / name
    data = np.load(path)
    if name == "candidates.npy":
        data["total_kgco2e"][-1] *= 1.5
    else:
        data[np.isfinite(data)] -= 0.01
    np.save(path, data)
    r, report = check_json(plan_copy, tmp_path)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    assert [ln.split(": changed")[0] for ln in failures(r)] == \
        [f"FAIL inputs: {name.split('.')[0]} {name}"]
    assert report["mode"] == "full"
    assert f"full check: the plan's {name} does not match its recorded hash" in r.output


def test_value_function_that_proves_too_little_fails(plan_copy, tmp_path):
    """A value function lowered by 1 % and its hash recorded again: consistent, but its bound
    no longer reaches the schedule's objective, so optimality is not proven."""
    import numpy as np

    path = plan_copy / "value_function.npy"
    data = np.load(path)
    np.save(path, data - 0.01 * np.abs(data[np.isfinite(data)]).max())
    rehash(plan_copy, "value_function")
    r, report = check_json(plan_copy, tmp_path)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    assert report["mode"] == "recorded"
    assert [ln.split(":")[0:2] for ln in failures(r)] == [["FAIL certificate", " optimality"]]
    assert "exceeds the allowed" in failures(r)[0]


def test_non_optimal_schedule_with_a_raised_value_function_fails(plan_copy, tmp_path):
    """A costlier schedule, every figure consistent, and the value function raised by the
    difference (hash recorded again): the verification finds the claim above what the first
    window allows and lowers the bound by it, so the schedule is not certified."""
    import numpy as np

    before = json.loads((plan_copy / "summary.json").read_text())["solver"]["objective_kgco2e"]
    r = rewrite_window0(plan_copy, same_level=True)
    after = json.loads((plan_copy / "summary.json").read_text())["solver"]["objective_kgco2e"]
    path = plan_copy / "value_function.npy"
    np.save(path, np.load(path) + (after - before))
    rehash(plan_copy, "value_function")
    r, report = check_json(plan_copy, tmp_path)
    assert r.exit_code == EXIT_CHECK_FAILED, r.output
    lines = failures(r)
    assert len(lines) == 1 and lines[0].startswith("FAIL certificate: "), lines
    assert "the plan is not optimal" in lines[0] or (
        "lowered by" in lines[0] and "exceeds the allowed" in lines[0]), lines


def test_owned_plan_is_certified_by_resolving_the_recorded_model(tmp_path):
    """Owned capacity has no value function: the default check re-solves the model built
    from the recorded table (no candidate re-derived) and passes on an untouched plan."""
    out = tmp_path / "owned"
    r = invoke("plan", "--trace", AZURE, "--grid", "FR", "--capacity", "owned", "--out", out,
               "--no-timing", "-q")
    assert r.exit_code == 0, r.output
    assert not (out / "value_function.npy").exists() and (out / "candidates.npy").exists()
    r, report = check_json(out, tmp_path)
    assert r.exit_code == 0, r.output
    assert report["mode"] == "recorded"
    checks = {c["name"]: c for c in report["checks"]}
    assert "re-solved optimum" in checks["optimality"]["message"]


def test_recomputed_rows_equal_the_plans_table(planned):
    """The restricted candidate computation (what the default check runs for the schedule)
    gives the very rows of the plan's full candidate table, for every configuration of it."""
    import numpy as np

    from planner.check.arithmetic import _inputs, _intensity
    from planner.check.plan_folder import read_plan_folder
    from planner.check.inputs import check_inputs
    from planner.check.results import CheckReport
    from planner.plan_solve import plan_candidates
    from planner.window_inputs import read as read_window_inputs

    folder = read_plan_folder(planned)
    opt = folder.options
    record = read_window_inputs(folder.window_inputs)
    hw, profile = _inputs(folder, check_inputs(folder, CheckReport("", None)))
    ci = _intensity(opt, record.stats)
    levels = np.asarray(opt.cache_levels_tb) * 1000.0
    full = plan_candidates(opt, record.stats, record.hits, ci, profile, hw, levels,
                           record.buckets, prune=False).frame
    key = ["window", "replicas", "level", "prev_level"]
    only = plan_candidates(opt, record.stats, record.hits, ci, profile, hw, levels,
                           record.buckets, only=full[key]).frame
    assert len(only) == len(full) > 100
    a = full.sort_values(key).reset_index(drop=True)
    b = only.sort_values(key).reset_index(drop=True)
    assert (a[key].to_numpy() == b[key].to_numpy()).all()
    for col in ("p90_ttft_s", "p90_tpot_s", "within_slo_share", "total_kgco2e",
                "embodied_kgco2e", "emb_ssd_wear", "energy_kwh", "ssd_drives"):
        assert np.allclose(a[col], b[col], rtol=1e-12, atol=0), col
    # A configuration beyond the window's capacity, and a grow into the first window, give
    # no row.
    import pandas as pd
    none = plan_candidates(opt, record.stats, record.hits, ci, profile, hw, levels,
                           record.buckets, only=pd.DataFrame(
                               {"window": [0, 0], "replicas": [0, 1], "level": [1, 2],
                                "prev_level": [-1, 0]})).frame
    assert none.empty
