"""Atomic output writing: a run either leaves all of its files or none of them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from planner.errors import InputDataError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file in the target's folder (so the final rename is atomic), with the
    permissions an ordinary new file gets rather than mkstemp's owner-only 0600."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise InputDataError(f"cannot write to {path.parent}: {e.strerror}") from None
    os.chmod(tmp, 0o666 & ~_umask())
    return fd, tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


class OutputSet:
    """Files staged in memory and written together at the end of a run.

    Nothing reaches the output folder until :meth:`commit`, which first writes every file to a
    temporary name and only then renames them all into place, so a failure half-way (a full
    disk, a permission error) leaves the folder as it was.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._files: dict[str, bytes] = {}

    def add_text(self, name: str | Path, text: str) -> None:
        """``name`` is relative to the output folder, or an absolute path elsewhere."""
        self._files[str(name)] = text.encode("utf-8")

    def add_bytes(self, name: str | Path, data: bytes) -> None:
        self._files[str(name)] = data

    def names(self) -> list[str]:
        return list(self._files)

    def commit(self) -> list[Path]:
        staged: list[tuple[str, Path]] = []
        try:
            for name, data in self._files.items():
                target = self.directory / name
                fd, tmp = temp_beside(target)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                staged.append((tmp, target))
        except (OSError, InputDataError) as e:
            for tmp, _ in staged:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            if isinstance(e, InputDataError):
                raise
            raise InputDataError(f"cannot write outputs to {self.directory}: {e.strerror}") from None
        written = []
        for tmp, target in staged:
            os.replace(tmp, target)
            written.append(target)
        return written


def provenance_date(text: str) -> str:
    """argparse type of the ``--date`` that fitting scripts record in their provenance: the
    date is an input (not the clock) so that a rerun on unchanged data is byte-identical."""
    import argparse
    import datetime as dt

    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be YYYY-MM-DD, got {text!r}") from None
    return text
