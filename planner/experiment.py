"""The paper's experiment, measured by replay: a week of real conversation load, Llama-3-70B on
4×H100 replicas, French grid; then other zones, both SSD-embodied extremes and a sensitivity
study. ``make experiment`` runs :func:`main` and regenerates docs/experiment/.

Every number written comes from a plan or a replay made here; the prose around the tables is
generated from those numbers. Plans that share the workload share its inputs, and replays are
cached per schedule: what a schedule serves does not depend on the grid, only its carbon does
(:func:`planner.evaluate.serve` then :func:`planner.evaluate.account`).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from planner.config import PlanOptions
from planner.evaluate import SimulatedReplica, account, serve
from planner.grid import window_intensity
from planner.paths import examples_dir
from planner.plan import PlanResult, run_plan
from planner.workload.prepare import workload_key

WEEK = "invocations_ten_second_Conversation.csv"   # in the shipped examples
ZONES = ("FR", "DE", "GB", "US-CAL-CISO", "US-TEX-ERCO", "US-MIDA-PJM", "US-NY-NYIS", "CA-ON",
         "ZA", "IN-WE", "JP-TK", "SG")
STRATEGIES = ("no_cache", "max_cache", "static_cache", "plan")
LABELS = {"no_cache": "(a) no SSD tier", "max_cache": "(b) fixed 64 TB cache",
          "static_cache": "(c) best single size", "plan": "(d) per-window plan"}
PAPER = "15.1 % average (up to 25.3 %) against a fixed-size cache, > 90 % of requests within SLO"


@dataclass
class Replayed:
    """What the experiment keeps of one replay: per-window results, totals, window hours (the
    per-request latencies, ≈ 0.9 GB at full scale, stay in the replayer's bounded cache)."""

    windows: pd.DataFrame
    totals: dict
    hours: np.ndarray


@dataclass
class Judged:
    """A plan and its baselines, each replayed: per strategy, the replay and the prediction."""

    name: str
    options: PlanOptions
    plan: PlanResult
    replays: dict[str, Replayed]


class Replayer:
    """Replays schedules, caching what each (replicas, cache) sequence served.

    What a schedule serves depends on the workload and the hardware, not on the grid or the
    SLO, so the zones and SSD levels reuse the baselines' replays. The cache keeps the ``keep``
    most recently used results: each holds every request's latencies, and keeping all of a
    full-scale run's (≈ 30) does not fit in 24 GB."""

    def __init__(self, log, keep: int = 4):
        self.cache: OrderedDict = OrderedDict()
        self.keep = keep
        self.sims: dict = {}
        self.log = log
        self.seconds = 0.0

    def __call__(self, result: PlanResult, schedule: pd.DataFrame, opt: PlanOptions) -> Replayed:
        inputs = result.inputs
        # LCS evicts by the grid's carbon intensity, so under it the grid is part of the key.
        lcs_key = ((opt.grid, opt.ci_basis, opt.levels.ssd_embodied, opt.pue)
                   if inputs.eviction is not None else None)
        key = (opt.gpu, opt.tp, opt.ssd, workload_key(opt), lcs_key,
               schedule["replicas"].to_numpy().tobytes(),
               schedule["cache_gb"].to_numpy().tobytes())
        if key in self.cache:
            self.cache.move_to_end(key)
        else:
            sim_key = (opt.model, opt.gpu, opt.tp, opt.ssd)
            if sim_key not in self.sims:
                self.sims[sim_key] = SimulatedReplica(*sim_key)
            t0 = time.perf_counter()
            self.cache[key] = serve(inputs.trace, schedule, inputs.hardware, self.sims[sim_key],
                                    inputs.kv_bytes_per_token, policy=opt.eviction,
                                    lcs=inputs.eviction)
            self.seconds += time.perf_counter() - t0
            self.log(f"    replayed a schedule in {time.perf_counter() - t0:.0f} s")
            while len(self.cache) > self.keep:
                self.cache.popitem(last=False)
        r = account(self.cache[key], inputs.trace, schedule, inputs.ci, inputs.hardware,
                    opt.slo_ttft_s, opt.slo_tpot_s)
        return Replayed(r.windows, r.totals, r.served.hours)


def judge(name: str, opt: PlanOptions, replayer: Replayer, reuse, log,
          strategies=STRATEGIES) -> Judged:
    log(f"  {name}: planning")
    result = run_plan(opt, reuse=reuse)
    schedules = {"plan": result.schedule}
    schedules.update({k: b["schedule"] for k, b in result.baselines.items() if "schedule" in b})
    replays = {k: replayer(result, schedules[k], opt) for k in strategies if k in schedules}
    return Judged(name, opt, result, replays)


def _pct(a: float, b: float) -> float:
    return 100.0 * (1.0 - a / b) if b else float("nan")


def headline(j: Judged) -> dict:
    """Replayed and predicted totals of each strategy, and the plan's reductions."""
    out = {}
    for k, r in j.replays.items():
        t = r.totals
        out[k] = {"total_kgco2e": t["total_kgco2e"], "predicted_kgco2e": t["predicted_total_kgco2e"],
                  "operational_kgco2e": t["operational_kgco2e"],
                  "embodied_kgco2e": t["embodied_kgco2e"], "energy_kwh": t["energy_kwh"],
                  "slo_attainment": t["slo_attainment"],
                  "p90_ttft_within_15pct": t["windows_p90_ttft_within_15pct"],
                  "cache_tb_hours": float((r.windows["cache_gb"] / 1000
                                           * r.hours).sum()),
                  "gpu_hours": float((r.windows["replicas"] * j.options.tp
                                      * r.hours).sum())}
    plan = out["plan"]["total_kgco2e"]
    for ref in ("max_cache", "no_cache", "static_cache"):
        if ref in out:
            out["plan"][f"reduction_vs_{ref}_pct"] = _pct(plan, out[ref]["total_kgco2e"])
            out["plan"][f"predicted_reduction_vs_{ref}_pct"] = _pct(
                out["plan"]["predicted_kgco2e"], out[ref]["predicted_kgco2e"])
    return out


def per_day(j: Judged) -> pd.DataFrame:
    rows = []
    for k, r in j.replays.items():
        w = r.windows
        day = pd.DatetimeIndex(w["window_start"]).tz_convert("UTC").strftime("%Y-%m-%d")
        g = w.assign(day=day, met=w["slo_attainment"] * w["requests"]).groupby("day")
        d = g.agg(requests=("requests", "sum"), met=("met", "sum"),
                  total=("total_kgco2e", "sum"))
        for day_, r_ in d.iterrows():
            rows.append({"strategy": k, "day": day_, "requests": int(r_.requests),
                         "slo_attainment": r_.met / max(r_.requests, 1),
                         "total_kgco2e": r_.total})
    df = pd.DataFrame(rows)
    piv = df.pivot(index="day", columns="strategy", values="total_kgco2e")
    df_plan = df[df.strategy == "plan"].set_index("day")
    out = pd.DataFrame({"requests": df_plan["requests"],
                        "plan_kgco2e": piv["plan"],
                        "fixed_kgco2e": piv["max_cache"],
                        "no_cache_kgco2e": piv["no_cache"],
                        "plan_vs_fixed_pct": 100 * (1 - piv["plan"] / piv["max_cache"]),
                        "plan_vs_no_cache_pct": 100 * (1 - piv["plan"] / piv["no_cache"]),
                        "plan_slo_attainment": df_plan["slo_attainment"]})
    return out


# --------------------------------------------------------------------------------------------
# reuse-model variants for the sensitivity study
# --------------------------------------------------------------------------------------------

def reuse_variant(out_dir: Path, name: str, edit, why: str) -> str:
    """The shipped reuse-model fit with ``edit(params)`` applied, written beside the results
    (with a provenance note) so that the variant run can be repeated."""
    from planner.workload.reuse_model import default_params_path

    raw = json.loads(Path(default_params_path()).read_text(encoding="utf-8"))
    edit(raw)
    raw.setdefault("provenance", {})["variant"] = f"{why} (greencache experiment sensitivity)"
    path = out_dir / f"reuse-{name}.json"
    path.write_text(json.dumps(raw, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _save(fig, path: Path):
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def fig_timeline(j: Judged, path: Path):
    plt = _plt()
    s = j.plan.schedule
    fixed = j.replays["max_cache"].windows
    x = pd.DatetimeIndex(s["window_start"]).tz_convert("UTC").tz_localize(None)
    fig, ax = plt.subplots(4, 1, figsize=(10, 7.5), sharex=True, layout="constrained")
    ax[0].step(x, s["ci_gco2_per_kwh"], where="post", color="#444")
    ax[0].set_ylabel("gCO2e/kWh")
    ax[0].set_title(f"{j.name}: grid carbon intensity", loc="left")
    ax[1].step(x, s["rate_rps"], where="post", color="#1f77b4")
    ax[1].set_ylabel("req/s")
    ax[1].set_title("load", loc="left")
    ax[2].step(x, s["cache_gb"] / 1000, where="post", color="#2ca02c", label="plan")
    ax[2].step(x, fixed["cache_gb"] / 1000, where="post", color="#ff7f0e", ls="--",
               label="fixed")
    ax[2].set_ylabel("cache TB")
    ax[2].legend(frameon=False, fontsize=7)
    ax[2].set_title("SSD cache size", loc="left")
    ax[3].step(x, s["replicas"], where="post", color="#2ca02c", label="plan")
    ax[3].step(x, fixed["replicas"], where="post", color="#ff7f0e", ls="--", label="fixed")
    ax[3].set_ylabel("replicas")
    ax[3].set_title("replicas (4×H100 each)", loc="left")
    ax[3].legend(frameon=False, fontsize=7)
    _save(fig, path)


def fig_zones(rows: list[dict], path: Path):
    plt = _plt()
    df = pd.DataFrame(rows).sort_values("mean_ci")
    fig, ax = plt.subplots(figsize=(10, 3.8), layout="constrained")
    x = np.arange(len(df))
    ax.bar(x - 0.2, df["vs_fixed_pct"], 0.4, label="plan vs fixed 64 TB (replayed)",
           color="#2ca02c")
    ax.bar(x + 0.2, df["vs_no_cache_pct"], 0.4, label="plan vs no SSD tier (replayed)",
           color="#999999")
    ax.axhline(15.1, color="#d62728", lw=0.8, ls="--", label="paper: 15.1 % vs fixed")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{z}\n{c:.0f} g" for z, c in zip(df["zone"], df["mean_ci"])],
                       fontsize=7)
    ax.set_ylabel("carbon reduction %")
    ax.legend(frameon=False, fontsize=7)
    _save(fig, path)


# --------------------------------------------------------------------------------------------
# the study
# --------------------------------------------------------------------------------------------

def fmt(x, nd=1):
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{nd}f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/experiment")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the week's request counts (deployment size)")
    ap.add_argument("--zones", default=",".join(ZONES))
    ap.add_argument("--sensitivity", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    zones = [z.strip() for z in args.zones.split(",") if z.strip()]
    t_start = time.perf_counter()
    log = lambda m: print(m, flush=True)  # noqa: E731
    replayer = Replayer(log)
    base = PlanOptions(trace=str(examples_dir() / WEEK), grid=zones[0],
                       scale=args.scale).validate()

    log(f"main: {zones[0]}, scale {args.scale:g}")
    main_run = judge(zones[0], base, replayer, None, log)
    shared = main_run.plan.inputs
    results = {"scenario": base.as_dict(), "paper_claim": PAPER,
               "main": {"zone": zones[0], "headline": headline(main_run)}}
    days = per_day(main_run)

    log("zones × SSD embodied levels")
    zone_rows, extreme_rows = [], []
    for z in zones:
        for level in ("low", "central", "high"):
            opt = replace(base, grid=z, levels=replace(base.levels, ssd_embodied=level))
            if z == zones[0] and level == "central":
                j = main_run
            else:
                strat = STRATEGIES if level == "central" else ("max_cache", "no_cache", "plan")
                j = judge(f"{z} ssd-{level}", opt, replayer, shared, log, strat)
            h = headline(j)
            p = h["plan"]
            row = {"zone": z, "ssd_embodied": level,
                   "mean_ci": j.plan.summary["inputs"]["grid"]["mean_gco2_per_kwh_over_windows"],
                   "vs_fixed_pct": p["reduction_vs_max_cache_pct"],
                   "vs_no_cache_pct": p["reduction_vs_no_cache_pct"],
                   "predicted_vs_fixed_pct": p["predicted_reduction_vs_max_cache_pct"],
                   "slo_attainment": p["slo_attainment"],
                   "fixed_slo_attainment": h["max_cache"]["slo_attainment"],
                   "cache_tb_hours": p["cache_tb_hours"], "plan_kgco2e": p["total_kgco2e"]}
            (zone_rows if level == "central" else extreme_rows).append(row)
    results["zones"] = zone_rows
    results["ssd_extremes"] = extreme_rows

    sens = []
    if args.sensitivity:
        log("sensitivity (main zone)")
        variants = [
            ("as planned (central)", {}),
            ("SSD embodied low (0.003 kg/GB)", {"levels": replace(base.levels,
                                                                  ssd_embodied="low")}),
            ("SSD embodied high (0.16 kg/GB)", {"levels": replace(base.levels,
                                                                   ssd_embodied="high")}),
            ("SLO p90 TTFT 1 s", {"slo_ttft_s": 1.0}),
            ("SLO p90 TTFT 5 s, TPOT 0.2 s", {"slo_ttft_s": 5.0, "slo_tpot_s": 0.2}),
            (f"load ×{args.scale * 0.25:g}", {"scale": args.scale * 0.25}),
            (f"load ×{args.scale * 0.5:g}", {"scale": args.scale * 0.5}),
            ("reuse: no shared system prompt",
             {"reuse_model": reuse_variant(
                 out, "no-system-prompt", lambda p: p.update(system_prompt_prob=0.0),
                 "system_prompt_prob set to 0")}),
            ("reuse: no multi-turn sessions",
             {"reuse_model": reuse_variant(
                 out, "no-sessions",
                 lambda p: p.update(continue_prob=[0.0] * len(p["continue_prob"])),
                 "continue_prob set to 0 in every length bin")}),
            ("fixed cache 8 TB instead of 64 TB", {"cache_levels_tb": (0.0, 0.5, 1.0, 2.0, 4.0,
                                                                       8.0)}),
        ]
        for label, change in variants:
            opt = replace(base, **change)
            j = main_run if not change else judge(label, opt, replayer, shared, log,
                                                  ("max_cache", "no_cache", "plan"))
            h = headline(j)
            p = h["plan"]
            sens.append({"assumption": label, "vs_fixed_pct": p["reduction_vs_max_cache_pct"],
                         "predicted_vs_fixed_pct": p["predicted_reduction_vs_max_cache_pct"],
                         "vs_no_cache_pct": p["reduction_vs_no_cache_pct"],
                         "slo_attainment": p["slo_attainment"],
                         "fixed_slo_attainment": h["max_cache"]["slo_attainment"],
                         "cache_tb_hours": p["cache_tb_hours"]})
    results["sensitivity"] = sens
    results["replay_seconds"] = replayer.seconds
    results["wall_seconds"] = time.perf_counter() - t_start
    # ru_maxrss is in KiB on Linux
    results["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    fig_timeline(main_run, out / "fr-timeline.png")
    fig_zones(zone_rows, out / "zones.png")
    (out / "results.json").write_text(json.dumps(_clean(results), indent=2) + "\n",
                                      encoding="utf-8")
    (out / "README.md").write_text(render(results, days, main_run, args), encoding="utf-8")
    log(f"wrote {out}/README.md, results.json and figures in {time.perf_counter() - t_start:.0f} s")


def _clean(obj):
    if isinstance(obj, float):
        return None if not np.isfinite(obj) else round(obj, 6)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def render(results: dict, days: pd.DataFrame, main_run: Judged, args) -> str:
    h = results["main"]["headline"]
    z = results["main"]["zone"]
    opt = main_run.options
    s = main_run.plan.summary
    peak = int(main_run.plan.schedule["replicas"].max())
    lines = [
        "# The GreenCache experiment, measured by replay",
        "",
        "Regenerated by `make experiment` (`python -m planner.experiment`); every number below "
        "comes from `results.json` beside this file.",
        "",
        "## Setup",
        "",
        f"* Load: the Azure LLM inference conversation week of 2024 (complete 10-s counts, "
        f"{s['inputs']['trace']['requests']:,} requests at scale {opt.scale:g}), token lengths "
        "drawn from the Azure 2023 conversation trace, prefixes from the reuse model (modelled).",
        f"* Deployment: {opt.model} on {opt.tp}×{opt.gpu} replicas, {opt.ssd} SSD tier, at most "
        f"{opt.max_replicas} replicas; the plan peaks at {peak} replica(s) ({peak * opt.tp} GPUs).",
        f"* SLO: p90 TTFT ≤ {opt.slo_ttft_s:g} s, p90 TPOT ≤ {opt.slo_tpot_s:g} s; 1-h windows; "
        f"cache levels {', '.join(f'{x:g}' for x in opt.cache_levels_tb)} TB.",
        f"* Grid: {z} 2023, lifecycle basis (the week's dates are aligned to the same month, day "
        "and hour of 2023).",
        "* Every deployment is judged by replaying every request through the replica simulator "
        "(session-affine routing, the scheduled cache size with its own eviction, the planner's "
        "carbon accounting).",
        "",
        f"## Main result: {z}",
        "",
        "| deployment | replayed kgCO2e | predicted kgCO2e | within SLO | cache TB·h | GPU·h |",
        "|---|---|---|---|---|---|",
    ]
    for k in STRATEGIES:
        if k in h:
            r = h[k]
            lines.append(f"| {LABELS[k]} | {fmt(r['total_kgco2e'])} | {fmt(r['predicted_kgco2e'])} "
                         f"| {fmt(100 * r['slo_attainment'])} % | {fmt(r['cache_tb_hours'], 0)} "
                         f"| {fmt(r['gpu_hours'], 0)} |")
    p = h["plan"]
    lines += ["",
              f"The per-window plan emits {fmt(p['reduction_vs_max_cache_pct'])} % less than the "
              f"fixed 64 TB cache (predicted {fmt(p['predicted_reduction_vs_max_cache_pct'])} %), "
              f"{fmt(p['reduction_vs_no_cache_pct'])} % less than no SSD tier and "
              f"{fmt(p['reduction_vs_static_cache_pct'])} % less than the best single cache size, "
              f"with {fmt(100 * p['slo_attainment'])} % of requests within both SLOs. "
              f"The reference reports {PAPER}.",
              "", "Per day (replayed):", "",
              "| day | requests | plan kgCO2e | fixed kgCO2e | no-cache kgCO2e | vs fixed % | "
              "vs no cache % | within SLO |", "|---|---|---|---|---|---|---|---|"]
    for day, r in days.iterrows():
        lines.append(f"| {day} | {int(r.requests):,} | {fmt(r.plan_kgco2e)} | {fmt(r.fixed_kgco2e)} | "
                     f"{fmt(r.no_cache_kgco2e)} | {fmt(r.plan_vs_fixed_pct)} | "
                     f"{fmt(r.plan_vs_no_cache_pct)} | {fmt(100 * r.plan_slo_attainment)} % |")
    lines += ["", "![timeline](fr-timeline.png)", "", "## Other zones (SSD embodied central)", "",
              "| zone | mean gCO2e/kWh | plan vs fixed % | predicted % | plan vs no cache % | "
              "within SLO (plan / fixed) | cache TB·h |", "|---|---|---|---|---|---|---|"]
    for r in sorted(results["zones"], key=lambda r: r["mean_ci"]):
        lines.append(f"| {r['zone']} | {fmt(r['mean_ci'], 0)} | {fmt(r['vs_fixed_pct'])} | "
                     f"{fmt(r['predicted_vs_fixed_pct'])} | {fmt(r['vs_no_cache_pct'])} | "
                     f"{fmt(100 * r['slo_attainment'])} / {fmt(100 * r['fixed_slo_attainment'])} % "
                     f"| {fmt(r['cache_tb_hours'], 0)} |")
    vs = [r["vs_fixed_pct"] for r in results["zones"]]
    lines += ["", f"Across the {len(vs)} zones the plan saves {fmt(float(np.mean(vs)))} % on "
              f"average against the fixed cache (range {fmt(min(vs))} to {fmt(max(vs))} %).",
              "", "![zones](zones.png)", "",
              "## SSD embodied extremes (0.003 and 0.16 kgCO2e/GB)", "",
              "| zone | SSD embodied | plan vs fixed % (replayed) | predicted % | cache TB·h |",
              "|---|---|---|---|---|"]
    for r in sorted(results["ssd_extremes"], key=lambda r: (r["mean_ci"], r["ssd_embodied"])):
        lines.append(f"| {r['zone']} | {r['ssd_embodied']} | {fmt(r['vs_fixed_pct'])} | "
                     f"{fmt(r['predicted_vs_fixed_pct'])} | {fmt(r['cache_tb_hours'], 0)} |")
    if results["sensitivity"]:
        lines += ["", f"## Sensitivity ({z})", "",
                  "| assumption | plan vs fixed % (replayed) | predicted % | plan vs no cache % | "
                  "within SLO (plan / fixed) | cache TB·h |", "|---|---|---|---|---|---|"]
        for r in results["sensitivity"]:
            lines.append(f"| {r['assumption']} | {fmt(r['vs_fixed_pct'])} | "
                         f"{fmt(r['predicted_vs_fixed_pct'])} | {fmt(r['vs_no_cache_pct'])} | "
                         f"{fmt(100 * r['slo_attainment'])} / "
                         f"{fmt(100 * r['fixed_slo_attainment'])} % | "
                         f"{fmt(r['cache_tb_hours'], 0)} |")
        ref = results["sensitivity"][0]["vs_fixed_pct"]
        ranked = sorted(results["sensitivity"][1:],
                        key=lambda r: -abs((r["vs_fixed_pct"] or 0) - ref))
        top = ", ".join(f"{r['assumption']} ({fmt(r['vs_fixed_pct'] - ref, 1)} pp)"
                        for r in ranked[:3])
        lines += ["", f"The reduction against the fixed cache moves most with: {top}."]
    lines += ["", "## Run", "",
              f"Replays took {fmt(results['replay_seconds'], 0)} s of a "
              f"{fmt(results['wall_seconds'], 0)}-s run on this machine "
              f"(peak memory {fmt(results['peak_rss_gb'], 1)} GB).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
