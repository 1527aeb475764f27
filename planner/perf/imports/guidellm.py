"""guidellm's benchmarks report (``guidellm benchmark … --outputs json``; its
``GenerativeBenchmarksReport``: ``metadata``, ``config``, ``benchmarks``).

Each entry of ``benchmarks`` is one run at one scheduling strategy (``config.strategy``:
``{"type_": "constant" | "poisson", "rate": r}``, ``synchronous``, ``concurrent``,
``throughput``); a sweep holds several. Per run, ``metrics`` holds distribution summaries by
request status (``successful``, ``errored``, ``incomplete``, ``total``), each with ``mean``,
``median``, ``count`` and ``percentiles`` (``p50``, ``p90``, ``p99`` …), for
``time_to_first_token_ms``, ``inter_token_latency_ms`` ((last token − first token) / (output
tokens − 1) of a request: the table's TPOT; guidellm's ``time_per_output_token_ms`` includes
the first token and is not used), ``prompt_token_count``, ``output_token_count`` and
``requests_per_second``; ``request_totals`` counts requests by status.

The rate is the strategy's when it sets one (constant, poisson), else the measured
successful requests per second. The report records no hit rate and no power.
"""

from __future__ import annotations

from planner.errors import InputDataError
from planner.perf.imports.run import HIT_ASSUMED, POWER_MODELLED, ImportedRun, number, ordered

TOOL = "guidellm"


def looks_like(obj) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("benchmarks"), list) \
        and isinstance(obj.get("metadata"), dict)


def _successful(metrics: dict, key: str, where: str) -> dict:
    summary = metrics.get(key)
    if not isinstance(summary, dict) or not isinstance(summary.get("successful"), dict):
        raise InputDataError(f"{where} lacks metrics.{key}.successful")
    return summary["successful"]


def _percentiles(metrics: dict, key: str, where: str) -> tuple[float, float, float]:
    s = _successful(metrics, key, where)
    q = s.get("percentiles")
    if not isinstance(q, dict):
        raise InputDataError(f"{where} lacks metrics.{key}.successful.percentiles")
    return tuple(number(q, p, f"{where} metrics.{key}.successful.percentiles") / 1e3
                 for p in ("p50", "p90", "p99"))


def read(path: str, obj: dict, sha: str) -> list[ImportedRun]:
    meta = obj["metadata"]
    version = meta.get("guidellm_version")
    runs = []
    if not obj["benchmarks"]:
        raise InputDataError(f"{path} holds no benchmark runs")
    for k, bench in enumerate(obj["benchmarks"]):
        where = f"{path} benchmarks[{k}]"
        if not isinstance(bench, dict) or not isinstance(bench.get("metrics"), dict):
            raise InputDataError(f"{where} lacks metrics")
        m = bench["metrics"]
        cfg = bench.get("config") if isinstance(bench.get("config"), dict) else {}
        strategy = cfg.get("strategy") if isinstance(cfg.get("strategy"), dict) else {}
        kind = strategy.get("type_", "unknown")
        totals = m.get("request_totals") if isinstance(m.get("request_totals"), dict) else {}
        ok = int(number(totals, "successful", f"{where} metrics.request_totals"))
        if isinstance(strategy.get("rate"), (int, float)) and kind in ("constant", "poisson"):
            rate = number(strategy, "rate", f"{where} config.strategy")
            rate_from = f"config.strategy.rate ({kind}, configured)"
        else:
            rate = number(_successful(m, "requests_per_second", where), "mean",
                          f"{where} metrics.requests_per_second.successful")
            rate_from = f"metrics.requests_per_second (measured; strategy {kind})"
        notes = ["TPOT read from inter_token_latency_ms ((last token − first token) / (output "
                 "tokens − 1) per request)"]
        errored = totals.get("errored", 0)
        incomplete = totals.get("incomplete", 0)
        if (errored or 0) + (incomplete or 0) > 0:
            notes.append(f"{errored} errored and {incomplete} incomplete request(s) are not in "
                         "the percentiles")
        runs.append(ImportedRun(
            path=path, sha256=sha, tool=TOOL, version=str(version) if version else None,
            label=f"benchmarks[{k}] {kind}", rate_rps=rate, rate_from=rate_from,
            mean_input_tokens=number(_successful(m, "prompt_token_count", where), "mean",
                                     f"{where} metrics.prompt_token_count.successful"),
            mean_output_tokens=number(_successful(m, "output_token_count", where), "mean",
                                      f"{where} metrics.output_token_count.successful"),
            ttft_s=ordered(_percentiles(m, "time_to_first_token_ms", where), "TTFT", where),
            tpot_s=ordered(_percentiles(m, "inter_token_latency_ms", where), "TPOT", where),
            requests=ok, model=(cfg.get("backend") or {}).get("model")
            if isinstance(cfg.get("backend"), dict) else None,
            missing=[HIT_ASSUMED, POWER_MODELLED], notes=notes))
    return runs
