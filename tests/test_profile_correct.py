"""`greencache profile correct` and `plan --correction`.

Observations are synthesised from the shipped Llama-3-70B / 4 × H100 table (tests/
observations.py): a window's requests all take the table's p90 × a chosen factor, so the true
factor of a bin is known. The fitted factor is that factor shrunk by the documented rule,
exp(n / (n + 5) · log f); "≈ f" below allows for that and for the last window, whose length is
clipped to the observed span.
"""

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from observations import synthesise
from planner.cli import app
from planner.evaluate import REPLAY_COLUMNS
from planner.perf.profile import load_profile

runner = CliRunner()
TABLE = load_profile("llama-3-70b", "h100-sxm", 4, "nvme-gen4")
TRACE = str(Path(__file__).resolve().parent.parent / "examples" /
            "AzureLLMInferenceTrace_conv.csv")


def _text(res) -> str:
    return " ".join(res.output.split())


def _logs(tmp_path, windows):
    req, power, _ = synthesise(TABLE, windows)
    obs, pw = tmp_path / "requests.csv", tmp_path / "power.csv"
    req.to_csv(obs, index=False)
    power.to_csv(pw, index=False)
    return obs, pw


def _correct(tmp_path, obs, *extra, out="corr.json"):
    res = runner.invoke(app, ["profile", "correct", "--observed", str(obs), "--profile",
                              TABLE.source, "--out", str(tmp_path / out), *extra])
    return res, tmp_path / out


def _bin(doc, load, hit):
    for e in doc["factors"]:
        if e["load_fraction"][0] <= load < e["load_fraction"][1] and \
                e["hit_rate"][0] <= hit < e["hit_rate"][1]:
            return e
    raise AssertionError((load, hit))


def test_recovers_a_known_factor_in_its_bin_and_one_elsewhere(tmp_path):
    # 100 windows at load 0.6, hit 0.1 with TTFT × 1.3; 20 at load 0.35, hit 0.6 with power
    # × 0.9; every other bin unobserved
    obs, pw = _logs(tmp_path, [(0.6, 0.1, 1.3, 1.0, 1.0)] * 100
                    + [(0.35, 0.6, 1.0, 1.0, 0.9)] * 20)
    res, path = _correct(tmp_path, obs, "--power", str(pw))
    assert res.exit_code == 0, res.output
    doc = json.loads(path.read_text())
    a, b = _bin(doc, 0.6, 0.1), _bin(doc, 0.35, 0.6)
    assert a["ttft"]["windows"] == 100 and b["power"]["windows"] == 20
    # shrinkage rule exactly, within 0.2 % (the last window's clipped length)
    assert a["ttft"]["factor"] == pytest.approx(math.exp(100 / 105 * math.log(1.3)), rel=2e-3)
    assert a["ttft"]["factor"] == pytest.approx(1.3, rel=0.02)
    assert b["power"]["factor"] == pytest.approx(math.exp(20 / 25 * math.log(0.9)), rel=2e-3)
    for m in ("tpot", "power"):
        assert a[m]["factor"] == pytest.approx(1.0, abs=2e-3)
    assert b["ttft"]["factor"] == pytest.approx(1.0, abs=2e-3)
    others = [e for e in doc["factors"] if e not in (a, b)]
    assert len(others) == 14
    assert all(e[m]["factor"] == 1.0 and e[m]["windows"] == 0 for e in others
               for m in ("ttft", "tpot", "power"))
    assert doc["table"]["sha256"] and doc["observed"]["kind"] == "logs"
    assert doc["rule"]["prior_windows"] == 5


def test_replay_observations_use_the_plans_prediction(tmp_path):
    # a plan folder's replay: 30 hour-long windows at load ≈ 0.6, replayed 1.2 × predicted
    cap = float(TABLE.capacity(0.3, 1024, 128)[0])
    n = int(0.6 * cap * 3600)
    starts = pd.date_range("2024-01-01", periods=30, freq="1h", tz="UTC")
    iso = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in starts]
    end = [(t + pd.Timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ") for t in starts]
    rep = pd.DataFrame({c: 0.0 for c in REPLAY_COLUMNS}, index=range(30))
    rep["window_start"], rep["window_end"] = iso, end
    rep["requests"], rep["replicas"], rep["cache_gb"] = n, 1, 8000
    rep["replayed_hit_rate"] = 0.3
    rep["predicted_p90_ttft_s"], rep["replayed_p90_ttft_s"] = 0.5, 0.6
    rep["predicted_p90_tpot_s"], rep["replayed_p90_tpot_s"] = 0.04, 0.04
    (tmp_path / "replay").mkdir()
    rep.to_csv(tmp_path / "replay" / "replay.csv", index=False)
    pd.DataFrame({"window_start": iso, "mean_input_tokens": 1024.0,
                  "mean_output_tokens": 128.0}).to_csv(tmp_path / "schedule.csv", index=False)
    res, path = _correct(tmp_path, tmp_path / "replay" / "replay.csv")
    assert res.exit_code == 0, res.output
    doc = json.loads(path.read_text())
    e = _bin(doc, 0.6, 0.3)
    assert e["ttft"]["factor"] == pytest.approx(1.2 ** (30 / 35), rel=1e-6)
    assert e["tpot"]["factor"] == pytest.approx(1.0, abs=1e-9)
    assert e["power"]["windows"] == 0 and "no power factor" in _text(res)


def test_corrected_plan_is_slower_hungrier_and_checks(tmp_path):
    # one bin over everything: TTFT × 2, TPOT × 1.5, power × 1.2 (40 windows)
    obs, pw = _logs(tmp_path, [(0.5, 0.3, 2.0, 1.5, 1.2)] * 40)
    res, corr = _correct(tmp_path, obs, "--power", str(pw), "--load-bins", "0,1",
                         "--hit-bins", "0,1")
    assert res.exit_code == 0, res.output
    plain = runner.invoke(app, ["plan", "--trace", TRACE, "--out", str(tmp_path / "a"),
                                "--no-timing", "-q"])
    fixed = runner.invoke(app, ["plan", "--trace", TRACE, "--correction", str(corr),
                                "--out", str(tmp_path / "b"), "--no-timing"])
    assert plain.exit_code == 0 and fixed.exit_code == 0, fixed.output
    assert "profile table corrected by" in _text(fixed)
    a = pd.read_csv(tmp_path / "a" / "schedule.csv")
    b = pd.read_csv(tmp_path / "b" / "schedule.csv")
    # slower per replica: each window needs at least the replicas, and predicts a higher p90
    # TTFT at the same configuration or more replicas
    assert (b["replicas"] >= a["replicas"]).all()
    same = b["replicas"] == a["replicas"]
    assert (b.loc[same, "p90_ttft_s"] > a.loc[same, "p90_ttft_s"]).all()
    assert b["energy_kwh"].sum() > a["energy_kwh"].sum()
    s = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert s["inputs"]["correction"]["path"] == str(corr)
    assert "correction" in s["scenario"] and "profile correct" in \
        s["modelled"]["latency_and_power"]
    chk = runner.invoke(app, ["check", "--plan", str(tmp_path / "b")])
    assert chk.exit_code == 0, chk.output
    doc = json.loads(corr.read_text())
    doc["factors"][0]["ttft"]["factor"] = 3.0           # edited after the plan
    corr.write_text(json.dumps(doc))
    chk = runner.invoke(app, ["check", "--plan", str(tmp_path / "b")])
    assert chk.exit_code == 6 and "correction" in _text(chk)


@pytest.mark.parametrize("edit, where", [
    (lambda d: "not json", "not JSON"),
    (lambda d: {**d, "greencache_correction": 2}, "greencache_correction must be 1"),
    (lambda d: {**d, "factors": d["factors"][:-1]}, "factors must list 16 bins"),
    (lambda d: {**d, "bins": {**d["bins"], "hit_rate": [0, 0.7, 0.5, 1]}},
     "bins.hit_rate must rise from 0 to 1"),
    (lambda d: {**d, "factors": [{**d["factors"][0], "ttft": {"factor": -1, "windows": 3}}]
                + d["factors"][1:]}, "factors[0].ttft.factor must be a number within"),
    (lambda d: {**d, "factors": [d["factors"][1], d["factors"][0]] + d["factors"][2:]},
     "factors[0].hit_rate must be"),
    (lambda d: {**d, "table": {**d["table"], "sha256": "0" * 64}},
     "fitted against another version"),
    (lambda d: {**d, "table": {**d["table"], "tp": 8}}, "was fitted against llama-3-70b on 8"),
])
def test_bad_correction_files_exit_3(tmp_path, edit, where):
    obs, _ = _logs(tmp_path, [(0.5, 0.3, 1.1, 1.0, 1.0)] * 3)
    res, corr = _correct(tmp_path, obs)
    assert res.exit_code == 0, res.output
    doc = edit(json.loads(corr.read_text()))
    corr.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    res = runner.invoke(app, ["plan", "--trace", TRACE, "--correction", str(corr),
                              "--out", str(tmp_path / "p")])
    assert res.exit_code == 3, res.output
    assert where in _text(res)
    assert not (tmp_path / "p").exists()


def test_bad_observations_exit_with_the_line_or_option(tmp_path):
    bad = tmp_path / "o.csv"
    bad.write_text("time,ttft_s\n1,0.2\n")
    res, _ = _correct(tmp_path, bad)
    assert res.exit_code == 3 and "lacks column(s) tpot_s" in _text(res)
    bad.write_text("time,ttft_s,tpot_s,input_tokens,output_tokens\n1,0.2,0.01,100,10\n"
                   "2,fast,0.01,100,10\n")
    res, _ = _correct(tmp_path, bad)
    assert res.exit_code == 3 and "line 3: ttft_s must be a number" in _text(res)
    bad.write_text("time,ttft_s,tpot_s\n1,0.2,0.01\n")
    res, _ = _correct(tmp_path, bad)
    assert res.exit_code == 2 and "--mean-input" in _text(res)
    rows = "".join(f"{i},0.2,0.01,100,10\n" for i in range(5))
    bad.write_text("time,ttft_s,tpot_s,input_tokens,output_tokens\n" + rows)
    res, _ = _correct(tmp_path, bad)
    assert res.exit_code == 3 and "no observation window holds 20 requests" in _text(res)
    assert not (tmp_path / "corr.json").exists()


def test_measured_sweep_record(tmp_path):
    # the record `profile measure` writes beside its table (planner/measure/record.py:
    # "points" are the sweep's point summaries); 10 measured points at load 0.6 with the
    # engine's own hit count, p90 TTFT × 1.5 and power × 1.1, and one point not measured
    cap = float(TABLE.capacity(0.1, 1024, 128)[0])
    rate = 0.6 * cap
    look = TABLE.lookup([rate], 0.1, 1024, 128)
    point = {"rate_rps": rate, "reuse": 0.1, "input_tokens": 1024, "output_tokens": 128,
             "intended_hit_rate": 0.1, "engine_hit_rate": 0.1, "requests_timed": 200,
             "gpu_power_w": float(look.gpu_power_w[0]) * 1.1, "stable": True,
             "p50_ttft_s": float(look.p50_ttft_s[0]), "p90_ttft_s": float(look.p90_ttft_s[0]) * 1.5,
             "p99_ttft_s": 9.0, "p50_tpot_s": float(look.p50_tpot_s[0]),
             "p90_tpot_s": float(look.p90_tpot_s[0]), "p99_tpot_s": 1.0, "status": "measured"}
    points = [{**point, "point": f"r0.1λ{k}"} for k in range(10)]
    points.append({**point, "point": "late", "status": "no power reading"})
    record = tmp_path / "x.sweep.json"
    record.write_text(json.dumps({"provenance": {}, "points": points,
                                  "requests_columns": [], "requests": []}))
    res, path = _correct(tmp_path, record)
    assert res.exit_code == 0, res.output
    doc = json.loads(path.read_text())
    e = _bin(doc, 0.6, 0.1)
    assert doc["observed"]["kind"] == "measured" and e["ttft"]["windows"] == 10
    assert e["ttft"]["factor"] == pytest.approx(1.5 ** (10 / 15), rel=1e-6)
    assert e["power"]["factor"] == pytest.approx(1.1 ** (10 / 15), rel=1e-6)
    assert e["tpot"]["factor"] == pytest.approx(1.0, abs=1e-9)
    points[0]["p90_ttft_s"] = "slow"
    record.write_text(json.dumps({"points": points}))
    res, _ = _correct(tmp_path, record, out="bad.json")
    assert res.exit_code == 3 and "points[0].p90_ttft_s must be a positive number" in _text(res)
