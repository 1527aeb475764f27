"""Per-request observations synthesised from a profile table, for the correction tests.

Each window holds requests evenly spaced over ``WINDOW_S`` seconds at the rate that puts one
replica at the wanted load fraction; every request's TTFT (TPOT) is the table's p90 at that
load × the wanted factor, so the window's p90 is exactly that.
"""

import numpy as np
import pandas as pd

WINDOW_S = 60.0


def synthesise(table, windows, mean_input=1024, mean_output=128):
    """``windows``: (load fraction, hit rate, TTFT factor, TPOT factor, power factor) per
    window. Returns the per-request frame and the power-sample frame."""
    rows, power = [], []
    for k, (u, h, f_ttft, f_tpot, f_power) in enumerate(windows):
        cap = float(table.capacity(h, mean_input, mean_output)[0])
        n = max(20, int(round(u * cap * WINDOW_S)))
        rate = n / WINDOW_S
        look = table.lookup(np.array([rate]), h, mean_input, mean_output)
        start = k * WINDOW_S
        t = start + (np.arange(n) + 0.5) * WINDOW_S / n
        rows.append(pd.DataFrame({"time": t, "ttft_s": look.p90_ttft_s[0] * f_ttft,
                                  "tpot_s": look.p90_tpot_s[0] * f_tpot,
                                  "input_tokens": mean_input, "output_tokens": mean_output,
                                  "hit": h}))
        power.append(pd.DataFrame({"time": start + np.arange(0, WINDOW_S, 5.0),
                                   "gpu_power_w": look.gpu_power_w[0] * f_power}))
    # the last window spans its whole length, so its rate is the one intended
    end = pd.DataFrame({"time": [len(windows) * WINDOW_S]})
    req = pd.concat(rows, ignore_index=True)
    return req, pd.concat(power, ignore_index=True), end
