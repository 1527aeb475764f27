"""Imported benchmark runs → a measured profile table, through the one measured-table builder
(:func:`planner.perf.measured_table.build_table`).

A benchmark file holds one operating point per run, usually at one token mix, with no hit
rate, no power and no lone-request run; the table is a full grid over hit rate, token mix and
load with a load-0 row. What this module adds to the measured points, rule by rule (each said
in the table's notes, and per file in ``provenance.files[].missing``):

* **Hit rate.** A run that records none is placed at hit rate 0 (assumed). A single hit level
  h is copied to a second one (1, or 0 when h = 1): latency and power are then assumed
  independent of the hit rate, so the planner sees no benefit from a cache nobody measured.
* **Token mixes.** Runs whose token means lie within 10 % of a group's smallest join it (runs
  of one dataset differ by a few tokens); a group's axis value is the mean of its runs' means. A
  single measured value m of an axis is written at m × (1 ± ``token_span``) with the same
  numbers: within that span latency is assumed not to change with the mean length. Every
  (hit, prompt, output) combination of the measured values must hold a run (refused
  otherwise, naming the missing mix).
* **Load-0 row.** The lowest measured rate's latencies (an upper bound on lone requests'),
  with the modelled table's power at rate 0 (loaded idle) when there is one, else the lowest
  rate's power.
* **Power and SSD traffic.** A run without measured GPU power takes the power of the
  replica's modelled table at the same rate, hit rate and mix; SSD read and write rates are
  never measured by a benchmark client and always come from that table (0 without one). The
  table's ``modelled`` flag is then true.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from planner.errors import InputDataError, UsageError
from planner.perf import profile as prof
from planner.perf.imports.run import ImportedRun
from planner.perf.measured_table import MeasuredPoint, build_table

DEFAULT_TOKEN_SPAN = 0.25


# Runs whose token means lie within this share of a group's smallest join that group.
GROUP_TOLERANCE = 0.10


def _groups(values: list[float]) -> dict[float, float]:
    """Each value → its group's axis value (the mean of the group's values)."""
    out, group = {}, []
    for v in sorted(set(values)) + [math.inf]:
        if group and v > group[0] * (1 + GROUP_TOLERANCE):
            axis = round(float(np.mean(group)), 3)
            out.update({g: axis for g in group})
            group = []
        group.append(v)
    return out


def _axis(measured: list[float], span: float | None, what: str, notes: list[str]) -> dict:
    """measured axis value → the axis values written with its numbers."""
    vals = sorted(set(measured))
    if len(vals) >= 2:
        return {v: [v] for v in vals}
    v = vals[0]
    if span is None:
        other = 1.0 if v < 1.0 else 0.0
        notes.append(f"one hit level ({v:g}): its latency and power are copied to hit rate "
                     f"{other:g}, i.e. assumed independent of the hit rate (no benefit from a "
                     "cache is assumed)")
        return {v: sorted((v, other))}
    lo, hi = round(v * (1 - span), 3), round(v * (1 + span), 3)
    notes.append(f"one {what} measured ({v:,.1f} tokens): written at {lo:,.1f} and {hi:,.1f} "
                 f"tokens, assuming latency does not change with the mean length within "
                 f"±{span:.0%}")
    return {v: [lo, hi]}


def measured_points(runs: list[ImportedRun], fill: prof.ProfileTable | None,
                    token_span: float = DEFAULT_TOKEN_SPAN) -> tuple[list[MeasuredPoint], list]:
    """The table's points from imported runs (module docstring) and the notes saying how."""
    if not 0 < token_span < 1:
        raise UsageError(f"--token-span must be within (0, 1), got {token_span}")
    if not runs:
        raise InputDataError("no benchmark runs to import")
    notes: list[str] = []
    hit = [0.0 if r.hit_rate is None else round(r.hit_rate, 2) for r in runs]
    g_in = _groups([r.mean_input_tokens for r in runs])
    g_out = _groups([r.mean_output_tokens for r in runs])
    mix = [(h, g_in[r.mean_input_tokens], g_out[r.mean_output_tokens])
           for h, r in zip(hit, runs)]
    hits = _axis([m[0] for m in mix], None, "hit level", notes)
    ins = _axis([m[1] for m in mix], token_span, "mean prompt", notes)
    outs = _axis([m[2] for m in mix], token_span, "mean output", notes)
    by_mix = defaultdict(list)
    for m, r in zip(mix, runs):
        by_mix[m].append(r)
    for h in hits:
        for i in ins:
            for o in outs:
                if (h, i, o) not in by_mix:
                    raise InputDataError(
                        f"no run at hit rate {h:g}, mean prompt {i:,.1f} and mean output "
                        f"{o:,.1f} tokens: the imported runs must cover every combination of "
                        "their prompt lengths, output lengths and hit rates")
    points = []
    filled_power = 0
    for (h, i, o), rs in sorted(by_mix.items()):
        rs = sorted(rs, key=lambda r: r.rate_rps)
        for a, b in zip(rs, rs[1:]):
            if math.isclose(a.rate_rps, b.rate_rps, rel_tol=1e-9):
                raise InputDataError(f"{a.source} and {b.source} are both at {a.rate_rps:g} "
                                     f"req/s on the same token mix; import one of them")
        rates = np.array([r.rate_rps for r in rs])
        look = fill.lookup(np.concatenate(([0.0], rates)), h, i, o) if fill else None
        power = []
        for k, r in enumerate(rs):
            if r.gpu_power_w is not None:
                power.append(r.gpu_power_w)
            elif look is not None:
                power.append(float(look.gpu_power_w[k + 1]))
                filled_power += 1
            else:
                raise InputDataError(f"{r.source} holds no GPU power and this replica has no "
                                     "modelled table to take it from; build one with "
                                     "`greencache profile synth` or measure power")
        ssd = [(float(look.ssd_read_gbps[k + 1]), float(look.ssd_write_gbps[k + 1]))
               if look is not None else (0.0, 0.0) for k in range(len(rs))]
        lone_power = float(look.gpu_power_w[0]) if look is not None else power[0]
        lowest = rs[0]
        for hh in hits[h]:
            for ii in ins[i]:
                for oo in outs[o]:
                    points.append(MeasuredPoint(0.0, hh, ii, oo, *lowest.ttft_s,
                                                *lowest.tpot_s, lone_power, 0))
                    for k, r in enumerate(rs):
                        points.append(MeasuredPoint(r.rate_rps, hh, ii, oo, *r.ttft_s,
                                                    *r.tpot_s, power[k], r.requests,
                                                    True, *ssd[k]))
    notes.append("the load-0 row copies the lowest measured rate's latencies (an upper bound "
                 "on lone requests') with "
                 + ("the modelled table's loaded-idle power" if fill else
                    "the lowest measured rate's power"))
    if fill is not None:
        what = "SSD read and write rates"
        if filled_power:
            what = f"GPU power ({filled_power} of {len(runs)} runs) and " + what
        notes.append(f"{what} are modelled: read from the replica's modelled table "
                     f"({fill.meta.get('workload_shape', {}).get('name')} workload shape) at "
                     "each run's rate, hit rate and token mix")
    else:
        notes.append("SSD read and write rates are not measured and this replica has no "
                     "modelled table: written as 0")
    if any(r.hit_rate is None for r in runs):
        notes.append("runs that record no hit rate are placed at hit rate 0 (assumed)")
    return points, notes


def import_table(runs: list[ImportedRun], replica: dict, shape: str,
                 fill: prof.ProfileTable | None, token_span: float = DEFAULT_TOKEN_SPAN,
                 generated: str | None = None):
    """The table and its metadata (:func:`planner.perf.measured_table.build_table`)."""
    points, notes = measured_points(runs, fill, token_span)
    tools = sorted({r.tool for r in runs})
    assumed = fill is not None or any(r.hit_rate is None for r in runs)
    meta = {**replica, "workload_shape": {"name": shape},
            "provenance": {"source": f"imported benchmark results ({', '.join(tools)})",
                           "hardware": f"{replica['tp']} × {replica['gpu']}",
                           "files": [r.describe() for r in runs],
                           "token_span": token_span},
            "modelled": bool(assumed), "notes": notes}
    frame, out = build_table(points, meta, generated)
    # The builder describes a load-0 row of lone requests sent one at a time; an imported
    # table's load-0 row is the copy described in this module's notes instead.
    out["notes"] = [n for n in out["notes"] if not n.startswith("the load-0 row holds lone")]
    return frame, out


def runs_of_table(table: prof.ProfileTable) -> list[ImportedRun]:
    """The imported runs a table was built from (for extending it); refused for a table not
    built by `profile import`."""
    files = table.meta.get("provenance", {}).get("files") \
        if isinstance(table.meta.get("provenance"), dict) else None
    if not isinstance(files, list) or not files:
        raise InputDataError(f"profile table {table.source} was not built by `greencache profile "
                             "import` (its metadata lists no imported files); only such a "
                             "table can be extended with --into")
    try:
        return [ImportedRun.from_record(d) for d in files]
    except (KeyError, TypeError, ValueError) as e:
        raise InputDataError(f"profile metadata of {table.source}: an imported file's record "
                             f"is unreadable ({e})") from None


def merge_runs(old: list[ImportedRun], new: list[ImportedRun]) -> list[ImportedRun]:
    """Old runs extended by new ones; a file imported again replaces its earlier runs."""
    again = {r.path for r in new}
    return [r for r in old if r.path not in again] + list(new)
