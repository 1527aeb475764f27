"""Checks of the calibrated model against published figures it was not fitted on.

* TensorRT-LLM's published maximum throughputs (H100, fp8; ``profiles/measured/
  trtllm_anchors.csv``): the simulator, every request arriving at once with the fixed input
  and output lengths of the benchmark, gives the steady output-token rate between the 20th and
  80th percentile completions.
* Power and energy per token against constants.md: ML.ENERGY's Llama-3.1-8B on H100 at batch
  64 ≈ 0.12 J/token; memory-bound H100 decode ≈ 520 W; compute-bound prefill at the 700 W cap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.errors import InputDataError
from planner.perf.datasets import _positive, _read_csv, measured_dir
from planner.perf.iteration import IterationModel
from planner.perf.params import ModelParams
from planner.perf.power import iteration_power_w
from planner.perf.simulator import replica_costs, simulate
from planner.perf.spec import build_spec

ANCHOR_COLUMNS = ("model", "precision", "gpu", "tp", "input_tokens", "output_tokens",
                  "output_tokens_per_s")
ML_ENERGY_J_PER_TOKEN = 0.12   # constants.md: Llama-3.1-8B, H100, batch 64 (ML.ENERGY, Dec 2025)


def load_anchors(path=None) -> pd.DataFrame:
    path = path or measured_dir() / "trtllm_anchors.csv"
    frame = _read_csv(path, ANCHOR_COLUMNS)
    _positive(path, frame, ("tp", "input_tokens", "output_tokens", "output_tokens_per_s"))
    return frame


def max_throughput(params: ModelParams, model: str, gpu: str, tp: int, precision: str,
                   input_tokens: int, output_tokens: int, engine: str = "graph",
                   token_budget: int = 8192, max_seqs: int = 256, requests: int = 1500) -> float:
    """Steady output tokens/s of a saturated replica with fixed request lengths."""
    spec = build_spec(model, gpu, tp, "nvme-gen4", precision=precision)
    m = IterationModel(spec, params.device(gpu), engine)
    costs = replica_costs(m, params.power, token_budget, max_seqs)
    n = requests
    run, _, _ = simulate(costs, np.zeros(n), np.full(n, input_tokens), np.zeros(n, np.int64),
                         np.full(n, output_tokens), tp)
    f = np.sort(run.finish_s)
    a, b = int(0.2 * n), int(0.8 * n)
    if f[b] <= f[a]:
        raise InputDataError("saturated run finished too quickly to measure its throughput")
    return (b - a) * output_tokens / (f[b] - f[a])


def anchor_comparison(params: ModelParams, engine: str = "graph", max_seqs: int = 256
                      ) -> pd.DataFrame:
    rows = []
    for r in load_anchors().itertuples():
        got = max_throughput(params, r.model, r.gpu, int(r.tp), r.precision, int(r.input_tokens),
                             int(r.output_tokens), engine, max_seqs=max_seqs)
        rows.append({"model": r.model, "tp": int(r.tp), "precision": r.precision,
                     "in/out": f"{r.input_tokens}/{r.output_tokens}",
                     "published_tok_s": float(r.output_tokens_per_s), "model_tok_s": got,
                     "ratio": got / float(r.output_tokens_per_s)})
    return pd.DataFrame(rows)


def power_checks(params: ModelParams) -> pd.DataFrame:
    """Modelled power and energy per token beside the figures of constants.md."""
    spec = build_spec("llama-3-8b", "h100-sxm", 1, "nvme-gen4")
    m = IterationModel(spec, params.device("h100-sxm"), "graph")

    def pw(c):
        return float(np.asarray(iteration_power_w(c.time_s, c.flop_time_s, c.byte_time_s,
                                                  spec.loaded_idle_w, spec.tdp_w,
                                                  params.power)).reshape(-1)[0])

    def sec(c):
        return float(np.asarray(c.time_s).reshape(-1)[0])

    d64 = m.decode(64, 1024)
    d1 = m.decode(1, 1024)
    pf = m.prefill(1, 4096)
    return pd.DataFrame([
        {"check": "energy per token, Llama-3-8B H100 decode batch 64 (J)",
         "reference": ML_ENERGY_J_PER_TOKEN, "source": "ML.ENERGY via constants.md",
         "model": pw(d64) * sec(d64) / 64},
        {"check": "H100 power, memory-bound decode batch 1 (W)", "reference": 520.0,
         "source": "constants.md (synthetic kernel at 2.9 TB/s)", "model": pw(d1)},
        {"check": "H100 power, prefill 4096 tokens (W)", "reference": 700.0,
         "source": "constants.md (compute-bound GEMM at the cap)", "model": pw(pf)},
        {"check": "H100 power, decode batch 64 (W)", "reference": 700.0,
         "source": "constants.md (batch 64 ≈ 700 W)", "model": pw(d64)},
    ])
