"""All-or-nothing outputs: the writer is killed (os._exit in a subprocess) or fails at every
step of a commit, and the output folder always holds the old complete set or the new one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from planner import outputs
from planner.errors import InputDataError, UsageError
from planner.outputs import STAGING_PREFIX, FileSet, OutputSet, staged_file

ROOT = Path(__file__).resolve().parent.parent

OLD = {"schedule.csv": "old schedule\n", "summary.json": "{\"old\": 1}\n",
       "baselines/no_cache.csv": "old a\n", "baselines/gone.csv": "old only\n"}
NEW = {"schedule.csv": "new schedule\n", "summary.json": "{\"new\": 1}\n",
       "baselines/no_cache.csv": "new a\n"}
FOREIGN = {"replay/replay.csv": "kept replay\n", "notes.txt": "mine\n"}


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _fill(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


# The writer run in a subprocess: it commits NEW (a folder set, a pair of files or a streamed
# file) and calls os._exit at the k-th step of the commit (k = 0: never).
WRITER = textwrap.dedent("""
    import errno, os, sys
    from pathlib import Path
    from planner import outputs
    kind, parent, kill_at, exchange = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    steps = []
    def step(name):
        steps.append(name)
        if len(steps) == kill_at:
            os._exit(9)
    outputs._step = step
    if exchange == "no":
        def refuse(a, b):
            raise OSError(errno.EINVAL, "no exchange here")
        outputs._exchange = refuse
    new = {new!r}
    if kind == "folder":
        s = outputs.OutputSet(parent / "out")
        for name, text in new.items():
            s.add_text(name, text)
        s.commit()
    elif kind == "files":
        s = outputs.FileSet()
        s.add_text(parent / "curve.csv", "new curve\\n")
        s.add_text(parent / "curve.png", "new plot\\n")
        s.commit()
    else:
        with outputs.staged_file(parent / "requests.csv") as f:
            f.write(b"new requests\\n")
    print(len(steps))
""").replace("{new!r}", repr(NEW))


def _run_writer(kind: str, parent: Path, kill_at: int, exchange: str = "yes"):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", WRITER, kind, str(parent), str(kill_at),
                           exchange], capture_output=True, text=True, env=env, timeout=60)


def _prepare(kind: str, parent: Path) -> None:
    parent.mkdir()
    if kind == "folder":
        _fill(parent / "out", {**OLD, **FOREIGN})
    elif kind == "files":
        _fill(parent, {"curve.csv": "old curve\n", "curve.png": "old plot\n"})
    else:
        _fill(parent, {"requests.csv": "old requests\n"})


def _state(kind: str, parent: Path) -> str:
    """'old' or 'new' when the targets hold one complete set, else 'mixed'."""
    if kind == "folder":
        if not (parent / "out").exists():
            return "absent"
        tree = _tree(parent / "out")
        ours = {k: v for k, v in tree.items() if k not in FOREIGN}
        assert {k: v for k, v in tree.items() if k in FOREIGN} == FOREIGN
        return "old" if ours == OLD else "new" if ours == NEW else "mixed"
    if kind == "files":
        pair = ((parent / "curve.csv").read_text(), (parent / "curve.png").read_text())
        return {("old curve\n", "old plot\n"): "old",
                ("new curve\n", "new plot\n"): "new"}.get(pair, "mixed")
    text = (parent / "requests.csv").read_text()
    return {"old requests\n": "old", "new requests\n": "new"}.get(text, "mixed")


def _litter(parent: Path, kind: str) -> list[str]:
    allowed = {"folder": {"out"}, "files": {"curve.csv", "curve.png"},
               "stream": {"requests.csv"}}[kind]
    return [p.name for p in parent.iterdir()
            if p.name not in allowed and not p.name.startswith(STAGING_PREFIX)]


@pytest.mark.parametrize("kind,exchange", [("folder", "yes"), ("folder", "no"),
                                           ("files", "yes"), ("stream", "yes")])
def test_a_kill_at_every_step_leaves_old_or_new_and_the_next_run_cleans_up(tmp_path, kind,
                                                                          exchange):
    _prepare(kind, tmp_path / "count")
    full = _run_writer(kind, tmp_path / "count", 0, exchange)
    assert full.returncode == 0, full.stderr
    steps = int(full.stdout)
    assert steps >= 3
    states = []
    for k in range(1, steps + 1):
        parent = tmp_path / f"kill{k}"
        _prepare(kind, parent)
        killed = _run_writer(kind, parent, k, exchange)
        assert killed.returncode == 9, killed.stderr
        state = _state(kind, parent)
        # A pair of files is renamed one by one after the journal: between those renames the
        # files are mixed until the next run rolls the commit forward (README "Outputs").
        rolling = kind == "files" and state == "mixed"
        # Without an atomic exchange the folder is absent between the fallback's two renames;
        # the next run finishes the swap.
        absent = exchange == "no" and state == "absent"
        assert state in ("old", "new") or rolling or absent, \
            f"{kind}: {state} after a kill at step {k}"
        assert _litter(parent, kind) == []
        # The next run into the same folder cleans (or finishes) what the killed one left.
        if kind == "folder":
            s = OutputSet(parent / "out")
            s.add_text("schedule.csv", "new schedule\n")
            s.add_text("summary.json", "{\"new\": 1}\n")
            s.add_text("baselines/no_cache.csv", "new a\n")
            s.commit()
        else:
            f = FileSet()
            f.add_text(parent / "other.txt", "x\n")
            f.commit()
            if rolling:
                assert _state(kind, parent) == "new"
            (parent / "other.txt").unlink()
        assert not [p for p in parent.iterdir() if p.name.startswith(STAGING_PREFIX)]
        if kind == "folder":
            assert _state(kind, parent) == "new"
        states.append(state)
    assert "old" in states and ("new" in states or "mixed" in states)


@pytest.mark.parametrize("kind", ["folder", "files"])
def test_a_failure_at_every_step_leaves_old_or_new_and_no_staging(tmp_path, kind, monkeypatch):
    k = 0
    while True:
        k += 1
        parent = tmp_path / f"fail{k}"
        _prepare(kind, parent)
        seen = []

        def step(name, k=k, seen=seen):
            seen.append(name)
            if len(seen) == k:
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(outputs, "_step", step)
        if kind == "folder":
            s = OutputSet(parent / "out")
            for name, text in NEW.items():
                s.add_text(name, text)
        else:
            s = FileSet()
            s.add_text(parent / "curve.csv", "new curve\n")
            s.add_text(parent / "curve.png", "new plot\n")
        try:
            s.commit()
        except InputDataError as e:
            assert "No space left" in str(e)
            assert _state(kind, parent) in ("old", "new")
        else:
            assert _state(kind, parent) == "new"
            break
        assert [p.name for p in parent.iterdir() if p.name.startswith(STAGING_PREFIX)] == []
    assert k > 3


def test_a_second_writer_waits_for_the_first(tmp_path):
    parent = tmp_path / "p"
    _prepare("folder", parent)
    with outputs._locked([parent]):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, "folder", str(parent), "0", "yes"],
                                env={**os.environ, "PYTHONPATH": str(ROOT)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert proc.poll() is None  # still waiting for the lock
        assert _state("folder", parent) == "old"
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "waiting for another greencache run" in err
    assert _state("folder", parent) == "new"


def test_the_working_folder_is_never_swapped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = OutputSet(Path("."))
    s.add_text("schedule.csv", "x\n")
    with pytest.raises(UsageError, match="working folder"):
        s.commit()
    f = tmp_path / "file"
    f.write_text("x")
    s = OutputSet(f)
    s.add_text("schedule.csv", "x\n")
    with pytest.raises(InputDataError, match="is a file"):
        s.commit()


def test_a_streamed_file_that_fails_leaves_the_old_file_and_nothing_else(tmp_path):
    _prepare("stream", tmp_path / "s")
    with pytest.raises(RuntimeError):
        with staged_file(tmp_path / "s" / "requests.csv") as f:
            f.write(b"half")
            raise RuntimeError("boom")
    assert _state("stream", tmp_path / "s") == "old"
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["requests.csv"]


def test_new_files_get_ordinary_permissions(tmp_path):
    s = OutputSet(tmp_path / "o")
    s.add_text("a.csv", "x\n")
    s.commit()
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "o" / "a.csv").stat().st_mode & 0o777 == 0o666 & ~mask
    assert json.loads(json.dumps(s.names())) == ["a.csv"]
