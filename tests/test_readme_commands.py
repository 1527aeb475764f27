"""Every example command of the README's Commands section, run as written through CliRunner.

The commands run in order (simulate replays the plan written before it) in a fresh folder
where `examples/` is the shipped one; a trailing `# exit N` gives the documented exit code.
"""

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app

ROOT = Path(__file__).resolve().parent.parent


def readme_examples() -> list[tuple[str, int]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Commands"):text.index("### Exit codes")]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            if not line.startswith("greencache "):
                continue
            command, _, comment = line.partition("#")
            m = re.match(r"\s*exit (\d+)", comment)
            entry = (command.strip(), int(m.group(1)) if m else 0)
            if entry not in commands:
                commands.append(entry)
    return commands


EXAMPLES = readme_examples()


def test_the_readme_shows_examples_of_every_command():
    shown = {" ".join(shlex.split(c)[1:3]) for c, _ in EXAMPLES}
    for name in ("plan --trace", "plan --config", "simulate --schedule", "compare --plan",
                 "report --plan", "trace inspect", "trace hitcurve", "trace synth",
                 "grid list", "grid show", "catalog"):
        assert any(s.startswith(name) for s in shown), name
    assert any(code != 0 for _, code in EXAMPLES)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    (d / "examples").symlink_to(ROOT / "examples")
    return d


_results: dict[int, object] = {}


def run_through(i: int, folder: Path, monkeypatch):
    """Run the examples up to i in order (each once), in ``folder``; the result of i."""
    monkeypatch.chdir(folder)
    for k in range(i + 1):
        if k not in _results:
            _results[k] = CliRunner().invoke(app, shlex.split(EXAMPLES[k][0])[1:])
    return _results[i]


@pytest.mark.parametrize("i", range(len(EXAMPLES)), ids=[c for c, _ in EXAMPLES])
def test_readme_example_exits_as_documented(i, folder, monkeypatch):
    command, code = EXAMPLES[i]
    r = run_through(i, folder, monkeypatch)
    assert r.exit_code == code, f"{command}\n{r.output}"
    assert "Traceback" not in r.output and "internal error" not in r.output


def test_the_plan_option_table_lists_every_option():
    import typer.main

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("The options of `plan`:"):text.index("### Scenario files")]
    listed = set(re.findall(r"`(--[a-z][a-z-]*[a-z])", table))
    cmd = typer.main.get_command(app).commands["plan"]
    options = {o for p in cmd.params for o in [*p.opts, *p.secondary_opts]
               if o.startswith("--")} - {"--help"}
    assert options - listed == set(), "options missing from the README table"
    assert listed - options == set(), "README lists options plan does not have"
