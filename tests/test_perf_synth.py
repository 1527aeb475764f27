import json

from typer.testing import CliRunner

from planner.cli import app
from planner.perf.synth import SynthOptions, synthesize, write_table

SMALL = dict(hit_axis=(0.0, 1.0), input_axis=(512, 4096), output_axis=(64, 256), rate_points=4)


def test_synth_is_deterministic(tmp_path):
    opts = SynthOptions("llama-3-8b", "h100-sxm", 1, "nvme-gen5", date="2026-01-02", **SMALL)
    a = write_table(*synthesize(opts), tmp_path / "a")
    b = write_table(*synthesize(opts), tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    ma, mb = a.with_suffix(".meta.json"), b.with_suffix(".meta.json")
    assert ma.read_bytes() == mb.read_bytes()
    meta = json.loads(ma.read_text())
    assert meta["generated"] == "2026-01-02" and meta["modelled"] is True
    assert all(len(v["sha256"]) == 64 for v in meta["inputs"].values())


def test_cli_errors_exit_codes(tmp_path):
    r = CliRunner()
    base = ["profile", "synth", "--gpu", "h100-sxm", "--tp", "1", "--ssd", "nvme-gen4",
            "--out", str(tmp_path)]
    res = r.invoke(app, base + ["--model", "gpt-9"])
    assert res.exit_code == 2 and "unknown model" in res.output
    res = r.invoke(app, base + ["--model", "llama-3-8b", "--date", "yesterday"])
    assert res.exit_code == 2 and "ISO date" in res.output
    res = r.invoke(app, base + ["--model", "llama-3-8b", "--params", str(tmp_path / "x.json")])
    assert res.exit_code == 3 and "do not exist" in res.output
    res = r.invoke(app, ["profile", "synth", "--model", "llama-3-70b", "--gpu", "h100-sxm",
                         "--tp", "1", "--ssd", "nvme-gen4", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "does not fit" in res.output
    assert not list(tmp_path.iterdir())
