#!/usr/bin/env python3
"""Controlled experiments on replayed windows: which ingredient moves their p90 TTFT.

    .venv/bin/python scripts/fidelity_diagnosis.py out/fidelity/azure-week --windows 18,42,102,150
    .venv/bin/python scripts/fidelity_diagnosis.py out/fidelity/mooncake-hour

For each chosen window of a plan folder (schedule.csv and summary.json, as `greencache plan`
writes them), the window's requests are routed to its replicas and given their cached prefix
exactly as `greencache simulate` does, and every replica is simulated again with one
ingredient of the replay swapped for what the profile tables assume:

* ``replay``        the window as replayed (real arrivals, lengths and per-request hits);
* ``uniform hits``  every request caches the window's token hit rate h of its prompt;
* ``reuse rule``    request i caches g_i · h / G of its prompt (g_i: the share an unbounded
                    cache would serve, G its token-weighted mean in the window; the tables'
                    rule, planner/perf/shapes.py, with the window's own g instead of the
                    shape's);
* ``log-normal``    uniform hits, and lengths redrawn log-normal with the window's means and
                    the parameter file's σ (the tables' shape before greencache-perf 3);
* ``Poisson``       uniform hits, real lengths, arrivals redrawn as a Poisson process at each
                    replica's own rate in every minute (what the load-bucket mixture assumes);
* ``predicted``     the planner's p90 from schedule.csv.

With ``--seeds S`` it then prints, per window, how far statistically equal windows spread
(median and p10–p90 of the p90 TTFT over S draws) and what the table should read there:

* ``re-timed``      the window's own requests (lengths, cached prefixes and replicas as
                    replayed), arrivals redrawn as a Poisson process on each replica, order kept;
* ``permuted``      the window's own arrival times, its requests permuted within each replica;
* ``shape``         requests drawn from the profile table's workload shape at the window's
                    mean prompt, mean output and token hit rate (hits spread by the table's rule),
                    as many as the window's over as many replicas, Poisson arrivals: what a
                    table without reading error predicts for this window;
* ``table``         the table read at the window's mean rate per replica (no burst mixture);
* ``warm start``    each replica first serves the 120 s of requests before the window (routed
                    by this window's replica count; not counted), instead of starting empty.

With ``--hits S`` it prints, per window, where the table's hit rate and its reading go astray
(S draws each; median [p10, p90]):

* ``minutes``       the mixture over the window's minutes, each read from the table at its own
                    hit rate, token means and rate per replica (no load buckets);
* ``shape reuse``   the window's own requests, their hits respread by the table's rule with the
                    shape's reuse potential (drawn in each request's prompt-length bin) at the
                    window's hit rate h;
* ``all or nothing`` the same reuse potentials, but a share h / G of the requests (G: their
                    token-weighted mean) keeps its whole reusable prefix and the rest none, as a
                    cache still warming serves them;
* ``exact``         the window's mix (means, h, rate per replica) simulated as the table
                    simulates a point (one replica, Poisson, the table's run length);
* ``rows``          the same at the table's two hit rows around h, and their geometric reading
                    at h, which the table makes.

Prints p90 TTFT (and TPOT) per window and variant. Deterministic (seeded). Reading and
figures: docs/perf-model.md, "Prediction against replay".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.evaluate import route, schedule_windows  # noqa: E402
from planner.perf.lengths import draw_lengths  # noqa: E402
from planner.perf.params import load_params  # noqa: E402
from planner.plan_files import read_schedule  # noqa: E402
from planner.plan_files import scenario_from_summary  # noqa: E402
from planner.workload.prepare import busy_token_means, prepare_replay  # noqa: E402
from planner.workload.prepare import select_profile  # noqa: E402
from planner.workload.eviction import simulate_cache  # noqa: E402

VARIANTS = ("replay", "uniform hits", "reuse rule", "log-normal", "Poisson")


def p90(x) -> float:
    x = np.asarray(x)[np.isfinite(x)]
    return float(np.percentile(x, 90)) if x.size else float("nan")


def reuse_rule(g, prompt, h):
    """Cached tokens when hits spread by reuse potential g at token hit rate h."""
    G = (g * prompt).sum() / max(prompt.sum(), 1)
    if G <= 0:
        f = np.full(len(g), h)
    elif h <= G:
        f = g * h / G
    else:
        f = g + (1 - g) * (h - G) / (1 - G)
    return np.floor(np.minimum(f, 1.0) * prompt).astype(np.int64)


def window_variants(setup, sched, t: int, win, replica, cached, reuse,
                    seed: int = 0) -> dict:
    """p90 TTFT and TPOT of window t under each variant."""
    from planner.catalog import load_catalog

    context = load_catalog().model(setup.options.model).max_context
    tr = setup.trace
    idx = np.flatnonzero(win == t)
    prompt = tr.input_tokens[idx]
    output = np.maximum(tr.output_tokens[idx], 1)
    arrival = tr.arrival_s[idx]
    h = cached[idx].sum() / max(prompt.sum(), 1)
    rng = np.random.default_rng([seed, t])
    lengths = load_params().lengths
    # as the tables drew them: outputs within half the context, prompts within the rest
    ln_output = draw_lengths(output.mean(), lengths.sigma_output, rng.standard_normal(len(idx)),
                             1, context // 2)
    ln_prompt = np.minimum(draw_lengths(prompt.mean(), lengths.sigma_input,
                                        rng.standard_normal(len(idx))), context - ln_output)
    poisson = np.empty(len(idx))
    start = float(arrival.min()) if len(idx) else 0.0
    for j in np.unique(replica[idx]):
        m = replica[idx] == j
        a = arrival[m]
        minute = np.floor((a - start) / 60.0).astype(np.int64)
        out = []
        for k in np.unique(minute):
            cnt = int((minute == k).sum())
            out.append(np.sort(start + 60.0 * k + 60.0 * rng.random(cnt)))
        poisson[m] = np.concatenate(out)
    inputs = {
        "replay": (arrival, prompt, cached[idx], output),
        "uniform hits": (arrival, prompt, np.floor(h * prompt).astype(np.int64), output),
        "reuse rule": (arrival, prompt, reuse_rule(reuse[idx], prompt, h), output),
        "log-normal": (arrival, ln_prompt, np.floor(h * ln_prompt).astype(np.int64), ln_output),
        "Poisson": (poisson, prompt, np.floor(h * prompt).astype(np.int64), output),
    }
    res = {}
    for name, (a, p, c, o) in inputs.items():
        ttft, tpot = [], []
        for j in np.unique(replica[idx]):
            m = replica[idx] == j
            order = np.argsort(a[m], kind="stable")
            run = setup.replica_model(a[m][order], p[m][order], c[m][order], o[m][order])
            ttft.append(run.ttft_s)
            tpot.append(run.tpot_s)
        res[name] = (p90(np.concatenate(ttft)), p90(np.concatenate(tpot)))
    return {"h": h, "replicas": int(sched["replicas"].iloc[t]), **res}


def table_shape(setup):
    """The profile table the plan read (with its ``--correction``) and its workload shape
    (refitted, as ``plan`` fits it, when the plan fitted the trace's own)."""
    from planner.paths import sha256_file
    from planner.perf.correction.apply import corrected
    from planner.perf.shape_fit import fit_trace_shape, shape_name
    from planner.perf.shapes import load_shape
    from planner.workload.prepare import shape_source

    opt = setup.options
    profile, info, _ = select_profile(opt, setup.trace, window_means=busy_token_means(
        setup.windowing))
    profile = corrected(profile, opt.correction)[0]
    if info["chosen"].startswith("auto-profile"):
        path = Path(opt.trace)
        shape = fit_trace_shape(shape_source(setup.trace, opt), shape_name(path.stem),
                                path.name, sha256_file(path), seed=opt.seed,
                                reuse_model=opt.reuse_model)
    else:
        shape = load_shape(info["name"])
    return profile, shape


def replicas_p90(setup, arrival, prompt, cached, output, replica, keep=None):
    """p90 TTFT over the requests (those in ``keep``, default all) of every replica run."""
    ttft = []
    for j in np.unique(replica):
        m = np.flatnonzero(replica == j)
        m = m[np.argsort(arrival[m], kind="stable")]
        run = setup.replica_model(arrival[m], prompt[m], cached[m], output[m])
        ttft.append(run.ttft_s if keep is None else run.ttft_s[keep[m]])
    return p90(np.concatenate(ttft))


def window_spread(setup, sched, t: int, win, replica, cached, profile, shape,
                  seeds: int) -> dict:
    """The ``--seeds`` figures of window t (module docstring): (median, p10, p90) of the p90
    TTFT over the draws of each spread, the table's reading, the warm start's p90."""
    from planner.catalog import load_catalog
    from planner.perf.simulator import _stream, shape_draws

    tr = setup.trace
    idx = np.flatnonzero(win == t)
    prompt, output = tr.input_tokens[idx], np.maximum(tr.output_tokens[idx], 1)
    arrival, c, rep = tr.arrival_s[idx], cached[idx], replica[idx]
    n, R = len(idx), int(sched["replicas"].iloc[t])
    span = ((pd.Timestamp(sched["window_end"].iloc[t])
             - pd.Timestamp(sched["window_start"].iloc[t])).total_seconds())
    h = c.sum() / max(prompt.sum(), 1)
    mi, mo = float(prompt.mean()), float(output.mean())
    context = float(load_catalog().model(setup.options.model).max_context)
    draws = {k: [] for k in ("re-timed", "permuted", "shape")}
    for s in range(seeds):
        rng = np.random.default_rng([20261130, t, s])
        a = np.empty(n)
        p, cc, o = prompt.copy(), c.copy(), output.copy()
        for j in np.unique(rep):
            m = np.flatnonzero(rep == j)
            a[m] = np.sort(rng.random(m.size)) * span
            q = rng.permutation(m)
            p[m], cc[m], o[m] = prompt[q], c[q], output[q]
        draws["re-timed"].append(replicas_p90(setup, a, prompt, c, output, rep))
        draws["permuted"].append(replicas_p90(setup, arrival, p, cc, o, rep))
        d = shape_draws(shape, [(int(mi), int(mo))], n, 1000 + s)
        _, sp, sc, so = _stream(1.0, h, mi, mo, d.e[0], d.m_in[0], d.m_out[0], d.g[0], n,
                                context)
        sa = np.sort(rng.random(n)) * span
        draws["shape"].append(replicas_p90(setup, sa, sp, sc, so, rng.integers(0, R, n)))
    out = {k: (float(np.median(v)), float(np.percentile(v, 10)), float(np.percentile(v, 90)))
           for k, v in draws.items()}
    out["table"] = float(profile.lookup(np.array([n / span / R]), np.array([h]),
                                        np.array([mi]), np.array([mo])).p90_ttft_s[0])
    before = np.flatnonzero((tr.arrival_s < arrival.min())
                            & (tr.arrival_s >= arrival.min() - 120.0))
    if before.size:
        pre = route(tr, np.full(len(tr), t), sched["replicas"].to_numpy())[before]
        both = np.r_[before, idx]
        out["warm start"] = replicas_p90(
            setup, tr.arrival_s[both], tr.input_tokens[both], cached[both],
            np.maximum(tr.output_tokens[both], 1), np.r_[pre, rep],
            keep=np.r_[np.zeros(before.size, bool), np.ones(n, bool)])
    else:
        out["warm start"] = float("nan")
    return out


def window_hits(setup, sched, t: int, win, replica, cached, profile, shape,
                seeds: int) -> dict:
    """The ``--hits`` figures of window t (module docstring)."""
    from planner.catalog import load_catalog
    from planner.perf.mixture import mixture_quantile
    from planner.perf.simulator import shape_draws, simulate_points
    from planner.perf.synth import REQUESTS, point_requests

    tr = setup.trace
    idx = np.flatnonzero(win == t)
    prompt, output = tr.input_tokens[idx], np.maximum(tr.output_tokens[idx], 1)
    arrival, c, rep = tr.arrival_s[idx], cached[idx], replica[idx]
    R = int(sched["replicas"].iloc[t])
    span = ((pd.Timestamp(sched["window_end"].iloc[t])
             - pd.Timestamp(sched["window_start"].iloc[t])).total_seconds())
    h = c.sum() / max(prompt.sum(), 1)
    mi, mo = float(prompt.mean()), float(output.mean())
    rate = len(idx) / span / R
    minute = np.floor((arrival - arrival.min()) / 60.0).astype(np.int64)
    keys = np.unique(minute)
    seconds = np.minimum(60.0, span - 60.0 * keys)
    per = [(np.sum(minute == k), np.sum(minute == k) / s / R,
            c[minute == k].sum() / max(prompt[minute == k].sum(), 1),
            prompt[minute == k].mean(), output[minute == k].mean())
           for k, s in zip(keys, seconds)]
    n_m, r_m, h_m, i_m, o_m = (np.array(x, dtype=float) for x in zip(*per))
    look = profile.lookup(r_m, np.minimum(h_m, 1.0), i_m, o_m)
    out = {"minutes": float(mixture_quantile(look.p50_ttft_s[None], look.p90_ttft_s[None],
                                             n_m[None])[0])}
    quantile = (np.argsort(np.argsort(prompt, kind="stable"), kind="stable") + 0.5) / len(idx)
    draws = {"shape reuse": [], "all or nothing": []}
    for s in range(seeds):
        rng = np.random.default_rng([20261201, t, s])
        g = shape.reuse(quantile, rng.random(len(idx)))
        draws["shape reuse"].append(replicas_p90(setup, arrival, prompt,
                                                 reuse_rule(g, prompt, h), output, rep))
        G = (g * prompt).sum() / max(prompt.sum(), 1)
        keep = rng.random(len(idx)) < (h / G if G > 0 else 1.0)
        whole = np.floor(np.where(keep, g, 0.0) * prompt).astype(np.int64)
        draws["all or nothing"].append(replicas_p90(setup, arrival, prompt, whole, output, rep))
    context = int(load_catalog().model(setup.options.model).max_context)
    costs = setup.replica_model.costs
    u = rate / float(profile.capacity(np.array([h]), np.array([mi]), np.array([mo]))[0])
    n = int(point_requests(REQUESTS, np.array([u]))[0])

    def point(hit):
        """The table's simulation of the window's means and load at hit rate ``hit``."""
        cap = float(profile.capacity(np.array([hit]), np.array([mi]), np.array([mo]))[0])
        return [float(simulate_points(costs, np.array([u * cap]), np.array([hit]),
                                      np.array([mi]), np.array([mo]), np.array([n]),
                                      np.array([0]), shape_draws(shape, [(int(mi), int(mo))],
                                                                 n, 100 + s),
                                      context, workers=1)[0, 1]) for s in range(seeds)]

    draws["exact"] = point(h)
    axis = profile.axes[1]
    j = int(np.clip(np.searchsorted(axis, h, side="right") - 1, 0, len(axis) - 2))
    lo, hi = float(axis[j]), float(axis[j + 1])
    draws["row lo"], draws["row hi"] = point(lo), point(hi)
    out.update({k: (float(np.median(v)), float(np.percentile(v, 10)),
                    float(np.percentile(v, 90))) for k, v in draws.items()})
    a = (h - lo) / (hi - lo)
    out["rows"] = (lo, hi, float(np.exp((1 - a) * np.log(out["row lo"][0])
                                         + a * np.log(out["row hi"][0]))))
    out["h"], out["u"], out["G"] = h, u, shape.statistics.get("reusable_token_share")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plan", type=Path, help="plan folder: schedule.csv and summary.json")
    ap.add_argument("--windows", default=None, help="window indices (default: all)")
    ap.add_argument("--seeds", type=int, default=0,
                    help="draws per window of the spreads (module docstring); 0: none")
    ap.add_argument("--hits", type=int, default=0,
                    help="draws per window of the hit-spread and table-reading figures "
                         "(module docstring); 0: none")
    args = ap.parse_args(argv)
    sched = read_schedule(args.plan / "schedule.csv")
    setup = prepare_replay(scenario_from_summary(args.plan / "summary.json"))
    win = schedule_windows(setup.trace, sched)
    replica = route(setup.trace, win, sched["replicas"].to_numpy())
    cache_gb = sched["cache_gb"].to_numpy(dtype=float)
    blocks = np.floor(cache_gb * 1e9 / setup.kv_bytes_per_token
                      / setup.trace.block_tokens).astype(np.int64)
    cached = simulate_cache(setup.trace, blocks, request_window=win,
                            policy=setup.options.eviction)
    reuse = simulate_cache(setup.trace, np.int64(2 ** 62)) / setup.trace.input_tokens
    windows = ([int(x) for x in args.windows.split(",")] if args.windows
               else range(len(sched)))
    print(f"{'window':>6} {'n':>3} {'hit':>6} | " + " | ".join(f"{v:>13}" for v in VARIANTS)
          + f" | {'predicted':>13}   (p90 TTFT s / p90 TPOT ms)")
    for t in windows:
        r = window_variants(setup, sched, t, win, replica, cached, reuse)
        cells = [f"{r[v][0]:6.3f} /{1e3 * r[v][1]:5.1f}" for v in VARIANTS]
        pred = (f"{sched['p90_ttft_s'].iloc[t]:6.3f} /"
                f"{1e3 * sched['p90_tpot_s'].iloc[t]:5.1f}")
        print(f"{t:>6} {r['replicas']:>3} {r['h']:6.3f} | " + " | ".join(cells) + f" | {pred}",
              flush=True)
    if args.seeds > 0:
        profile, shape = table_shape(setup)
        print(f"\np90 TTFT s over {args.seeds} draws: median [p10, p90]")
        for t in windows:
            r = window_spread(setup, sched, t, win, replica, cached, profile, shape, args.seeds)
            cells = " | ".join(f"{k} {r[k][0]:.3f} [{r[k][1]:.3f}, {r[k][2]:.3f}]"
                               for k in ("re-timed", "permuted", "shape"))
            print(f"{t:>6} | {cells} | table {r['table']:.3f} | warm start "
                  f"{r['warm start']:.3f}", flush=True)
    if args.hits > 0:
        profile, shape = table_shape(setup)
        print(f"\np90 TTFT s, hits and the table's reading, {args.hits} draws: median [p10, p90]")
        for t in windows:
            r = window_hits(setup, sched, t, win, replica, cached, profile, shape, args.hits)
            cells = " | ".join(f"{k} {r[k][0]:.3f} [{r[k][1]:.3f}, {r[k][2]:.3f}]"
                               for k in ("shape reuse", "all or nothing", "exact"))
            lo, hi, read = r["rows"]
            print(f"{t:>6} | h {r['h']:.3f} u {r['u']:.3f} | minutes {r['minutes']:.3f} | "
                  f"{cells} | rows {lo:g} {r['row lo'][0]:.3f}, {hi:g} {r['row hi'][0]:.3f}, "
                  f"read at h {read:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
