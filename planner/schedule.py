"""The reconfiguration schedule: assembly from the chosen candidates, and its CSV form."""

from __future__ import annotations

import numpy as np
import pandas as pd

SCHEDULE_COLUMNS = (
    "window_start", "window_end", "requests", "rate_rps", "mean_input_tokens",
    "mean_output_tokens", "ci_gco2_per_kwh", "replicas", "gpus", "cache_gb", "ssd_drives",
    "hit_rate", "hit_rate_source", "p90_ttft_s", "p90_tpot_s", "slo_met", "within_slo_share",
    "energy_kwh", "operational_kgco2e", "embodied_kgco2e", "total_kgco2e", "action",
)

# Fixed decimals per column keep the CSV byte-identical across platforms and readable.
DECIMALS = {
    "rate_rps": 4, "mean_input_tokens": 1, "mean_output_tokens": 1, "ci_gco2_per_kwh": 2,
    "cache_gb": 0, "hit_rate": 4, "p90_ttft_s": 4, "p90_tpot_s": 5, "within_slo_share": 4,
    "energy_kwh": 4,
    "operational_kgco2e": 5, "embodied_kgco2e": 5, "total_kgco2e": 5,
}


def by_window(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` in window order with a fresh index, sorted only when its windows do not
    already ascend (the solver and the check give them in order, and the sort was a fixed cost
    of a short plan and its check)."""
    t = frame["window"].to_numpy()
    if len(t) < 2 or bool((np.diff(t) > 0).all()):
        return frame.reset_index(drop=True)
    return frame.sort_values("window", kind="stable").reset_index(drop=True)


def assemble(stats: pd.DataFrame, ci: np.ndarray, chosen: pd.DataFrame, hit_sources: list[str],
             slo_ttft_s: float, slo_tpot_s: float) -> pd.DataFrame:
    """One row per window from the chosen candidate of each window (sorted by window)."""
    chosen = by_window(chosen)
    if not np.array_equal(chosen["window"].to_numpy(), np.arange(len(stats))):
        raise ValueError("the chosen candidates must cover every window exactly once")
    cache = chosen["cache_gb"].to_numpy()
    met = (chosen["p90_ttft_s"].to_numpy() <= slo_ttft_s * (1 + 1e-9)) & \
          (chosen["p90_tpot_s"].to_numpy() <= slo_tpot_s * (1 + 1e-9))
    sched = pd.DataFrame({
        "window_start": stats["window_start"].to_numpy(),
        "window_end": stats["window_end"].to_numpy(),
        "requests": stats["requests"].to_numpy(),
        "rate_rps": stats["rate_rps"].to_numpy(),
        "mean_input_tokens": stats["mean_input_tokens"].to_numpy(),
        "mean_output_tokens": stats["mean_output_tokens"].to_numpy(),
        "ci_gco2_per_kwh": np.asarray(ci, dtype=float),
        "replicas": chosen["replicas"].to_numpy(),
        "gpus": chosen["gpus"].to_numpy(),
        "cache_gb": cache,
        "ssd_drives": chosen["ssd_drives"].to_numpy(),
        "hit_rate": chosen["hit_rate"].to_numpy(),
        "hit_rate_source": [src if c > 0 else "none (no cache)"
                            for src, c in zip(hit_sources, cache)],
        "p90_ttft_s": chosen["p90_ttft_s"].to_numpy(),
        "p90_tpot_s": chosen["p90_tpot_s"].to_numpy(),
        "slo_met": met,
        "within_slo_share": chosen["within_slo_share"].to_numpy(),
        "energy_kwh": chosen["energy_kwh"].to_numpy(),
        "operational_kgco2e": chosen["operational_kgco2e"].to_numpy(),
        "embodied_kgco2e": chosen["embodied_kgco2e"].to_numpy(),
        "total_kgco2e": chosen["total_kgco2e"].to_numpy(),
        "action": actions(chosen["replicas"].to_numpy(), chosen["gpus"].to_numpy(), cache),
    })
    return sched


def _tb(gb: float) -> str:
    return f"{gb / 1000:g} TB" if gb else "no cache"


def actions(replicas, gpus, cache_gb) -> list[str]:
    """What changes from the previous window, in words an operator acts on."""
    out = []
    for i in range(len(replicas)):
        if i == 0:
            out.append(f"start {replicas[i]} replicas ({gpus[i]} GPUs), {_tb(cache_gb[i])}")
            continue
        steps = []
        if replicas[i] != replicas[i - 1]:
            verb = "scale out" if replicas[i] > replicas[i - 1] else "scale in"
            steps.append(f"{verb} {replicas[i - 1]}→{replicas[i]} replicas")
        if cache_gb[i] != cache_gb[i - 1]:
            verb = "grow cache" if cache_gb[i] > cache_gb[i - 1] else "shrink cache"
            steps.append(f"{verb} {_tb(cache_gb[i - 1])}→{_tb(cache_gb[i])}")
        out.append("; ".join(steps) if steps else "keep")
    return out


COMPONENT_COLUMNS = ("op_gpu", "op_host", "op_ssd", "emb_gpu", "emb_host", "emb_ssd")


def components_csv(stats: pd.DataFrame, chosen: pd.DataFrame) -> str:
    """Per-window kgCO2e by source (operational and embodied × GPU, host, SSD): the breakdown
    behind schedule.csv's totals, kept in its own file so the schedule's columns stay fixed."""
    chosen = by_window(chosen)
    df = pd.DataFrame({"window_start": pd.DatetimeIndex(stats["window_start"]).tz_convert("UTC")
                      .strftime("%Y-%m-%dT%H:%M:%SZ")})
    for col in COMPONENT_COLUMNS:
        df[f"{col}_kgco2e"] = [f"{v:.6f}" for v in chosen[col].to_numpy(dtype=float)]
    return df.to_csv(index=False, lineterminator="\n")


def window_csv(frame: pd.DataFrame, decimals: dict[str, int], columns) -> str:
    """A per-window frame as CSV text: ISO 8601 UTC window times, fixed decimals per column
    (byte-identical across platforms), booleans as true/false, LF line ends."""
    df = frame.copy()
    for col in ("window_start", "window_end"):
        df[col] = pd.DatetimeIndex(df[col]).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    for col, d in decimals.items():
        df[col] = [f"{v:.{d}f}" for v in df[col].to_numpy(dtype=float)]
    for col in df.columns:
        if df[col].dtype == bool:
            df[col] = np.where(df[col].to_numpy(), "true", "false")
    return df.loc[:, list(columns)].to_csv(index=False, lineterminator="\n")


def to_csv(schedule: pd.DataFrame) -> str:
    """The schedule as CSV text (SCHEDULE_COLUMNS, in that order)."""
    return window_csv(schedule.astype({"slo_met": bool}), DECIMALS, SCHEDULE_COLUMNS)
