#!/usr/bin/env python3
"""Day-ahead forecast accuracy: carbon intensity per shipped zone, request rate per trace.

    .venv/bin/python bench/forecast_accuracy.py grid [--every 14] [--zones DE-LU,GB]
    .venv/bin/python bench/forecast_accuracy.py rates

grid: rolling day-ahead forecasts of every shipped zone's hourly carbon intensity, issued at
00:00 UTC and covering the 24 h after, through ``planner.forecast.forecast_series`` (the path
``forecast_windows`` takes for its carbon column). Zones shipped for 2021–2023 forecast 2023
(history: 2021–2022 and 2023 before the issue); zones shipped for one year forecast that year
from 29 January (four weeks of history first). One issue every ``--every`` days (a sample:
fitting MSTL for every day of every zone takes hours on 2 cores). Prints MAPE (%) per zone for
seasonal naive, MSTL and auto.

rates: rolling day-ahead forecasts of the request rate (1-h windows) through
``forecast_windows``: the Azure 2024 conversation week from its third day (issues at 00:00 on
days 3–7, the 10-s counts read as a rate series) and BurstGPT's 61 days (from day 3, every
day; placed in 2023 as ``plan`` places it). Prints MAPE of the p50, pinball loss of p50 and
p90 and p90 coverage, per model, over all issues.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.forecast import forecast_series, forecast_windows, rate_history  # noqa: E402
from planner.forecast.accuracy import coverage, mape, pinball_loss  # noqa: E402
from planner.grid import known_zones, load_grid  # noqa: E402
from planner.paths import examples_dir  # noqa: E402
from planner.workload.prepare import default_start  # noqa: E402
from planner.workload.rates import read_rate_series  # noqa: E402

H = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)
MODELS = ("seasonal-naive", "mstl", "auto")


def zone_issues(series, every: int) -> list[pd.Timestamp]:
    last = series.years[-1]
    first = pd.Timestamp(year=last, month=1, day=1, tz="UTC")
    if len(series.years) == 1:
        first += pd.Timedelta(days=28)
    end = series.times[-1] + H - DAY
    return list(pd.date_range(first, end, freq=f"{every}D"))


def grid_study(every: int, zones: list[str] | None) -> None:
    chosen = sorted(known_zones().values(), key=lambda z: z.code)
    if zones:
        chosen = [z for z in chosen if z.code in zones]
    print(f"Day-ahead carbon-intensity MAPE (%), issue 00:00 UTC every {every} days, 24 h")
    print("| zone | years | forecast | issues | " + " | ".join(MODELS) + " | auto chose MSTL |")
    print("|---|---|---|---|" + "---|" * len(MODELS) + "---|")
    for zone in chosen:
        basis = "lifecycle" if "lifecycle" in zone.bases else "direct"
        s = load_grid(zone.code, basis)
        ci = pd.Series(s.values, index=s.times)
        issues = zone_issues(s, every)
        actual, fc, picks = [], {m: [] for m in MODELS}, 0
        t0 = time.perf_counter()
        for d in issues:
            hz = pd.date_range(d, periods=24, freq=H)
            actual.append(ci.reindex(hz).to_numpy())
            for m in MODELS:
                values, name = forecast_series(ci, d, hz, model=m)
                fc[m].append(values)
                if m == "auto":
                    picks += name == "mstl"
        a = np.concatenate(actual)
        scores = " | ".join(f"{mape(a, np.concatenate(fc[m])):.1f}" for m in MODELS)
        span = f"{s.years[0]}–{s.years[-1]}" if len(s.years) > 1 else str(s.years[0])
        target = f"{s.years[-1]}" + (" from 29 Jan" if len(s.years) == 1 else "")
        print(f"| {zone.code} ({basis}) | {span} | {target} | {len(issues)} | {scores} | "
              f"{picks}/{len(issues)} |  ({time.perf_counter() - t0:.0f} s)", flush=True)


def rate_case(name: str, history: pd.DataFrame, issues) -> None:
    models = ("seasonal-naive", "auto-ets", "mstl", "auto")
    print(f"\n{name}: {len(issues)} day-ahead issues at 00:00 UTC, 24 h of 1-h windows")
    print("| model | rate MAPE % | pinball p50 (req/s) | pinball p90 (req/s) | p90 coverage % | "
          "s per issue |")
    print("|---|---|---|---|---|---|")
    for m in models:
        rows, t0, used = [], time.perf_counter(), {}
        for d in issues:
            hz = pd.date_range(d, periods=24, freq=H)
            f = forecast_windows(history, d, hz, model=m)
            f["actual"] = history["rate"].reindex(hz).to_numpy()
            used[f["model"].iloc[0]] = used.get(f["model"].iloc[0], 0) + 1
            rows.append(f)
        f = pd.concat(rows)
        a = f["actual"]
        took = (time.perf_counter() - t0) / len(issues)
        picked = ", ".join(f"{k} {v}" for k, v in used.items())
        p50, p90 = f["rate_p50"], f["rate_p90"]
        print(f"| {m} ({picked}) | {mape(a, p50):.1f} | {pinball_loss(a, p50, 0.5):.3g} "
              f"| {pinball_loss(a, p90, 0.9):.3g} | {100 * coverage(a, p90):.0f} | "
              f"{took:.2f} |", flush=True)


def rates_study() -> None:
    grid = load_grid("FR")
    conv = read_rate_series(examples_dir() / "invocations_ten_second_Conversation.csv")
    h = rate_history(conv, conv.start, grid, "1h")
    start = conv.start.normalize()
    rate_case("Azure 2024 conversation week (10-s counts)", h,
              [start + k * DAY for k in range(2, 7)])
    burst = read_rate_series(examples_dir() / "burstgpt_hourly.csv")
    h = rate_history(burst, default_start(grid), grid, "1h")
    first = h["rate"].first_valid_index()
    last = h["rate"].last_valid_index()
    rate_case("BurstGPT, 61 days (hourly counts, conversation log)", h,
              list(pd.date_range(first + 2 * DAY, last + H - DAY, freq="D")))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("study", choices=("grid", "rates"))
    p.add_argument("--every", type=int, default=14)
    p.add_argument("--zones", default="")
    args = p.parse_args()
    if args.study == "grid":
        grid_study(args.every, [z for z in args.zones.split(",") if z] or None)
    else:
        rates_study()


if __name__ == "__main__":
    main()
