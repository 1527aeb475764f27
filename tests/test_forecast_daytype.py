"""The similar-day rule of ``auto``: weekend days after weekdays (and back) while the history is
too short for a weekly season."""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.forecast import forecast_windows
from planner.forecast.daytype import similar_days

H = pd.Timedelta(hours=1)
SUNDAY = pd.Timestamp("2024-05-12T00:00Z")


def shape(n: int) -> np.ndarray:
    """A daily sine (amplitude 10) on a level of 50 on weekdays and 25 on Saturday and Sunday,
    the week starting on a Sunday (as the 2024 Azure week does)."""
    x = np.arange(n)
    weekend = np.isin(pd.date_range(SUNDAY, periods=n, freq=H).dayofweek, (5, 6))
    return np.where(weekend, 25.0, 50.0) + 10 * np.sin(x * 2 * np.pi / 24)


def history(days: int, sigma: float = 0.5) -> pd.DataFrame:
    n = days * 24
    y = shape(n) + np.random.default_rng(1).normal(0, sigma, n)
    idx = pd.date_range(SUNDAY, periods=n, freq=H, name="window_start")
    return pd.DataFrame({"rate": y, "input_tokens_mean": 1000.0, "output_tokens_mean": 200.0,
                         "ci_gco2_per_kwh": 50.0}, index=idx)


def test_a_saturday_after_weekdays_is_forecast_from_the_last_weekend_day():
    # Sunday .. Friday known, Saturday ahead: the weekday models see a weekday level of 50.
    # Tolerance: the noise σ is 0.5 and the similar day carries one draw of it, so a mean
    # absolute error of 1.5 (three σ) is the rule working; the weekday level misses by 25.
    h = history(6)
    issued = SUNDAY + 6 * 24 * H
    hz = pd.date_range(issued, periods=24, freq=H)
    truth = shape(7 * 24)[-24:]
    auto = forecast_windows(h, issued, hz)
    naive = forecast_windows(h, issued, hz, model="seasonal-naive")
    assert auto["model"].iloc[0].endswith("+similar-day")
    assert np.mean(np.abs(auto["rate_p50"].to_numpy() - truth)) < 1.5
    # the named baseline is left as it is: yesterday, a weekday
    assert naive["model"].iloc[0] == "seasonal-naive"
    assert np.mean(np.abs(naive["rate_p50"].to_numpy() - truth)) > 20
    # quantiles keep their order and the model's relative spread
    assert (auto["rate_p90"] >= auto["rate_p50"]).all()


def test_the_rule_takes_each_window_from_its_own_type_and_leaves_the_rest():
    # Known: Sunday .. Friday. 48 h ahead: Saturday (a weekend day: Sunday's values, slot by
    # slot) and Sunday (also weekend). A 72-h look from Thursday night: Friday stays the model's.
    y = np.arange(6 * 24, dtype=float)                 # each window's own index as its value
    last = SUNDAY + (6 * 24 - 1) * H
    got = similar_days(y, last, H, 48)
    assert np.array_equal(got, np.concatenate([np.arange(24.0), np.arange(24.0)]))
    thursday_night = SUNDAY + (5 * 24 - 1) * H
    got = similar_days(y[:5 * 24], thursday_night, H, 72)
    assert np.isnan(got[:24]).all()                    # Friday: the model's
    assert np.array_equal(got[24:], np.concatenate([np.arange(24.0), np.arange(24.0)]))


def test_a_monday_after_a_weekend_comes_from_the_last_weekday():
    # Wednesday 15 May .. Sunday 19 May known (Saturday and Sunday the last whole days).
    start = pd.Timestamp("2024-05-15T00:00Z")
    y = np.arange(5 * 24, dtype=float)
    got = similar_days(y, start + (5 * 24 - 1) * H, H, 24)
    assert np.array_equal(got, np.arange(2 * 24.0, 3 * 24.0))   # Friday's windows


def test_not_used_without_a_day_of_the_other_type_or_with_two_weeks():
    monday = pd.Timestamp("2024-05-13T00:00Z")
    # Monday .. Friday known, Saturday ahead: no weekend day seen, nothing to copy.
    assert similar_days(np.ones(5 * 24), monday + (5 * 24 - 1) * H, H, 24) is None
    # Weekday targets after a weekday: the model's alone.
    assert similar_days(np.ones(3 * 24), SUNDAY + (3 * 24 - 1) * H, H, 24) is None
    # Two weeks: the weekly season knows the weekend.
    assert similar_days(np.ones(14 * 24), SUNDAY + (14 * 24 - 1) * H, H, 24) is None
    h = history(14)
    issued = SUNDAY + 14 * 24 * H
    f = forecast_windows(h, issued, pd.date_range(issued, periods=24, freq=H))
    assert not f["model"].iloc[0].endswith("+similar-day")


def test_no_decision_reads_data_after_it():
    # Changing every value after the issue time changes nothing the forecast says.
    h = history(7)
    issued = SUNDAY + 6 * 24 * H
    hz = pd.date_range(issued, periods=24, freq=H)
    before = forecast_windows(h, issued, hz)
    h2 = h.copy()
    h2.loc[h2.index >= issued, "rate"] = 1e4
    after = forecast_windows(h2, issued, hz)
    pd.testing.assert_frame_equal(before, after)
