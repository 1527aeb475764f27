"""Random candidate tables for optimiser tests: the columns build_model reads, drawn uniformly."""

import itertools

import numpy as np
import pandas as pd


def random_candidates(rng, windows=3, replicas=4, levels=3):
    rows = []
    for t, n, c in itertools.product(range(windows), range(1, replicas + 1), range(levels)):
        rows.append({"window": t, "replicas": n, "level": c, "cache_gb": 1000.0 * c,
                     "p90_ttft_s": float(rng.uniform(0.1, 3.0)),
                     "p90_tpot_s": float(rng.uniform(0.01, 0.2)),
                     "within_slo_share": float(rng.uniform(0.5, 1.0)),
                     "total_kgco2e": float(rng.uniform(1, 10))})
    return pd.DataFrame(rows)


def random_window_stats(rng, windows, rate, input_tokens, output_tokens):
    """A window-stats frame (the columns build_candidates reads) of hourly windows with uniform
    draws from the given (low, high) ranges, in the order rate, input, output."""
    r = rng.uniform(*rate, windows)
    stats = pd.DataFrame({"hours": np.full(windows, 1.0), "requests": (r * 3600).astype(int),
                          "rate_rps": r, "mean_input_tokens": rng.uniform(*input_tokens, windows),
                          "mean_output_tokens": rng.uniform(*output_tokens, windows)})
    stats["prompt_tokens"] = stats.requests * stats.mean_input_tokens
    stats["output_tokens"] = stats.requests * stats.mean_output_tokens
    return stats
