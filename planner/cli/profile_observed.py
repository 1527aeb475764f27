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
        help="Model key from profiles/models.toml.", show_default="--into's", rich_help_panel=REPLICA)] = None,
    gpu: Annotated[Optional[str], typer.Option(
        help="GPU key from profiles/catalog.toml.", show_default="--into's", rich_help_panel=REPLICA)] = None,
    tp: Annotated[Optional[int], typer.Option(
        help="Tensor-parallel GPUs per replica.", show_default="--into's", rich_help_panel=REPLICA)] = None,
    ssd: Annotated[Optional[str], typer.Option(
        help="SSD type key from profiles/catalog.toml.", show_default="--into's", rich_help_panel=REPLICA)] = None,
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
    console.print(f"wrote {result.path} ({len(result.frame):,} rows from "
                  f"{len(result.runs)} run(s); {'partly modelled' if result.meta['modelled'] else 'measured'})",
                  markup=False)
