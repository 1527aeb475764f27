"""Property-based checks over every reader and every command that reads files: random and
mutated inputs end in a result or one sentence with a documented exit code (2, 3, 4, 5), never
an internal error (exit 1) or a traceback, and a failed run leaves no partial output.

Example counts are capped so the file runs in seconds; hypothesis draws new cases every run
(its database replays earlier failures first). Each property counts its cases into COUNTS,
printed at the end (`pytest -s tests/test_fuzz.py`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import synthetic_profile
from planner.cli import app
from planner.errors import GreencacheError
from planner.grid import read_grid_file
from planner.outputs import STAGING_PREFIX
from planner.plan_files import read_compare, read_replay, read_schedule, read_summary
from planner.workload.load import load_workload
from planner.workload.rates import read_rate_series

runner = CliRunner()
FAST = settings(max_examples=40, deadline=None, database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck))
# Commands run whole plans and replays: few examples, and no shrinking (a failing case is
# printed as drawn; shrinking a plan can take minutes).
SLOW = settings(max_examples=5, deadline=None, database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck))
COUNTS: dict[str, list[int]] = {}  # property -> [cases, accepted, refused with exit 2..5]

# Values that have broken parsers before: text in numbers, hex, fractions, booleans, NaN,
# infinities, overflow, huge spans, empty, quotes, markup and bytes that are not UTF-8.
NASTY = ["", " ", "abc", "0x10", "1.5", "-1", "0", "true", "True", "null", "NaN", "nan", "inf",
         "-inf", "1e400", "1e12", "99999999999999999999999", "2**63", "9223372036854775808",
         "\"", "'", ",", "<script>alert(1)</script>", "2023-02-30T00:00:00Z",
         "1970-01-01T00:00:00Z", "2262-04-12T00:00:00Z", "9999-12-31T23:59:59Z", "[]", "{}",
         "[1, 2]", "\u00e9", "x" * 300]


def _count(name: str, accepted: bool) -> None:
    c = COUNTS.setdefault(name, [0, 0, 0])
    c[0] += 1
    c[1 if accepted else 2] += 1


def mutate(data: st.DataObject, text: str) -> bytes:
    """Up to three edits of a valid file: a field replaced by a nasty value, a line dropped
    or repeated, the file cut short, or bytes that are not UTF-8."""
    lines = text.splitlines()
    # Zero edits now and then: the accepting path (a whole plan, a written report) runs too.
    for _ in range(data.draw(st.integers(0, 3))):
        kind = data.draw(st.sampled_from(["field", "field", "field", "drop", "dup", "cut",
                                          "bytes"]))
        i = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            break
        if kind == "field":
            sep = "," if "," in lines[i] else " "
            parts = lines[i].split(sep)
            j = data.draw(st.integers(0, len(parts) - 1))
            parts[j] = data.draw(st.sampled_from(NASTY) | st.text(max_size=12))
            lines[i] = sep.join(parts)
        elif kind == "drop":
            del lines[i]
        elif kind == "dup":
            lines.insert(i, lines[i])
        elif kind == "cut":
            lines = lines[:i]
    out = ("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")
    if data.draw(st.integers(0, 9)) == 0:
        k = data.draw(st.integers(0, len(out)))
        out = out[:k] + data.draw(st.binary(min_size=1, max_size=4)) + out[k:]
    return out


def mutate_json(data: st.DataObject, obj):
    """A JSON document with one value somewhere replaced (wrong type, NaN, huge, markup) or a
    key removed."""
    obj = json.loads(json.dumps(obj))
    node = obj
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) \
            if isinstance(node, list) else []
        if not keys:
            break
        key = data.draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, (dict, list)) and child and data.draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and data.draw(st.integers(0, 4)) == 0:
            del node[key]
        else:
            node[key] = data.draw(st.sampled_from(
                [None, True, "text", "<b>&amp;</b>", -1, 1e12, 2**70, [], {}, float("nan"),
                 float("inf"), "x" * 1000]))
        break
    return json.dumps(obj, allow_nan=True)


# --------------------------------------------------------------------------------------------
# valid starting points
# --------------------------------------------------------------------------------------------

AZURE = ("TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(
    f"2023-11-16 18:{m:02d}:{s:02d}.000+00:00,{300 + 17 * i},{40 + i}\n"
    for i, (m, s) in enumerate([(0, 5), (1, 10), (2, 30), (3, 3), (4, 40), (6, 0)])))
MOONCAKE = "".join(json.dumps({"timestamp": 1000 * i, "input_length": 600 + i,
                               "output_length": 20, "hash_ids": [1, 2 + i % 2]}) + "\n"
                   for i in range(6))
GENERIC = "arrival_s,input_tokens,output_tokens,session_id,hash_ids\n" + "".join(
    f"{i * 1.5},{520 + i},{30},{i % 2},{i % 3} {i}\n" for i in range(6))
GRID = "Datetime (UTC),Zone id,Carbon intensity gCO₂eq/kWh (direct),Carbon intensity " \
       "gCO₂eq/kWh (Life cycle)\n" + "".join(
           f"2023-11-{16 + h // 24:02d} {h % 24:02d}:00:00,FR,{20 + h},{40 + h}\n"
           for h in range(48))
RATES = "Time,TIMESTAMP\n" + "".join(
    f"2024-05-10 00:00:{10 * i:02d}+00:00,{i % 4}\n" for i in range(6))


def _write(tmp: Path, name: str, content) -> Path:
    p = tmp / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return p


def _handled(fn, *args) -> bool:
    """Whether the reader accepted the file; anything but a return or one of the documented
    errors (one short sentence) fails the test."""
    try:
        fn(*args)
    except GreencacheError as e:
        msg = str(e)
        assert "\n" not in msg.strip() and len(msg) < 600, msg
        return False
    return True


# --------------------------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,base", [("azure.csv", AZURE), ("mooncake.jsonl", MOONCAKE),
                                       ("generic.csv", GENERIC), ("rates.csv", RATES)])
@FAST
@given(data=st.data())
def test_trace_readers_never_fail_unhandled(tmp_path_factory, name, base, data):
    p = _write(tmp_path_factory.mktemp("t"), name, mutate(data, base))
    _count(f"read trace {name}", _handled(load_workload, p))


@FAST
@given(data=st.data(), basis=st.sampled_from(["lifecycle", "direct"]))
def test_grid_reader_never_fails_unhandled(tmp_path_factory, data, basis):
    p = _write(tmp_path_factory.mktemp("g"), "grid.csv", mutate(data, GRID))
    _count("read grid", _handled(read_grid_file, p, basis))


@FAST
@given(blob=st.binary(max_size=200))
def test_random_bytes_are_refused_cleanly_by_every_reader(tmp_path_factory, blob):
    tmp = tmp_path_factory.mktemp("b")
    for name, fn in (("t.csv", load_workload), ("t.jsonl", load_workload),
                     ("g.csv", read_grid_file), ("r.csv", read_rate_series),
                     ("schedule.csv", read_schedule), ("summary.json", read_summary),
                     ("replay.csv", read_replay), ("compare.csv", read_compare)):
        _count(f"random bytes {name}", _handled(fn, _write(tmp, name, blob)))


@FAST
@given(data=st.data())
def test_profile_table_params_and_reuse_model_readers(plan_dir, tmp_path_factory, data):
    from planner.perf.params import default_params_path, load_params
    from planner.perf.profile import read_profile
    from planner.workload.reuse_model import default_params_path as reuse_path, load_reuse_params

    tmp = tmp_path_factory.mktemp("m")
    table = sorted((plan_dir / "profiles").glob("*.csv"))[0]
    which = data.draw(st.sampled_from(["csv", "meta"]))
    csv_text, meta_text = table.read_text(), table.with_suffix(".meta.json").read_text()
    if which == "csv":
        # A few lines of the table keep each example fast; mutations then hit every column.
        csv_text = "\n".join(csv_text.splitlines()[:40]) + "\n"
        _write(tmp, "t.csv", mutate(data, csv_text))
        _write(tmp, "t.meta.json", meta_text)
    else:
        _write(tmp, "t.csv", csv_text)
        _write(tmp, "t.meta.json", mutate_json(data, json.loads(meta_text)))
    _count("read profile table", _handled(read_profile, tmp / "t.csv"))
    params = json.loads(default_params_path().read_text())
    _count("read model parameters", _handled(load_params, _write(
        tmp, "params.json", mutate_json(data, params))))
    reuse = json.loads(reuse_path().read_text())
    _count("read reuse model", _handled(load_reuse_params, _write(
        tmp, "reuse.json", mutate_json(data, reuse))))


def test_folders_and_missing_files_are_exit_3_naming_the_file(tmp_path):
    for fn in (load_workload, read_grid_file, read_rate_series, read_schedule, read_summary):
        for p in (tmp_path, tmp_path / "missing.csv"):
            with pytest.raises(GreencacheError, match=str(p.name)) as e:
                fn(p)
            assert e.value.exit_code == 3


# --------------------------------------------------------------------------------------------
# commands: one small plan made once, then mutated
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plan")
    synthetic_profile.write(tmp / "profiles")
    trace = _write(tmp, "trace.jsonl", MOONCAKE)
    grid = _write(tmp, "grid.csv", GRID)
    r = runner.invoke(app, ["plan", "--trace", str(trace), "--grid", str(grid),
                            "--start", "2023-11-16T18:00Z", "--window", "15min",
                            "--profile-dir", str(tmp / "profiles"), "--out", str(tmp / "out"),
                            "--no-timing", "-q", "--cache-levels", "0,1", "--max-replicas", "4",
                            "--workload-shape", "azure-conv"])
    assert r.exit_code == 0, r.output
    return tmp


def _cli(name: str, args: list[str], out: Path | None = None) -> None:
    """Run a command: never exit 1 or a traceback; on failure ``out`` is as it was."""
    before = _snapshot(out)
    r = runner.invoke(app, args)
    ok = r.exit_code in (0, 2, 3, 4, 5) and (r.exception is None or
                                            isinstance(r.exception, SystemExit))
    assert ok, f"{args}: exit {r.exit_code}\n{r.output}"
    if r.exit_code != 0 and out is not None:
        assert _snapshot(out) == before, f"{args}: a failed run changed {out}"
    if out is not None:
        assert not list(out.parent.glob(STAGING_PREFIX + "*")), "staging left behind"
    _count(name, r.exit_code == 0)


def _snapshot(path: Path | None):
    if path is None or not path.exists():
        return None
    if path.is_file():
        return path.read_bytes()
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


@SLOW
@given(data=st.data())
def test_plan_with_mutated_trace_or_grid(plan_dir, tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("p")
    which = data.draw(st.sampled_from(["trace", "grid"]))
    trace = _write(tmp, "trace.jsonl", mutate(data, MOONCAKE) if which == "trace" else MOONCAKE)
    grid = _write(tmp, "grid.csv", mutate(data, GRID) if which == "grid" else GRID)
    _cli("plan", ["plan", "--trace", str(trace), "--grid", str(grid), "--start",
                  "2023-11-16T18:00Z", "--window", "15min", "--profile-dir",
                  str(plan_dir / "profiles"), "--out", str(tmp / "out"), "-q",
                  "--cache-levels", "0,1", "--max-replicas", "4",
                  "--workload-shape", "azure-conv"], tmp / "out")


@SLOW
@given(data=st.data())
def test_report_with_hand_edited_plan_files(plan_dir, tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("r")
    src = plan_dir / "out"
    edited = data.draw(st.sampled_from(["schedule.csv", "summary.json", "components.csv"]))
    for f in ("schedule.csv", "summary.json", "components.csv"):
        text = (src / f).read_text()
        if f == edited:
            text = mutate_json(data, json.loads(text)) if f.endswith(".json") \
                else mutate(data, text)
        _write(tmp, f, text)
    out = tmp / "report.html"
    _write(tmp, "report.html", "previous report\n")
    _cli("report", ["report", "--plan", str(tmp), "--out", str(out)], out)
    html = out.read_text()
    assert "<script>" not in html and "<b>&amp;</b>" not in html


@SLOW
@given(data=st.data())
def test_simulate_with_a_hand_edited_schedule(plan_dir, tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("s")
    _write(tmp, "schedule.csv", mutate(data, (plan_dir / "out" / "schedule.csv").read_text()))
    _write(tmp, "summary.json", (plan_dir / "out" / "summary.json").read_text())
    _cli("simulate", ["simulate", "--schedule", str(tmp / "schedule.csv"), "--out",
                      str(tmp / "replay")], tmp / "replay")


@settings(SLOW, max_examples=3)
@given(data=st.data())
def test_compare_with_a_hand_edited_baseline(plan_dir, tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("cmp")
    src = plan_dir / "out"
    for f in src.rglob("*.*"):
        (tmp / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
        if f.name != "no_cache.csv":
            # Copied as bytes: the plan folder holds a binary file too (candidates.npz).
            (tmp / f.relative_to(src)).write_bytes(f.read_bytes())
            continue
        text = mutate(data, f.read_text()).decode("utf-8", errors="surrogateescape")
        (tmp / f.relative_to(src)).write_text(text, errors="surrogateescape")
    _cli("compare", ["compare", "--plan", str(tmp), "--out", str(tmp / "compare")],
         tmp / "compare")


@FAST
@given(data=st.data())
def test_summary_and_schedule_readers(plan_dir, tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("f")
    s = json.loads((plan_dir / "out" / "summary.json").read_text())
    _count("read summary", _handled(read_summary, _write(tmp, "summary.json",
                                                         mutate_json(data, s))))
    text = (plan_dir / "out" / "schedule.csv").read_text()
    _count("read schedule", _handled(read_schedule, _write(tmp, "schedule.csv",
                                                           mutate(data, text))))


@SLOW
@given(data=st.data())
def test_trace_commands_with_mutated_files(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("c")
    trace = _write(tmp, "t.csv", mutate(data, AZURE))
    rates = _write(tmp, "r.csv", mutate(data, RATES))
    _write(tmp, "curve.csv", "previous\n")
    _cli("trace hitcurve", ["trace", "hitcurve", str(trace), "--out", str(tmp / "curve.csv")],
         tmp / "curve.csv")
    _cli("trace inspect", ["trace", "inspect", str(trace)])
    grid = _write(tmp, "g.csv", mutate(data, GRID))
    _cli("grid show", ["grid", "show", str(grid)])
    _cli("trace synth", ["trace", "synth", str(rates), "--out", str(tmp / "req.csv")],
         tmp / "req.csv")


def test_zz_report_counts(capsys):
    """Not a check: prints the cases each property tried and handled (run with -s)."""
    with capsys.disabled():
        total, ok, refused = (sum(c[k] for c in COUNTS.values()) for k in range(3))
        print(f"\nfuzz: {total} cases, {ok} accepted, {refused} refused with a documented "
              f"exit code, none unhandled; {time.process_time():.1f} s CPU in this process")
        for name, (n, a, r) in sorted(COUNTS.items()):
            print(f"  {name}: {n} tried, {a} accepted, {r} refused")
