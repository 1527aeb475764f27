"""`greencache forecast` through typer's CliRunner: outputs, scores, bad inputs, bytes."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.paths import examples_dir

runner = CliRunner()
BURST = examples_dir() / "burstgpt_hourly.csv"       # 61 days from 2023-01-01 (FR's last year)
BASE = ["forecast", "--rates", str(BURST), "--grid", "FR", "--horizon", "48h"]


def run(*args):
    return runner.invoke(app, [*BASE, *map(str, args)])


def test_forecast_writes_csv_png_and_scores_against_seasonal_naive(tmp_path):
    out = tmp_path / "f"
    r = run("--cutoff", "2023-01-15T00:00Z", "--out", out)
    assert r.exit_code == 0, r.output
    f = pd.read_csv(out / "forecast.csv")
    assert len(f) == 48
    assert f["window_start"].iloc[0] == "2023-01-15T00:00:00Z"
    for col in ("lead_h", "rate_p50", "rate_p90", "ci_gco2_per_kwh", "model", "rate_actual",
                "ci_gco2_per_kwh_actual"):
        assert col in f.columns
    assert (f["rate_p90"] >= f["rate_p50"]).all()
    assert f["rate_actual"].notna().all()
    # a rate series records no token lengths: unknown, not invented
    assert f["input_tokens_mean"].isna().all()
    acc = pd.read_csv(out / "accuracy.csv")
    assert set(acc["role"]) == {"chosen", "baseline"}
    assert set(acc.loc[acc["role"] == "baseline", "model"]) == {"seasonal-naive"}
    assert {"0-6h", "24-48h", "all"} <= set(acc["lead"])
    assert (out / "forecast.png").read_bytes()[:4] == b"\x89PNG"
    assert "p90 coverage" in r.output and "seasonal-naive" in r.output


def test_outputs_are_byte_identical_from_any_folder(tmp_path):
    here = os.getcwd()
    outs = []
    for name in ("a", "b"):
        sub = tmp_path / f"cwd-{name}"
        sub.mkdir()
        os.chdir(sub)
        try:
            r = run("--cutoff", "2023-01-10T00:00Z", "--model", "seasonal-naive", "--out",
                    tmp_path / name, "-q")
        finally:
            os.chdir(here)
        assert r.exit_code == 0, r.output
        outs.append(tmp_path / name)
    for file in ("forecast.csv", "accuracy.csv", "forecast.png"):
        assert (outs[0] / file).read_bytes() == (outs[1] / file).read_bytes()


def ci_file(path, rows, header="timestamp,gco2_per_kwh,issued_at"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_external_ci_forecast_file(tmp_path):
    d = pd.Timestamp("2023-01-10T00:00Z")
    rows = []
    for issued, value in ((d - pd.Timedelta(hours=6), 111), (d, 999)):
        for k in range(24):
            rows.append(f"{(d + pd.Timedelta(hours=k)):%Y-%m-%dT%H:%MZ},{value},"
                        f"{issued:%Y-%m-%dT%H:%MZ}")
    path = ci_file(tmp_path / "ci.csv", rows)
    r = run("--cutoff", "2023-01-10T00:00Z", "--horizon", "24h", "--model", "seasonal-naive",
            "--ci-forecast", path, "--out", tmp_path / "o")
    assert r.exit_code == 0, r.output
    f = pd.read_csv(tmp_path / "o" / "forecast.csv")
    # the issue made at the decision time itself is not used
    assert (f["ci_gco2_per_kwh"] == 111).all()
    # a horizon beyond what was forecast is refused, naming the window
    r = run("--cutoff", "2023-01-10T00:00Z", "--horizon", "48h", "--model", "seasonal-naive",
            "--ci-forecast", path, "--out", tmp_path / "o2")
    assert r.exit_code == 3 and "covers the window starting 2023-01-11T00:00Z" in r.output
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize("rows, message", [
    (["2023-01-10T00:00Z,abc,2023-01-09T00:00Z"], "line 2: carbon intensity 'abc'"),
    (["2023-01-10T00:00Z,100,2023-01-09T00:00Z", "2023-01-10T01:00Z,100,yesterday"],
     "line 3: cannot read issued_at 'yesterday'"),
    (["2023-01-10T00:00Z,100,2023-01-09T00:00Z", "2023-01-10T00:00Z,90,2023-01-09T00:00Z"],
     "line 3: the forecast issued at"),
])
def test_bad_ci_forecast_files_name_the_line(tmp_path, rows, message):
    path = ci_file(tmp_path / "ci.csv", rows)
    r = run("--cutoff", "2023-01-10T00:00Z", "--ci-forecast", path, "--out", tmp_path / "o")
    assert r.exit_code == 3 and message in r.output, r.output


def test_ci_forecast_file_needs_issued_at(tmp_path):
    path = ci_file(tmp_path / "ci.csv", ["2023-01-10T00:00Z,100"],
                   header="timestamp,gco2_per_kwh")
    r = run("--cutoff", "2023-01-10T00:00Z", "--ci-forecast", path, "--out", tmp_path / "o")
    assert r.exit_code == 3 and "issued_at" in r.output


@pytest.mark.parametrize("args, code, message", [
    (["--cutoff", "2024-06-01T00:00Z"], 3, "is outside the data, which runs from 2023-01-01"),
    (["--cutoff", "2023-01-01T12:00Z", "--model", "seasonal-naive"], 3,
     "needs at least 1 day of history before 2023-01-01T12:00Z; the history has 12 h"),
    (["--cutoff", "2023-01-02T12:00Z", "--model", "mstl"], 3, "needs at least 2 days"),
    (["--cutoff", "2023-01-10T00:00Z", "--horizon", "90min"], 2,
     "is not a whole number of 1h windows"),
    (["--cutoff", "2023-01-10T00:00Z", "--window", "5h"], 2, "must divide a day"),
    (["--cutoff", "2023-01-10T00:30Z"], 2, "not on a 1h window boundary"),
    (["--cutoff", "soon"], 2, "cannot read --cutoff"),
    (["--cutoff", "2023-01-10T00:00Z", "--horizon", "30d"], 2, "longer than the 14 days"),
    (["--cutoff", "2023-01-10T00:00Z", "--model", "prophet"], 2, "prophet"),
])
def test_bad_inputs_are_one_sentence_and_an_exit_code(tmp_path, args, code, message):
    r = run(*args, "--out", tmp_path / "o")
    assert r.exit_code == code, r.output
    assert message in " ".join(r.output.split()), r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_history_from_exactly_one_source(tmp_path):
    r = runner.invoke(app, ["forecast", "--cutoff", "2023-01-10T00:00Z", "--out",
                            str(tmp_path / "o")])
    assert r.exit_code == 2 and "exactly one of --trace and --rates" in r.output


def test_the_readme_lists_every_forecast_option():
    import re

    import typer.main

    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = text[text.index("The options of `forecast`:"):text.index("Models are fitted on")]
    listed = set(re.findall(r"`(--[a-z][a-z-]*[a-z])", table))
    cmd = typer.main.get_command(app).commands["forecast"]
    options = {o for p in cmd.params for o in [*p.opts, *p.secondary_opts]
               if o.startswith("--")} - {"--help"}
    assert options == listed
