"""All-or-nothing output writing.

A run's files are first written into a staging folder beside the target
(``.greencache-staging-<pid>-<n>`` in the target's parent folder), then put in place in one
step, so that a failure or a kill at any instant leaves either the previous complete set of
files or the new complete set, never a mix:

* an output *folder* (``plan --out``, ``simulate``, ``compare``) is swapped whole: the new
  folder is built in staging, files of the old folder that this command does not write (a
  replay, a report, the user's own files) are carried over as hard links, and the two folders
  are exchanged with one ``renameat2(RENAME_EXCHANGE)``. The result is a plain folder of plain
  files. Where the kernel or file system cannot exchange, the old folder is moved into staging
  and the new one renamed in; a kill between those two renames is repaired by the next run.
* output *files* (``report``, ``trace hitcurve``, ``trace synth``, ``profile synth``) are
  staged, then a journal is written (the commit point), then each is renamed over its target.
  A single file is replaced atomically; for several files a kill after the journal is rolled
  forward by the next run writing into the same folder.

Stale staging left by a killed run is cleaned (or rolled forward) by the next run writing into
that folder. Writers into one folder take an exclusive ``flock`` on it while they stage and
swap, so a second run waits for the first to finish its commit (the last to commit wins);
nothing is ever interleaved.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import itertools
import json
import os
import shutil
import sys
from pathlib import Path
from typing import BinaryIO, Iterator

from planner.errors import InputDataError, UsageError

STAGING_PREFIX = ".greencache-staging-"
_JOURNAL = "journal.json"  # file sets: staged name -> target, written at the commit point
_SWAP = "swap.json"        # folder sets, fallback path: the target being replaced
_counter = itertools.count()


def _step(name: str) -> None:
    """A named instant of a commit. Does nothing; the kill-at-every-step test replaces it in a
    subprocess to stop the writer there."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~_umask() | 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_json_atomic(folder: Path, name: str, obj) -> None:
    """A marker inside staging, whole or absent (written aside, then renamed)."""
    tmp = folder / f"{name}.part"
    _write_file(tmp, json.dumps(obj).encode("utf-8"))
    os.replace(tmp, folder / name)
    _fsync_dir(folder)


def _os_error(path: Path, e: OSError) -> InputDataError:
    return InputDataError(f"cannot write to {path}: {e.strerror or e}")


# --------------------------------------------------------------------------------------------
# locking and stale staging
# --------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _locked(folders: list[Path]) -> Iterator[None]:
    """Exclusive flock on each folder (parents before children, so two writers never wait on
    each other in a cycle). A folder swapped away while we waited is locked again by name."""
    fds = []
    try:
        for folder in sorted(set(folders), key=lambda p: (len(p.parts), str(p))):
            while True:
                fd = os.open(folder, os.O_RDONLY)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    # Why print from a library: the wait can be long and silent otherwise.
                    print(f"waiting for another greencache run writing into {folder} …",
                          file=sys.stderr, flush=True)
                    fcntl.flock(fd, fcntl.LOCK_EX)
                st, now = os.fstat(fd), os.stat(folder)
                if (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino):
                    fds.append(fd)
                    break
                os.close(fd)
        yield
    finally:
        for fd in reversed(fds):
            os.close(fd)  # closing releases the flock


def recover_staging(folder: Path) -> None:
    """Finish or discard what killed runs left in ``folder``. Called with ``folder`` locked,
    so every staging folder found is stale (a live writer holds the lock while it stages)."""
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(STAGING_PREFIX)]
    except OSError:
        return
    for entry in entries:
        _finish_or_discard(Path(entry.path))


def _finish_or_discard(stage: Path) -> None:
    """A staging folder past its commit point is finished (its renames done), any other is
    removed. One that cannot be finished now is kept for the next run to finish."""
    journal, swap = stage / _JOURNAL, stage / _SWAP
    try:
        if journal.exists():
            # Committed file set: roll forward the renames that had not happened.
            for name, target in json.loads(journal.read_text(encoding="utf-8")):
                if (stage / name).exists():
                    os.replace(stage / name, target)
        elif swap.exists():
            target = Path(json.loads(swap.read_text(encoding="utf-8"))["target"])
            if not os.path.lexists(target):
                # Stopped between the two renames of the fallback swap: the new set is complete
                # (the marker is written after it), so finish the swap.
                os.rename(stage / "set", target)
    except OSError:
        return
    shutil.rmtree(stage, ignore_errors=True)


def _new_staging(folder: Path) -> Path:
    stage = folder / f"{STAGING_PREFIX}{os.getpid()}-{next(_counter)}"
    stage.mkdir()
    return stage


# --------------------------------------------------------------------------------------------
# output files
# --------------------------------------------------------------------------------------------

def _check_file_target(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    if path.is_dir():
        raise InputDataError(f"cannot write {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _os_error(path.parent, e) from None
    if not path.parent.is_dir():
        raise InputDataError(f"cannot write {path}: {path.parent} is not a folder")
    return path


class _FileCommit:
    """Staging for output files; used through :class:`FileSet` and :func:`staged_file`."""

    def __init__(self, targets: list[Path]):
        self.targets = [_check_file_target(t) for t in targets]
        if len(set(self.targets)) != len(self.targets):
            raise UsageError("two outputs name the same file: "
                             + ", ".join(sorted({str(t) for t in self.targets
                                                 if self.targets.count(t) > 1})))
        self.home = self.targets[0].parent
        dev = os.stat(self.home).st_dev
        for t in self.targets[1:]:
            if os.stat(t.parent).st_dev != dev:
                raise InputDataError(f"cannot write {t} and {self.targets[0]} together: they "
                                     "are on different file systems; write them one at a time")
        self.names = {t: f"f{i}" for i, t in enumerate(self.targets)}

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """Lock the folders, clean stale staging, yield a fresh staging folder; on a failure
        the staging folder goes and the targets are untouched."""
        folders = sorted({t.parent for t in self.targets})
        try:
            with _locked(folders):
                for f in folders:
                    recover_staging(f)
                stage = _new_staging(self.home)
                try:
                    _step("staging created")
                    yield stage
                finally:
                    _finish_or_discard(stage)
        except OSError as e:
            raise _os_error(self.home, e) from None

    def apply(self, stage: Path) -> None:
        _step("files staged")
        _fsync_dir(stage)
        _write_json_atomic(stage, _JOURNAL, [[self.names[t], str(t)] for t in self.targets])
        _step("journal written")
        for t in self.targets:
            os.replace(stage / self.names[t], t)
            _step(f"renamed {t.name}")
        for parent in {t.parent for t in self.targets}:
            _fsync_dir(parent)


class FileSet:
    """Output files at any paths, put in place together by :meth:`commit`."""

    def __init__(self):
        self._files: dict[Path, bytes] = {}

    def add_bytes(self, path: str | Path, data: bytes) -> None:
        self._files[Path(os.path.abspath(path))] = data

    def add_text(self, path: str | Path, text: str) -> None:
        self.add_bytes(path, text.encode("utf-8"))

    def commit(self) -> list[Path]:
        if not self._files:
            return []
        commit = _FileCommit(list(self._files))
        with commit.staging() as stage:
            for t, data in self._files.items():
                _write_file(stage / commit.names[t], data)
                _step(f"staged {t.name}")
            commit.apply(stage)
        return commit.targets


@contextlib.contextmanager
def staged_file(path: str | Path) -> Iterator[BinaryIO]:
    """Stream one output file (too large to hold in memory) into staging; it replaces
    ``path`` only when the block ends without an error."""
    commit = _FileCommit([Path(path)])
    with commit.staging() as stage:
        staged = stage / commit.names[commit.targets[0]]
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~_umask() | 0o600)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        commit.apply(stage)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    fs = FileSet()
    fs.add_bytes(path, data)
    fs.commit()


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


# --------------------------------------------------------------------------------------------
# output folders
# --------------------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> None:
    """Swap two paths in one step (Linux renameat2); OSError(EINVAL) where not supported."""
    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def _carry(src: Path, dst: Path) -> None:
    """Recreate ``src`` at ``dst`` without touching ``src``: folders made anew, files hard
    linked (copied where the file system has no hard links), symbolic links recreated."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        dst.mkdir()
        shutil.copymode(src, dst)
        for entry in os.scandir(src):
            if not entry.name.startswith(STAGING_PREFIX):
                _carry(Path(entry.path), dst / entry.name)
    else:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


def check_output_folder(directory: Path) -> Path:
    """Refuse an output folder that cannot be replaced, before any work is done (commands call
    this first; :meth:`OutputSet.commit` checks again)."""
    directory = Path(os.path.abspath(directory))
    cwd = Path(os.getcwd())
    if directory == cwd or directory in cwd.parents:
        raise UsageError(f"--out {directory} is the working folder or holds it; greencache "
                         "replaces its output folder as a whole, so name a folder of its own")
    if directory.exists() and not directory.is_dir():
        raise InputDataError(f"cannot write outputs to {directory}: it is a file")
    return directory


def _check_folder_target(directory: Path) -> Path:
    directory = check_output_folder(directory)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _os_error(directory.parent, e) from None
    if directory.is_dir() and os.stat(directory).st_dev != os.stat(directory.parent).st_dev:
        raise InputDataError(f"cannot replace {directory}: it is a mount point; name a folder "
                             "inside it")
    return directory


class OutputSet:
    """The files of one output folder, replaced together by :meth:`commit`.

    Names are relative to the folder; the folder's previous entries that share a top-level
    name with a new file (``baselines/`` as a whole, ``schedule.csv``) are replaced, the others
    kept. An absolute name is a file outside the folder (``plan --write-model``): those are put
    in place together just before the folder.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._files: dict[str, bytes] = {}
        self._outside = FileSet()

    def add_text(self, name: str | Path, text: str) -> None:
        """``name`` is relative to the output folder, or an absolute path elsewhere."""
        self.add_bytes(name, text.encode("utf-8"))

    def add_bytes(self, name: str | Path, data: bytes) -> None:
        if Path(name).is_absolute():
            self._outside.add_bytes(name, data)
        else:
            if ".." in Path(name).parts:
                raise ValueError(f"output name {name} leaves the output folder")
            self._files[str(name)] = data

    def names(self) -> list[str]:
        return list(self._files) + [str(p) for p in self._outside._files]

    def commit(self) -> list[Path]:
        written = self._outside.commit()
        if not self._files:
            return written
        target = _check_folder_target(self.directory)
        parent = target.parent
        owned = {Path(n).parts[0] for n in self._files}
        try:
            with _locked([parent] + ([target] if target.is_dir() else [])):
                recover_staging(parent)
                stage = _new_staging(parent)
                try:
                    _step("staging created")
                    self._build(stage / "set", target, owned)
                    self._swap(stage, target)
                finally:
                    _finish_or_discard(stage)
                _step("staging removed")
        except OSError as e:
            raise _os_error(target, e) from None
        return written + [target / n for n in self._files]

    def _build(self, new: Path, target: Path, owned: set[str]) -> None:
        new.mkdir()
        if target.is_dir():
            shutil.copymode(target, new)
            for entry in os.scandir(target):
                if entry.name not in owned and not entry.name.startswith(STAGING_PREFIX):
                    _carry(Path(entry.path), new / entry.name)
            _step("old entries carried")
        for name, data in self._files.items():
            path = new / name
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_file(path, data)
            _step(f"staged {name}")
        for folder in {(new / n).parent for n in self._files}:
            _fsync_dir(folder)

    def _swap(self, stage: Path, target: Path) -> None:
        new = stage / "set"
        if not os.path.lexists(target):
            os.rename(new, target)  # nothing to replace: one atomic rename
            _step("renamed")
        else:
            try:
                _exchange(new, target)
                _step("exchanged")
            except OSError as e:
                if e.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
                    raise
                # No atomic exchange here: move the old folder aside, then the new one in. The
                # marker lets the next run finish the swap if we are killed in between.
                _write_json_atomic(stage, _SWAP, {"target": str(target)})
                _step("swap marker written")
                os.rename(target, stage / "old")
                _step("old moved aside")
                os.rename(new, target)
                _step("renamed")
        _fsync_dir(target.parent)


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
