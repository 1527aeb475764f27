"""genai-perf ``profile_export_genai_perf.json`` and ``profile_export_genai_perf.csv``
(perf_analyzer's ``genai-perf/genai_perf/export_data``: ``json_exporter.py``,
``csv_exporter.py``, ``telemetry_data_exporter_util.py``; statistics from
``metrics/statistics.py``).

JSON: one object per metric, ``{"unit": "ms", "avg", "p1" … "p99", "min", "max", "std"}``
for ``time_to_first_token``, ``inter_token_latency``, ``request_latency``,
``input_sequence_length``, ``output_sequence_length`` …; ``{"unit", "avg"}`` for
``request_throughput`` and ``request_count``; ``telemetry_stats`` (with a metrics URL) holds
``gpu_power_usage: {"unit": "W", "gpu0": {"avg", …}, …}``; ``input_config`` the run's
configuration (``perf_analyzer.stimulus``: ``{"request_rate": r}`` or ``{"concurrency": n}``).
CSV: a block ``Metric,avg,min,max,p99,p95,p90,p75,p50,p25,p10,p5,p1`` with rows such as
``Time To First Token (ms)``, a block ``Metric,Value`` with ``Request Throughput (per sec)``,
and with telemetry a block ``Metric,GPU,avg,…`` with ``GPU Power Usage (W)`` per GPU; values
are written ``1,234.56``.

genai-perf's inter-token latency of a request is (request latency − TTFT) / (output tokens − 1),
which is the table's TPOT. The rate is the configured request rate when the stimulus was one,
else the measured request throughput. Power is measured when the telemetry holds it.
"""

from __future__ import annotations

import csv
import io
import json

from planner.errors import InputDataError
from planner.input_files import quote
from planner.perf.imports.run import HIT_ASSUMED, POWER_MODELLED, ImportedRun, number, ordered

TOOL = "genai-perf"
_QS = ("p50", "p90", "p99")


def looks_like_json(obj) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("time_to_first_token"), dict) \
        and "input_config" in obj


def looks_like_csv(text: str) -> bool:
    return text.lstrip().startswith("Metric,avg,")


def _run(path, sha, stats: dict, stimulus, power, model, where) -> ImportedRun:
    for key in ("time_to_first_token", "inter_token_latency", "input_sequence_length",
                "output_sequence_length", "request_throughput"):
        if not isinstance(stats.get(key), dict):
            extra = (" (genai-perf writes it only for streaming runs: profile with --streaming)"
                     if key in ("time_to_first_token", "inter_token_latency") else "")
            raise InputDataError(f"{where} lacks {key!r}{extra}")
    for key in ("time_to_first_token", "inter_token_latency"):
        unit = stats[key].get("unit", "ms")
        if unit != "ms":
            raise InputDataError(f"{where}: {key} is in {quote(unit)}, not ms")
    ttft = tuple(number(stats["time_to_first_token"], q, f"{where} time_to_first_token") / 1e3
                 for q in _QS)
    tpot = tuple(number(stats["inter_token_latency"], q, f"{where} inter_token_latency") / 1e3
                 for q in _QS)
    throughput = number(stats["request_throughput"], "avg", f"{where} request_throughput")
    if isinstance(stimulus, dict) and isinstance(stimulus.get("request_rate"), (int, float)) \
            and stimulus["request_rate"] > 0:
        rate, rate_from = float(stimulus["request_rate"]), \
            "input_config.perf_analyzer.stimulus.request_rate (configured)"
    else:
        rate, rate_from = throughput, "request_throughput (measured; the stimulus was " \
            f"{json.dumps(stimulus) if stimulus else 'not recorded'})"
    count = stats.get("request_count")
    requests = int(number(count, "avg", f"{where} request_count")) if isinstance(count, dict) \
        else 0
    missing = [HIT_ASSUMED]
    if power is None:
        missing.append(POWER_MODELLED.replace("not recorded", "not recorded (no GPU telemetry: "
                                              "profile with --server-metrics-url)"))
    missing.append("tool version: genai-perf does not write its version into its exports")
    return ImportedRun(
        path=path, sha256=sha, tool=TOOL, version=None, label="", rate_rps=rate,
        rate_from=rate_from,
        mean_input_tokens=number(stats["input_sequence_length"], "avg",
                                 f"{where} input_sequence_length"),
        mean_output_tokens=number(stats["output_sequence_length"], "avg",
                                  f"{where} output_sequence_length"),
        ttft_s=ordered(ttft, "TTFT", where),
        tpot_s=ordered(tpot, "inter-token latency", where), requests=requests,
        gpu_power_w=power, model=model, missing=missing,
        notes=["TPOT read from inter_token_latency: (request latency − TTFT) / (output tokens "
               "− 1) per request"])


def _power(gpus: dict, where: str) -> float | None:
    """Mean of the GPUs' average power (W per GPU), or None without telemetry."""
    if not isinstance(gpus, dict):
        return None
    vals = [number(v, "avg", f"{where} gpu_power_usage.{k}") for k, v in gpus.items()
            if k != "unit"]
    return sum(vals) / len(vals) if vals else None


def read_json(path: str, obj: dict, sha: str) -> list[ImportedRun]:
    cfg = obj.get("input_config") if isinstance(obj.get("input_config"), dict) else {}
    pa = cfg.get("perf_analyzer") if isinstance(cfg.get("perf_analyzer"), dict) else {}
    names = cfg.get("model_names")
    model = names[0] if isinstance(names, list) and names else None
    telemetry = obj.get("telemetry_stats") if isinstance(obj.get("telemetry_stats"), dict) \
        else {}
    power = _power(telemetry.get("gpu_power_usage"), path)
    return [_run(path, sha, obj, pa.get("stimulus"), power, model, path)]


def _value(text: str, where: str) -> float:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        raise InputDataError(f"{where}: cannot read {quote(text)} as a number") from None


_CSV_ROWS = {"Time To First Token (ms)": "time_to_first_token",
             "Inter Token Latency (ms)": "inter_token_latency",
             "Input Sequence Length (tokens)": "input_sequence_length",
             "Output Sequence Length (tokens)": "output_sequence_length",
             "Request Throughput (per sec)": "request_throughput",
             "Request Count (count)": "request_count"}


def read_csv(path: str, text: str, sha: str) -> list[ImportedRun]:
    stats: dict = {}
    gpus: dict = {}
    header = None
    for n, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or not any(c.strip() for c in row):
            header = None
            continue
        if row[0] == "Metric":
            header = row
            continue
        if header is None:
            raise InputDataError(f"{path}, line {n}: a row outside a Metric block")
        where = f"{path}, line {n}"
        if len(row) != len(header):
            raise InputDataError(f"{where}: {len(row)} cells under a header of {len(header)}")
        if header[1:2] == ["GPU"]:
            if row[0] == "GPU Power Usage (W)":
                gpus[row[1]] = {"avg": _value(row[2], where)}
            continue
        key = _CSV_ROWS.get(row[0])
        if key is None:
            continue
        if header[1:2] == ["Value"]:
            stats[key] = {"avg": _value(row[1], where)}
        else:
            stats[key] = {h: _value(c, where) for h, c in zip(header[1:], row[1:])
                          if c != "N/A"}
            stats[key]["unit"] = "ms" if "(ms)" in row[0] else "tokens"
    return [_run(path, sha, stats, None, _power(gpus, path), None, path)]
