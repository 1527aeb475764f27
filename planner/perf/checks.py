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


# constants.md, "Power (W)": synthetic kernels on one H100 SXM, at their own operating points.
REF_STREAM_TBPS, REF_STREAM_W = 2.9, 520.0      # memory-bound stream ("small-batch decode")
REF_GEMM_TFLOPS, REF_GEMM_W = 683.0, 700.0      # compute-bound bf16 GEMM, at the power cap
OWN_POWER = "h100-sxm-llama-3-8b-shape/power.csv"


def power_checks(params: ModelParams) -> pd.DataFrame:
    """Modelled power and energy per token beside reference figures, each at its own operating
    point: constants.md's synthetic kernels (an HBM stream at 2.9 TB/s, a GEMM at 683 TFLOP/s)
    and ML.ENERGY's energy per token, then the engine's own measured phases (power.csv, which
    the power weights were fitted on). ``hbm_tbps`` is the HBM bandwidth the model's iteration
    streams: a real decode step at batch 1 streams ≈ 1.8 TB/s, not the 2.9 TB/s of the
    synthetic kernel, and so draws ≈ 380 W, not 520 W."""
    spec = build_spec("llama-3-8b", "h100-sxm", 1, "nvme-gen4")
    m = IterationModel(spec, params.device("h100-sxm"), "graph")
    peak_tbps, peak_tflops = spec.hbm_bytes_per_s / 1e12, spec.peak_flops / 1e12

    def one(x):
        return float(np.asarray(x, dtype=float).reshape(-1)[0])

    def pw(time_s, flop_s, byte_s):
        return one(iteration_power_w(time_s, flop_s, byte_s, spec.loaded_idle_w, spec.tdp_w,
                                     params.power))

    def engine(c):
        t = one(c.time_s)
        return pw(c.time_s, c.flop_time_s, c.byte_time_s), t, one(c.byte_time_s) / t * peak_tbps

    rows = [
        {"check": f"H100 streaming HBM at {REF_STREAM_TBPS} TB/s, no compute (W)",
         "reference": REF_STREAM_W, "source": "constants.md (synthetic kernel)",
         "model": pw(1.0, 0.0, REF_STREAM_TBPS / peak_tbps), "hbm_tbps": REF_STREAM_TBPS},
        {"check": f"H100 bf16 GEMM at {REF_GEMM_TFLOPS:g} TFLOP/s (W)",
         "reference": REF_GEMM_W, "source": "constants.md (synthetic kernel)",
         "model": pw(1.0, REF_GEMM_TFLOPS / peak_tflops, 0.0), "hbm_tbps": 0.0},
    ]
    d64 = m.decode(64, 1024)
    p64, t64, bw64 = engine(d64)
    rows.append({"check": "energy per token, Llama-3-8B H100 decode batch 64 (J)",
                 "reference": ML_ENERGY_J_PER_TOKEN, "source": "ML.ENERGY via constants.md",
                 "model": p64 * t64 / 64, "hbm_tbps": bw64})
    own = measured_dir() / OWN_POWER
    if own.exists():
        frame = pd.read_csv(own)
        for r in frame[frame["phase"].isin(["decode", "prefill"])].itertuples():
            c = (m.decode(int(r.batch), int(r.context)) if r.phase == "decode"
                 else m.prefill(int(r.batch), int(r.tokens)))
            p, _, bw = engine(c)
            what = (f"decode batch {int(r.batch)}, context {int(r.context):,}"
                    if r.phase == "decode" else f"prefill {int(r.tokens):,} tokens")
            rows.append({"check": f"H100 Llama-3-8B {what} (W)",
                         "reference": float(r.mean_power_w),
                         "source": f"own measurement ({OWN_POWER}; power weights fitted on it)",
                         "model": p, "hbm_tbps": bw})
    return pd.DataFrame(rows)
