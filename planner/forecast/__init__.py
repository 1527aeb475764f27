"""Forecasts of request rate, token lengths and carbon intensity for the windows ahead.

``forecast_windows`` forecasts a horizon from a history frame (``window_history`` or
``rate_history`` build one from a trace or a rate series and a grid); ``accuracy`` scores
forecasts against what happened.
"""

from planner.forecast.ci_file import read_ci_forecast
from planner.forecast.history import rate_history, window_history
from planner.forecast.windows import forecast_series, forecast_windows

__all__ = ["forecast_series", "forecast_windows", "rate_history", "read_ci_forecast", "window_history"]
