"""`greencache profile import` and `profile correct`: profiles from what a deployment measured.

``import`` builds (or extends) a measured profile table from benchmark result files;
``correct`` fits correction factors of a table from observed latencies and power, which
``plan --correction`` applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.choices import ImportFormat
from planner.cli.common import console, handle_errors
from planner.cli.profile import profile_app

REPLICA, TABLE, OUTPUT, BINS = "Replica", "Table", "Output", "Bins"


@profile_app.command("import")
@handle_errors
def import_results(
    files: Annotated[list[Path], typer.Argument(
        help="Result files: vLLM bench serve --save-result JSON, guidellm benchmarks JSON, "
             "genai-perf profile_export_genai_perf.json or .csv.", show_default=False)],
    out: Annotated[Path, typer.Option(
        help="Table to write: a folder (the table is named after the replica and shape, as "
             "`plan --profile-dir` finds it) or that .csv path.", show_default=False,
        rich_help_panel=OUTPUT)],
    file_format: Annotated[ImportFormat, typer.Option(
        "--format", help="The tool that wrote the files; auto detects each.",
        show_default=True)] = ImportFormat.auto,
    into: Annotated[Optional[Path], typer.Option(
        help="A table built by `profile import` to extend: its runs plus these (a file "
             "imported again replaces its earlier runs).", show_default=False,
        rich_help_panel=TABLE)] = None,
    model: Annotated[Optional[str], typer.Option(
        help="Model key from profiles/models.toml.", show_default="--into's",
        rich_help_panel=REPLICA)] = None,
    gpu: Annotated[Optional[str], typer.Option(
        help="GPU key from profiles/catalog.toml.", show_default="--into's",
        rich_help_panel=REPLICA)] = None,
    tp: Annotated[Optional[int], typer.Option(
        help="Tensor-parallel GPUs per replica.", show_default="--into's",
        rich_help_panel=REPLICA)] = None,
    ssd: Annotated[Optional[str], typer.Option(
        help="SSD type key from profiles/catalog.toml.", show_default="--into's",
        rich_help_panel=REPLICA)] = None,
    shape: Annotated[str, typer.Option(
        help="Workload shape name the table is filed under (letters, digits, dashes).",
        show_default=True, rich_help_panel=TABLE)] = "measured",
    token_span: Annotated[float, typer.Option(
        help="A token mean measured at one value m is written at m × (1 ± span): latency "
             "assumed unchanged within it.", show_default=True, rich_help_panel=TABLE)] = 0.25,
    profile_dir: Annotated[Optional[Path], typer.Option(
        help="Folder of the replica's modelled tables, which fill power and SSD traffic where "
             "the files record none.", show_default="profiles/tables",
        rich_help_panel=TABLE)] = None,
    date: Annotated[Optional[str], typer.Option(
        help="Generation date written into the metadata (ISO); fix it for byte-identical "
             "tables.", show_default="today", rich_help_panel=OUTPUT)] = None,
):
    """Build or extend a measured profile table from benchmark result files, saying per file
    what it holds and what the table takes instead (hit rate 0 assumed, power modelled …)."""
    from planner.perf.imports.importer import import_files

    result = import_files([str(f) for f in files], str(out), file_format.value,
                          into=str(into) if into else None, model=model, gpu=gpu, tp=tp,
                          ssd=ssd, shape=shape, token_span=token_span,
                          profile_dir=str(profile_dir) if profile_dir else None, date=date)
    for run in result.new_runs:
        console.print(f"{run.source} ({run.tool} {run.version or 'version not recorded'}): "
                      f"{run.rate_rps:.4g} req/s, prompt {run.mean_input_tokens:,.0f} / output "
                      f"{run.mean_output_tokens:,.0f} tokens, p90 TTFT {run.ttft_s[1]:.4g} s, "
                      f"p90 TPOT {run.tpot_s[1]:.4g} s"
                      + (f", {run.gpu_power_w:.0f} W per GPU" if run.gpu_power_w else ""),
                      markup=False)
        for line in run.missing:
            console.print(f"  missing — {line}", markup=False)
    for note in result.meta["notes"]:
        console.print(f"note: {note}", markup=False)
    kind = "partly modelled" if result.meta["modelled"] else "measured"
    console.print(f"wrote {result.path} ({len(result.frame):,} rows from "
                  f"{len(result.runs)} run(s); {kind})", markup=False)


@profile_app.command("correct")
@handle_errors
def correct(
    observed: Annotated[Path, typer.Option(
        help="Observations: a per-request CSV (time, ttft_s, tpot_s; optional input_tokens, "
             "output_tokens, hit), a measured sweep's .sweep.json (profile measure) or a "
             "replay's replay.csv.", show_default=False)],
    profile: Annotated[Path, typer.Option(
        help="The profile table (.csv) the factors correct.", show_default=False)],
    out: Annotated[Path, typer.Option(
        help="Correction file to write (JSON).", show_default=False,
        rich_help_panel=OUTPUT)],
    window: Annotated[float, typer.Option(
        help="Seconds of per-request observations per window (one p90 each).",
        show_default=True)] = 60.0,
    replicas: Annotated[int, typer.Option(
        help="Replicas that served the per-request or sweep observations (load per "
             "replica = rate / replicas).", show_default=True)] = 1,
    mean_input: Annotated[Optional[float], typer.Option(
        help="Mean prompt tokens, for observations without an input_tokens column.",
        show_default=False)] = None,
    mean_output: Annotated[Optional[float], typer.Option(
        help="Mean output tokens, for observations without an output_tokens column.",
        show_default=False)] = None,
    power: Annotated[Optional[Path], typer.Option(
        help="GPU power samples (CSV: time, gpu_power_w per GPU) beside per-request "
             "observations; without it no power factor is fitted.", show_default=False)] = None,
    load_bins: Annotated[str, typer.Option(
        help="Load-fraction bin edges, from 0 to 1.", show_default=True,
        rich_help_panel=BINS)] = "0,0.25,0.5,0.75,1",
    hit_bins: Annotated[str, typer.Option(
        help="Hit-rate bin edges, from 0 to 1.", show_default=True,
        rich_help_panel=BINS)] = "0,0.25,0.5,0.75,1",
):
    """Fit correction factors of a profile table (observed / expected p90 TTFT, p90 TPOT and
    GPU power, by load and hit-rate bin, shrunk towards 1 where a bin has few windows);
    `plan --correction FILE` applies them."""
    from planner.cli.profile import _parse_list
    from planner.outputs import atomic_write_text
    from planner.perf.correction.file import to_json
    from planner.perf.correction.fit import fit
    from planner.perf.correction.observed import MIN_REQUESTS, read_observed
    from planner.perf.profile import read_profile

    if out.suffix != ".json":
        from planner.errors import UsageError

        raise UsageError(f"--out must name a .json file, got {out}")
    load_edges = _parse_list(load_bins, float, "load-bin")
    hit_edges = _parse_list(hit_bins, float, "hit-bin")
    obs = read_observed(observed, window, replicas, mean_input, mean_output, power)
    table = read_profile(profile)
    fitted = fit(obs, table, load_edges, hit_edges)
    atomic_write_text(out, to_json(fitted, obs, table, str(observed),
                                   str(power) if power else None, window, replicas))
    console.print(f"{obs.requests:,} requests ({obs.kind}) in {fitted.used} window(s) compared "
                  f"with {table.source}; {obs.few_requests} window(s) with fewer than "
                  f"{MIN_REQUESTS} requests and {fitted.unstable} beyond the table's capacity "
                  "left out", markup=False)
    for line in obs.assumed:
        console.print(f"assumed — {line}", markup=False)
    from rich.table import Table

    t = Table(title="correction factors (observed / expected; windows)", title_justify="left")
    t.add_column("load fraction")
    t.add_column("hit rate")
    for m in ("p90 TTFT", "p90 TPOT", "GPU power"):
        t.add_column(m, justify="right")
    for i, (l0, l1) in enumerate(zip(fitted.load_edges, fitted.load_edges[1:])):
        for j, (h0, h1) in enumerate(zip(fitted.hit_edges, fitted.hit_edges[1:])):
            cells = [f"×{fitted.factor[m][i, j]:.3f} ({fitted.windows[m][i, j]})"
                     for m in ("ttft", "tpot", "power")]
            if any(fitted.windows[m][i, j] for m in ("ttft", "tpot", "power")):
                t.add_row(f"{l0:g}–{l1:g}", f"{h0:g}–{h1:g}", *cells)
    console.print(t)
    console.print(f"wrote {out} (bins without observations keep factor 1)", markup=False)
