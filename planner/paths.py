"""Where the shipped data lives, and how a summary names the files it read.

The card's layout keeps profiles/, grids/ and examples/ at the repository root, beside the
package, so that data files are reviewable on their own. ``GREENCACHE_DATA`` points elsewhere
(an installed copy of those three folders).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def data_root() -> Path:
    env = os.environ.get("GREENCACHE_DATA")
    return Path(env) if env else Path(__file__).resolve().parent.parent


def profiles_dir() -> Path:
    return data_root() / "profiles"


def grids_dir() -> Path:
    return data_root() / "grids"


def examples_dir() -> Path:
    return data_root() / "examples"


def sha256_file(path: Path) -> str:
    """The file's SHA-256, so a summary identifies exactly what it read."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rel_path(p: Path) -> str:
    """Paths in a summary are relative to the working directory when possible, so the
    summary does not change with where the repository was cloned."""
    try:
        return str(Path(p).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)
