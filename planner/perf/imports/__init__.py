"""Benchmark result files → measured profile tables (``greencache profile import``).

One reader per tool (``vllm_bench``, ``guidellm``, ``genai_perf``), each returning
:class:`planner.perf.imports.run.ImportedRun` values; :mod:`planner.perf.imports.table` turns
them into the planner's table. :func:`read_results` detects a file's tool (``auto``) or
checks it is the one named, and refuses a file that is none of them in one sentence.
"""

from __future__ import annotations

import json
from pathlib import Path

from planner.choices import IMPORT_FORMATS
from planner.errors import InputDataError, UsageError
from planner.input_files import read_text
from planner.paths import sha256_file
from planner.perf.imports import genai_perf, guidellm, vllm_bench
from planner.perf.imports.run import ImportedRun

NONE_OF_THESE = ("is none of the result files `profile import` reads (vLLM bench serve "
                 "--save-result JSON, a guidellm benchmarks JSON report, genai-perf's "
                 "profile_export_genai_perf.json or .csv)")


def detect(text: str) -> str | None:
    """The tool whose result file ``text`` is, or None."""
    if genai_perf.looks_like_csv(text):
        return "genai-perf"
    objs = vllm_bench.objects(text)
    if not objs:
        return None
    first = objs[0]
    if guidellm.looks_like(first):
        return "guidellm"
    if genai_perf.looks_like_json(first):
        return "genai-perf"
    if vllm_bench.looks_like(first):
        return "vllm-bench"
    return None


def read_results(path: str | Path, fmt: str = "auto") -> list[ImportedRun]:
    """The runs of one result file (several for a guidellm sweep or appended vLLM results)."""
    if fmt not in IMPORT_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(IMPORT_FORMATS)}, got {fmt!r}")
    path = str(path)
    text = read_text(path, "benchmark result")
    sha = sha256_file(Path(path))
    found = detect(text)
    if found is None:
        if fmt == "auto":
            raise InputDataError(f"{path} {NONE_OF_THESE}")
        found = fmt          # let the named reader say which key is missing
    elif fmt not in ("auto", found):
        raise InputDataError(f"{path} is a {found} result, not {fmt} (--format)")
    if found == "genai-perf" and genai_perf.looks_like_csv(text):
        return genai_perf.read_csv(path, text, sha)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        obj = None
    if found == "vllm-bench":
        return vllm_bench.read(path, text, sha)
    if not isinstance(obj, dict):
        raise InputDataError(f"{path} is not a {found} result (not one JSON object)")
    if found == "guidellm":
        return guidellm.read(path, obj, sha)
    return genai_perf.read_json(path, obj, sha)
