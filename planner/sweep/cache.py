"""The on-disk cache of point results, keyed by :func:`planner.sweep.keys.point_key`.

One JSON file per point (``<cache>/<key[:2]>/<key>.json``), written whole when the point
finishes (staged, then renamed in place: :func:`planner.outputs.atomic_write_text`), so a
sweep stopped at any instant keeps every point finished before it and nothing half-written.
An entry that cannot be read, or whose recorded key or version differ, counts as absent and
its point runs again. Only finished points are cached: a failed point runs again next time.

The cache lives outside the sweep's output folder (which is replaced whole, all or nothing):
``--cache DIR``, by default ``sweeps/`` under ``$GREENCACHE_CACHE`` (the folder
``--auto-profile`` caches its tables in), so two sweep files that share a point run it once.
"""

from __future__ import annotations

import json
from pathlib import Path

import planner
from planner.outputs import atomic_write_text
from planner.perf.shape_fit import cache_dir


def default_cache() -> Path:
    return cache_dir() / "sweeps"


class ResultCache:
    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else default_cache()

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        p = self.path(key)
        try:
            entry = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key \
                or entry.get("version") != planner.__version__ or "result" not in entry:
            return None
        return entry

    def put(self, key: str, result: dict, inputs: dict, seconds: dict) -> None:
        entry = {"key": key, "version": planner.__version__, "inputs": inputs,
                 "seconds": seconds, "result": result}
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(p, json.dumps(entry, indent=1, sort_keys=True) + "\n")
