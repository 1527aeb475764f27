"""The correction file: JSON written by `profile correct`, read by `plan --correction`.

Keys (schema 1):

* ``greencache_correction``: 1;
* ``table``: the profile table the factors were fitted against (``path``, ``sha256``,
  ``model``, ``gpu``, ``tp``, ``ssd``, ``workload_shape``); a plan applies the file to that
  table only;
* ``observed``: the source (``kind``: logs | measured | replay, ``path``, ``sha256``, ``power`` file
  if any, requests, windows compared, left out and why, what was assumed);
* ``rule``: the ratio, the shrinkage (``prior_windows``) and the least requests per window;
* ``bins``: ``load_fraction`` and ``hit_rate`` edges (from 0 to 1);
* ``factors``: one entry per (load bin, hit bin), load-major: ``load_fraction`` [lo, hi],
  ``hit_rate`` [lo, hi], and per metric (``ttft``, ``tpot``, ``power``) ``factor``,
  ``windows`` (observations behind it) and ``mean_log_ratio``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from planner.errors import InputDataError
from planner.input_files import quote, read_text
from planner.paths import rel_path, sha256_file
from planner.perf.correction.fit import METRICS, PRIOR_WINDOWS, Fit, check_edges
from planner.perf.correction.observed import MIN_REQUESTS, Observed
from planner.perf.profile import ProfileTable

SCHEMA = 1
# Factors outside this range are typing mistakes or observations of another deployment.
FACTOR_RANGE = (0.01, 100.0)


def to_json(fitted: Fit, observed: Observed, table: ProfileTable, observed_path: str,
            power_path: str | None, window_s: float, replicas: int) -> str:
    factors = []
    for i, (l0, l1) in enumerate(zip(fitted.load_edges, fitted.load_edges[1:])):
        for j, (h0, h1) in enumerate(zip(fitted.hit_edges, fitted.hit_edges[1:])):
            factors.append({"load_fraction": [l0, l1], "hit_rate": [h0, h1], **{
                m: {"factor": round(float(fitted.factor[m][i, j]), 6),
                    "windows": int(fitted.windows[m][i, j]),
                    "mean_log_ratio": round(float(fitted.mean_log[m][i, j]), 6)}
                for m in METRICS}})
    src = Path(table.source)
    doc = {
        "greencache_correction": SCHEMA,
        "table": {"path": rel_path(src), "sha256": sha256_file(src), "model": table.model,
                  "gpu": table.meta["gpu"], "tp": table.tp, "ssd": table.meta["ssd"],
                  "workload_shape": table.shape},
        "observed": {"kind": observed.kind, "path": observed_path,
                     "sha256": sha256_file(Path(observed_path)),
                     "power": ({"path": power_path, "sha256": sha256_file(Path(power_path))}
                               if power_path else None),
                     "requests": observed.requests,
                     "window_s": window_s if observed.kind == "logs" else None,
                     "replicas": replicas if observed.kind != "replay" else None,
                     "windows_compared": fitted.used,
                     "windows_left_out": {"fewer_requests": observed.few_requests,
                                          "beyond_table_capacity": fitted.unstable},
                     "assumed": observed.assumed},
        "rule": {"ratio": "observed / expected per window: p90 TTFT, p90 TPOT, mean GPU power "
                          "(expected: the table at the window's load per replica, hit rate "
                          "and token means; for a replay, the plan's prediction of the "
                          "window's p90s)",
                 "factor": "exp(n / (n + prior_windows) · mean log ratio) over a bin's n "
                           "windows; 1 without observations",
                 "prior_windows": PRIOR_WINDOWS, "min_requests_per_window": MIN_REQUESTS},
        "bins": {"load_fraction": list(fitted.load_edges), "hit_rate": list(fitted.hit_edges)},
        "factors": factors,
    }
    return json.dumps(doc, indent=2) + "\n"


def _bad(path, key: str, what: str) -> InputDataError:
    return InputDataError(f"correction {path}: {key} {what}")


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read_correction(path: str | Path) -> dict:
    """The correction file, every key checked (exit 3 naming the first bad one)."""
    path = Path(path)
    text = read_text(path, "correction")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputDataError(f"correction {path}, line {e.lineno}: not JSON ({e.msg})") \
            from None
    if not isinstance(doc, dict):
        raise InputDataError(f"correction {path} must hold a JSON object")
    if doc.get("greencache_correction") != SCHEMA:
        raise _bad(path, "greencache_correction", f"must be {SCHEMA}, got "
                   f"{quote(doc.get('greencache_correction'))}")
    table = doc.get("table")
    if not isinstance(table, dict):
        raise _bad(path, "table", "must be an object naming the profile table")
    for k in ("path", "sha256", "model", "gpu", "ssd", "workload_shape"):
        if not isinstance(table.get(k), str) or not table[k]:
            raise _bad(path, f"table.{k}", f"must be text, got {quote(table.get(k))}")
    if not isinstance(table.get("tp"), int) or isinstance(table.get("tp"), bool):
        raise _bad(path, "table.tp", f"must be a whole number, got {quote(table.get('tp'))}")
    bins = doc.get("bins")
    if not isinstance(bins, dict):
        raise _bad(path, "bins", "must be an object with load_fraction and hit_rate edges")
    edges = {}
    for k in ("load_fraction", "hit_rate"):
        e = bins.get(k)
        if not isinstance(e, list) or not all(_num(x) for x in e):
            raise _bad(path, f"bins.{k}", "must be a list of numbers")
        try:
            edges[k] = check_edges(e, k)
        except Exception:  # noqa: BLE001 - the edges' own message, as invalid input
            raise _bad(path, f"bins.{k}", "must rise from 0 to 1") from None
    factors = doc.get("factors")
    n_load, n_hit = len(edges["load_fraction"]) - 1, len(edges["hit_rate"]) - 1
    if not isinstance(factors, list) or len(factors) != n_load * n_hit:
        raise _bad(path, "factors", f"must list {n_load * n_hit} bins (load-major), got "
                   f"{len(factors) if isinstance(factors, list) else quote(factors)}")
    lo, hi = FACTOR_RANGE
    for k, entry in enumerate(factors):
        key = f"factors[{k}]"
        if not isinstance(entry, dict):
            raise _bad(path, key, "must be an object")
        i, j = divmod(k, n_hit)
        want = {"load_fraction": list(edges["load_fraction"][i:i + 2]),
                "hit_rate": list(edges["hit_rate"][j:j + 2])}
        for b, span in want.items():
            got = entry.get(b)
            if not isinstance(got, list) or len(got) != 2 or not all(_num(x) for x in got) \
                    or [float(x) for x in got] != span:
                raise _bad(path, f"{key}.{b}", f"must be {span} (bins in load-major order), "
                           f"got {quote(got)}")
        for m in METRICS:
            metric = entry.get(m)
            if not isinstance(metric, dict):
                raise _bad(path, f"{key}.{m}", "must be an object with factor and windows")
            f = metric.get("factor")
            if not _num(f) or not lo <= f <= hi:
                raise _bad(path, f"{key}.{m}.factor", f"must be a number within {lo:g}..{hi:g}, "
                           f"got {quote(f)}")
            n = metric.get("windows")
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise _bad(path, f"{key}.{m}.windows", f"must be a whole number ≥ 0, got "
                           f"{quote(n)}")
    return doc
