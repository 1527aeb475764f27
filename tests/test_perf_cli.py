import json

import pandas as pd
from typer.testing import CliRunner

from planner.cli import app

runner = CliRunner()


def test_synth_cli_small_grid(tmp_path):
    args = ["profile", "synth", "--model", "llama-3-8b", "--gpu", "h200", "--tp", "1",
            "--ssd", "nvme-gen5", "--date", "2026-01-01", "--out", str(tmp_path),
            "--hit-rates", "0,1", "--inputs", "512,4096", "--outputs", "64,256",
            "--loads", "0,0.5,0.9,1", "--requests", "300", "--shape", "mooncake-conv"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    csv = tmp_path / "llama-3-8b__h200-tp1__nvme-gen5__mooncake-conv.csv"
    f = pd.read_csv(csv)
    assert len(f) == 4 * 2 * 2 * 2 and (f.loc[f["load_fraction"] == 1, "rate_rps"] > 0).all()
    meta = json.loads(csv.with_suffix(".meta.json").read_text())
    assert meta["simulation"]["lone_requests"] == 300 and meta["gpu"] == "h200"
    assert meta["simulation"]["requests_per_load_fraction"] == {"0.5": 600, "0.9": 1600,
                                                                  "1": 3000}
    assert meta["workload_shape"]["name"] == "mooncake-conv"
    first = csv.read_bytes()
    assert runner.invoke(app, args).exit_code == 0
    assert csv.read_bytes() == first
    bad = runner.invoke(app, args[:-12] + ["--hit-rates", "0,x"])
    assert bad.exit_code == 2 and "comma-separated" in bad.output


def test_show_prints_and_plots(tmp_path):
    png = tmp_path / "p.png"
    res = runner.invoke(app, ["profile", "show", "--model", "llama-3-70b", "--gpu", "h100-sxm",
                              "--tp", "4", "--ssd", "nvme-gen4", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert "0.75" in res.output and "hit 1.00" in res.output and "unstable" not in res.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    res = runner.invoke(app, ["profile", "show", "--model", "llama-3-70b", "--gpu", "h100-sxm",
                              "--tp", "4", "--ssd", "nvme-gen4", "--mean-input", "99999"])
    assert res.exit_code == 3 and "outside" in res.output
    res = runner.invoke(app, ["profile", "show", "--model", "llama-3-70b", "--gpu", "h100-sxm",
                              "--tp", "2", "--ssd", "nvme-gen4"])
    assert res.exit_code == 3 and "no profile table" in res.output


def test_calibrate_prints_errors_and_plots(tmp_path):
    res = runner.invoke(app, ["profile", "calibrate", "--no-anchors", "--plots", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "held-out" in res.output and "splitwise llama-2-70b h100-sxm" in res.output
    assert "energy per token" in res.output
    assert len(list(tmp_path.glob("*.png"))) >= 8
