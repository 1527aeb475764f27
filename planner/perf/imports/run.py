"""What one benchmark result holds for a profile table: one operating point and its gaps.

Each reader (one file per tool) returns :class:`ImportedRun` values: the offered rate, the
token means, p50/p90/p99 TTFT and TPOT in seconds, the GPU power and hit rate when the file
records them, and ``missing``: one sentence per quantity the file does not hold, saying what
the table takes instead. Readers refuse (InputDataError, exit 3) a file that lacks an
essential (rate, token means, the three TTFT and TPOT percentiles), naming the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner.errors import InputDataError
from planner.input_files import quote

# Said of every file that records no hit rate: what the table assumes instead.
HIT_ASSUMED = ("hit rate: not recorded (the engine's own prefix cache may have served some "
               "prompt tokens); hit rate 0 assumed")
POWER_MODELLED = ("GPU power: not recorded; taken from the replica's modelled table at the "
                  "same rate, hit rate and token mix (modelled)")


@dataclass
class ImportedRun:
    """One operating point read from a benchmark result file."""

    path: str                   # the file as given
    sha256: str
    tool: str                   # vllm-bench | guidellm | genai-perf
    version: str | None         # the tool's version as the file records it
    label: str                  # which run inside the file (a guidellm report holds several)
    rate_rps: float
    rate_from: str              # which key the rate is read from, in words
    mean_input_tokens: float
    mean_output_tokens: float
    ttft_s: tuple[float, float, float]   # p50, p90, p99
    tpot_s: tuple[float, float, float]
    requests: int
    gpu_power_w: float | None = None
    hit_rate: float | None = None
    model: str | None = None
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return f"{self.path}#{self.label}" if self.label else self.path

    def describe(self) -> dict:
        """The run as a table's metadata records it (what was measured, what was not)."""
        return {"file": self.path, "sha256": self.sha256, "run": self.label, "tool": self.tool,
                "tool_version": self.version, "model": self.model,
                "rate_rps": round(self.rate_rps, 6), "rate_from": self.rate_from,
                "requests": self.requests,
                "mean_input_tokens": round(self.mean_input_tokens, 3),
                "mean_output_tokens": round(self.mean_output_tokens, 3),
                "ttft_s": [round(x, 6) for x in self.ttft_s],
                "tpot_s": [round(x, 6) for x in self.tpot_s],
                "gpu_power_w": None if self.gpu_power_w is None else round(self.gpu_power_w, 3),
                "hit_rate": self.hit_rate, "missing": list(self.missing),
                "notes": list(self.notes)}


    @classmethod
    def from_record(cls, d: dict) -> "ImportedRun":
        """The run back from :meth:`describe` (a table extended with --into)."""
        return cls(path=d["file"], sha256=d["sha256"], tool=d["tool"],
                   version=d["tool_version"], label=d["run"], rate_rps=float(d["rate_rps"]),
                   rate_from=d["rate_from"], mean_input_tokens=float(d["mean_input_tokens"]),
                   mean_output_tokens=float(d["mean_output_tokens"]),
                   ttft_s=tuple(float(x) for x in d["ttft_s"]),
                   tpot_s=tuple(float(x) for x in d["tpot_s"]), requests=int(d["requests"]),
                   gpu_power_w=None if d["gpu_power_w"] is None else float(d["gpu_power_w"]),
                   hit_rate=None if d["hit_rate"] is None else float(d["hit_rate"]),
                   model=d["model"], missing=list(d["missing"]), notes=list(d["notes"]))


def number(obj: dict, key: str, where: str, positive: bool = True) -> float:
    """``obj[key]`` as a finite number (> 0 when ``positive``), else one sentence naming it."""
    if not isinstance(obj, dict) or key not in obj or obj[key] is None:
        raise InputDataError(f"{where} lacks {key!r}")
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
            or (positive and v <= 0) or v < 0:
        kind = "positive number" if positive else "number ≥ 0"
        raise InputDataError(f"{where}: {key!r} must be a {kind}, got {quote(v)}")
    return float(v)


def ordered(q: tuple[float, float, float], what: str, where: str) -> tuple[float, float, float]:
    """Percentiles checked p50 ≤ p90 ≤ p99 and positive."""
    if not all(x > 0 for x in q) or not (q[0] <= q[1] <= q[2]):
        raise InputDataError(f"{where}: {what} percentiles must be positive and ordered "
                             f"p50 ≤ p90 ≤ p99, got {', '.join(f'{x:g}' for x in q)}")
    return q
