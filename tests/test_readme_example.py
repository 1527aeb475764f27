"""The README's example, run as written, on the shipped data and profiles."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.cli import app

ROOT = Path(__file__).resolve().parent.parent


def readme_command() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"`greencache plan (--trace examples/\S+ --grid FR) --out out/`", text)
    assert m, "the README no longer shows the example command"
    return m.group(1).split()


@pytest.fixture(scope="module")
def plans(tmp_path_factory, request):
    out = {}
    args = readme_command()
    for zone in ("FR", "DE"):
        d = tmp_path_factory.mktemp(zone)
        argv = ["plan", *[zone if a == "FR" else a for a in args], "--out", str(d)]
        r = CliRunner().invoke(app, argv)
        assert r.exit_code == 0, r.output
        out[zone] = (d, r.output)
    return out


def test_readme_example_writes_the_plan(plans):
    d, output = plans["FR"]
    sched = pd.read_csv(d / "schedule.csv")
    summary = json.loads((d / "summary.json").read_text())
    assert len(sched) == 2 and sched["slo_met"].all()
    assert summary["inputs"]["trace"]["prefix_source"] == "modelled"
    assert set(sched.loc[sched.cache_gb > 0, "hit_rate_source"]) <= {"modelled-sessions"}
    assert "modelled" in output and "total" in output
    # each total is rounded to 6 decimals on its own
    assert summary["totals"]["total_kgco2e"] == pytest.approx(
        summary["totals"]["operational_kgco2e"] + summary["totals"]["embodied_kgco2e"], abs=2e-6)


def test_dirtier_grid_buys_no_more_energy_per_window(plans):
    fr = pd.read_csv(plans["FR"][0] / "schedule.csv")
    de = pd.read_csv(plans["DE"][0] / "schedule.csv")
    assert (de.ci_gco2_per_kwh > fr.ci_gco2_per_kwh).all()
    assert (de.energy_kwh <= fr.energy_kwh + 1e-9).all()
