"""Where the shipped data lives.

The card's layout keeps profiles/, grids/ and examples/ at the repository root, beside the
package, so that data files are reviewable on their own. ``GREENCACHE_DATA`` points elsewhere
(an installed copy of those three folders).
"""

from __future__ import annotations

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
