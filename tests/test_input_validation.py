"""Inputs refused before work starts (exit 3, one sentence naming the file and line), grid
exports read whatever their header's case, and outputs that do not depend on the working
folder or trust the strings of hand-edited files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import synthetic_profile
from planner.cli import app
from planner.errors import InputDataError
from planner.grid import read_grid_file
from planner.plan_files import read_schedule, read_summary
from planner.workload.load import load_workload

runner = CliRunner()
EM_HOURS = [f"2023-11-{16 + h // 24:02d} {h % 24:02d}:00:00" for h in range(48)]


def _write(path: Path, text) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _mooncake(rows) -> str:
    return "".join(json.dumps({"timestamp": t, "input_length": i, "output_length": 20,
                               "hash_ids": [1]}) + "\n" for t, i in rows)


@pytest.mark.parametrize("body,match", [
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,0x10,3\n",
     "line 2: ContextTokens must be a whole number, got '0x10'"),
    ('{"timestamp": true, "input_length": 5, "output_length": 3}\n',
     "line 1: timestamp must be a number of milliseconds, got True"),
    ('{"timestamp": 0, "input_length": 5.5, "output_length": 3}\n',
     "line 1: input_length must be a whole number of tokens, got 5.5"),
    ('{"timestamp": 0, "input_length": 5, "output_length": 3, "hash_ids": [1e400]}\n',
     "hash_ids must be a list of 64-bit integers"),
    ('{"timestamp": 0, "input_length": 5, "output_length": 3, "hash_ids": [99999999999999999999]}\n',
     "hash_ids must be a list of 64-bit integers"),
    ('{"timestamp": 99999999999999999999999, "input_length": 5, "output_length": 3}\n',
     "line 1: timestamp must be within"),
    (b'{"timestamp": 0, "input_length": 5, "output_length": 3}\n\xff\n', "line 2: not UTF-8"),
    ("arrival_s,input_tokens,output_tokens\n0,5,3\n1e300,5,3\n", "spans more than"),
    ("timestamp,input_tokens,output_tokens\n9999-12-31T00:00:00Z,5,3\n",
     "line 2: timestamp '9999-12-31T00:00:00Z' is outside 1970..2200"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00," + "9" * 5000 + ",3\n",
     "must be a whole number, got '9999"),
])
def test_bad_traces_are_one_sentence_naming_the_line(tmp_path, body, match):
    name = "t.jsonl" if (body[:1] in ("{", b"{")) else "t.csv"
    with pytest.raises(InputDataError, match=match) as e:
        load_workload(_write(tmp_path / name, body))
    assert len(str(e.value)) < 300  # a quoted value is cut short, never the whole field


def test_a_one_year_span_in_three_rows_is_refused_before_allocating(tmp_path):
    synthetic_profile.write(tmp_path / "p")
    trace = _write(tmp_path / "y.jsonl", _mooncake([(0, 500), (1000, 600),
                                                     (365 * 86400 * 1000, 700)]))
    r = runner.invoke(app, ["plan", "--trace", str(trace), "--start", "2023-01-01T00:00Z",
                            "--profile-dir", str(tmp_path / "p"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 3, r.output
    assert "8,761 windows" in r.output and "candidates" in r.output
    assert not (tmp_path / "o").exists()


def test_a_folder_or_non_utf8_file_as_input_is_exit_3(tmp_path):
    r = runner.invoke(app, ["plan", "--trace", str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 3 and "is a folder" in r.output
    grid = _write(tmp_path / "g.csv", b"timestamp,gco2_per_kwh\n2023-01-01T00:00Z,5\xff\n")
    with pytest.raises(InputDataError, match="g.csv, line 2: not UTF-8"):
        read_grid_file(grid)
    # The header is checked on its own and the rest only as ASCII when it is: a bad byte in
    # either, and one after a header that is UTF-8 but not ASCII, is named by its line.
    head = "Datetime (UTC),Carbon Intensity gCO₂eq/kWh (LCA)\n".encode()
    for body, line in ((b"timestamp,gco2_per\xffkwh\n2023-01-01T00:00Z,5\n", 1),
                       (head + b"2023-01-01 00:00:00,5\n2023-01-01 01:00:00,\xe9\n", 3),
                       (head + b"2023-01-01 00:00:00,5\n" * 3 + b"\xc3\n", 5)):
        grid = _write(tmp_path / "g.csv", body)
        with pytest.raises(InputDataError, match=f"g.csv, line {line}: not UTF-8"):
            read_grid_file(grid)
    from planner.perf.profile import read_profile
    table = _write(tmp_path / "t.csv", b"load_fraction,hit_rate\n0,0\n1,\xff\n")
    _write(tmp_path / "t.meta.json", "{}")
    with pytest.raises(InputDataError, match="t.csv, line 3: not UTF-8"):
        read_profile(table)


@pytest.mark.parametrize("header", [
    "Datetime (UTC),Carbon Intensity gCO₂eq/kWh (direct),Carbon Intensity gCO₂eq/kWh (LCA)",
    "datetime (utc),carbon intensity gco₂eq/kwh (direct),CARBON INTENSITY gCO₂eq/kWh (Life cycle)",
    "Datetime (UTC),Zone id,Carbon intensity gCO₂eq/kWh (direct),Carbon intensity gCO₂eq/kWh "
    "(Life cycle)",
])
def test_electricity_maps_headers_are_read_whatever_their_case(tmp_path, header):
    rows = "".join(f"{t}," + ("FR," if "Zone" in header else "") + f"{10 + h},{50 + h}\n"
                   for h, t in enumerate(EM_HOURS))
    p = _write(tmp_path / "em.csv", header + "\n" + rows)
    assert read_grid_file(p, "lifecycle").values[3] == 53
    assert read_grid_file(p, "direct").values[3] == 13


def test_a_lifecycle_only_export_serves_a_lifecycle_plan(tmp_path):
    p = _write(tmp_path / "em.csv", "Datetime (UTC),Carbon Intensity gCO₂eq/kWh (LCA)\n" +
               "".join(f"{t},{50 + h}\n" for h, t in enumerate(EM_HOURS)))
    assert len(read_grid_file(p, "lifecycle").values) == 48
    with pytest.raises(InputDataError, match="no direct carbon-intensity column; pass "
                                             "--ci-basis lifecycle"):
        read_grid_file(p, "direct")


def test_missing_grid_rows_are_filled_with_a_note_not_held_over(tmp_path):
    kept = [h for h in range(48) if h not in (10, 11)]
    p = _write(tmp_path / "g.csv", "timestamp,gco2_per_kwh\n" +
               "".join(f"{EM_HOURS[h]}Z,{100 + 10 * h}\n" for h in kept))
    s = read_grid_file(p)
    assert len(s.values) == 48
    # Hour 10 lies between hour 9 (190) and 12 (220): interpolated, not hour 9 held over.
    assert s.values[10] == pytest.approx(200.0) and s.values[11] == pytest.approx(210.0)
    assert any("2 missing hour(s) filled" in n for n in s.notes)
    far = _write(tmp_path / "far.csv", "timestamp,gco2_per_kwh\n2023-01-01T00:00Z,5\n"
                 "2023-01-01T01:00Z,5\n2123-01-01T00:00Z,5\n")
    with pytest.raises(InputDataError, match="hour\\(s\\) missing after"):
        read_grid_file(far)


# --------------------------------------------------------------------------------------------
# a plan's files, written once and edited by hand
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plan_out(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plan")
    synthetic_profile.write(tmp / "profiles")
    trace = _write(tmp / "t.jsonl", _mooncake([(1000 * i, 600 + i) for i in range(6)]))
    outs = []
    for cwd in (tmp, tmp / "profiles"):
        # Same inputs from two working folders, named by absolute paths.
        old = os.getcwd()
        os.chdir(cwd)
        try:
            r = runner.invoke(app, ["plan", "--trace", str(trace), "--start",
                                    "2023-11-16T18:00Z", "--window", "15min", "--profile-dir",
                                    str(tmp / "profiles"), "--out", str(tmp / f"o{len(outs)}"),
                                    "--no-timing", "-q", "--cache-levels", "0,1",
                                    "--max-replicas", "4", "--workload-shape", "azure-conv"])
        finally:
            os.chdir(old)
        assert r.exit_code == 0, r.output
        outs.append(tmp / f"o{len(outs)}")
    return outs


def test_summary_is_byte_identical_from_any_working_folder(plan_out):
    a = json.loads((plan_out[0] / "summary.json").read_text())
    assert a["inputs"]["catalog"]["path"].startswith("greencache:")
    assert (plan_out[0] / "summary.json").read_bytes() == \
        (plan_out[1] / "summary.json").read_bytes()


@pytest.mark.parametrize("edit,match", [
    (lambda rows: rows[1].__setitem__("replicas", "1e12"), "line 2: replicas must be within"),
    (lambda rows: rows[1].__setitem__("replicas", "1e30"), "line 2: replicas must be a whole"),
    (lambda rows: rows[1].__setitem__("replicas", "2.5"), "line 2: replicas must be a whole"),
    (lambda rows: rows[1].__setitem__("replicas", "5000"), "line 2: replicas must be within"),
    (lambda rows: rows[1].__setitem__("cache_gb", "NaN"), "line 2: cache_gb must be a finite"),
    (lambda rows: rows[1].__setitem__("hit_rate", "abc"), "line 2: hit_rate must be a finite"),
    (lambda rows: rows.insert(2, dict(rows[1])), "line 3: windows must be in time order"),
    (lambda rows: rows[1].__setitem__("window_end", rows[1]["window_start"]),
     "line 2: window_end must be after window_start"),
    (lambda rows: rows[1].__setitem__("slo_met", "1"), "line 2: slo_met must be True or False"),
])
def test_hand_edited_schedules_are_refused_with_the_line(plan_out, tmp_path, edit, match):
    import csv

    lines = (plan_out[0] / "schedule.csv").read_text().splitlines()
    rows = list(csv.DictReader(lines))
    rows.insert(0, None)  # rows[1] is the first window, as on line 2 of the file
    edit(rows)
    rows = [r for r in rows if r is not None]
    p = tmp_path / "schedule.csv"
    with open(p, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=lines[0].split(","))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(InputDataError, match=match):
        read_schedule(p)


@pytest.mark.parametrize("edit,match", [
    (lambda lines: lines[:1] + [lines[1] + ",7"] + lines[2:], r"line 2: 23 fields where the "
                                                             r"header has 22"),
    (lambda lines: lines[:1] + [lines[1].split(",", 1)[1]] + lines[2:],
     r"line 2: 21 fields where the header has 22"),
    (lambda lines: lines[:1] + ["", lines[1] + ",7"], r"line 3: 23 fields"),   # lines counted
    (lambda lines: [lines[0].replace("gpus", "replicas")] + lines[1:], "a column name appears "
                                                                       "twice"),
    (lambda lines: lines[:1], "has no rows"),
    (lambda lines: [""], "is empty"),
    (lambda lines: lines[:1] + [""] + lines[1:], None),     # a blank line is skipped
])
def test_hand_edited_schedule_layouts(plan_out, tmp_path, edit, match):
    # The schedule is split by the csv module: a row wider or narrower than the header is named
    # by its line, not read with its columns shifted or filled.
    lines = (plan_out[0] / "schedule.csv").read_text().splitlines()
    assert len(lines[0].split(",")) == 22 and len(lines) >= 2
    p = tmp_path / "schedule.csv"
    p.write_text("\n".join(edit(lines)) + "\n")
    if match is None:
        assert read_schedule(p).equals(read_schedule(plan_out[0] / "schedule.csv"))
    else:
        with pytest.raises(InputDataError, match=match):
            read_schedule(p)


def _plan_to_edit(plan_out, tmp_path):
    """A copy of the plan's schedule and components, and its summary as a dict to edit and
    write into the copy."""
    d = tmp_path / "plan"
    d.mkdir()
    for f in ("schedule.csv", "components.csv"):
        (d / f).write_bytes((plan_out[0] / f).read_bytes())
    return d, json.loads((plan_out[0] / "summary.json").read_text())


def test_summary_numbers_are_doubles(plan_out, tmp_path):
    # A JSON integer where a number is read is held as a double (one too large for a C long
    # broke the report's figures with an internal error); one too large for a double is
    # refused like any other number that is not finite.
    d, s = _plan_to_edit(plan_out, tmp_path)
    name = next(k for k, b in s["baselines"].items() if "total_kgco2e" in b)
    s["baselines"][name]["operational_kgco2e"] = 2 ** 70
    (d / "summary.json").write_text(json.dumps(s))
    assert read_summary(d / "summary.json")["baselines"][name]["operational_kgco2e"] == 2.0 ** 70
    r = runner.invoke(app, ["report", "--plan", str(d), "--out", str(d / "r.html")])
    assert r.exit_code == 0, r.output
    s["baselines"][name]["operational_kgco2e"] = 10 ** 400
    (d / "summary.json").write_text(json.dumps(s))
    with pytest.raises(InputDataError, match=f"baselines.{name}.operational_kgco2e must be a "
                                             "finite number"):
        read_summary(d / "summary.json")


def test_report_escapes_strings_from_a_hand_edited_summary(plan_out, tmp_path):
    d, s = _plan_to_edit(plan_out, tmp_path)
    s["notes"].append("<script>alert(1)</script>")
    s["inputs"]["grid"]["zone"] = "<img src=x onerror=alert(1)>"
    s["scenario"]["model"] = "</title><script>"
    s["baselines"]["<b>x</b>"] = {"status": "<i>"}
    (d / "summary.json").write_text(json.dumps(s))
    r = runner.invoke(app, ["report", "--plan", str(d), "--out", str(d / "r.html")])
    assert r.exit_code == 0, r.output
    html = (d / "r.html").read_text()
    assert "<script>" not in html and "<img" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    s["totals"]["total_kgco2e"] = "12"
    (d / "summary.json").write_text(json.dumps(s))
    with pytest.raises(InputDataError, match="totals.total_kgco2e must be a finite number"):
        read_summary(d / "summary.json")
