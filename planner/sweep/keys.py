"""A point's key: the SHA-256 of everything its result depends on.

That is the content of its input files (the trace, the grid's files, every file an option
names — reuse model, profile correction, the folder of ``profile_dir`` — and every file of the
shipped profiles folder: catalog, calibration, reuse fit, workload shapes, profile tables), its options with file paths
replaced by those hashes (so a moved or renamed file with the same bytes keeps its key), the
deployments it replays and ``planner.__version__``. Equal keys mean equal results.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import planner
from planner.config import PlanOptions
from planner.grid import find_zone, looks_like_path
from planner.paths import profiles_dir, sha256_file
from planner.scenario import PATH_KEYS

PATH_FIELDS = PATH_KEYS     # every option that names a file or folder


@lru_cache(maxsize=None)
def _file_hash(path: str, size: int, mtime_ns: int) -> str:
    # Keyed by size and modification time too, so a file edited during a long session is
    # hashed again.
    return sha256_file(Path(path))


def file_hash(path: Path) -> str:
    st = Path(path).stat()
    return _file_hash(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def folder_hash(folder: Path) -> str:
    """SHA-256 over the relative names and hashes of every file under ``folder``."""
    folder = Path(folder)
    h = hashlib.sha256()
    for p in sorted(x for x in folder.rglob("*") if x.is_file()):
        h.update(p.relative_to(folder).as_posix().encode() + b"\0")
        h.update(file_hash(p).encode() + b"\n")
    return h.hexdigest()


def _grid_files(grid: str) -> list[Path]:
    if looks_like_path(grid):
        return [Path(grid)]
    return list(find_zone(grid).files)


def key_inputs(opt: PlanOptions, strategies: tuple[str, ...]) -> dict:
    """What the key hashes, as a JSON-ready dict (recorded beside each cached result)."""
    options = opt.as_dict()
    files = {"profiles": folder_hash(profiles_dir())}
    for name in PATH_FIELDS:
        value = options.pop(name)
        if value is not None:
            p = Path(value)
            files[name] = folder_hash(p) if p.is_dir() else file_hash(p)
    files["grid"] = [file_hash(p) for p in _grid_files(opt.grid)]
    if looks_like_path(opt.grid):
        options.pop("grid")
    return {"version": planner.__version__, "strategies": list(strategies),
            "options": options, "files": files}


def point_key(opt: PlanOptions, strategies: tuple[str, ...]) -> str:
    text = json.dumps(key_inputs(opt, strategies), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
