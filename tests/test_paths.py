"""Where the data comes from: the checkout, an installed copy (importlib.resources) or
GREENCACHE_DATA; and `greencache examples`, which hands the example files out."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner import paths
from planner.cli import app
from planner.errors import InputDataError

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def test_checkout_reads_the_top_level_folders(monkeypatch):
    monkeypatch.delenv(paths.ENV, raising=False)
    assert paths.packaged_root() is None  # planner/data holds no copy in a checkout
    assert paths.data_root() == ROOT
    assert (paths.profiles_dir() / "catalog.toml").is_file()
    assert (paths.grids_dir() / "ATTRIBUTION.md").is_file()


def test_installed_layout_resolves_through_importlib_resources(tmp_path):
    """The package laid out as a wheel installs it (data under planner/data), imported from
    another folder: every folder resolves inside the package, and the CLI reads from there."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "planner", site / "planner",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in paths.FOLDERS:  # links, not copies: the layout is what is under test
        (site / "planner" / "data" / name).symlink_to(ROOT / name)
    env = {k: v for k, v in os.environ.items() if k not in (paths.ENV, "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    code = ("import planner.paths as p; print(p.data_root()); print(p.profiles_dir()); "
            "print(p.examples_dir())")
    out = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    data = site / "planner" / "data"
    assert out == [str(data), str(data / "profiles"), str(data / "examples")]
    r = subprocess.run([sys.executable, "-m", "planner", "grid", "list"], cwd=work, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "FR" in r.stdout and "EIA-CISO" in r.stdout


def test_greencache_data_points_elsewhere(tmp_path, monkeypatch):
    grids = tmp_path / "grids" / "electricitymaps"
    grids.mkdir(parents=True)
    shutil.copy(ROOT / "grids" / "electricitymaps" / "FR_2023_hourly.csv", grids)
    (tmp_path / "grids" / "zones.toml").write_text(
        '[electricitymaps]\nfolder = "electricitymaps"\nformat = "electricitymaps"\n'
        'bases = ["lifecycle", "direct"]\n', encoding="utf-8")
    monkeypatch.setenv(paths.ENV, str(tmp_path))
    assert paths.grids_dir() == tmp_path / "grids"
    r = runner.invoke(app, ["grid", "list"])
    assert r.exit_code == 0, r.output
    assert "FR" in r.output and "DE" not in r.output  # only the zone of the other root
    # no catalog under that root: the command names the file it looked for, exit 3
    r = runner.invoke(app, ["catalog"])
    assert r.exit_code == 3 and "catalog.toml does not exist" in r.output
    monkeypatch.setenv(paths.ENV, str(tmp_path / "missing"))
    with pytest.raises(InputDataError, match="is not a folder"):
        paths.data_root()
    r = runner.invoke(app, ["grid", "list"])
    assert r.exit_code == 3 and "GREENCACHE_DATA" in r.output


def test_examples_lists_and_copies(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ENV, raising=False)
    r = runner.invoke(app, ["examples"])
    assert r.exit_code == 0, r.output
    assert "AzureLLMInferenceTrace_conv.csv" in r.output and "request trace (azure)" in r.output
    assert "rate series (azure-counts)" in r.output and "ATTRIBUTION.md" in r.output
    out = tmp_path / "ex"
    r = runner.invoke(app, ["examples", "--out", str(out)])
    assert r.exit_code == 0, r.output
    shipped = sorted(p.name for p in (ROOT / "examples").iterdir() if p.is_file())
    assert sorted(p.name for p in out.iterdir()) == shipped
    trace = "AzureLLMInferenceTrace_conv.csv"
    assert (out / trace).read_bytes() == (ROOT / "examples" / trace).read_bytes()
    r = runner.invoke(app, ["examples", "--out", str(out)])  # already there: nothing to do
    assert r.exit_code == 0 and "copied 0 file(s)" in r.output
    (out / trace).write_text("edited\n")
    r = runner.invoke(app, ["examples", "--out", str(out)])  # an edited copy is never replaced
    assert r.exit_code == 2 and f"different {trace}" in r.output
    assert (out / trace).read_text() == "edited\n"


def test_source_distribution_carries_the_data():
    """setup.py copies these folders into the wheel; an sdist must carry them to build from."""
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8").split()
    for name in paths.FOLDERS:
        assert f"graft {name}" in " ".join(manifest) or name in manifest
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")


def test_a_zipped_package_is_pointed_elsewhere(tmp_path):
    """Imported from a zip (no installer does this; readers need real files), the data root is
    refused in one sentence that names the way out, found by importlib.resources as before."""
    import zipfile

    archive = tmp_path / "planner.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted((ROOT / "planner").rglob("*.py")):
            z.write(f, f.relative_to(ROOT).as_posix())
    env = {k: v for k, v in os.environ.items() if k not in (paths.ENV, "PYTHONPATH")}
    env["PYTHONPATH"] = str(archive)
    code = ("import planner.paths as p\ntry:\n    p.data_root()\nexcept Exception as e:\n"
            "    print(type(e).__name__, e)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.startswith("InputDataError the installed greencache data is not on disk"), out
    assert paths.ENV in out
