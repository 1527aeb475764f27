"""Arithmetic: every number of the schedule recomputed from the plan's inputs.

The window inputs the plan recorded (window_inputs.json), the grid, the profile table and the
catalog go through the same functions the plan calls (``plan_solve.plan_candidates``: profile
lookup with bursts, drive count, carbon accounting; ``schedule.assemble``), for the
configuration (replicas, cache level, grown-from level) the schedule names in each window: by
default the candidate function restricted to those configurations (``only=``), with ``--full``
the plan's whole candidate table re-derived and the schedule's rows looked up in it. Each
printed figure must equal the recomputed one to its printed precision (within half a unit of
its last decimal); integers and words exactly. Totals in summary.json must equal the sum of the
windows, and components.csv the recomputed breakdown; by default the recorded candidate
table's rows of the schedule's configurations must equal their recomputation too. A
configuration that is not a candidate at all (a cache size not among the levels, too few
replicas for the load) is named as such.
"""

from __future__ import annotations

import math
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner import candidate_record, schedule as schedule_mod
from planner.catalog import load_catalog, resolve
from planner.check.plan_folder import PlanFolder
from planner.check.results import CheckReport
from planner.config import PlanOptions
from planner.errors import GreencacheError, InputDataError
from planner.grid import load_grid, window_intensity
from planner.optimize.candidates import CandidateSet
from planner.paths import recorded_path
from planner.perf.correction.apply import corrected
from planner.perf.profile import read_profile
from planner.plan_files import read_window_table
from planner.optimize.charges import charge
from planner.optimize.coupling import Coupling
from planner.optimize.candidates import schedule_prev_levels
from planner.plan_solve import coupling_for, plan_candidates
from planner.provisioning import provisioning
from planner.window_inputs import WindowInputs
from planner.window_inputs import read as read_window_inputs
from planner.workload.windows import parse_window

GROUP = "arithmetic"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
INTEGER_COLUMNS = ("requests", "replicas", "gpus", "ssd_drives")
WORD_COLUMNS = ("window_start", "window_end", "hit_rate_source", "slo_met", "action")
# Summary totals are rounded to 6 decimals (plan.build_summary).
SUMMARY_DECIMALS = 6


def window_labels(times) -> list[str]:
    """Each time as reports name a window: its ``strftime(TIME_FORMAT)`` (the wall time to the
    second), formatted by NumPy for every window at once where pandas formats one at a time
    (a long horizon's labels took a tenth of a check)."""
    wall = pd.DatetimeIndex(times).tz_localize(None).as_unit("s")
    return [f"{x}Z" for x in np.datetime_as_string(wall.to_numpy(), unit="s")]


@dataclass
class Rederived:
    """What the arithmetic re-derived, for the certificate to build the model from."""

    options: PlanOptions
    stats: pd.DataFrame
    ci: np.ndarray
    candidates: CandidateSet
    coupling: Coupling | None = None
    labels: list[str] | None = None     # each window's start, as reports name it
    # Each window's scheduled configuration as a candidate row (window, replicas, cache_gb, …)
    # before and after the coupled plan's charges; None when some window's is no candidate.
    chosen: pd.DataFrame | None = None
    charged: pd.DataFrame | None = None


def within_print(printed, exact, decimals: int):
    """True when ``printed`` is ``exact`` written with ``decimals`` decimals (half a unit of the
    last decimal, plus a hair for a value that lands on the rounding midpoint on another CPU);
    two NaNs agree. Element-wise for arrays."""
    printed, exact = np.asarray(printed, dtype=float), np.asarray(exact, dtype=float)
    with np.errstate(invalid="ignore"):
        close = np.abs(printed - exact) <= 0.5 * 10.0 ** -decimals * (1 + 1e-6) \
            + 1e-12 * np.abs(exact)
    both_nan = np.isnan(printed) & np.isnan(exact)
    out = np.where(np.isnan(printed) | np.isnan(exact), both_nan, close)
    return bool(out) if out.ndim == 0 else out


def _fmt(x: float, d: int) -> str:
    return f"{x:.{d}f}"


def _inputs(plan: PlanFolder, located: dict[str, Path]):
    """Hardware, profile table and per-window intensity, loaded as the plan loads them."""
    opt = plan.options
    rec = plan.summary["inputs"]
    catalog_path = located.get("catalog") or recorded_path(rec["catalog"]["path"])
    catalog = load_catalog(catalog_path.parent)
    hw = resolve(catalog, opt.gpu, opt.tp, opt.ssd, opt.levels, opt.pue)
    profile_path = located.get("profile") or recorded_path(rec["profile"]["path"])
    profile = read_profile(profile_path)
    if "correction" in rec:
        # The plan read the table through its correction; so does the recomputation.
        where = located.get("correction") or recorded_path(rec["correction"]["path"])
        profile = corrected(profile, str(where))[0]
    return hw, profile


def _intensity(opt: PlanOptions, stats: pd.DataFrame) -> np.ndarray:
    series = load_grid(opt.grid, opt.ci_basis)
    return window_intensity(series, pd.DatetimeIndex(stats["window_start"]),
                            pd.DatetimeIndex(stats["window_end"])).values


def rederive(plan: PlanFolder, located: dict[str, Path], report: CheckReport,
             recorded: Path | None = None) -> Rederived | None:
    """Check the schedule against its recomputation; None when the recomputation itself
    cannot run (the reason is a failed check).

    Without ``recorded``, every candidate of the plan is re-derived (``check --full``). With
    ``recorded`` (the plan's candidates.npy, its hash already checked), only the schedule's own
    configurations are recomputed, through the same candidate function restricted to them,
    and compared with the schedule and with the recorded table's rows; the recorded table
    stands for the rest (the tie rule's scale, the certificate)."""
    opt = plan.options
    levels_gb = np.asarray(opt.cache_levels_tb, dtype=float) * 1000.0
    try:
        record: WindowInputs = read_window_inputs(plan.window_inputs)
        hw, profile = _inputs(plan, located)
        ci = _intensity(opt, record.stats)
        if recorded is None:
            cands = plan_candidates(opt, record.stats, record.hits, ci, profile, hw, levels_gb,
                                    record.buckets)
        else:
            table = candidate_record.read(recorded, levels_gb)
            cands = CandidateSet(table, unstable=0, pruned=0, max_replicas=opt.max_replicas)
    except GreencacheError as e:
        report.add(GROUP, "recomputation", False, f"could not run: {e}")
        return None
    sched = plan.schedule
    stats = record.stats
    if len(sched) != len(stats):
        report.add(GROUP, "windows", False, f"schedule.csv has {len(sched)} windows, the "
                                            f"recorded window inputs {len(stats)}")
        return None
    labels = window_labels(stats["window_start"])
    coupling = coupling_for(opt, stats, ci, hw, parse_window(opt.window), cands.frame)
    red = Rederived(opt, stats, ci, cands, coupling, labels=labels)
    if recorded is None:
        rows = _scheduled_rows(red, sched, levels_gb, profile, hw, record, report, labels)
    else:
        rows = _recomputed_rows(red, sched, levels_gb, profile, hw, record, report, labels)
    if rows is None:
        return red
    red.chosen = rows
    if recorded is not None:
        _compare_recorded(cands.frame, rows, labels, report)
    owned = _owned_fleet(plan, opt, report)
    if owned is None:
        return red
    red.charged = charge(red.chosen, coupling, *owned)
    sources = [record.hits.source] * len(stats)
    again = schedule_mod.assemble(stats, ci, red.charged, sources, opt.slo_ttft_s,
                                  opt.slo_tpot_s)
    met = again["slo_met"].to_numpy(dtype=bool)
    _compare_schedule(sched, again, labels, report)
    _compare_components(plan, labels, red.charged, report)
    _compare_totals(plan, sched, red.charged, stats, met, report)
    _compare_provisioning(plan, red.charged, stats, hw, opt, owned, report)
    return red


def _wanted(sched: pd.DataFrame, levels_gb, warmup: bool) -> pd.DataFrame:
    """Each window's scheduled configuration as (window, replicas, level, prev_level); level
    −1 where the cache size is not one of the levels."""
    cache = sched["cache_gb"].to_numpy(dtype=float)
    near = np.isclose(levels_gb[None, :], cache[:, None])
    level = np.where(near.any(axis=1), near.argmax(axis=1), -1)
    return pd.DataFrame({"window": np.arange(len(sched)),
                         "replicas": sched["replicas"].to_numpy().astype(np.int64),
                         "level": level,
                         "prev_level": schedule_prev_levels(cache, levels_gb, warmup)})


def _recomputed_rows(red: Rederived, sched: pd.DataFrame, levels_gb, profile, hw,
                     record: WindowInputs, report: CheckReport, labels) -> pd.DataFrame | None:
    """The schedule's configurations recomputed by the plan's candidate function restricted
    to them (one row per window, in window order); None when some window's is no candidate."""
    wanted = _wanted(sched, levels_gb, red.options.warmup)
    ok = True
    for t in np.flatnonzero(wanted["level"].to_numpy() < 0):
        report.add(GROUP, f"window {labels[t]}", False,
                   f"cache_gb {sched['cache_gb'].iloc[t]:g} is not one of the scenario's cache "
                   f"levels ({', '.join(f'{x:g}' for x in levels_gb)} GB)")
        ok = False
    if not ok:
        return None
    rows = plan_candidates(red.options, red.stats, record.hits, red.ci, profile, hw, levels_gb,
                           record.buckets, only=wanted).frame
    rows = schedule_mod.by_window(rows)
    missing = np.setdiff1d(np.arange(len(sched)), rows["window"].to_numpy())
    for t in missing:
        report.add(GROUP, f"window {labels[t]}", False,
                   f"{int(wanted['replicas'].iloc[t])} replicas with a "
                   f"{sched['cache_gb'].iloc[t]:g} GB cache cannot keep up with the window's "
                   "load (not a stable configuration)")
    return None if len(missing) else rows


# The recorded table's columns a recomputed row must reproduce (the model reads them).
RECORDED_COLUMNS = ("ssd_drives", "p90_ttft_s", "p90_tpot_s", "within_slo_share",
                    "total_kgco2e", "embodied_kgco2e", "emb_ssd_wear")


def _compare_recorded(table: pd.DataFrame, rows: pd.DataFrame, labels,
                      report: CheckReport) -> None:
    """The recorded table's row of each scheduled configuration (where it has one) against
    its recomputation: the numbers the certificate reads for the schedule are the plan's."""
    at = candidate_record.find(table, rows)
    found = at >= 0
    mine, theirs = rows[found], table.iloc[at[found]]
    wrong = []
    for col in RECORDED_COLUMNS:
        a = mine[col].to_numpy(dtype=float)
        b = theirs[col].to_numpy(dtype=float)
        bad = ~np.isclose(a, b, rtol=1e-9, atol=1e-12)
        wrong += [f"{labels[t]} {col} {y:.9g} recorded ≠ recomputed {x:.9g}"
                  for t, x, y in zip(mine["window"].to_numpy()[bad], a[bad], b[bad])]
    report.add(GROUP, "recorded candidates", not wrong,
               "; ".join(wrong[:5]) + (f" … and {len(wrong) - 5} more" if len(wrong) > 5
                                       else "") if wrong else
               f"the recorded rows of the schedule's configurations ({int(found.sum())} of "
               f"{len(rows)} windows) equal their recomputation")


def _owned_fleet(plan: PlanFolder, opt: PlanOptions, report: CheckReport):
    """(R, D) owned for the horizon, as provisioning.json records them (owned capacity), or
    (None, None) for pooled capacity; None when the record is missing or unreadable."""
    if opt.capacity != "owned":
        return None, None
    try:
        fleet = json.loads(plan.file("provisioning.json").read_text(encoding="utf-8"))["fleet"]
        return int(fleet["replicas"]), int(fleet["ssd_drives"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        report.add(GROUP, "provisioning.json", False, f"cannot read the owned fleet: {e}")
        return None


def _compare_provisioning(plan: PlanFolder, charged: pd.DataFrame, stats, hw, opt, owned,
                          report: CheckReport) -> None:
    """provisioning.json against the record recomputed from the charged schedule."""
    path = plan.file("provisioning.json")
    if not path.exists():
        report.add(GROUP, "provisioning.json", False, "missing from the plan folder")
        return
    try:
        printed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        report.add(GROUP, "provisioning.json", False, f"unreadable: {e}")
        return
    exact = json.loads(json.dumps(provisioning(charged, stats["hours"].to_numpy(dtype=float), hw,
                                               opt.capacity, *owned)))
    wrong = [f"{key} {printed_v!r} ≠ recomputed {exact_v!r}"
             for key, printed_v, exact_v in _leaves(printed, exact)
             if not _same(printed_v, exact_v)]
    report.add(GROUP, "provisioning.json", not wrong, "; ".join(wrong[:5]) if wrong else
               "the fleet, wear and reconfigurations equal their recomputation")


def _leaves(a, b, prefix=""):
    """(key, a's value, b's value) for every leaf of either nested dict."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(dict.fromkeys([*a, *b])):
            yield from _leaves(a.get(k), b.get(k), f"{prefix}{k}.")
    else:
        yield prefix.rstrip("."), a, b


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _scheduled_rows(red: Rederived, sched: pd.DataFrame, levels_gb, profile, hw,
                    record: WindowInputs, report: CheckReport, labels) -> list | None:
    """The recomputed candidate row of each window's scheduled configuration. Looked up among
    the model's candidates first; a configuration pruned as dominated is recomputed without
    pruning, so its figures can still be checked."""
    frame = red.candidates.frame
    # A window whose cache grew is the cold start from the level before it.
    prev = schedule_prev_levels(sched["cache_gb"].to_numpy(dtype=float), levels_gb,
                                red.options.warmup)
    cols = ["window", "replicas", "gb", "prev_level"]
    table = pd.DataFrame({"window": frame["window"].to_numpy(), "replicas":
                          frame["replicas"].to_numpy(), "gb": np.rint(frame["cache_gb"]
                                                                      .to_numpy()),
                          "prev_level": frame["prev_level"].to_numpy(),
                          "row": np.arange(len(frame))})
    wanted = pd.DataFrame({"window": np.arange(len(sched)), "replicas":
                           sched["replicas"].to_numpy().astype(np.int64),
                           "gb": np.rint(sched["cache_gb"].to_numpy(dtype=float)),
                           "prev_level": prev})
    found = wanted.merge(table.drop_duplicates(cols), on=cols, how="left")["row"].to_numpy()
    unpruned = None
    rows, ok = [], True
    for t, (n, c) in enumerate(zip(sched["replicas"].to_numpy(),
                                   sched["cache_gb"].to_numpy(dtype=float))):
        if not np.isnan(found[t]):
            rows.append(int(found[t]))
            continue
        if not np.any(np.isclose(levels_gb, c)):
            report.add(GROUP, f"window {labels[t]}", False,
                       f"cache_gb {c:g} is not one of the scenario's cache levels "
                       f"({', '.join(f'{x:g}' for x in levels_gb)} GB)")
            ok = False
            continue
        if unpruned is None:
            unpruned = plan_candidates(red.options, red.stats, record.hits, red.ci, profile, hw,
                                       levels_gb, record.buckets, prune=False).frame
        hit = unpruned[(unpruned["window"] == t) & (unpruned["replicas"] == n)
                       & np.isclose(unpruned["cache_gb"], c)
                       & (unpruned["prev_level"] == prev[t])]
        if hit.empty:
            report.add(GROUP, f"window {labels[t]}", False,
                       f"{int(n)} replicas with a {c:g} GB cache cannot keep up with the "
                       f"window's load (not a stable configuration)")
            ok = False
            continue
        rows.append(hit.iloc[[0]])
    if not ok:
        return None
    # Runs of rows found in the table are taken at once (one take per run, not per window).
    pieces, run = [], []
    for r in rows + [None]:
        if isinstance(r, int):
            run.append(r)
            continue
        if run:
            pieces.append(frame.iloc[run])
            run = []
        if r is not None:
            pieces.append(r)
    return pd.concat(pieces, ignore_index=True)


def _as_numbers(values: np.ndarray) -> np.ndarray:
    """A printed column as floats (NaN where a cell is not a number); a column the schedule
    reader already converted is taken as it stands."""
    if values.dtype.kind in "fiu":
        return values.astype(float)
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


def _compare_schedule(sched: pd.DataFrame, again: pd.DataFrame, labels, report: CheckReport):
    """One result per window: every column of schedule.csv against the recomputed row
    (compared a column at a time; messages only for the cells that differ)."""
    decimals = schedule_mod.DECIMALS
    # The schedule reader holds slo_met as booleans (it refuses any word but True or False).
    printed_met, again_met = (np.where(f["slo_met"].to_numpy(dtype=bool), "true", "false")
                              for f in (sched, again))
    wrong: list[list[str]] = [[] for _ in range(len(again))]
    for col in schedule_mod.SCHEDULE_COLUMNS:
        if col in ("window_start", "window_end"):
            # As printed, to the second (formatted only where they differ; read as times, not
            # as an array of timestamp objects).
            pi, ai = (pd.DatetimeIndex(f[col]).as_unit("ns") for f in (sched, again))
            for t in np.flatnonzero(pi.asi8 // 10**9 != ai.asi8 // 10**9):
                wrong[t].append(f"{col} {pi[t].strftime(TIME_FORMAT)!r} ≠ recomputed "
                                f"{ai[t].strftime(TIME_FORMAT)!r}")
            continue
        if col == "slo_met":
            p, a = printed_met, again_met
        else:
            p, a = sched[col].to_numpy(), again[col].to_numpy()
        if col in decimals:
            num = _as_numbers(p)
            exact = a.astype(float)
            d = decimals[col]
            for t in np.flatnonzero(np.isnan(num) & ~np.isnan(exact)):
                wrong[t].append(f"{col} {str(p[t])!r} is not a number")
            for t in np.flatnonzero(~np.isnan(num) & ~within_print(num, exact, d)):
                wrong[t].append(f"{col} {_fmt(num[t], d)} ≠ recomputed {_fmt(exact[t], d)}")
        elif col in INTEGER_COLUMNS:
            num = _as_numbers(p)
            for t in np.flatnonzero(num != a.astype(float)):
                wrong[t].append(f"{col} {p[t]} ≠ recomputed {a[t]}")
        else:
            ps, as_ = p.astype(str), a.astype(str)
            for t in np.flatnonzero(ps != as_):
                wrong[t].append(f"{col} {str(ps[t])!r} ≠ recomputed {str(as_[t])!r}")
    for t, bad in enumerate(wrong):
        report.add(GROUP, f"window {labels[t]}", not bad,
                   "; ".join(bad) if bad else "every figure equals its recomputation")


def _compare_components(plan: PlanFolder, labels, chosen: pd.DataFrame, report: CheckReport):
    """components.csv against the charged breakdown of each window."""
    path = plan.file("components.csv")
    name = "components.csv"
    if not path.exists():
        report.add(GROUP, name, False, "missing from the plan folder")
        return
    cols = [f"{c}_kgco2e" for c in schedule_mod.COMPONENT_COLUMNS]
    try:
        # Read as the report reads it (every breakdown column a finite number, else its line).
        values = read_window_table(path, "components", cols)[cols].to_numpy(dtype=float)
    except InputDataError as e:
        report.add(GROUP, name, False, f"unreadable: {e}")
        return
    if len(values) != len(chosen):
        report.add(GROUP, name, False, f"{len(values)} rows for {len(chosen)} windows")
        return
    exact = chosen[list(schedule_mod.COMPONENT_COLUMNS)].to_numpy(dtype=float)
    bad_t, bad_j = np.nonzero(~within_print(values, exact, 6))
    wrong = [f"{labels[t]} {cols[j]} {values[t, j]:.6f} ≠ recomputed {exact[t, j]:.6f}"
             for t, j in zip(bad_t, bad_j)]
    report.add(GROUP, name, not wrong, "; ".join(wrong[:5]) + (
        f" … and {len(wrong) - 5} more" if len(wrong) > 5 else "") if wrong
        else "every component equals its recomputation")


def _compare_totals(plan: PlanFolder, sched: pd.DataFrame, chosen: pd.DataFrame, stats,
                    met: np.ndarray, report: CheckReport):
    """summary.json's totals against the sum of the recomputed windows (both rounding steps
    allowed for), and the schedule's printed column sums against them."""
    tot = plan.summary["totals"]
    W = len(sched)
    hours = stats["hours"].to_numpy(dtype=float)
    expected = {
        "energy_kwh": chosen["energy_kwh"].sum(),
        "operational_kgco2e": chosen["operational_kgco2e"].sum(),
        "embodied_kgco2e": chosen["embodied_kgco2e"].sum(),
        "total_kgco2e": chosen["total_kgco2e"].sum(),
        "gpu_hours": (chosen["gpus"].to_numpy() * hours).sum(),
        "cache_tb_hours": (chosen["cache_gb"].to_numpy() / 1000 * hours).sum(),
    }
    expected.update({f"by_component_kgco2e.{c}": chosen[c].sum()
                     for c in schedule_mod.COMPONENT_COLUMNS})
    wrong = []
    for key, exact in expected.items():
        node = tot
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, (int, float)):
            wrong.append(f"totals.{key} missing")
        elif not within_print(float(node), float(exact), SUMMARY_DECIMALS):
            wrong.append(f"totals.{key} {node} ≠ sum of the windows {exact:.6f}")
    decimals = schedule_mod.DECIMALS
    for col in ("energy_kwh", "operational_kgco2e", "embodied_kgco2e", "total_kgco2e"):
        printed_sum = float(pd.to_numeric(sched[col], errors="coerce").sum())
        # W printed values each within half a unit of their last decimal.
        slack = W * 0.5 * 10.0 ** -decimals[col] + 0.5 * 10.0 ** -SUMMARY_DECIMALS
        if isinstance(tot.get(col), (int, float)) and \
                abs(printed_sum - float(tot[col])) > slack * (1 + 1e-6):
            wrong.append(f"schedule.csv's {col} sums to {printed_sum:.6f}, summary.json says "
                         f"{tot[col]}")
    win = plan.summary.get("windows", {})
    n_met = int(met.sum())
    for key, exact in (("count", W), ("slo_met", n_met), ("slo_violated", W - n_met)):
        if win.get(key) != exact:
            wrong.append(f"windows.{key} {win.get(key)} ≠ {exact}")
    report.add(GROUP, "totals", not wrong,
               "; ".join(wrong) if wrong else "summary totals equal the sum of the windows")

