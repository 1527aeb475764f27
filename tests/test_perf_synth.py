import json

from typer.testing import CliRunner

from planner.cli import app
from planner.perf.synth import SynthOptions, synthesize, write_table

SMALL = dict(hit_axis=(0.0, 1.0), input_axis=(512, 4096), output_axis=(64, 256),
             load_axis=(0.0, 0.5, 1.0))


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
    assert meta["workload_shape"]["name"] == "azure-conv" and a.stem.endswith("__azure-conv")


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
    res = r.invoke(app, base + ["--model", "llama-3-8b", "--shape", "weibull"])
    assert res.exit_code == 2 and "unknown workload shape" in res.output
    res = r.invoke(app, base + ["--model", "llama-3-8b", "--method", "analytic"])
    assert res.exit_code == 2 and "log-normal lengths only" in res.output
    res = r.invoke(app, base + ["--model", "llama-3-8b", "--loads", "0,0.5"])
    assert res.exit_code == 2 and "from 0 to 1" in res.output
    assert not list(tmp_path.iterdir())


def test_simulated_and_closed_form_agree_at_light_load():
    """The closed form and the simulator share the iteration model: at a light load the
    median TTFT and TPOT of the two agree within 30 %."""
    import numpy as np

    from planner.perf.analytic import operating_point
    from planner.perf.iteration import IterationModel
    from planner.perf.params import load_params
    from planner.perf.shapes import load_shape
    from planner.perf.simulator import replica_costs, shape_draws, simulate_points
    from planner.perf.spec import build_spec

    p = load_params()
    spec = build_spec("llama-3-70b", "h100-sxm", 4, "nvme-gen4")
    m = IterationModel(spec, p.device("h100-sxm"))
    c = replica_costs(m, p.power)
    draws = shape_draws(load_shape("lognormal", p), [(2048, 256)], 600, 1)
    r = simulate_points(c, np.array([0.5]), np.array([0.0]), np.array([2048.0]),
                        np.array([256.0]), [600], [0], draws, spec.max_context)
    a = operating_point(m, p.power, p.lengths, 0.5, 0.0, 2048, 256, 8192, 256)
    assert a.stable
    assert abs(r[0, 0] / a.ttft_s[0] - 1) < 0.3
    assert abs(r[0, 3] / a.tpot_s[0] - 1) < 0.3


def test_analytic_method_still_available(tmp_path):
    opts = SynthOptions("llama-3-8b", "a100-80gb", 1, "nvme-gen4", date="2026-01-02",
                        method="analytic", shape="lognormal", **SMALL)
    frame, meta = synthesize(opts)
    assert meta["method"].startswith("analytic") and meta["simulation"] is None
    assert (frame.loc[frame["load_fraction"] == 1, "rate_rps"] > 0).all()
    assert frame["p90_ttft_s"].notna().all()


def test_seed_changes_the_draws_not_the_grid():
    a, _ = synthesize(SynthOptions("llama-3-8b", "h100-sxm", 1, "nvme-gen4", date="2026-01-02",
                                   requests=300, seed=1, **SMALL))
    b, _ = synthesize(SynthOptions("llama-3-8b", "h100-sxm", 1, "nvme-gen4", date="2026-01-02",
                                   requests=300, seed=2, **SMALL))
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    assert not a["p90_ttft_s"].equals(b["p90_ttft_s"])
