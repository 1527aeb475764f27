"""Explaining infeasibility, in layers.

1. ``precheck``: per window, before any solve, is there a candidate that meets both SLOs? If
   not, which metric binds and what is the best value reachable.
2. The opt-in slack (``--allow-slo-violation`` in the model) plans such windows best-effort.
3. ``iis``: the solver's irreducible infeasible subset of the LP relaxation, by constraint
   name, to cross-check what the pre-check says against the model actually built.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.optimize.model import PlanModel


@dataclass(frozen=True)
class WindowDiagnosis:
    window: int
    label: str
    feasible: bool
    binding: str            # "" | "ttft" | "tpot" | "ttft+tpot" | "capacity"
    best_ttft_s: float      # best p90 TTFT reachable by any stable candidate (NaN if none)
    best_tpot_s: float
    best_ttft_config: str
    best_tpot_config: str

    def sentence(self, slo_ttft_s: float, slo_tpot_s: float, max_replicas: int) -> str:
        if self.binding == "capacity":
            return (f"window {self.label}: even {max_replicas} replicas cannot keep up with the "
                    "load within the headroom (raise --max-replicas or --headroom)")
        parts = []
        if "ttft" in self.binding:
            parts.append(f"p90 TTFT ≤ {slo_ttft_s:g} s is out of reach (best "
                         f"{self.best_ttft_s:.3g} s with {self.best_ttft_config})")
        if "tpot" in self.binding:
            parts.append(f"p90 TPOT ≤ {slo_tpot_s:g} s is out of reach (best "
                         f"{self.best_tpot_s:.3g} s with {self.best_tpot_config})")
        if not parts:
            parts.append(f"no single configuration meets both SLOs (best TTFT "
                         f"{self.best_ttft_s:.3g} s with {self.best_ttft_config}, best TPOT "
                         f"{self.best_tpot_s:.3g} s with {self.best_tpot_config})")
        return f"window {self.label}: " + "; ".join(parts)


def _config(row) -> str:
    return f"{int(row.replicas)} replicas, {row.cache_gb / 1000:g} TB cache"


def precheck(candidates: pd.DataFrame, n_windows: int, labels: list[str], slo_ttft_s: float,
             slo_tpot_s: float) -> list[WindowDiagnosis]:
    """One diagnosis per window: feasible when some candidate meets both SLOs."""
    out = []
    groups = dict(tuple(candidates.groupby("window")))
    for t in range(n_windows):
        g = groups.get(t)
        if g is None or g.empty:
            out.append(WindowDiagnosis(t, labels[t], False, "capacity", float("nan"),
                                       float("nan"), "", ""))
            continue
        ok_ttft = g["p90_ttft_s"].to_numpy() <= slo_ttft_s
        ok_tpot = g["p90_tpot_s"].to_numpy() <= slo_tpot_s
        feasible = bool(np.any(ok_ttft & ok_tpot))
        binding = ""
        if not feasible:
            binding = "+".join(name for name, ok in (("ttft", ok_ttft), ("tpot", ok_tpot))
                               if not ok.any())
        bt = g.loc[g["p90_ttft_s"].idxmin()]
        bp = g.loc[g["p90_tpot_s"].idxmin()]
        out.append(WindowDiagnosis(t, labels[t], feasible, binding,
                                   float(bt.p90_ttft_s), float(bp.p90_tpot_s), _config(bt),
                                   _config(bp)))
    return out


def iis(m: PlanModel) -> list[str]:
    """Constraint names of an irreducible infeasible subset of the LP relaxation (HiGHS)."""
    import highspy

    from planner.optimize.solve import quiet_stdout

    with tempfile.TemporaryDirectory(prefix="greencache-iis-") as tmp:
        path = os.path.join(tmp, "model.mps")
        m.problem.writeMPS(path)
        with quiet_stdout():
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.readModel(path)
            lp = h.getLp()
            for j in range(lp.num_col_):
                h.changeColIntegrality(j, highspy.HighsVarType.kContinuous)
            h.setOptionValue("iis_strategy", 4)  # deletion filter: irreducible
            status, subset = h.getIis()
    if status != highspy.HighsStatus.kOk or not subset.valid_:
        return []
    return [lp.row_names_[i] for i in subset.row_index_]
