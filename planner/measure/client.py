"""One streamed request to an OpenAI-compatible endpoint, timed from its server-sent events.

``/v1/completions`` (``choices[0].text``) or ``/v1/chat/completions``
(``choices[0].delta.content``), ``stream=true`` with ``stream_options.include_usage`` so the
final event carries the engine's own token counts. TTFT is the time from sending the request
to the first event that carries text; TPOT is (time of the last text event − time of the
first) / (output tokens − 1), with the output tokens from ``usage.completion_tokens`` when the
engine reports it, else the number of text events (one token each, as engines stream).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import aiohttp

from planner.choices import MEASURE_APIS

API_PATHS = dict(zip(MEASURE_APIS, ("/v1/completions", "/v1/chat/completions")))


@dataclass
class RequestRecord:
    """What one request measured; times in seconds on the profiler's monotonic clock."""

    point: str
    index: int
    sent: float
    first: float = float("nan")
    last: float = float("nan")
    events: int = 0                 # server-sent events that carried text
    output_tokens: int = 0          # usage.completion_tokens, else ``events``
    prompt_tokens: int = 0          # usage.prompt_tokens, 0 when not reported
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.events > 0

    @property
    def ttft_s(self) -> float:
        return self.first - self.sent

    @property
    def tpot_s(self) -> float:
        """(last token time − first token time) / (tokens − 1); NaN for one token."""
        if self.output_tokens < 2:
            return float("nan")
        return (self.last - self.first) / (self.output_tokens - 1)


def payload(api: str, model: str, prompt: str, max_tokens: int) -> dict:
    """The request body: exactly ``max_tokens`` output tokens where the engine allows it
    (``ignore_eos`` and ``min_tokens`` are vLLM's and SGLang's extensions; other engines
    ignore unknown fields or stop early, which ``usage`` then shows)."""
    body = {"model": model, "max_tokens": max_tokens, "stream": True, "temperature": 0.0,
            "ignore_eos": True, "min_tokens": max_tokens,
            "stream_options": {"include_usage": True}}
    if api == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    return body


def event_text(api: str, event: dict) -> str:
    choices = event.get("choices") or []
    if not choices:
        return ""
    c = choices[0]
    if api == "chat":
        return (c.get("delta") or {}).get("content") or ""
    return c.get("text") or ""


async def stream_request(session: aiohttp.ClientSession, base_url: str, api: str, body: dict,
                         record: RequestRecord, timeout_s: float) -> RequestRecord:
    """Send one streamed request and fill ``record`` with its timings (errors recorded)."""
    url = base_url.rstrip("/") + API_PATHS[api]
    record.sent = time.monotonic()
    try:
        async with session.post(url, json=body,
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            if resp.status != 200:
                text = (await resp.text())[:200]
                record.error = f"HTTP {resp.status}: {text}"
                return record
            buf = b""
            async for chunk in resp.content.iter_any():
                now = time.monotonic()
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if _event(api, line.strip(), now, record):
                        return _finish(record)
        return _finish(record)
    except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as e:
        record.error = f"{type(e).__name__}: {e}"[:200]
        return record


def _event(api: str, line: bytes, now: float, record: RequestRecord) -> bool:
    """Parse one SSE line into ``record``; True at the end of the stream."""
    if not line.startswith(b"data:"):
        return False                  # comments, event names, blank separators
    data = line[5:].strip()
    if data == b"[DONE]":
        return True
    event = json.loads(data)
    if event.get("error"):
        record.error = str(event["error"])[:200]
        return True
    if event_text(api, event):
        if record.events == 0:
            record.first = now
        record.last = now
        record.events += 1
    usage = event.get("usage") or {}
    if usage.get("completion_tokens"):
        record.output_tokens = int(usage["completion_tokens"])
    if usage.get("prompt_tokens"):
        record.prompt_tokens = int(usage["prompt_tokens"])
    return False


def _finish(record: RequestRecord) -> RequestRecord:
    if not record.output_tokens:
        record.output_tokens = record.events
    return record
