"""A correction file applied to a profile table: each row's latency percentiles and GPU power
multiplied by the factors of its (load fraction, hit rate) bin.

TTFT factors scale p50, p90 and p99 TTFT alike (and TPOT's its three): the observation fixes
the p90, and a shape change of the distribution is not observed. Latencies are then made
non-decreasing in load again (running maximum, as every table is), since neighbouring bins
can carry different factors. SSD traffic is left as it is. The corrected table keeps its
source (its file and SHA-256 stay what the plan records) and says so in its metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from planner.errors import InputDataError
from planner.paths import sha256_file
from planner.perf.correction.fit import bin_index
from planner.perf.correction.file import read_correction
from planner.perf.profile import ProfileTable

_COLUMNS = {"ttft": ("p50_ttft_s", "p90_ttft_s", "p99_ttft_s"),
            "tpot": ("p50_tpot_s", "p90_tpot_s", "p99_tpot_s"),
            "power": ("gpu_power_w",)}


def check_target(doc: dict, table: ProfileTable, path) -> None:
    """Refuse a correction fitted against another table (or another version of it)."""
    t = doc["table"]
    ident = (table.model, table.meta["gpu"], table.tp, table.meta["ssd"], table.shape)
    want = (t["model"], t["gpu"], t["tp"], t["ssd"], t["workload_shape"])
    if ident != want:
        raise InputDataError(
            f"correction {path} was fitted against {t['model']} on {t['tp']}×{t['gpu']} with "
            f"{t['ssd']}, workload shape {t['workload_shape']}; the plan reads "
            f"{table.model} on {table.tp}×{table.meta['gpu']} with {table.meta['ssd']}, "
            f"workload shape {table.shape}")
    sha = sha256_file(Path(table.source))
    if sha != t["sha256"]:
        raise InputDataError(f"correction {path} was fitted against another version of "
                             f"{Path(table.source).name} (sha256 {t['sha256'][:12]}…, the plan "
                             f"reads {sha[:12]}…): fit it again with `greencache profile "
                             "correct`")


def apply(table: ProfileTable, doc: dict, path: str) -> ProfileTable:
    """The table with the correction's factors applied (module docstring)."""
    from planner.perf.synth import monotone_in_load

    check_target(doc, table, path)
    load_edges = tuple(doc["bins"]["load_fraction"])
    hit_edges = tuple(doc["bins"]["hit_rate"])
    n_hit = len(hit_edges) - 1
    f = table.frame.copy()
    li = bin_index(f["load_fraction"].to_numpy(), load_edges)
    hi = bin_index(f["hit_rate"].to_numpy(), hit_edges)
    k = li * n_hit + hi
    for metric, cols in _COLUMNS.items():
        factors = np.array([e[metric]["factor"] for e in doc["factors"]], dtype=float)[k]
        for c in cols:
            f[c] = f[c].to_numpy(dtype=float) * factors
    f, _, _ = monotone_in_load(f)
    meta = dict(table.meta)
    meta["correction"] = {"path": str(path), "fitted_from": doc["observed"].get("kind")
                          if isinstance(doc.get("observed"), dict) else None}
    return ProfileTable(f, meta, source=table.source)


def corrected(table: ProfileTable, path: str | None) -> tuple[ProfileTable, list[str]]:
    """The plan's table under ``--correction`` (and the note saying what changed); the table
    itself without one."""
    if not path:
        return table, []
    doc = read_correction(path)
    out = apply(table, doc, path)
    spans = []
    for m, name in (("ttft", "p90 TTFT"), ("tpot", "p90 TPOT"), ("power", "GPU power")):
        fs = [e[m]["factor"] for e in doc["factors"] if e[m]["windows"] > 0]
        spans.append(f"{name} ×{min(fs):.3g}–{max(fs):.3g} in {len(fs)} bin(s)" if fs
                     else f"{name} unchanged (not observed)")
    note = (f"profile table corrected by {path} (observed / expected, fitted from "
            f"{doc['observed'].get('kind', 'observations')}): " + "; ".join(spans)
            + f"; {len(doc['factors'])} load × hit bins, the others at 1")
    return out, [note]
