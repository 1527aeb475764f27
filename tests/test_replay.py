"""Replay invariants and the simulate / compare commands, on the shipped Azure hour."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.config import PlanOptions
from planner.evaluate import SimulatedReplica, account, serve
from planner.plan import run_plan

EX = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


@pytest.fixture(scope="module")
def planned():
    return run_plan(PlanOptions(trace=str(EX / "AzureLLMInferenceTrace_conv.csv"), grid="FR"))


@pytest.fixture(scope="module")
def sim():
    return SimulatedReplica("llama-3-70b", "h100-sxm", 4, "nvme-gen4")


def replay(planned, sim, replicas, cache_gb):
    sched = planned.schedule.copy()
    sched["replicas"] = replicas
    sched["cache_gb"] = cache_gb
    inp = planned.inputs
    served = serve(inp.trace, sched, inp.hardware, sim, inp.kv_bytes_per_token)
    return account(served, inp.trace, sched, inp.ci, inp.hardware, 2.0, 0.1)


def test_no_cache_schedule_has_zero_hits_and_no_ssd(planned, sim):
    r = replay(planned, sim, [2, 2], [0.0, 0.0])
    assert (r.windows["replayed_hit_rate"] == 0).all()
    assert (r.served.ssd_read_gbps == 0).all()
    assert r.totals["by_component_kgco2e"]["op_ssd"] == 0
    assert r.totals["by_component_kgco2e"]["emb_ssd"] == 0


def test_more_replicas_never_raise_p90_latency(planned, sim):
    prev = None
    for n in (1, 2, 3, 4):
        w = replay(planned, sim, [n, n], [0.0, 0.0]).windows
        cur = w[["replayed_p90_ttft_s", "replayed_p90_tpot_s"]].to_numpy()
        if prev is not None:
            assert np.all(cur <= prev * (1 + 1e-9))
        prev = cur


def test_a_grown_cache_starts_empty(planned, sim):
    warm = replay(planned, sim, [2, 2], [16000.0, 16000.0]).windows
    grown = replay(planned, sim, [2, 2], [0.0, 16000.0]).windows
    assert grown["replayed_hit_rate"][0] == 0
    assert 0 < grown["replayed_hit_rate"][1] < warm["replayed_hit_rate"][1]


def test_carbon_totals_are_the_sum_of_their_parts(planned, sim):
    r = replay(planned, sim, [2, 1], [16000.0, 0.0])
    t, w = r.totals, r.windows
    assert t["total_kgco2e"] == pytest.approx(w["total_kgco2e"].sum())
    assert t["total_kgco2e"] == pytest.approx(t["operational_kgco2e"] + t["embodied_kgco2e"])
    assert t["total_kgco2e"] == pytest.approx(sum(t["by_component_kgco2e"].values()))
    assert (w["total_kgco2e"] == w["operational_kgco2e"] + w["embodied_kgco2e"]).all()
    assert t["requests"] == w["requests"].sum() == len(planned.inputs.trace)


def test_replaying_the_plan_tracks_its_prediction(planned, sim):
    s = planned.schedule
    r = replay(planned, sim, s["replicas"].to_numpy(), s["cache_gb"].to_numpy())
    # Same accounting on both sides: carbon agrees closely; latency within the documented
    # tolerance of the planner's model on this trace.
    assert r.totals["total_kgco2e"] == pytest.approx(s["total_kgco2e"].sum(), rel=0.05)
    rel = (r.windows["predicted_p90_ttft_s"] / r.windows["replayed_p90_ttft_s"] - 1).abs()
    assert (rel < 0.25).all()


def test_simulate_and_compare_commands(tmp_path):
    plan_dir = tmp_path / "plan"
    r = runner.invoke(app, ["plan", "--trace", str(EX / "AzureLLMInferenceTrace_conv.csv"),
                            "--grid", "DE", "--out", str(plan_dir), "--no-timing"])
    assert r.exit_code == 0, r.output
    for attempt in ("a", "b"):
        r = runner.invoke(app, ["simulate", "--schedule", str(plan_dir / "schedule.csv"),
                                "--out", str(tmp_path / attempt)])
        assert r.exit_code == 0, r.output
    assert (tmp_path / "a" / "replay.csv").read_bytes() == (tmp_path / "b" / "replay.csv").read_bytes()
    data = json.loads((tmp_path / "a" / "replay.json").read_text())
    assert data["totals"]["requests"] == 19366
    r = runner.invoke(app, ["compare", "--plan", str(plan_dir)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(plan_dir / "compare" / "compare.csv")
    totals = table[table.day == "total"].set_index("strategy")
    assert set(totals.index) == {"no_cache", "max_cache", "static_cache", "plan"}
    assert totals.loc["max_cache", "reduction_vs_max_cache_pct"] == pytest.approx(0.0)
    assert (plan_dir / "compare" / "compare.png").stat().st_size > 1000
    r = runner.invoke(app, ["report", "--plan", str(plan_dir), "--replay", str(tmp_path / "a"),
                            "--compare", str(plan_dir / "compare"),
                            "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "r.html").read_text()
    assert "Predicted against replayed latency" in html and "judged by replay" in html


def test_simulate_errors(tmp_path):
    r = runner.invoke(app, ["simulate", "--schedule", str(tmp_path / "none.csv")])
    assert r.exit_code == 3 and "does not exist" in r.output
    bad = tmp_path / "schedule.csv"
    bad.write_text("window_start,replicas\n2023-01-01T00:00:00Z,1\n")
    r = runner.invoke(app, ["simulate", "--schedule", str(bad)])
    assert r.exit_code == 3 and "not a greencache schedule" in r.output


def test_a_replay_charges_starts_and_the_owned_fleet_as_the_plan_does(planned, sim):
    """Replayed under the plan's coupling: each replica started costs its weight load at
    loaded-idle GPU and host power, and with owned capacity (pool return 0) the schedule's peak
    replicas are charged GPU and host embodied carbon in every window, by hand from the
    catalog's numbers."""
    from dataclasses import replace

    from planner.plan_solve import schedule_coupling

    inp = planned.inputs
    hw = inp.hardware
    sched = planned.schedule.copy()
    sched["replicas"] = [1, 3]
    sched["cache_gb"] = [0.0, 0.0]
    served = serve(inp.trace, sched, hw, sim, inp.kv_bytes_per_token)
    plain = account(served, inp.trace, sched, inp.ci, hw, 2.0, 0.1)
    opt = replace(planned.inputs.options, capacity="owned", pool_return=0.0, weight_load_s=60.0)
    owned = account(served, inp.trace, sched, inp.ci, hw, 2.0, 0.1,
                    coupling=schedule_coupling(opt, sched, inp.ci, hw))
    g = hw.gpus_per_replica
    start_kwh = 2 * hw.pue * 60.0 / 3600.0 * g * (hw.gpu_loaded_idle_w + hw.host_power_w_per_gpu) / 1e3
    assert owned.windows["energy_kwh"][0] == pytest.approx(plain.windows["energy_kwh"][0])
    assert owned.windows["energy_kwh"][1] - plain.windows["energy_kwh"][1] == pytest.approx(
        start_kwh, rel=1e-9)
    hours = served.hours
    emb = plain.totals["by_component_kgco2e"]
    want_gpu = 3 * g * hw.gpu_embodied_kg / hw.gpu_lifetime_h * hours.sum()
    got = owned.totals["by_component_kgco2e"]
    assert got["emb_gpu"] == pytest.approx(want_gpu, rel=1e-9)
    # pooled: the first window's one replica only, so owning the peak costs more
    assert emb["emb_gpu"] == pytest.approx(
        g * hw.gpu_embodied_kg / hw.gpu_lifetime_h * (hours[0] + 3 * hours[1]), rel=1e-9)
    assert owned.totals["total_kgco2e"] > plain.totals["total_kgco2e"]
