"""The accuracy measures compare reports for plans made on forecasts, on hand-worked values."""

import math

import numpy as np

from planner.forecast.accuracy import coverage, mape, pinball_loss


def test_mape_skips_windows_without_requests():
    # |100 − 110| / 100 = 10 %, |200 − 180| / 200 = 10 %; the empty window has no percentage.
    assert math.isclose(mape([100, 200, 0], [110, 180, 5]), 10.0)
    assert math.isnan(mape([0, 0], [1, 2]))


def test_pinball_loss_charges_shortfalls_at_q_and_excess_at_one_minus_q():
    # q = 0.9: 10 short costs 9, 10 over costs 1; mean 5.
    assert math.isclose(pinball_loss([110, 90], [100, 100], 0.9), 5.0)
    # The median's loss is half the mean absolute error.
    a, f = np.array([3.0, 7.0, 1.0]), np.array([4.0, 5.0, 1.0])
    assert math.isclose(pinball_loss(a, f, 0.5), 0.5 * np.mean(np.abs(a - f)))


def test_coverage_is_the_share_at_or_below_the_upper_quantile():
    assert coverage([1, 2, 3, 4], [2, 2, 2, 5]) == 0.75
