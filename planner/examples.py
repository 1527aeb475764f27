"""The shipped example files: what each one is, and a copy of them in a folder of one's own.

The examples live in the data root (:mod:`planner.paths`): request traces and rate series,
scenario files, and the licence and attribution texts that must travel with the data.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from planner.errors import GreencacheError, InputDataError, UsageError
from planner.outputs import FileSet
from planner.paths import examples_dir
from planner.workload.rates import detect_rate_format
from planner.workload.readers import detect_format

LICENCE_SUFFIXES = (".md", ".txt")


@dataclass(frozen=True)
class Example:
    path: Path
    kind: str     # what the file is, in words: "request trace (azure)", "scenario", ...

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def describe(path: Path) -> str:
    """A file's kind from its suffix and, for workloads, the reader that would take it."""
    if path.suffix == ".toml":
        try:
            tables = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return "other"
        if tables.keys() & {"sweep", "axes", "variants"}:
            return "sweep (greencache sweep)"
        return "scenario (plan --config)"
    if path.suffix == ".json":
        return "reuse-model parameters (plan --reuse-model)" if path.name.startswith(
            "reuse-") else "other"
    if path.suffix in LICENCE_SUFFIXES:
        return "licence and attribution"
    rate = detect_rate_format(path)
    if rate:
        return f"rate series ({rate})"
    try:
        return f"request trace ({detect_format(path)})"
    except GreencacheError:
        return "other"


def list_examples(directory: Path | None = None) -> list[Example]:
    directory = Path(directory) if directory else examples_dir()
    if not directory.is_dir():
        raise InputDataError(f"example folder {directory} does not exist")
    return [Example(p, describe(p)) for p in sorted(directory.iterdir())
            if p.is_file() and not p.name.startswith(".")]


def copy_examples(dest: Path, directory: Path | None = None) -> list[Path]:
    """Copy every example into ``dest`` (created if needed); returns the files written.

    A file already there with the same bytes is left alone; one that differs is never
    overwritten, so a user's edited copy survives a second call.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"--out {dest} is a file, not a folder")
    examples = list_examples(directory)
    clashes = [e.name for e in examples
               if (dest / e.name).exists() and (dest / e.name).read_bytes() != e.path.read_bytes()]
    if clashes:
        more = f" and {len(clashes) - 1} more" if len(clashes) > 1 else ""
        raise UsageError(f"{dest} already holds a different {clashes[0]}{more}; "
                         "choose another --out or remove what is there")
    files = FileSet()  # all copied together or none (planner.outputs)
    written = []
    for e in examples:
        target = dest / e.name
        if not target.exists():
            files.add_bytes(target, e.path.read_bytes())
            written.append(target)
    files.commit()
    return written
