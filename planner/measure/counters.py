"""What the profiler reads beside the stream: the engine's prefix-cache counters and identity,
and GPU power.

Prefix cache (from the engine's Prometheus ``/metrics``), the names looked for, in order:

* counters ``vllm:prefix_cache_hits_total`` / ``vllm:prefix_cache_queries_total`` (vLLM V1;
  also without ``_total``): the hit rate of a point is Δhits / Δqueries over the point, in
  tokens;
* gauges ``vllm:gpu_prefix_cache_hit_rate`` (vLLM V0) and ``sglang:cache_hit_rate`` (SGLang):
  read at the end of the point (these engines average over their own window).

GPU power, mean per GPU: NVML (``pynvml``, when the endpoint runs on this host and the package
is installed: ``nvmlDeviceGetPowerUsage``, every visible GPU) or a Prometheus exporter URL
(DCGM exporter's ``DCGM_FI_DEV_POWER_USAGE``, W, one sample per GPU), sampled every
``POWER_PERIOD_S`` during a point.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import aiohttp

from planner.errors import UsageError

HIT_COUNTERS = (("vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"),
                ("vllm:prefix_cache_hits", "vllm:prefix_cache_queries"))
HIT_GAUGES = ("vllm:gpu_prefix_cache_hit_rate", "sglang:cache_hit_rate")
POWER_METRIC = "DCGM_FI_DEV_POWER_USAGE"
POWER_PERIOD_S = 0.5
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> dict[str, list[tuple[dict, float]]]:
    """Samples of a Prometheus text exposition: name → [(labels, value)]."""
    out: dict[str, list[tuple[dict, float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.setdefault(m.group(1), []).append((labels, value))
    return out


@dataclass(frozen=True)
class CacheReading:
    source: str          # the metric names read, or "" when the engine exposes none
    hits: float = math.nan
    queries: float = math.nan
    gauge: float = math.nan


def cache_reading(samples: dict) -> CacheReading:
    for hits, queries in HIT_COUNTERS:
        if hits in samples and queries in samples:
            return CacheReading(f"{hits} / {queries}", sum(v for _, v in samples[hits]),
                                sum(v for _, v in samples[queries]))
    for g in HIT_GAUGES:
        if g in samples:
            vals = [v for _, v in samples[g]]
            return CacheReading(g, gauge=sum(vals) / len(vals))
    return CacheReading("")


def hit_rate_between(before: CacheReading, after: CacheReading) -> float:
    """The engine's prefix-cache hit rate over an interval (NaN when it reports none)."""
    if not after.source:
        return math.nan
    if not math.isnan(after.gauge):
        return after.gauge
    dq = after.queries - before.queries
    return (after.hits - before.hits) / dq if dq > 0 else math.nan


async def fetch_text(session: aiohttp.ClientSession, url: str) -> str | None:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as r:
            return await r.text() if r.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None


async def engine_identity(session: aiohttp.ClientSession, base_url: str) -> dict:
    """Engine name and version where the endpoint says them: ``/version`` (vLLM, our test
    servers), ``/v1/models`` (``owned_by``, ``max_model_len``) and the ``Server`` header."""
    base = base_url.rstrip("/")
    out: dict = {}
    try:
        async with session.get(base + "/version", timeout=aiohttp.ClientTimeout(total=5)) as r:
            if r.status == 200:
                try:
                    out.update({k: v for k, v in (await r.json(content_type=None)).items()
                                if isinstance(v, (str, int, float))})
                except (ValueError, AttributeError):
                    pass
            if r.headers.get("Server"):
                out["server_header"] = r.headers["Server"]
    except (aiohttp.ClientError, TimeoutError):
        pass
    text = await fetch_text(session, base + "/v1/models")
    if text:
        try:
            models = json.loads(text).get("data") or []
            out["models"] = [{k: m[k] for k in ("id", "owned_by", "max_model_len") if k in m}
                             for m in models[:8]]
        except (ValueError, AttributeError):
            pass
    return out


class ExporterPower:
    """Mean power per GPU from a Prometheus exporter (DCGM ``DCGM_FI_DEV_POWER_USAGE``)."""

    def __init__(self, url: str):
        self.url = url
        self.source = f"{POWER_METRIC} from {url}"

    async def read(self, session: aiohttp.ClientSession) -> tuple[float, dict]:
        text = await fetch_text(session, self.url)
        if text is None:
            return math.nan, {}
        samples = parse_prometheus(text).get(POWER_METRIC, [])
        if not samples:
            return math.nan, {}
        names = sorted({lab.get("modelName", "") for lab, _ in samples} - {""})
        return sum(v for _, v in samples) / len(samples), {"gpus": len(samples),
                                                           "gpu_names": names}


class NvmlPower:
    """Mean power per GPU of every GPU NVML sees on this host."""

    def __init__(self):
        import pynvml  # optional: only where NVML and the package are present

        pynvml.nvmlInit()
        self._nvml = pynvml
        self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i)
                         for i in range(pynvml.nvmlDeviceGetCount())]
        if not self._handles:
            raise UsageError("NVML sees no GPU on this host; pass --power-url")
        names = [pynvml.nvmlDeviceGetName(h) for h in self._handles]
        self.names = sorted({n.decode() if isinstance(n, bytes) else n for n in names})
        self.source = "NVML nvmlDeviceGetPowerUsage"

    async def read(self, session) -> tuple[float, dict]:
        mw = [self._nvml.nvmlDeviceGetPowerUsage(h) for h in self._handles]
        return sum(mw) / len(mw) / 1000.0, {"gpus": len(mw), "gpu_names": self.names}


def power_source(power_url: str | None, endpoint: str):
    """The power reader: the exporter when named, else NVML when the endpoint is on this host
    and pynvml is installed; otherwise a usage error (a table needs GPU power)."""
    from urllib.parse import urlparse

    if power_url:
        return ExporterPower(power_url)
    host = urlparse(endpoint).hostname or ""
    if host in ("localhost", "127.0.0.1", "::1"):
        try:
            return NvmlPower()
        except ImportError:
            pass
        except UsageError:
            raise
        except Exception as e:  # NVML's own errors (no driver): say so, in one sentence
            raise UsageError(f"NVML cannot read GPU power here ({type(e).__name__}); pass "
                             "--power-url") from None
    raise UsageError("no GPU power source: pass --power-url (a DCGM or Prometheus exporter) "
                     "or run on the endpoint's host with pynvml installed")
