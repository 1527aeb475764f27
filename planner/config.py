"""Scenario options with their defaults and the reasoning behind them (files: scenario.py).

Default SLOs (p90, interactive chat):

* TTFT ≤ 2.0 s. Users tolerate a short pause before text starts streaming; DistServe (Zhong
  et al., OSDI'24) sets 2.5 s for a 66B chatbot and 4 s for 175B, and 2 s keeps a 70B model on
  the responsive side of that range.
* TPOT ≤ 0.1 s. 10 tokens/s streams faster than people read (≈4–8 words/s, ≈5–10 tokens/s), so
  a slower decode would be visible; DistServe uses 0.1–0.2 s for chatbots.

Default burst window, 60 s: a window's mean rate hides its bursts, and p90 latency follows
them. Replaying the Azure conversation hour through the replica simulator gives p90 TTFT 0.60 s
with Poisson arrivals at the mean rate, 0.82 s with the trace's per-minute rates (arrivals
Poisson inside each minute) and 1.00 s with its real arrivals: one-minute buckets recover most
of the gap at little cost (10-s buckets: 0.97 s).

Default workload shape, auto: the profile table whose simulated requests have the length
spread (length / mean, :mod:`planner.perf.shapes`) nearest to the trace's own. p90 TTFT follows
the longest prompts, and real traces differ there: with log-normal lengths of the same means a
replayed Azure-week window's p90 TTFT rose from 0.66 s to 0.92 s (docs/perf-model.md,
"Prediction against replay").

Default capacity accounting, pooled: capacity rented per window and charged while allocated,
as cloud capacity is. ``owned`` (the plan also sizes the fleet, charged for the whole horizon)
is what an operator buying the hardware should plan with; pooled stays the default so a plan
compares with per-window planners, and the provisioning table reports the fleet either way.

Default minimum dwell of a cache level, 2h, and at most 4 cache-level changes a day: a grown
cache starts cold and fills at the rate unique prompts arrive (the Azure conversation trace
writes ≈7 TB of prompt KV an hour), so a level held for less than an hour or two never earns
back its writes; and the grid's carbon intensity swings about twice a day (night/solar noon,
evening peak), so four changes follow it up and down twice. Replica counts are not limited:
scaling replicas is routine autoscaling.

Default weight-load time, 60 s: Llama-3-70B's 140 GB of bf16 weights read from local NVMe at
≈6 GB/s take ≈25 s, and engine start-up (CUDA graphs, warm-up) about as long again; a started
replica draws its GPUs' loaded-idle power and its host's power meanwhile.

Default tie tolerance, 1e-4 of the horizon's carbon: candidates within it are ordered by the
tie rule (keep the previous configuration, then the smaller cache, then fewer replicas), so
HiGHS and CBC return the same schedule.

Default headroom, 0.85, and p90 margin, 0.1 (README "SLO attainment and margins";
``bench/attainment.py`` measures them against replay): a window whose busiest minutes loaded
its one replica at 0.91 of the table's capacity replayed at 2.3× its predicted p90 TPOT (the
queue a busy minute builds outlasts it; the steady-state table cannot see that), while every
replayed configuration up to 0.85 kept its SLO. Replica counts are whole, so the cheapest plan
sits just under the SLO line, where the prediction's own error decides: on the Mooncake hour
p90 TTFTs predicted at 4.89–4.95 s replayed at 5.08–5.15 s (SLO 5 s). Both defaults are one
step above the smallest value with no failure in the sweep (0.9, 0.05).

Default SLO mode, per-window p90 rather than an attainment budget: it holds in every window
(a horizon budget lets the optimiser serve the dirtiest hours worse, every day) and it reads
what the tables measure, where the budget reads a modelled within-SLO share.
Default warm-up, on: a window whose cache grew is predicted at its cold-start hit rate
H_t(c′→c) (exact for LRU), which is what the replay's cache delivers; predicting it warm
overstates the grown window's hits (the Azure hour at 15-min windows: 41.3 % predicted,
38.7 % replayed). Off predicts every window warm, as earlier versions did.

Default foresight, perfect: the plan knows the trace and the grid it plans for, as earlier
versions did. ``forecast`` plans as an operator must (README "Plans made on forecasts"): at each
decision time it sees only the data before it, forecasts the next ``--lookahead`` (48 h: a
day-ahead decision that still sees the following day, so a cache grown in the evening is not
chosen blind to the night), solves it and commits the first ``--decide-every`` (24 h: the
day-ahead cadence of grid forecasts and of capacity decisions).

Default load quantile, 0.5 (the median of the request-rate forecast), not a high quantile: the
plan's own margins — headroom 0.85 on each window's busiest minute, p90 rows planned for 90 %
of the SLOs — already absorb a forecast that falls short, and a high quantile stacks on them.
Replayed on the 2024 Azure conversation week (FR, from its third day, 5 decisions, forecasting
model ``auto``; docs/forecast-plans.md), against the plan of the same windows made with perfect
foresight (99.3 % of requests within both SLOs): at scale 1 (20.2M requests replayed) the p90
emits 23.5 % more carbon with 99.9 % of requests within both SLOs, the median 6.0 % more with
99.4 % (98.8 % on its worst day); at scale 0.25 the p90 +19.9 % (100 %), the median +5.0 %
(99.9 %). So the p90 bought 0.5 points of attainment, on a plan already 9 points above the 90 %
target, for 17.5 points of carbon. On BurstGPT (FR and DE, 47 decisions), where one replica
without an SSD tier serves every window, the median's plans equal perfect foresight's (0.00 %
regret, 100 % within both SLOs), as the p90's did on seasonal-naive forecasts. A higher
quantile stays available for loads whose forecasts miss more than these did (the conversation
week's median forecast missed by 12.6 % MAPE, its p90 covered 98 % of the windows).

Default cache levels: 0 (no SSD tier) and powers of two from 0.5 to 64 TB, covering one hour of
unique prompt KV of the shipped traces for Llama-3-70B (Azure conversation ≈7 TB of prompts an
hour, Mooncake conversation ≈31 TB of unique blocks).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

from planner.catalog import LEVELS, Levels
from planner.choices import CAPACITY_MODES, FORESIGHT, OWNED_IDLE, POLICIES, TIMESTAMP_UNITS
from planner.errors import UsageError

DEFAULT_HEADROOM = 0.85
DEFAULT_SLO_MARGIN = 0.1
DEFAULT_CACHE_LEVELS_TB = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


@dataclass(frozen=True)
class PlanOptions:
    trace: str
    grid: str = "FR"
    trace_format: str | None = None
    block_size: int | None = None     # tokens per hash id; None = the trace format's own
    timestamp_unit: str | None = None  # s, ms or us for numeric timestamps; None = the format's
    drop_over_context: bool = False   # drop (and count) prompts beyond the model's context
    scale: float = 1.0                # rate series only: multiplies every count
    series: str | None = None         # rate series only: BurstGPT log type / ServeGen model
    ci_basis: str = "lifecycle"
    start: str | None = None          # ISO time placing a trace with relative timestamps
    window: str = "1h"
    burst_window_s: float = 60.0      # sub-window for load bursts inside a window; 0 = mean only
    model: str = "llama-3-70b"
    gpu: str = "h100-sxm"
    tp: int = 4
    ssd: str = "nvme-gen4"
    cache_levels_tb: tuple[float, ...] = DEFAULT_CACHE_LEVELS_TB
    max_replicas: int = 64
    slo_ttft_s: float = 2.0
    slo_tpot_s: float = 0.1
    levels: Levels = field(default_factory=Levels)
    pue: float | None = None
    solver: str = "highs"
    time_limit_s: float = 300.0
    mip_gap: float = 1e-6
    allow_slo_violation: bool = False
    eviction: str = "lru"
    seed: int = 0
    reuse_model: str | None = None    # reuse-model parameter file; None = the shipped fit
    profile_dir: str | None = None
    correction: str | None = None     # correction file of the profile table (profile correct)
    workload_shape: str = "auto"      # the table's workload shape; auto: nearest to the trace
    capacity: str = "pooled"          # pooled | owned
    pool_return: float = 0.0          # owned only: share of unallocated owned hardware pooled
    owned_idle: str = "off"           # owned but unallocated hardware: off | on (idle power)
    min_dwell: str = "2h"             # a cache level, once entered, is held this long; 0 = off
    max_changes_per_day: int | None = 4   # cache-level changes per day; None = unlimited
    weight_load_s: float = 60.0       # a started replica's weight-load time at power
    tie_tolerance: float = 1e-4       # share of carbon within which the tie rule orders plans
    rolling_block: int = 0            # windows per rolling-horizon block; 0 = one MILP
    rolling_overlap: int = 24         # windows each block looks beyond its own
    warmup: bool = True               # a grown cache starts with the previous level's content
    auto_profile: bool = False        # no shape fits: fit the trace's own and build its table
    headroom: float = DEFAULT_HEADROOM    # largest load fraction a burst bucket may reach
    slo_margin: float = DEFAULT_SLO_MARGIN  # per-window p90 rows plan for (1 − margin) × SLO
    slo_attainment: float | None = None   # horizon budget: share of requests within both SLOs
    foresight: str = "perfect"        # perfect | forecast (decisions on forecasts, foresight/)
    plan_from: str | None = None      # ISO time: plan the windows from here (history before)
    decide_every: str = "24h"         # forecast: a decision commits this much
    lookahead: str = "48h"            # forecast: each decision solves this much
    load_quantile: float = 0.5        # forecast: the load quantile capacity is sized on
    forecast_model: str = "auto"      # forecast: the forecasting model (planner.forecast)

    def validate(self) -> PlanOptions:
        if not 0 < self.slo_ttft_s <= 600:
            raise UsageError(f"--slo-ttft must be within (0, 600] seconds, got {self.slo_ttft_s}")
        if not 0 < self.slo_tpot_s <= 10:
            raise UsageError(f"--slo-tpot must be within (0, 10] seconds, got {self.slo_tpot_s}")
        if not 1 <= self.max_replicas <= 4096:
            raise UsageError(f"--max-replicas must be within 1..4096, got {self.max_replicas}")
        if self.tp not in (1, 2, 4, 8):
            raise UsageError(f"--tp must be 1, 2, 4 or 8, got {self.tp}")
        levels = self.cache_levels_tb
        if not levels or any(x < 0 or x > 10_000 for x in levels):
            raise UsageError("--cache-levels must be TB values within 0..10000")
        if len(set(levels)) != len(levels):
            raise UsageError("--cache-levels lists a level twice")
        if self.pue is not None and not 1.0 <= self.pue <= 3.0:
            raise UsageError(f"--pue must be within 1.0..3.0, got {self.pue}")
        if self.eviction not in POLICIES:
            raise UsageError(f"--eviction must be one of {', '.join(POLICIES)}, "
                             f"got {self.eviction!r}")
        if not self.workload_shape or any(c in self.workload_shape for c in "/\\ "):
            raise UsageError(f"--workload-shape must be auto or a shape name, got "
                             f"{self.workload_shape!r}")
        if not (self.burst_window_s == 0 or 1 <= self.burst_window_s <= 3600):
            raise UsageError("--burst-window must be 0 (off) or 1..3600 seconds")
        if self.block_size is not None and not 1 <= self.block_size <= 1 << 20:
            raise UsageError(f"--block-size must be within 1..{1 << 20:,} tokens, got "
                             f"{self.block_size}")
        if self.timestamp_unit is not None and self.timestamp_unit not in TIMESTAMP_UNITS:
            raise UsageError(f"--timestamp-unit must be one of {', '.join(TIMESTAMP_UNITS)}, "
                             f"got {self.timestamp_unit!r}")
        if not 0 < self.scale <= 1000:
            raise UsageError(f"--scale must be within (0, 1000], got {self.scale}")
        if not 0 < self.time_limit_s <= 86_400:
            raise UsageError("--time-limit must be within (0, 86400] seconds")
        if not 0 <= self.mip_gap < 1:
            raise UsageError("--mip-gap must be within [0, 1)")
        if self.capacity not in CAPACITY_MODES:
            raise UsageError(f"--capacity must be pooled or owned, got {self.capacity!r}")
        if self.owned_idle not in OWNED_IDLE:
            raise UsageError(f"--owned-idle must be off or on, got {self.owned_idle!r}")
        if not 0 <= self.pool_return <= 1:
            raise UsageError(f"--pool-return must be within [0, 1], got {self.pool_return}")
        if self.pool_return > 0 and self.capacity != "owned":
            raise UsageError("--pool-return applies to --capacity owned")
        self.min_dwell_hours()
        if self.max_changes_per_day is not None and self.max_changes_per_day > 1440:
            raise UsageError("--max-changes-per-day must be at most 1440 (-1: unlimited)")
        if not 0 <= self.weight_load_s <= 3600:
            raise UsageError(f"--weight-load must be within 0..3600 seconds, got "
                             f"{self.weight_load_s}")
        if not 0 <= self.rolling_block <= 100_000 or not 0 <= self.rolling_overlap <= 100_000:
            raise UsageError("--rolling-block and --rolling-overlap must be within 0..100000 "
                             "windows")
        if not 0 <= self.tie_tolerance <= 0.01:
            raise UsageError(f"--tie-tolerance must be within [0, 0.01], got "
                             f"{self.tie_tolerance}")
        if not 0 < self.headroom <= 1:
            raise UsageError(f"--headroom must be within (0, 1], got {self.headroom}")
        if not 0 <= self.slo_margin < 1:
            raise UsageError(f"--slo-margin must be within [0, 1), got {self.slo_margin}")
        if self.slo_attainment is not None and not 0 < self.slo_attainment <= 1:
            raise UsageError(f"--slo-attainment must be within (0, 1], got "
                             f"{self.slo_attainment}")
        self._check_foresight()
        for name in ("ssd_embodied", "gpu_embodied", "host_embodied", "host_power", "ssd_power",
                     "lifetime", "pue"):
            if getattr(self.levels, name) not in LEVELS:
                raise UsageError(f"level {name} must be low, central or high")
        changes = self.max_changes_per_day
        if changes is not None and changes < 0:
            changes = None  # -1 (a scenario file cannot write None): unlimited
        return replace(self, cache_levels_tb=tuple(sorted(levels)), max_changes_per_day=changes)

    def _check_foresight(self) -> None:
        """The foresight options on their own and against the window (the trace-dependent
        checks of --plan-from run once the windows are known: foresight/horizon.py)."""
        if self.foresight not in FORESIGHT:
            raise UsageError(f"--foresight must be one of {', '.join(FORESIGHT)}, got "
                             f"{self.foresight!r}")
        if self.plan_from is not None:
            plan_from_time(self.plan_from)
        forecast_only = {"decide_every": "--decide-every", "lookahead": "--lookahead",
                         "load_quantile": "--load-quantile", "forecast_model": "--forecast-model"}
        if self.foresight == "perfect":
            for name, option in forecast_only.items():
                if getattr(self, name) != default(name):
                    raise UsageError(f"{option} applies to --foresight forecast")
            return
        if self.plan_from is None:
            raise UsageError("--foresight forecast needs --plan-from, the time of the first "
                             "decision (the data before it is the forecasts' history)")
        if not 0.5 <= self.load_quantile < 1:
            raise UsageError(f"--load-quantile must be within [0.5, 1), got "
                             f"{self.load_quantile}")
        window = duration_seconds(self.window, "--window")
        every = duration_seconds(self.decide_every, "--decide-every")
        ahead = duration_seconds(self.lookahead, "--lookahead")
        for option, s in (("--decide-every", every), ("--lookahead", ahead)):
            if s % window:
                raise UsageError(f"{option} must be a whole number of windows of {self.window}")
        if ahead < every:
            raise UsageError(f"--lookahead {self.lookahead} must be at least --decide-every "
                             f"{self.decide_every}: a decision commits only what it solved")
        if self.slo_attainment is not None:
            raise UsageError("--slo-attainment (a budget over the whole horizon) is not "
                             "available with --foresight forecast, whose decisions each see "
                             "only their lookahead; plan with the per-window p90")
        if self.rolling_block:
            raise UsageError("--rolling-block applies to --foresight perfect; with forecast "
                             "the decisions are the rolling horizon (--decide-every, "
                             "--lookahead)")

    def min_dwell_hours(self) -> float:
        """--min-dwell in hours (0 or a duration like 2h, 90min)."""
        text = str(self.min_dwell).strip()
        if text in ("0", "0h", "off", ""):
            return 0.0
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(m|min|h|hr|d)", text.lower())
        if not m:
            raise UsageError(f"cannot read --min-dwell {text!r}; write e.g. 2h, 90min or 0")
        hours = float(m.group(1)) * {"m": 1 / 60, "min": 1 / 60, "h": 1, "hr": 1,
                                     "d": 24}[m.group(2)]
        if hours > 24 * 30:
            raise UsageError(f"--min-dwell {text!r} is longer than 30 days")
        return hours

    def as_dict(self) -> dict:
        d = asdict(self)
        d["cache_levels_tb"] = list(self.cache_levels_tb)
        return d




def duration_seconds(text: str, option: str) -> int:
    """A duration like 24h, 90min, 2d, 900s in whole seconds (up to 30 days)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)\s*", str(text).lower())
    if not m:
        raise UsageError(f"cannot read {option} {text!r}; write e.g. 24h, 90min or 2d")
    seconds = float(m.group(1)) * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600,
                                   "hr": 3600, "d": 86400}[m.group(2)]
    if seconds != int(seconds) or not 0 < seconds <= 30 * 86400:
        raise UsageError(f"{option} {text!r} must be whole seconds, more than 0 and at most "
                         "30 days")
    return int(seconds)


def plan_from_time(text: str):
    """--plan-from as a UTC timestamp (pandas imported here: config stays light for --help)."""
    import pandas as pd

    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise UsageError(f"cannot read --plan-from {text!r}; write e.g. "
                         "2024-05-12T00:00Z") from None
    if ts is pd.NaT:
        raise UsageError(f"cannot read --plan-from {text!r}; write e.g. 2024-05-12T00:00Z")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def default(name: str):
    """PlanOptions' default for field ``name``: the value a plan uses and --help shows."""
    return PlanOptions.__dataclass_fields__[name].default
