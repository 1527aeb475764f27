"""`greencache profile ...` commands (synth, show, calibrate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.choices import Engine, Precision, ProfileMethod, TimestampUnit, TraceFormat, value
from planner.cli.common import app, console, handle_errors

profile_app = typer.Typer(help="Generate, show and calibrate latency and power profiles.",
                          no_args_is_help=True)
app.add_typer(profile_app, name="profile")

REPLICA, WORKLOAD, AXES, OUTPUT = "Replica", "Workload", "Table axes", "Output"
ParamsOpt = Annotated[Optional[Path], typer.Option(
    help="Performance model parameter file.",
    show_default="profiles/calibration/perf_model.json")]
# The replica a table describes, the same for every command that names one.
ModelOpt = Annotated[str, typer.Option(help="Model key from profiles/models.toml.",
                                       show_default=False, rich_help_panel=REPLICA)]
GpuOpt = Annotated[str, typer.Option(help="GPU key from profiles/catalog.toml.",
                                     show_default=False, rich_help_panel=REPLICA)]
TpOpt = Annotated[int, typer.Option(help="Tensor-parallel GPUs per replica (1, 2, 4, 8).",
                                    show_default=False, rich_help_panel=REPLICA)]
SsdOpt = Annotated[str, typer.Option(help="SSD type key from profiles/catalog.toml.",
                                     show_default=False, rich_help_panel=REPLICA)]


@profile_app.command("synth")
@handle_errors
def synth(
    model: ModelOpt,
    gpu: GpuOpt,
    tp: TpOpt,
    ssd: SsdOpt,
    drives: Annotated[Optional[int], typer.Option(
        help="Drives per replica striping the KV tier.", show_default="tp × host.drives_per_gpu",
        rich_help_panel=REPLICA)] = None,
    precision: Annotated[Precision, typer.Option(
        help="Weights and KV precision.", show_default=True,
        rich_help_panel=REPLICA)] = Precision.bf16,
    engine: Annotated[Engine, typer.Option(
        help="Engine calibration: graph (CUDA-graph engine, own H100 runs) or splitwise "
             "(splitwise-sim's engine).", show_default=True,
        rich_help_panel=REPLICA)] = Engine.graph,
    token_budget: Annotated[int, typer.Option(
        help="Tokens per engine iteration.", show_default=True,
        rich_help_panel=REPLICA)] = 8192,
    max_seqs: Annotated[int, typer.Option(
        help="Running requests per replica at most.", show_default=True,
        rich_help_panel=REPLICA)] = 256,
    method: Annotated[ProfileMethod, typer.Option(
        help="simulated (replica simulator) or analytic (closed form, log-normal lengths).",
        show_default=True, rich_help_panel=WORKLOAD)] = ProfileMethod.simulated,
    shape: Annotated[str, typer.Option(
        help="Workload shape of the simulated requests: a shipped one (azure-conv, azure-code, "
             "mooncake-conv), lognormal, or a shape file written by `profile fit-shape` "
             "(SHAPE.json).", show_default=True, rich_help_panel=WORKLOAD)] = "azure-conv",
    requests: Annotated[int, typer.Option(
        help="Simulated requests per point at a vanishing load; a point at load fraction u "
             "simulates requests / (1 − 0.9 u), at most 12,000.", show_default=True,
        rich_help_panel=WORKLOAD)] = 1600,
    seed: Annotated[int, typer.Option(
        help="Seed of the simulated arrivals and lengths.", show_default=True,
        rich_help_panel=WORKLOAD)] = 20261124,
    date: Annotated[Optional[str], typer.Option(
        help="Generation date written into the metadata (ISO); fix it to regenerate "
             "byte-identical tables.", show_default="today", rich_help_panel=OUTPUT)] = None,
    params: ParamsOpt = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Folder for the table.", show_default="profiles/tables",
        rich_help_panel=OUTPUT)] = None,
    loads: Annotated[Optional[str], typer.Option(
        help="Load-fraction axis (of each mix's capacity), comma-separated, 0 first and 1 "
             "last.", show_default="0,0.01,0.02,0.035,0.05,0.1,…,0.7,0.75,…,1",
        rich_help_panel=AXES)] = None,
    hit_rates: Annotated[Optional[str], typer.Option(
        help="Hit-rate axis, comma-separated.", show_default="0,0.25,0.5,0.75,1",
        rich_help_panel=AXES)] = None,
    inputs: Annotated[Optional[str], typer.Option(
        help="Mean prompt axis, comma-separated.", show_default="128,256,…,16384",
        rich_help_panel=AXES)] = None,
    outputs: Annotated[Optional[str], typer.Option(
        help="Mean output axis, comma-separated.", show_default="16,32,…,1024",
        rich_help_panel=AXES)] = None,
):
    """Write the profile table of one replica configuration (CSV + .meta.json)."""
    from planner.perf import synth as sy

    axes = {}
    for key, text, kind in (("load_axis", loads, float), ("hit_axis", hit_rates, float),
                            ("input_axis", inputs, int), ("output_axis", outputs, int)):
        if text is not None:
            axes[key] = _parse_list(text, kind, key.split("_")[0])
    opts = sy.SynthOptions(model=model, gpu=gpu, tp=tp, ssd=ssd, drives=drives,
                           precision=precision.value, engine=engine.value,
                           token_budget=token_budget, max_seqs=max_seqs, method=method.value,
                           shape=shape, requests=requests,
                           seed=seed, date=date, params_path=str(params) if params else None,
                           **axes)
    frame, meta = sy.synthesize(opts)
    path = sy.write_table(frame, meta, out)
    console.print(f"wrote {path} ({len(frame):,} rows)")


def _parse_list(text: str, kind, what: str):
    from planner.errors import UsageError

    try:
        return tuple(kind(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"the {what} axis must be comma-separated numbers (got {text!r})") \
            from None


@profile_app.command("show")
@handle_errors
def show(
    model: ModelOpt,
    gpu: GpuOpt,
    tp: TpOpt,
    ssd: SsdOpt,
    mean_input: Annotated[float, typer.Option(
        help="Mean prompt tokens of the workload.", show_default=True,
        rich_help_panel=WORKLOAD)] = 1155,
    mean_output: Annotated[float, typer.Option(
        help="Mean output tokens.", show_default=True, rich_help_panel=WORKLOAD)] = 211,
    shape: Annotated[str, typer.Option(
        help="Workload shape of the table (azure-conv, mooncake-conv, …).", show_default=True,
        rich_help_panel=WORKLOAD)] = "azure-conv",
    tables: Annotated[Optional[Path], typer.Option(
        help="Folder of profile tables.", show_default="profiles/tables")] = None,
    plot: Annotated[Optional[Path], typer.Option(
        help="Write a PNG of p90 TTFT, p90 TPOT and GPU power against load per hit rate.",
        show_default=False)] = None,
):
    """Print p90 TTFT, p90 TPOT and GPU power against load and hit rate (interpolated)."""
    import numpy as np
    from rich.table import Table

    from planner.perf.profile import load_profile

    t = load_profile(model, gpu, tp, ssd, tables, shape=shape)
    t.check_mix(np.array([mean_input]), np.array([mean_output]), ["(show)"])
    hits = t.axes[1]
    loads = t.axes[0]
    table = Table(title=f"{t.source}: mean prompt {mean_input:,.0f}, output {mean_output:,.0f} "
                        f"({'modelled' if t.modelled else 'measured'})")
    table.add_column("load / capacity", justify="right")
    for h in hits:
        table.add_column(f"hit {h:.2f}\nreq/s: p90 TTFT / TPOT ms, W", justify="right")
    curves = {}
    for h in hits:
        rates = loads * t.capacity(h, mean_input, mean_output)[0]
        curves[h] = (rates, t.lookup(rates, h, mean_input, mean_output))
    for k, u in enumerate(loads):
        cells = []
        for h in hits:
            rates, r = curves[h]
            cells.append(f"{rates[k]:,.3g}: {r.p90_ttft_s[k] * 1e3:,.0f} / "
                         f"{r.p90_tpot_s[k] * 1e3:,.1f}, {r.gpu_power_w[k]:,.0f}")
        table.add_row(f"{u:.2f}", *cells)
    console.print(table)
    if plot:
        _plot_show(plot, curves, t.source)
        console.print(f"wrote {plot}")


def _plot_show(path: Path, curves, title):
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from planner.outputs import atomic_write_bytes

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for h, (rates, r) in curves.items():
        s = r.stable & (rates > 0)
        axes[0].plot(rates[s], r.p90_ttft_s[s], marker=".", label=f"hit {h:.2f}")
        axes[1].plot(rates[s], r.p90_tpot_s[s] * 1e3, marker=".", label=f"hit {h:.2f}")
        axes[2].plot(rates[s], r.gpu_power_w[s], marker=".", label=f"hit {h:.2f}")
    for ax, lab in zip(axes, ("p90 TTFT (s)", "p90 TPOT (ms)", "GPU power (W per GPU)")):
        ax.set_xscale("log")
        ax.set_xlabel("offered load per replica (requests/s)")
        ax.set_ylabel(lab)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].legend()
    fig.suptitle(f"{title} (modelled)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


@profile_app.command("fit-shape")
@handle_errors
def fit_shape(
    trace: Annotated[Path, typer.Argument(help="Request trace (any format the readers accept).",
                                          show_default=False)],
    out: Annotated[Path, typer.Option(help="Shape file to write (SHAPE.json).",
                                      show_default=False)],
    name: Annotated[Optional[str], typer.Option(
        help="Shape name (letters, digits, dashes); profile tables are named after it.",
        show_default="the trace file's name")] = None,
    trace_format: Annotated[Optional[TraceFormat], typer.Option(
        help="Override format detection.", show_default="detected")] = None,
    block_size: Annotated[Optional[int], typer.Option(
        help="Tokens per hash id, for traces that record hash ids.",
        show_default="the format's")] = None,
    timestamp_unit: Annotated[Optional[TimestampUnit], typer.Option(
        help="Unit of the numeric timestamps of JSONL traces.",
        show_default="the format's")] = None,
    seed: Annotated[int, typer.Option(
        help="Seed of the reuse model for traces that record no prefixes.",
        show_default=True)] = 0,
):
    """Fit a workload shape from a trace: how its prompt and output lengths spread around
    their means and how its cache hits spread over its requests; `profile synth --shape
    SHAPE.json` builds its profile table."""
    from planner.outputs import atomic_write_text
    from planner.paths import sha256_file
    from planner.perf.shape_fit import fit_trace_shape, shape_name
    from planner.workload.readers import read_trace

    if out.suffix != ".json":
        from planner.errors import UsageError

        raise UsageError(f"--out must name a .json file, got {out}")
    t = read_trace(trace, value(trace_format), block_size=block_size,
                   timestamp_unit=value(timestamp_unit))
    shape = fit_trace_shape(t, shape_name(name or trace.stem), trace.name, sha256_file(trace),
                            seed=seed)
    atomic_write_text(out, shape.to_json())
    s = shape.summary()
    console.print(f"wrote {out}: shape {shape.name!r} from {len(t):,} requests; prompts p50/p90/"
                  f"p99 at {'/'.join(f'{v:.2f}' for v in s['input_quantiles_over_mean'].values())}"
                  f" × their mean, outputs at "
                  f"{'/'.join(f'{v:.2f}' for v in s['output_quantiles_over_mean'].values())}"
                  + (f"; reusable share {shape.statistics['reusable_token_share']:.1%}"
                     if "reusable_token_share" in shape.statistics else ""))


@profile_app.command("calibrate")
@handle_errors
def calibrate(
    write: Annotated[bool, typer.Option(
        help="Write the fitted parameters to the parameter file.", show_default=True)] = False,
    params: ParamsOpt = None,
    plots: Annotated[Optional[Path], typer.Option(
        help="Folder for predicted-against-measured plots (PNG).", show_default=False)] = None,
    anchors: Annotated[bool, typer.Option(
        help="Also compare with the TensorRT-LLM throughput anchors (simulated).",
        show_default=True)] = True,
):
    """Fit the model on the measured data and print, per data set, the median and p90
    absolute percentage error on fit and held-out rows; check against published figures."""
    from rich.table import Table

    from planner.perf.calibrate import prediction_frame, report_table
    from planner.perf.fit import fit_all
    from planner.perf.params import write_params

    fitted, data = fit_all()
    pred = prediction_frame(fitted, data)
    rep = report_table(pred)
    table = Table(title=f"calibration: {fitted.method}")
    for c in ("data set", "metric", "split", "rows", "median APE %", "p90 APE %"):
        table.add_column(c, justify="right" if c in ("rows",) or "APE" in c else "left")
    for r in rep.itertuples():
        table.add_row(r.dataset, r.metric, r.split, str(r.rows), f"{r.median_ape_pct:.1f}",
                      f"{r.p90_ape_pct:.1f}")
    console.print(table)
    _print_checks(fitted, anchors)
    if write:
        path = write_params(fitted, params)
        console.print(f"wrote {path}")
    if plots:
        from planner.perf.calibrate import plot_predictions

        for p in plot_predictions(pred, plots):
            console.print(f"wrote {p}")


def _print_checks(fitted, anchors: bool):
    from rich.table import Table

    from planner.perf.checks import anchor_comparison, power_checks

    pc = power_checks(fitted)
    t = Table(title="power and energy against reference figures, each at its own operating "
                    "point (HBM TB/s: what the modelled iteration streams)")
    for c in ("check", "reference", "model", "HBM TB/s", "source"):
        t.add_column(c)
    for r in pc.itertuples():
        t.add_row(r.check, f"{r.reference:.3g}", f"{r.model:.3g}", f"{r.hbm_tbps:.2f}", r.source)
    console.print(t)
    if anchors:
        for engine in (e.value for e in Engine):
            ac = anchor_comparison(fitted, engine)
            t = Table(title=f"TensorRT-LLM published max throughput vs model ({engine} engine, "
                            "fp8, 256 sequences, 8192-token budget)")
            for c in ("model", "tp", "in/out", "published tok/s", "model tok/s", "ratio"):
                t.add_column(c)
            for r in ac.itertuples():
                t.add_row(r.model, str(r.tp), getattr(r, "_4"), f"{r.published_tok_s:,.0f}",
                          f"{r.model_tok_s:,.0f}", f"{r.ratio:.2f}")
            console.print(t)
