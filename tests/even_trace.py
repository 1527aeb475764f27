"""A small generic trace whose prompts spread evenly over 2,000–4,000 tokens (outputs
100–140) over 20 minutes: narrower than every shipped workload shape, so a plan on it fits
its own (``--auto-profile``)."""

from pathlib import Path

import numpy as np


def write_even_trace(path: Path, requests: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 1200, requests))
    rows = [f"{a:.3f},{int(i)},{int(o)}" for a, i, o in
            zip(t, rng.integers(2000, 4000, requests), rng.integers(100, 140, requests))]
    path.write_text("arrival_s,input_tokens,output_tokens\n" + "\n".join(rows) + "\n")
    return path
