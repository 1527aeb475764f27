"""`greencache profile ...` commands (synth, show, calibrate): owned by the latency-model work."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.cli.common import app, console, handle_errors

profile_app = typer.Typer(help="Generate, show and calibrate latency and power profiles.",
                          no_args_is_help=True)
app.add_typer(profile_app, name="profile")


@profile_app.command("synth")
@handle_errors
def synth(
    model: Annotated[str, typer.Option(help="Model key from profiles/models.toml.")],
    gpu: Annotated[str, typer.Option(help="GPU key from profiles/catalog.toml.")],
    tp: Annotated[int, typer.Option(help="Tensor-parallel GPUs per replica (1, 2, 4, 8).")],
    ssd: Annotated[str, typer.Option(help="SSD type key from profiles/catalog.toml.")],
    drives: Annotated[Optional[int], typer.Option(
        help="Drives per replica striping the KV tier (default: tp × host.drives_per_gpu).")] = None,
    precision: Annotated[str, typer.Option(help="Weights and KV precision: bf16 or fp8.")] = "bf16",
    token_budget: Annotated[int, typer.Option(help="Tokens per engine iteration.")] = 8192,
    max_seqs: Annotated[int, typer.Option(help="Running requests per replica at most.")] = 256,
    method: Annotated[str, typer.Option(help="analytic (closed form).")] = "analytic",
    date: Annotated[Optional[str], typer.Option(
        help="Generation date written into the metadata (ISO, default today); fix it to "
             "regenerate byte-identical tables.")] = None,
    params: Annotated[Optional[Path], typer.Option(
        help="Performance model parameter file (default profiles/calibration/perf_model.json).")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Folder for the table (default profiles/tables).")] = None,
):
    """Write the profile table of one replica configuration (CSV + .meta.json)."""
    from planner.perf.synth import SynthOptions, synthesize, write_table

    opts = SynthOptions(model=model, gpu=gpu, tp=tp, ssd=ssd, drives=drives,
                        precision=precision, token_budget=token_budget, max_seqs=max_seqs,
                        method=method, date=date,
                        params_path=str(params) if params else None)
    frame, meta = synthesize(opts)
    path = write_table(frame, meta, out)
    stable = int(frame["stable"].sum())
    console.print(f"wrote {path} ({len(frame):,} rows, {stable:,} stable)")


@profile_app.command("calibrate")
@handle_errors
def calibrate(
    params: Annotated[Optional[Path], typer.Option(
        help="Performance model parameter file (default profiles/calibration/perf_model.json).")] = None,
):
    """Print the model's median and p90 absolute percentage error per measured data set."""
    from rich.table import Table

    from planner.perf.calibrate import ape_summary, predict_splitwise
    from planner.perf.params import load_params

    p = load_params(params)
    f = predict_splitwise(p)
    f = f[f["possible"]].copy()
    f["dataset"] = "splitwise " + f["model"] + " " + f["gpu"]
    f["split"] = "all"
    summary = ape_summary(f)
    table = Table(title=f"model error ({p.method})")
    for c in ("data set", "split", "metric", "rows", "median APE %", "p90 APE %"):
        table.add_column(c)
    for r in summary.itertuples():
        table.add_row(r.dataset, r.split, r.metric, str(r.rows), f"{r.median_ape_pct:.1f}",
                      f"{r.p90_ape_pct:.1f}")
    console.print(table)
