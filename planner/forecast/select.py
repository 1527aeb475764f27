"""``auto``: the model that forecast the history's last day best, never worse than seasonal
naive.

Every model of AUTO_CANDIDATES with enough history is fitted on the MAX_TRAIN before the last
day and scored by its mean absolute error over that day; seasonal naive is scored too and wins
ties, so a model is chosen over the baseline only when it beat it. The holdout's training
values are those a forecast issued a day earlier was fitted on, so in a rolling plan the
holdout fit is one already made (``models.fitted`` keeps it). With less than a day beyond what a
model needs, that model is not a candidate (with under three days, only seasonal naive is).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.forecast.frame import DAY, recent, season_windows
from planner.forecast.models import AUTO_CANDIDATES, MODELS, SEASONAL_NAIVE, fitted


def holdout_errors(y: np.ndarray, step: pd.Timedelta) -> dict[str, float]:
    """Mean absolute error over the last day of ``y`` of each model fitted on the MAX_TRAIN
    before it."""
    day = season_windows(step, DAY)
    train, test = recent(y[:-day], step), y[-day:]
    errors = {}
    for name in AUTO_CANDIDATES:
        model = MODELS[name]
        if len(train) < model.min_windows(step):
            continue
        got = fitted(model, train, step, day, ())
        if got is not None:
            errors[name] = float(np.mean(np.abs(got.point - test)))
    return errors


def choose(y: np.ndarray, step: pd.Timedelta) -> str:
    """The model with the lowest holdout error; seasonal naive unless another beats it."""
    errors = holdout_errors(y, step)
    best = SEASONAL_NAIVE
    for name, err in errors.items():
        if err < errors.get(best, np.inf):
            best = name
    return best
