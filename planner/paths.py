"""Where the shipped data lives (the one place that resolves profiles/, grids/ and examples/),
and how a summary names the files it read.

In the repository those three folders sit at the top level, beside the package, so that data
files are reviewed on their own. A built wheel carries them inside the package as
``planner/data/{profiles,grids,examples}`` (setup.py copies them in at build time). The data
root is, in order:

1. ``GREENCACHE_DATA``, a folder holding ``profiles/``, ``grids/`` and ``examples/`` (for
   other or newer data than the installed copy);
2. the installed copy, found through :mod:`importlib.resources`;
3. the repository checkout this package was imported from (a source tree or an editable
   install).
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

from planner.errors import InputDataError

ENV = "GREENCACHE_DATA"
FOLDERS = ("profiles", "grids", "examples")


@lru_cache(maxsize=1)
def _package_data():
    """Where ``planner.data`` is (fixed for the process; asked for every input file a plan or
    a check names, and importlib.resources takes far longer to answer than a stat)."""
    # A package on disk (as every installer unpacks a wheel) is the folder its __init__ lies
    # in: what importlib.resources answers for it, found without building its reader.
    import importlib

    spec = importlib.import_module("planner.data").__spec__
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    if origin is not None and origin.is_file():
        return origin.parent
    return resources.files("planner.data")


def packaged_root() -> Path | None:
    """The data installed inside the package, or None in a checkout (the folders sit above)."""
    root = _package_data()
    if not isinstance(root, Path):
        # Every installer unpacks wheels onto disk; readers here need real files (pyarrow,
        # pandas, numba-backed loaders), so a zipped package is pointed elsewhere.
        raise InputDataError(f"the installed greencache data is not on disk ({root}); "
                             f"set {ENV} to a folder holding {', '.join(FOLDERS)}")
    return root if (root / "profiles").is_dir() else None


@lru_cache(maxsize=1)
def checkout_root() -> Path:
    """The folder above the package (fixed for the process; resolving it walks every
    component of the path, and a plan or a check asks for it for every file it names)."""
    return Path(__file__).resolve().parent.parent


def data_root() -> Path:
    env = os.environ.get(ENV)
    if env:
        root = Path(env).expanduser()
        if not root.is_dir():
            raise InputDataError(f"{ENV}={env} is not a folder")
        return root
    return packaged_root() or checkout_root()


def profiles_dir() -> Path:
    return data_root() / "profiles"


def grids_dir() -> Path:
    return data_root() / "grids"


def examples_dir() -> Path:
    return data_root() / "examples"


def sha256_file(path: Path) -> str:
    """The file's SHA-256, so a summary identifies exactly what it read."""
    # file_digest reads into one reused buffer (a fresh megabyte per chunk cost its pages).
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


DATA_PREFIX = "greencache:"


def rel_path(p: Path) -> str:
    """How a summary names an input file: shipped data relative to the data root as
    ``greencache:profiles/…``, any other file as it was given. Neither depends on the working
    folder, so the summary is byte-identical wherever the plan runs."""
    try:
        return DATA_PREFIX + Path(p).resolve().relative_to(data_root().resolve()).as_posix()
    except ValueError:
        return str(p)


def recorded_path(text: str) -> Path:
    """The file a summary's path names (the inverse of :func:`rel_path`)."""
    if text.startswith(DATA_PREFIX):
        return data_root() / text[len(DATA_PREFIX):]
    return Path(text)
