"""A sweep's outputs: the profile table (through the one measured-table builder) and the
sweep record beside it.

Files in the output folder: ``<model>__<gpu>-tp<tp>__<ssd>__<shape>.csv`` and ``.meta.json``
(the planner's table, named as ``plan --profile-dir`` looks it up),
``<same name>.sweep.json`` (every point's summary, intended and engine-reported hit rates,
and every request's timings) and ``<shape>.shape.json`` (the requests' workload shape: fixed
lengths, for ``profile synth --shape`` to build the modelled table to compare with). A
stopped sweep (Ctrl-C, ``--max-time``, ``--max-requests``) is labelled ``partial``; its table
holds the reuse levels it finished, when there are at least two, and otherwise only the sweep
record is written.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict
from pathlib import Path

from planner import __version__
from planner.errors import InputDataError
from planner.measure.sweep import SweepResult, SweepSpec
from planner.perf.measured_table import build_table
from planner.perf.profile import table_name, write_profile

SHAPE_NOTE = ("fixed lengths: every prompt exactly mean_input_tokens words (a shared prefix of "
              "round(reuse × words) words and words of its own), every output exactly "
              "mean_output_tokens tokens where the engine honours ignore_eos/min_tokens")


def replica_meta(model: str, gpu: str, tp: int, ssd: str, shape: str) -> dict:
    """The replica keys of the table, checked against the catalog before anything runs."""
    from planner.catalog import load_catalog
    from planner.perf.spec import build_spec

    spec = build_spec(model, gpu, tp, ssd, None, "bf16", load_catalog())
    if not shape.replace("-", "").isalnum():
        raise InputDataError(f"--shape-name must be letters, digits and dashes, got {shape!r}")
    return {"model": spec.model, "gpu": spec.gpu, "tp": spec.tp, "ssd": spec.ssd,
            "drives_per_replica": spec.drives,
            "workload_shape": {"name": shape, "lengths": SHAPE_NOTE}}


def fixed_lengths_shape(name: str):
    """The workload shape of a sweep's requests (every length its mean, every request the same
    hit share), for `profile synth --shape` to build the modelled table to compare with."""
    from planner.perf.shapes import PROBABILITIES, WorkloadShape

    ones = tuple(1.0 for _ in PROBABILITIES)
    return WorkloadShape(name=name, input_quantiles=ones, output_quantiles=ones,
                         description=SHAPE_NOTE,
                         provenance={"source": f"greencache {__version__} profile measure"})


def sweep_files(folder: Path, replica: dict) -> tuple[Path, Path]:
    name = table_name(replica["model"], replica["gpu"], replica["tp"], replica["ssd"],
                      replica["workload_shape"]["name"])
    return folder / f"{name}.csv", folder / f"{name}.sweep.json"


def write_outputs(result: SweepResult, spec: SweepSpec, replica: dict, folder: Path,
                  generated: str | None = None) -> tuple[Path | None, Path, str]:
    """Write the sweep record and, when the finished reuse levels allow one, the table.
    Returns (table path or None, record path, why no table or "")."""
    from planner.outputs import atomic_write_text

    folder = Path(folder)
    csv_path, _ = sweep_files(folder, replica)
    when = generated or dt.datetime.now(dt.UTC).date().isoformat()
    record_path = write_record(result, spec, replica, folder, when)
    shape = replica["workload_shape"]["name"]
    atomic_write_text(folder / f"{shape}.shape.json", fixed_lengths_shape(shape).to_json())
    prov = provenance(result, spec, when)
    done = set(result.complete_reuse)
    points = [p for p in result.points if p.hit_rate in done]
    if len(done) < 2:
        return None, record_path, (f"{len(done)} reuse level(s) finished; a table needs 2")
    meta = {**replica, "generator": f"greencache {__version__} profile measure",
            "provenance": prov,
            "notes": ["hit_rate is the reuse level the prompts were built with; the engine's "
                      "own prefix-cache hit rate of each point is in provenance.sweep_points",
                      "ssd_read_gbps and ssd_write_gbps are 0: the endpoint's SSD traffic is "
                      "not measured"]
            + (["partial: the sweep stopped early (" + result.stop_reason + "); the table "
                "holds the reuse levels it finished"] if result.partial else [])}
    try:
        frame, meta = build_table(points, meta, generated=when)
    except InputDataError as e:
        return None, record_path, str(e)
    write_profile(frame, meta, csv_path)
    return csv_path, record_path, ""


def write_record(result: SweepResult, spec: SweepSpec, replica: dict, folder: Path,
                 when: str) -> Path:
    """The sweep record (also written after every series, so a killed sweep leaves one)."""
    from planner.outputs import atomic_write_text

    _, record_path = sweep_files(Path(folder), replica)
    atomic_write_text(record_path, json.dumps(
        {"provenance": provenance(result, spec, when), "points": result.summaries,
         "requests_columns": ["point", "index", "ttft_s", "tpot_s", "output_tokens",
                              "prompt_tokens", "error"],
         "requests": [_request_row(r) for r in result.records if r.index >= 0]},
        indent=1, sort_keys=True) + "\n")
    return record_path


def provenance(result: SweepResult, spec: SweepSpec, when: str) -> dict:
    sweep = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(spec).items()}
    return {"source": "greencache profile measure against a live OpenAI-compatible endpoint",
            "endpoint": spec.endpoint, "served_model": spec.model, "engine": result.engine,
            "hardware": {k: v for k, v in result.power.items() if k != "source"},
            "power": result.power.get("source", ""),
            "idle_power_w": None if math.isnan(result.idle_power_w)
            else round(result.idle_power_w, 2),
            "prefix_cache_metrics": result.cache_source or "none exposed by the endpoint",
            "date": when, "elapsed_s": round(result.elapsed_s, 1),
            "partial": result.partial, "stop_reason": result.stop_reason,
            "finished_reuse_levels": result.complete_reuse,
            "sweep": sweep, "sweep_points": result.summaries}


def _request_row(r) -> list:
    def f(x):
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, 6)
    return [r.point, r.index, f(r.ttft_s), f(r.tpot_s), r.output_tokens, r.prompt_tokens,
            r.error]
