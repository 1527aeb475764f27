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


def _config(replicas, cache_gb) -> str:
    return f"{int(replicas)} replicas, {cache_gb / 1000:g} TB cache"


def _first_min(window: np.ndarray, values: np.ndarray, n_windows: int) -> np.ndarray:
    """Per window, the row of its least value (the first such row in table order); −1 for a
    window without rows."""
    order = np.lexsort((np.arange(len(values)), values, window))
    first = np.r_[True, window[order][1:] != window[order][:-1]] if len(order) else \
        np.zeros(0, dtype=bool)
    out = np.full(n_windows, -1, dtype=np.int64)
    out[window[order][first]] = order[first]
    return out


def precheck(candidates: pd.DataFrame, n_windows: int, labels: list[str], slo_ttft_s: float,
             slo_tpot_s: float) -> list[WindowDiagnosis]:
    """One diagnosis per window: feasible when some candidate meets both SLOs."""
    t = candidates["window"].to_numpy().astype(np.int64)
    ttft = candidates["p90_ttft_s"].to_numpy(dtype=float)
    tpot = candidates["p90_tpot_s"].to_numpy(dtype=float)
    reps = candidates["replicas"].to_numpy()
    cache = candidates["cache_gb"].to_numpy(dtype=float)
    ok_ttft, ok_tpot = ttft <= slo_ttft_s, tpot <= slo_tpot_s
    any_both = np.bincount(t[ok_ttft & ok_tpot], minlength=n_windows) > 0
    any_ttft = np.bincount(t[ok_ttft], minlength=n_windows) > 0
    any_tpot = np.bincount(t[ok_tpot], minlength=n_windows) > 0
    bt, bp = _first_min(t, ttft, n_windows), _first_min(t, tpot, n_windows)
    out = []
    for w in range(n_windows):
        if bt[w] < 0:
            out.append(WindowDiagnosis(w, labels[w], False, "capacity", float("nan"),
                                       float("nan"), "", ""))
            continue
        feasible = bool(any_both[w])
        binding = "" if feasible else "+".join(
            name for name, ok in (("ttft", any_ttft[w]), ("tpot", any_tpot[w])) if not ok)
        i, j = bt[w], bp[w]
        out.append(WindowDiagnosis(w, labels[w], feasible, binding, float(ttft[i]),
                                   float(tpot[j]), _config(reps[i], cache[i]),
                                   _config(reps[j], cache[j])))
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
