"""A sweep from its file to its outputs: read and check the file and every point, key each
point, take finished points from the cache, run the rest on Ray (each cached the moment it
finishes), then write the table, figures and page into the output folder all or nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import ray

from planner.outputs import OutputSet, check_output_folder
from planner.sweep import figures, page, sensitivity, table
from planner.sweep.cache import ResultCache
from planner.sweep.keys import key_inputs, point_key
from planner.sweep.points import Point, expand, portable
from planner.sweep.runner import Outcome, run_points, start_ray
from planner.sweep.spec import load_spec


@dataclass
class SweepRun:
    points: list[Point]
    ran: int = 0                     # points run now (the others came from the cache)
    failed: list[tuple[Point, dict]] = field(default_factory=list)
    seconds: list[dict] = field(default_factory=list)   # per point run now: plan, replay, total
    written: list[Path] = field(default_factory=list)


def plan_sweep(path: Path) -> tuple:
    """The checked sweep file and its keyed points (no work run)."""
    spec = load_spec(path)
    points = expand(spec)
    for p in points:
        p.key = point_key(p.options, spec.strategies)
    return spec, points


def run_sweep(path: Path, out: Path, cache_dir: Path | None = None, address: str | None = None,
              workers: int | None = None, command: str = "greencache sweep",
              on_start: Callable[[int, int], None] | None = None,
              on_done: Callable[[Outcome], None] | None = None) -> SweepRun:
    spec, points = plan_sweep(path)
    check_output_folder(out)
    cache = ResultCache(cache_dir)
    entries = {p.key: cache.get(p.key) for p in points}
    todo = [p for p in points if entries[p.key] is None]
    run = SweepRun(points)
    if on_start:
        on_start(len(points), len(todo))
    errors: dict[str, dict] = {}

    def done(o: Outcome) -> None:
        if o.error is None:
            # Cached the moment it finishes: a sweep stopped now keeps this point.
            cache.put(o.point.key, o.result, key_inputs(o.point.options, spec.strategies),
                      o.seconds)
            entries[o.point.key] = {"result": o.result}
            run.seconds.append(o.seconds)
        else:
            errors[o.point.key] = o.error
            run.failed.append((o.point, o.error))
        run.ran += 1
        if on_done:
            on_done(o)

    if todo:
        # Started inside the try: a kill during ray.init still shuts down what it started.
        ours = not ray.is_initialized()
        try:
            start_ray(address, workers)
            run_points(todo, spec.strategies, spec.memory_gb, done)
        except KeyboardInterrupt as e:
            e.note = (f"{len(run.seconds)} point(s) finished in this run and are cached in "
                      f"{cache.folder}; the same command resumes from them (no output folder "
                      "was written)")
            raise
        finally:
            if ours:
                ray.shutdown()
    records = [entries[p.key]["result"] if entries[p.key] else None for p in points]
    errs = [errors.get(p.key) for p in points]
    run.written = write_outputs(spec, points, records, errs, out, command)
    return run


def write_outputs(spec, points: list[Point], records: list[dict | None],
                  errs: list[dict | None], out: Path, command: str) -> list[Path]:
    frame = table.results_frame(points, records, errs)
    fixed = figures.fixed_label(records)
    base_value, sens = sensitivity.entries(points, frame)
    pngs: dict[str, bytes] = {}
    b = sensitivity.base_index(points)
    if b is not None and records[b]:
        opt = points[b].options
        png = figures.timeline_png(records[b], points[b].label, f"{opt.tp}×{opt.gpu}", fixed)
        if png:
            pngs["timeline.png"] = png
    for name, png in (("heatmap.png", figures.heatmap_png(figures.heatmap_cells(points, frame),
                                                          fixed)),
                      ("pareto.png", figures.pareto_png(frame, fixed)),
                      ("tornado.png", figures.tornado_png(base_value, sens, fixed))):
        if png:
            pngs[name] = png
    files = OutputSet(out)
    files.add_text("results.csv", table.to_csv(frame))
    files.add_bytes("results.parquet", table.to_parquet(frame))
    for name, data in pngs.items():
        files.add_bytes(name, data)
    files.add_text("README.md", page.render(spec, points, frame, records, pngs, fixed,
                                            base_value, sens, command))
    files.add_text("points.json", json.dumps(
        [{"point": i, "key": p.key, "label": p.label, "roles": p.roles,
          "scenario": portable(p.options)}
         for i, p in enumerate(points)], indent=1) + "\n")
    return files.commit()
