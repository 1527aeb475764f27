#!/usr/bin/env python3
"""Regenerate the fitted data greencache ships and compare it byte for byte (`make check-data`).

    .venv/bin/python scripts/check_data.py [--record]

Regenerates, from the shipped inputs and with the dates recorded in the files themselves:

    profiles/calibration/perf_model.json        performance model (planner/perf/fit.py)
    profiles/reuse/mooncake-conversation.json   session-reuse model and its curve
    profiles/reuse/mooncake-conversation-curve.csv      (scripts/fit_reuse_model.py)
    profiles/shapes/<name>.json                 workload shapes (scripts/fit_workload_shapes.py)

Least squares, quantiles and sums land a few units in the last place apart on other CPUs and
BLAS builds, so bytes belong to a platform: profiles/data-platform.json names the one these
files were checked on (CPU model and vector extensions, Python, numpy and its BLAS, scipy,
numba), which files it regenerates byte for byte, and by how much the others differ there
(the performance model was fitted on an earlier machine; a refit lands up to 5e-4 relative
away). This script prints that platform beside the machine it runs on. The test suite compares
the same regenerations with relative tolerances, which hold on any x86-64 or arm64 machine.
`--record` writes this machine and what it found into profiles/data-platform.json (after
regenerating data on purpose, e.g. `make calibrate`).

Exit status: 0 when every file the recorded platform reproduces is identical, 1 otherwise
(the first differing line of each file is shown).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.outputs import atomic_write_text  # noqa: E402
from planner.paths import profiles_dir  # noqa: E402

PLATFORM_FILE = "data-platform.json"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def regenerate():
    """(path relative to profiles/, regenerated text) for every fitted file."""
    from planner.perf.fit import fit_all
    from planner.perf.shapes import read_shape, shapes_dir
    from planner.workload.reuse_model import load_reuse_params

    params, _ = fit_all()
    yield "calibration/perf_model.json", params.to_json()
    reuse = _script("fit_reuse_model")
    date = load_reuse_params().provenance["date"]
    model, curve, _ = reuse.render(ROOT / "examples" / "conversation_trace.jsonl", date)
    yield "reuse/mooncake-conversation.json", model
    yield "reuse/mooncake-conversation-curve.csv", curve
    shapes = _script("fit_workload_shapes")
    for name in shapes.SOURCES:
        date = read_shape(shapes_dir() / f"{name}.json").provenance["date"]
        yield f"shapes/{name}.json", shapes.render(name, date)


def this_platform() -> dict:
    import llvmlite
    import numba
    import numpy as np
    import scipy

    cpu = platform.processor() or platform.machine()
    try:
        info = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
        cpu = (f"{info['model name']} ({info['vendor_id']} family {info['cpu family']} "
               f"model {info['model']})") if "model name" in info else cpu
    except (OSError, KeyError):
        pass
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return {"cpu": cpu, "machine": platform.machine(), "cpu_features": _features(),
            "python": platform.python_version(), "numpy": np.__version__,
            "blas": f"{blas.get('name')} {blas.get('version')}", "scipy": scipy.__version__,
            "numba": numba.__version__, "llvmlite": llvmlite.__version__,
            "numba_cpu": _numba_cpu()}


def _features() -> str:
    """The vector extensions numpy dispatches to here: the part of a CPU that changes sums."""
    import numpy as np

    found = np.show_config(mode="dicts")["SIMD Extensions"].get("found", [])
    return " ".join(found)


def _numba_cpu() -> str:
    import llvmlite.binding as llvm

    return llvm.get_host_cpu_name()


def first_difference(a: str, b: str) -> str:
    la, lb = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(la, lb), 1):
        if x != y:
            return f"line {i}: shipped {x.strip()[:70]!r}, regenerated {y.strip()[:70]!r}"
    return f"shipped has {len(la)} lines, regenerated {len(lb)}"


def max_relative_difference(a, b) -> float:
    """Largest relative difference between the numbers of two JSON documents of one shape
    (inf where the shapes differ)."""
    if isinstance(b, dict):
        if not isinstance(a, dict) or a.keys() != b.keys():
            return float("inf")
        return max((max_relative_difference(a[k], b[k]) for k in b), default=0.0)
    if isinstance(b, list):
        if not isinstance(a, list) or len(a) != len(b):
            return float("inf")
        return max((max_relative_difference(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(b, (int, float)) and isinstance(a, (int, float)):
        return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))
    return 0.0 if a == b else float("inf")


def describe(platform_: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in platform_.items()) or "(no record)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", action="store_true",
                    help=f"write this machine and what matched into profiles/{PLATFORM_FILE}")
    args = ap.parse_args(argv)
    root = profiles_dir()
    record_path = root / PLATFORM_FILE
    record = (json.loads(record_path.read_text(encoding="utf-8")) if record_path.exists()
              else {"platform": {}, "byte_identical": [], "differ_on_platform": {}})
    here = this_platform()
    print(f"shipped bytes belong to: {describe(record['platform'])}")
    print(f"this machine:            {describe(here)}")
    identical, differ = [], {}
    for rel, text in regenerate():
        shipped = (root / rel).read_text(encoding="utf-8")
        if text == shipped:
            identical.append(rel)
            print(f"identical  profiles/{rel}")
            continue
        diff = (max_relative_difference(json.loads(text), json.loads(shipped))
                if rel.endswith(".json") else float("inf"))
        differ[rel] = diff
        known = record["differ_on_platform"].get(rel)
        print(f"differs    profiles/{rel}: largest relative difference {diff:.1e}"
              + (f" (also on the recorded platform: {known:.1e})" if known is not None else "")
              + f"; {first_difference(shipped, text)}")
    broken = [rel for rel in record["byte_identical"] if rel in differ]
    if args.record:
        atomic_write_text(record_path, json.dumps(
            {"platform": here, "byte_identical": identical, "differ_on_platform": differ},
            indent=2) + "\n")
        print(f"recorded this machine in {record_path}")
        return 0
    if broken:
        same = [k for k in here if record["platform"].get(k) == here[k]]
        print(f"{len(broken)} file(s) the recorded platform regenerates byte for byte differ "
              "here. " + ("This is that platform, so an input or the code changed."
                          if len(same) == len(here) else
                          "This machine differs from it in "
                          + ", ".join(k for k in here if k not in same)
                          + "; tests/test_perf_fit.py, test_reuse_model.py and "
                            "test_perf_shapes.py say whether the values agree within tolerance."))
        return 1
    print(f"{len(identical)} file(s) identical; "
          f"{len(differ)} differ as they do on the recorded platform")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
