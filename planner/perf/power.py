"""GPU power by phase, from how busy an iteration keeps the tensor cores and the HBM.

Per GPU during an iteration of length t whose ideal compute time (FLOPs / peak) is f and ideal
memory time (HBM bytes / peak bandwidth) is b:

    P = P_idle,loaded + (P_TDP − P_idle,loaded) · min(1, w_c · f/t + w_m · b/t)

and P_idle,loaded between iterations (weights resident, no work). Prefill keeps f/t high and
runs at the power cap; small-batch decode is memory-bound (b/t high, f/t small) and draws less;
large-batch decode rises towards the cap as f/t grows.

The weights w_c and w_m follow from the two measured H100 points of constants.md (synthetic
kernels, not a serving engine): a bf16 GEMM at 683 of 989 TFLOP/s runs at the 700 W cap, so
w_c = 989/683; memory-bound decode streaming 2.9 of 3.35 TB/s draws 520 W, so
w_m = (520 − 130) / ((700 − 130) · 2.9/3.35). Other GPUs take the same weights with their own
idle and TDP (their catalog entries derive idle power from the H100 ratios).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# constants.md, "Power (W)", measured on one H100 SXM with synthetic kernels
H100_GEMM_TFLOPS_AT_CAP = 683.0
H100_PEAK_TFLOPS = 989.0
H100_DECODE_TBPS = 2.9
H100_PEAK_TBPS = 3.35
H100_DECODE_W = 520.0
H100_LOADED_IDLE_W = 130.0
H100_TDP_W = 700.0


@dataclass(frozen=True)
class PowerParams:
    w_compute: float
    w_memory: float
    source: str

    def to_dict(self) -> dict:
        return asdict(self)


def derived_power_params() -> PowerParams:
    """w_c, w_m from the measured H100 points (module docstring)."""
    w_c = H100_PEAK_TFLOPS / H100_GEMM_TFLOPS_AT_CAP
    w_m = (H100_DECODE_W - H100_LOADED_IDLE_W) / (
        (H100_TDP_W - H100_LOADED_IDLE_W) * H100_DECODE_TBPS / H100_PEAK_TBPS)
    return PowerParams(w_c, w_m, "derived from the measured H100 points of constants.md")


def iteration_power_w(time_s, flop_time_s, byte_time_s, idle_w: float, tdp_w: float,
                      p: PowerParams):
    """Per-GPU power during iterations (vectorised); 0-length iterations draw idle power."""
    t = np.asarray(time_s, dtype=float)
    safe = np.where(t > 0, t, 1.0)
    load = (p.w_compute * np.asarray(flop_time_s) + p.w_memory * np.asarray(byte_time_s)) / safe
    load = np.where(t > 0, np.minimum(1.0, load), 0.0)
    return idle_w + (tdp_w - idle_w) * load
