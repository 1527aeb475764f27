import numpy as np
import pandas as pd
import pytest

from planner.errors import UsageError
from planner.workload.trace import Trace
from planner.workload.windows import make_windows, parse_window


def trace(arrivals, start="2024-01-01T10:15:00Z"):
    n = len(arrivals)
    return Trace(np.asarray(arrivals, float), np.full(n, 100), np.full(n, 10),
                 pd.Timestamp(start).as_unit("ns"), "t", "generic")


def test_windows_align_to_the_clock_and_clip_to_the_trace():
    w = make_windows(trace([0, 10, 2600, 3600, 5400]), pd.Timedelta("1h"))
    st = w.stats
    assert list(w.labels()) == ["2024-01-01T10:15:00Z", "2024-01-01T11:00:00Z"]
    assert str(st.window_end[0]) == "2024-01-01 11:00:00+00:00"
    assert str(st.window_end[1]) == "2024-01-01 11:45:00+00:00"  # last arrival at 11:45
    assert list(st.requests) == [3, 2]
    assert st.rate_rps[0] == pytest.approx(3 / 2700)
    assert st.hours[0] == pytest.approx(0.75)
    assert list(w.request_window) == [0, 0, 0, 1, 1]


def test_empty_windows_in_the_middle_are_kept():
    w = make_windows(trace([0, 3 * 3600 + 100]), pd.Timedelta("1h"))
    assert list(w.stats.requests) == [1, 0, 0, 1]
    assert w.stats.mean_input_tokens[1] == 0


@pytest.mark.parametrize("text,minutes", [("1h", 60), ("15min", 15), ("30m", 30), ("2h", 120),
                                          ("1d", 1440)])
def test_parse_window(text, minutes):
    assert parse_window(text) == pd.Timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["0h", "7min", "eleven", "8d", "90min"])
def test_parse_window_rejects(text):
    with pytest.raises(UsageError):
        parse_window(text)
