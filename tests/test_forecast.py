"""Forecasts of the windows ahead (planner/forecast): arithmetic, leakage, quantiles, inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.errors import InputDataError, UsageError
from planner.forecast import forecast_series, forecast_windows, rate_history, window_history
from planner.forecast.ci_file import external_ci
from planner.grid import CarbonSeries
from planner.workload.rates import RateSeries
from planner.workload.trace import Trace

H = pd.Timedelta(hours=1)
T0 = pd.Timestamp("2024-05-06T00:00Z")   # a Monday


def history(values, ci=None, start=T0, step=H):
    """A history frame whose rate is ``values`` and token means and CI follow from it."""
    v = np.asarray(values, dtype=float)
    idx = pd.date_range(start, periods=len(v), freq=step, name="window_start")
    return pd.DataFrame({"rate": v, "input_tokens_mean": 1000 + v, "output_tokens_mean": 200 + v,
                         "ci_gco2_per_kwh": 50 + v if ci is None else ci}, index=idx)


def horizon(start, n, step=H):
    return pd.date_range(start, periods=n, freq=step)


def test_seasonal_naive_repeats_the_last_day_by_hand():
    # Three days of hourly values 0..71: the forecast of hour k after the last one is the value
    # 24·⌈k/24⌉ hours before it (the last day, repeated).
    h = history(np.arange(72))
    issued = T0 + 72 * H
    f = forecast_windows(h, issued, horizon(issued, 30), model="seasonal-naive")
    expected = [48 + (k - 1) % 24 for k in range(1, 31)]
    assert f["rate_p50"].tolist() == expected
    assert f["ci_gco2_per_kwh"].tolist() == [50 + x for x in expected]
    assert f["lead_h"].tolist() == list(range(30))
    assert set(f["model"]) == {"seasonal-naive"}
    # Residuals of a series rising by 24 a day are all 24: the p90 is the point forecast.
    assert np.allclose(f["rate_p90"], f["rate_p50"])


def test_seasonal_naive_is_weekly_from_two_weeks():
    # A week-periodic series with distinct days: with 14 days, last week's same hour is used.
    week = np.repeat(np.arange(7) * 10.0, 24) + np.tile(np.arange(24), 7)
    h = history(np.tile(week, 2))
    issued = T0 + 14 * 24 * H
    f = forecast_windows(h, issued, horizon(issued, 48), model="seasonal-naive")
    assert f["rate_p50"].tolist() == week[:48].tolist()
    # With 13 days it is daily: tomorrow repeats the last day (Saturday, day 6 of week 2).
    h13 = h.iloc[:13 * 24]
    f13 = forecast_windows(h13, issued - 24 * H, horizon(issued - 24 * H, 24),
                           model="seasonal-naive")
    assert f13["rate_p50"].tolist() == week[5 * 24:6 * 24].tolist()


def test_horizon_after_a_gap_counts_seasons_from_the_last_window():
    # History ends 10 h before the horizon; hour k after the last known window still takes the
    # value 24·⌈k/24⌉ hours back.
    h = history(np.arange(48))
    issued = T0 + 58 * H
    f = forecast_windows(h, issued, horizon(issued, 3), model="seasonal-naive")
    assert f["rate_p50"].tolist() == [34, 35, 36]
    assert f["lead_h"].tolist() == [0, 1, 2]


@pytest.mark.parametrize("model", ["seasonal-naive", "auto"])
def test_no_leakage_from_rows_at_or_after_the_issue_time(model):
    rng = np.random.default_rng(1)
    values = 5 + np.sin(np.arange(24 * 9) * 2 * np.pi / 24) + rng.normal(0, 0.2, 24 * 9)
    h = history(values)
    issued = T0 + pd.Timedelta(days=8, minutes=30)   # inside window 8 d 00:00
    hz = horizon(T0 + pd.Timedelta(days=8, hours=1), 24)
    a = forecast_windows(h, issued, hz, model=model)
    changed = h.copy()
    later = changed.index >= T0 + pd.Timedelta(days=8)   # the window holding issued_at too
    changed.loc[later] = rng.normal(100, 50, size=(later.sum(), 4))
    b = forecast_windows(changed, issued, hz, model=model)
    pd.testing.assert_frame_equal(a, b)
    # and the rows before it do count: a change there changes the forecast
    earlier = h.copy()
    earlier.iloc[-30:-20, 0] += 3.0
    assert not forecast_windows(earlier, issued, hz, model=model).equals(a)


def test_quantiles_are_ordered_and_non_negative():
    rng = np.random.default_rng(2)
    values = np.maximum(rng.normal(0.5, 2.0, 24 * 6), 0.0)   # many zeros, wide noise
    h = history(values)
    issued = T0 + 6 * 24 * H
    f = forecast_windows(h, issued, horizon(issued, 48), quantiles=(0.1, 0.5, 0.9, 0.99))
    cols = ["rate_p10", "rate_p50", "rate_p90", "rate_p99"]
    q = f[cols].to_numpy()
    assert (q >= 0).all()
    assert (np.diff(q, axis=1) >= 0).all()
    assert (q[:, 2] > q[:, 1]).any()   # the p90 band is not empty for a noisy series


def test_output_is_deterministic_to_the_byte():
    rng = np.random.default_rng(3)
    h = history(rng.gamma(4.0, 2.0, 24 * 5))
    issued = T0 + 5 * 24 * H
    a = forecast_windows(h, issued, horizon(issued, 48)).to_csv()
    b = forecast_windows(h.copy(), issued, horizon(issued, 48)).to_csv()
    assert a == b


def test_too_little_history_says_how_much_is_needed():
    h = history(np.arange(20))
    issued = T0 + 20 * H
    with pytest.raises(InputDataError, match="needs at least 1 day of history.*has 20 h"):
        forecast_windows(h, issued, horizon(issued, 24), model="seasonal-naive")


def test_bad_horizons_and_quantiles_are_usage_errors():
    h = history(np.arange(48))
    issued = T0 + 48 * H
    with pytest.raises(UsageError, match="before the forecast is issued"):
        forecast_windows(h, issued, horizon(issued - H, 3))
    with pytest.raises(UsageError, match="differ from the history"):
        forecast_windows(h, issued, horizon(issued, 3, step=pd.Timedelta(minutes=30)))
    with pytest.raises(UsageError, match="line up"):
        forecast_windows(h, issued, horizon(issued + pd.Timedelta(minutes=20), 3))
    with pytest.raises(UsageError, match="outside"):
        forecast_windows(h, issued, horizon(issued, 3), quantiles=(0.5, 1.0))
    with pytest.raises(UsageError, match="unknown forecast model"):
        forecast_windows(h, issued, horizon(issued, 3), model="prophet")


def ci_forecasts(rows):
    return pd.DataFrame(rows, columns=["issued_at", "timestamp", "ci_gco2_per_kwh"]).astype(
        {"issued_at": "datetime64[ns, UTC]", "timestamp": "datetime64[ns, UTC]"})


def test_external_ci_uses_the_latest_issue_before_the_decision_only():
    d = T0 + 48 * H
    hz = horizon(d, 2)
    rows = []
    for issued, value in ((d - 12 * H, 100.0), (d - H, 200.0), (d, 300.0), (d + H, 400.0)):
        rows += [(issued, d, value), (issued, d + H, value + 1)]
    fc = ci_forecasts(rows)
    assert external_ci(fc, hz, H, d).tolist() == [200.0, 201.0]
    # A forecast issued at (or after) the decision is never read; before the first issue,
    # nothing is usable.
    assert external_ci(fc, hz, H, d - H + pd.Timedelta(seconds=1)).tolist() == [200.0, 201.0]
    assert external_ci(fc, hz, H, d - H).tolist() == [100.0, 101.0]
    with pytest.raises(InputDataError, match="no carbon-intensity forecast was issued"):
        external_ci(fc, hz, H, d - 12 * H)
    # Through forecast_windows, the external values replace the model's.
    f = forecast_windows(history(np.arange(48)), d, hz, ci_forecast=fc)
    assert f["ci_gco2_per_kwh"].tolist() == [200.0, 201.0]


def test_external_ci_must_cover_the_horizon():
    d = T0 + 48 * H
    fc = ci_forecasts([(d - H, d, 100.0)])
    with pytest.raises(InputDataError, match="covers the window starting"):
        external_ci(fc, horizon(d, 2), H, d)
    # 15-minute windows read the hour they lie in; a 2-hour window the mean of its hours.
    fc = ci_forecasts([(d - H, d, 100.0), (d - H, d + H, 200.0)])
    q = pd.Timedelta(minutes=15)
    assert external_ci(fc, horizon(d, 8, q), q, d).tolist() == [100.0] * 4 + [200.0] * 4
    assert external_ci(fc, horizon(d, 1, 2 * H), 2 * H, d).tolist() == [150.0]


def small_trace():
    # 3 requests in the first hour (the trace starts 00:30), 1 in the third, none in the second.
    arrivals = np.array([0.0, 600.0, 1200.0, 2 * 3600.0 + 60.0])
    return Trace(arrivals, np.array([100, 200, 300, 50]), np.array([10, 20, 30, 5]),
                 pd.Timestamp("2023-03-01T00:30Z"), "t", "generic")


def grid_2023(value=lambda t: 100.0 + (t.hour % 24)):
    times = pd.date_range("2023-01-01", "2023-12-31 23:00", freq="h", tz="UTC")
    return CarbonSeries(times, np.array([value(t) for t in times]), "Z", "lifecycle", "test")


def test_window_history_reads_the_plan_windows_and_grid():
    grid = grid_2023()
    h = window_history(small_trace(), grid, "1h")
    trace_rows = h.loc[h.index >= pd.Timestamp("2023-03-01T00:00Z")]
    assert list(trace_rows.index.hour) == [0, 1, 2]
    # first window clipped to 00:30-01:00: 3 requests over 1,800 s, as plan computes it
    assert trace_rows["rate"].iloc[0] == pytest.approx(3 / 1800)
    assert trace_rows["input_tokens_mean"].iloc[0] == pytest.approx(200.0)
    assert np.isnan(trace_rows["input_tokens_mean"].iloc[1])      # no requests: unknown
    assert trace_rows["ci_gco2_per_kwh"].tolist() == [100.0, 101.0, 102.0]
    # Four weeks of carbon intensity before the trace, with unknown load.
    before = h.loc[h.index < pd.Timestamp("2023-03-01T00:00Z")]
    assert len(before) == 28 * 24 and before["rate"].isna().all()
    assert before["ci_gco2_per_kwh"].iloc[-1] == 123.0
    assert pd.infer_freq(h.index) == "h"
    no_grid = window_history(small_trace(), None, "1h")
    assert len(no_grid) == 3 and no_grid["ci_gco2_per_kwh"].isna().all()


def test_rate_history_sums_bins_into_windows():
    series = RateSeries(np.arange(6) * 1800.0, np.full(6, 1800.0), np.array([1, 2, 3, 4, 5, 6.0]),
                        None, "conversation", "r", "burstgpt")
    h = rate_history(series, pd.Timestamp("2023-02-01T00:00Z"), None, "1h")
    assert h["rate"].tolist() == pytest.approx([3 / 3600, 7 / 3600, 11 / 3600])
    assert h["input_tokens_mean"].isna().all()
    with pytest.raises(InputDataError, match="longer than the 15-minute windows"):
        rate_history(series, pd.Timestamp("2023-02-01T00:00Z"), None, "15min")


def test_rate_history_splits_a_bin_across_a_window_edge_by_its_time():
    # Half-hour bins from 00:15: the bin 00:45-01:15 gives half its 4 requests to each hour,
    # and each hour's rate is over the 45 minutes its bins cover.
    series = RateSeries(np.array([900.0, 2700.0, 4500.0]), np.full(3, 1800.0),
                        np.array([2.0, 4.0, 6.0]), None, "conversation", "r", "burstgpt")
    h = rate_history(series, pd.Timestamp("2023-02-01T00:00Z"), None, "1h")
    assert h["rate"].tolist() == pytest.approx([4 / 2700, 8 / 2700])
    assert list(h.index.hour) == [0, 1]


def test_one_column_is_forecast_as_forecast_windows_forecasts_it():
    rng = np.random.default_rng(4)
    ci = 300 + 50 * np.sin(np.arange(24 * 4) * 2 * np.pi / 24) + rng.normal(0, 5, 24 * 4)
    h = history(np.arange(24 * 4), ci=ci)
    issued = T0 + 4 * 24 * H
    hz = horizon(issued, 24)
    whole = forecast_windows(h, issued, hz, model="seasonal-naive")
    values, name = forecast_series(h["ci_gco2_per_kwh"], issued, hz, model="seasonal-naive")
    assert name == "seasonal-naive"
    assert values.tolist() == whole["ci_gco2_per_kwh"].tolist()
    # the same leakage guard: a later change is not seen
    changed = h["ci_gco2_per_kwh"].copy()
    changed.iloc[-1:] = 0.0
    assert forecast_series(changed, issued - H, hz, model="seasonal-naive")[0].tolist() == \
        forecast_series(h["ci_gco2_per_kwh"], issued - H, hz, model="seasonal-naive")[0].tolist()
