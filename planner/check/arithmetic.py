"""Arithmetic: every number of the schedule re-derived from the plan's inputs.

The plan records the candidate table its model was built from (candidates.npz); the check
reads it, and proves it follows from the plan's inputs on a sample: the window inputs the plan
recorded (window_inputs.json), the grid, the profile table and the catalog go through the same
functions the plan calls (``optimize.candidates.candidate_rows``, the look-up with bursts, drive
count and carbon accounting of ``build_candidates``; ``plan.plan_candidates``) for every
window's scheduled configuration, for every row of a window drawn whole (pruning included)
and for a drawn share of the other rows, and each recomputed row must equal the recorded one
(relative 1e-9). An edited row outside the sample is not seen; the draw is seeded by the
table's hash, so it is the same for the same plan and another for an edited table.

The schedule is then checked against the recomputed scheduled rows (``schedule.assemble``):
each printed figure must equal the recomputed one to its printed precision (within half a unit
of its last decimal); integers and words exactly. Totals in summary.json must equal the sum of
the windows, and components.csv the recomputed breakdown. A configuration that is not a
candidate at all (a cache size not among the levels, too few replicas for the load) is named
as such.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from planner import schedule as schedule_mod
from planner.catalog import load_catalog, resolve
from planner.check.plan_folder import PlanFolder
from planner.check.results import CheckReport
from planner.config import PlanOptions
from planner.errors import GreencacheError
from planner.grid import load_grid, window_intensity
from planner.optimize.candidates import CandidateSet
from planner.paths import recorded_path
from planner.perf.profile import read_profile
from planner.optimize.charges import charge
from planner.optimize.coupling import Coupling
from planner.optimize.candidates import candidate_rows, schedule_prev_levels
from planner.candidate_table import FILE_NAME as CANDIDATES
from planner.candidate_table import read as read_candidate_table
from planner.plan import plan_candidates
from planner.plan_solve import coupling_for
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
KEY = ("window", "replicas", "level", "prev_level")
# What the recorded candidate table must hold: what build_candidates writes.
CANDIDATE_COLUMNS = KEY + (
    "cache_gb", "prev_cache_gb", "gpus", "ssd_drives", "rate_per_replica", "hit_rate",
    "p90_ttft_s", "p90_tpot_s", "within_slo_share", "peak_load_fraction", "gpu_power_w",
    "ssd_power_w", "ssd_write_gbps", "ssd_lifetime_h", "energy_kwh", "op_gpu", "op_host",
    "op_ssd", "emb_gpu", "emb_host", "emb_ssd", "emb_ssd_wear", "operational_kgco2e",
    "embodied_kgco2e", "total_kgco2e")
# The sample of the recorded table recomputed: every row of this many windows, and this share
# of the other rows (the scheduled rows always). Recomputed figures come from the same
# functions on the same inputs; the tolerance only absorbs another CPU's last bits.
SAMPLE_WINDOWS = 1
SAMPLE_SHARE = 0.02
SAMPLE_RTOL = 1e-9


@dataclass
class Rederived:
    """What the arithmetic re-derived, for the certificate to build the model from."""

    options: PlanOptions
    stats: pd.DataFrame
    ci: np.ndarray
    candidates: CandidateSet
    coupling: Coupling | None = None
    # Each window's scheduled configuration as a candidate row (window, replicas, cache_gb, …)
    # before and after the coupled plan's charges; None when some window's is no candidate.
    chosen: pd.DataFrame | None = None
    charged: pd.DataFrame | None = None


def within_print(printed: float, exact: float, decimals: int) -> bool:
    """True when ``printed`` is ``exact`` written with ``decimals`` decimals (half a unit of the
    last decimal, plus a hair for a value that lands on the rounding midpoint on another CPU)."""
    if math.isnan(printed) or math.isnan(exact):
        return math.isnan(printed) and math.isnan(exact)
    return abs(printed - exact) <= 0.5 * 10.0 ** -decimals * (1 + 1e-6) + 1e-12 * abs(exact)


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
    return hw, profile


def _intensity(opt: PlanOptions, stats: pd.DataFrame) -> np.ndarray:
    series = load_grid(opt.grid, opt.ci_basis)
    return window_intensity(series, pd.DatetimeIndex(stats["window_start"]),
                            pd.DatetimeIndex(stats["window_end"])).values


def rederive(plan: PlanFolder, located: dict[str, Path], report: CheckReport) -> Rederived | None:
    """Read the plan's recorded candidate table, prove a sample of it (every scheduled row and
    a seeded draw of the others) equal to its recomputation, and check the schedule against
    the recomputed scheduled rows; None when the recomputation itself cannot run (the reason
    is a failed check)."""
    opt = plan.options
    try:
        record: WindowInputs = read_window_inputs(plan.window_inputs)
        table = read_candidate_table(plan.candidates)
        hw, profile = _inputs(plan, located)
        ci = _intensity(opt, record.stats)
    except GreencacheError as e:
        report.add(GROUP, "recomputation", False, f"could not run: {e}")
        return None
    levels_gb = np.asarray(opt.cache_levels_tb, dtype=float) * 1000.0
    sched = plan.schedule
    stats = record.stats
    if len(sched) != len(stats):
        report.add(GROUP, "windows", False, f"schedule.csv has {len(sched)} windows, the "
                                            f"recorded window inputs {len(stats)}")
        return None
    missing = [c for c in CANDIDATE_COLUMNS if c not in table.columns]
    if missing or not _keys_valid(table, len(stats), len(levels_gb)):
        report.add(GROUP, CANDIDATES, False, "not the table the plan writes: " + (
            f"columns {', '.join(missing)} missing" if missing else
            "window, replicas or level outside the plan's ranges"))
        return None
    labels = pd.DatetimeIndex(stats["window_start"]).strftime(TIME_FORMAT)
    cands = CandidateSet(table, unstable=0, pruned=0, max_replicas=opt.max_replicas)
    coupling = coupling_for(opt, stats, ci, hw, parse_window(opt.window), table)
    red = Rederived(opt, stats, ci, cands, coupling)
    chosen = _recompute_sample(red, plan, sched, levels_gb, profile, hw, record, report, labels)
    if chosen is None:
        return red
    red.chosen = chosen
    owned = _owned_fleet(plan, opt, report)
    if owned is None:
        return red
    red.charged = charge(red.chosen, coupling, *owned)
    sources = [record.hits.source] * len(stats)
    again = schedule_mod.assemble(stats, ci, red.charged, sources, opt.slo_ttft_s,
                                  opt.slo_tpot_s)
    met = again["slo_met"].to_numpy(dtype=bool)
    _compare_schedule(sched, again, labels, report)
    _compare_components(plan, stats, red.charged, report)
    _compare_totals(plan, sched, red.charged, stats, met, report)
    _compare_provisioning(plan, red.charged, stats, hw, opt, owned, report)
    return red


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


def _keys_valid(table: pd.DataFrame, W: int, C: int) -> bool:
    """Whether every row's key addresses a window, a level and a replica count of the plan."""
    try:
        t, n, c, p = (table[k].to_numpy() for k in KEY)
        return bool(np.all((t >= 0) & (t < W) & (n >= 1) & (c >= 0) & (c < C) & (p >= -1)
                           & (p < c)))
    except TypeError:
        return False


def _key(frame: pd.DataFrame) -> list[tuple[int, int, int, int]]:
    return list(zip(*(frame[k].to_numpy(dtype=np.int64).tolist() for k in KEY)))


def _differences(recorded: pd.DataFrame, exact: pd.DataFrame, labels) -> list[str]:
    """One phrase per recorded row whose figures are not those recomputed (same rows, same
    order)."""
    bad = np.zeros(len(exact), dtype=bool)
    first: dict[int, str] = {}
    for col in exact.columns:
        a = recorded[col].to_numpy(dtype=float)
        b = exact[col].to_numpy(dtype=float)
        off = ~np.isclose(a, b, rtol=SAMPLE_RTOL, atol=1e-12, equal_nan=True)
        for i in np.flatnonzero(off & ~bad):
            first[int(i)] = f"{col} {a[i]:.6g} ≠ recomputed {b[i]:.6g}"
        bad |= off
    out = []
    for i in np.flatnonzero(bad):
        t, n, c, p = (int(exact[k].iat[i]) for k in KEY)
        out.append(f"window {labels[t]} ({n} replicas, level {c}"
                   + (f" grown from level {p}" if p >= 0 else "") + f"): {first[int(i)]}")
    return out


def _recompute_sample(red: Rederived, plan: PlanFolder, sched: pd.DataFrame, levels_gb,
                      profile, hw, record: WindowInputs, report: CheckReport,
                      labels) -> pd.DataFrame | None:
    """The recomputed candidate row of each window's scheduled configuration (None when some
    window's is no candidate at all), after proving the recorded table equal to its
    recomputation on a sample: the scheduled rows present in it, every row of a few windows
    (which also proves what pruning left), and a share of the rest, drawn with a seed taken
    from the table's own hash, so that the same plan always draws the same sample and an edit
    to the table draws another."""
    opt = red.options
    table = red.candidates.frame
    W = len(red.stats)
    cache = sched["cache_gb"].to_numpy(dtype=float)
    replicas = sched["replicas"].to_numpy()
    # A window whose cache grew is the cold start from the level before it.
    prev = schedule_prev_levels(cache, levels_gb, opt.warmup)
    ok = True
    level = np.full(W, -1, dtype=np.int64)
    for t in range(W):
        hit = np.flatnonzero(np.isclose(levels_gb, cache[t]))
        if len(hit) == 0:
            report.add(GROUP, f"window {labels[t]}", False,
                       f"cache_gb {cache[t]:g} is not one of the scenario's cache levels "
                       f"({', '.join(f'{x:g}' for x in levels_gb)} GB)")
            ok = False
        elif not 1 <= replicas[t] <= opt.max_replicas:
            report.add(GROUP, f"window {labels[t]}", False,
                       f"{int(replicas[t])} replicas is outside 1…{opt.max_replicas} "
                       f"(--max-replicas)")
            ok = False
        else:
            level[t] = hit[0]
    if not ok:
        return None
    digest = hashlib.sha256(plan.candidates.read_bytes()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    whole = np.sort(rng.choice(W, size=min(SAMPLE_WINDOWS, W), replace=False))
    index = {k: i for i, k in enumerate(_key(table))}
    chosen_keys = list(zip(range(W), replicas.astype(np.int64).tolist(), level.tolist(),
                           prev.tolist()))
    in_whole = np.isin(table["window"].to_numpy(), whole)
    rest = np.flatnonzero(~in_whole)
    drawn = np.sort(rng.choice(rest, size=min(len(rest), math.ceil(SAMPLE_SHARE * len(rest))),
                               replace=False)) if len(rest) else rest
    rows = pd.DataFrame(chosen_keys, columns=list(KEY))
    rows = pd.concat([rows, table.loc[drawn, list(KEY)]], ignore_index=True)
    exact, stable, peak = candidate_rows(
        red.stats, record.hits, red.ci, profile, hw, levels_gb, opt.slo_ttft_s, opt.slo_tpot_s,
        rows["window"], rows["replicas"], rows["level"], rows["prev_level"],
        buckets=record.buckets)
    within = stable & (peak <= opt.headroom + 1e-9)
    for t in np.flatnonzero(~within[:W]):
        report.add(GROUP, f"window {labels[t]}", False,
                   f"{int(replicas[t])} replicas with a {cache[t]:g} GB cache cannot keep up "
                   f"with the window's load (not a stable configuration)")
        ok = False
    # Recorded rows against their recomputation: the scheduled rows the table holds (a
    # scheduled row it lacks is the certificate's to judge), then the drawn ones.
    present = [i for i, k in enumerate(chosen_keys) if k in index]
    pos = np.array([index[chosen_keys[i]] for i in present] + list(drawn), dtype=np.int64)
    mine = np.array(present + list(range(W, len(rows))), dtype=np.int64)
    wrong = _differences(table.iloc[pos].reset_index(drop=True),
                         exact.iloc[mine].reset_index(drop=True), labels)
    wrong += [f"window {labels[t]} ({table['replicas'].iat[i]} replicas, level "
              f"{table['level'].iat[i]}): recorded, but not a stable configuration"
              for i, t in zip(drawn, table["window"].to_numpy()[drawn])
              if not within[W + list(drawn).index(i)]]
    wrong += _whole_windows(red, table, whole, levels_gb, profile, hw, record, labels)
    where = ", ".join(labels[t] for t in whole)
    report.add(GROUP, CANDIDATES, not wrong, "; ".join(wrong[:5]) + (
        f" … and {len(wrong) - 5} more" if len(wrong) > 5 else "") if wrong else
        f"recorded rows equal their recomputation: the {len(present)} scheduled ones, every "
        f"row of window(s) {where} and {len(drawn)} drawn of the other {len(rest)} "
        f"(a sample: an edit to rows outside it is not seen)")
    return exact.iloc[:W].reset_index(drop=True) if ok else None


def _whole_windows(red: Rederived, table: pd.DataFrame, whole: np.ndarray, levels_gb, profile,
                   hw, record: WindowInputs, labels) -> list[str]:
    """Every recorded row of the ``whole`` windows against build_candidates run on those
    windows' inputs alone (candidates never look across windows, but a window's cold starts
    need a window before it: the one before the first is taken along and dropped)."""
    opt = red.options
    lead = bool(opt.warmup and whole[0] > 0)
    sel = np.r_[whole[0] - 1, whole] if lead else whole
    hits = record.hits
    sub_hits = replace(hits, token_hit=hits.token_hit[sel], request_hit=hits.request_hit[sel],
                       **{k: None if getattr(hits, k) is None else getattr(hits, k)[sel]
                          for k in ("grown_token_hit", "grown_request_hit")})
    b = record.buckets
    sub_buckets = None if b is None else replace(
        b, rate_rps=b.rate_rps[sel], request_share=b.request_share[sel],
        time_share=b.time_share[sel])
    exact = plan_candidates(opt, red.stats.iloc[sel].reset_index(drop=True), sub_hits,
                            np.asarray(red.ci)[sel], profile, hw, levels_gb, sub_buckets).frame
    exact["window"] = sel[exact["window"].to_numpy()]
    if lead:
        exact = exact[exact["window"] != sel[0]]
    exact = exact.reset_index(drop=True)
    recorded = table[np.isin(table["window"].to_numpy(), whole)].reset_index(drop=True)
    if _key(recorded) != _key(exact):
        extra = sorted(set(_key(recorded)) - set(_key(exact)))
        lost = sorted(set(_key(exact)) - set(_key(recorded)))
        return [f"window {labels[t]}: the recorded rows are not the recomputed ones"
                + (f" ({len(extra)} recorded that pruning or stability drops" if extra else "")
                + (f", {len(lost)} recomputed that are not recorded)" if lost else
                   (")" if extra else ""))
                for t in sorted({k[0] for k in extra + lost}) or whole[:1]]
    return _differences(recorded, exact, labels)


def _compare_schedule(sched: pd.DataFrame, again: pd.DataFrame, labels, report: CheckReport):
    """One result per window: every column of schedule.csv against the recomputed row."""
    decimals = schedule_mod.DECIMALS
    printed = sched.copy()
    for col in ("window_start", "window_end"):
        printed[col] = pd.DatetimeIndex(printed[col]).strftime(TIME_FORMAT)
        again[col] = pd.DatetimeIndex(again[col]).strftime(TIME_FORMAT)
    printed["slo_met"] = printed["slo_met"].astype(str).str.lower()
    again["slo_met"] = np.where(again["slo_met"].to_numpy(dtype=bool), "true", "false")
    cols = schedule_mod.SCHEDULE_COLUMNS
    printed_cols = {col: printed[col].to_numpy() for col in cols}
    again_cols = {col: again[col].to_numpy() for col in cols}
    for t in range(len(again)):
        wrong = []
        for col in cols:
            p, a = printed_cols[col][t], again_cols[col][t]
            if col in decimals:
                try:
                    p = float(p)
                except (TypeError, ValueError):
                    wrong.append(f"{col} {p!r} is not a number")
                    continue
                if not within_print(p, float(a), decimals[col]):
                    wrong.append(f"{col} {_fmt(p, decimals[col])} ≠ recomputed "
                                 f"{_fmt(float(a), decimals[col])}")
            elif col in INTEGER_COLUMNS:
                if float(p) != float(a):
                    wrong.append(f"{col} {p} ≠ recomputed {a}")
            elif str(p) != str(a):
                wrong.append(f"{col} {str(p)!r} ≠ recomputed {str(a)!r}")
        report.add(GROUP, f"window {labels[t]}", not wrong,
                   "; ".join(wrong) if wrong else "every figure equals its recomputation")


def _compare_components(plan: PlanFolder, stats, chosen: pd.DataFrame, report: CheckReport):
    """components.csv against the charged breakdown of each window."""
    path = plan.file("components.csv")
    name = "components.csv"
    if not path.exists():
        report.add(GROUP, name, False, "missing from the plan folder")
        return
    try:
        printed = pd.read_csv(path)
        cols = [f"{c}_kgco2e" for c in schedule_mod.COMPONENT_COLUMNS]
        values = printed[cols].to_numpy(dtype=float)
    except (ValueError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        report.add(GROUP, name, False, f"unreadable: {str(e).splitlines()[0]}")
        return
    if len(values) != len(chosen):
        report.add(GROUP, name, False, f"{len(values)} rows for {len(chosen)} windows")
        return
    exact = chosen[list(schedule_mod.COMPONENT_COLUMNS)].to_numpy(dtype=float)
    labels = pd.DatetimeIndex(stats["window_start"]).strftime(TIME_FORMAT)
    wrong = [f"{labels[t]} {cols[j]} {values[t, j]:.6f} ≠ recomputed {exact[t, j]:.6f}"
             for t in range(len(values)) for j in range(len(cols))
             if not within_print(values[t, j], exact[t, j], 6)]
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

