"""One replica over a request stream, as a library call (the trace replay uses it).

    run = replay_replica(arrival_s, prompt_tokens, cached_tokens, output_tokens,
                         model="llama-3-70b", gpu="h100-sxm", tp=4, ssd="nvme-gen4")
    run.ttft_s, run.tpot_s            # per request, seconds (TPOT NaN for 1-token outputs)
    run.gpu_energy_j * run.tp         # GPU energy of the replica, J
    run.ssd_read_bytes, run.ssd_write_bytes

``cached_tokens[i]`` is the prefix of request i present on the SSD tier (the engine decides how
much of it to load, :mod:`planner.perf.ssd`). Deterministic: no randomness inside.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from planner.perf.iteration import DEFAULT_ENGINE, IterationModel
from planner.perf.params import load_params
from planner.perf.simulator import ReplicaRun, replica_costs, simulate
from planner.perf.spec import build_spec


def replay_replica(arrival_s, prompt_tokens, cached_tokens, output_tokens, *, model: str,
                   gpu: str, tp: int, ssd: str, drives: int | None = None,
                   precision: str = "bf16", engine: str = DEFAULT_ENGINE,
                   token_budget: int = 8192, max_seqs: int = 256,
                   params_path: str | Path | None = None) -> ReplicaRun:
    """Simulate one replica serving the given requests (arrays of equal length, arrivals
    sorted, in seconds); raises InputDataError/UsageError on bad input."""
    params = load_params(Path(params_path) if params_path else None)
    spec = build_spec(model, gpu, tp, ssd, drives, precision)
    costs = replica_costs(IterationModel(spec, params.device(spec.gpu), engine), params.power,
                          token_budget, max_seqs)
    run, _, _ = simulate(costs, np.asarray(arrival_s, dtype=float),
                         np.asarray(prompt_tokens), np.asarray(cached_tokens),
                         np.asarray(output_tokens), tp)
    return run
