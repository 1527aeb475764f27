"""The OpenAI streaming protocol over an engine: the HTTP side of our own test servers.

Serves ``POST /v1/completions`` and ``/v1/chat/completions`` (server-sent events when
``stream`` is true, one event per generated token, then a ``usage`` event and
``data: [DONE]``; a single JSON body otherwise), ``GET /v1/models``, ``/version``,
``/metrics`` (Prometheus text: the engine's prefix-cache counters under vLLM's names and its
GPU power under the DCGM exporter's, so the profiler reads them as it reads those) and
``/health``. A prompt's tokens are its whitespace-separated words.

An engine provides ``name``, ``version``, ``model``, ``max_context``,
``submit(words, max_tokens) -> asyncio.Queue`` (each generated token's text, then ``None``;
prompt tokens served from its prefix cache are counted by the engine) and
``metrics() -> str``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

from aiohttp import web

from planner import __version__


def make_app(engine) -> web.Application:
    app = web.Application()
    app["engine"] = engine
    app.router.add_post("/v1/completions", _completions)
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/version", _version)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/health", _health)
    return app


async def _completions(request: web.Request):
    return await _generate(request, chat=False)


async def _chat(request: web.Request):
    return await _generate(request, chat=True)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error"}},
                             status=status)


async def _generate(request: web.Request, chat: bool):
    engine = request.app["engine"]
    try:
        body = await request.json()
        if chat:
            text = " ".join(str(m.get("content", "")) for m in body["messages"])
        else:
            text = body["prompt"]
            if isinstance(text, list):
                text = " ".join(map(str, text))
        max_tokens = int(body.get("max_tokens") or 16)
    except (ValueError, KeyError, TypeError, AttributeError):
        return _error(400, "the body must be JSON with a prompt (or messages) and max_tokens")
    words = str(text).split()
    if not words or max_tokens < 1:
        return _error(400, "the prompt must hold a word and max_tokens must be ≥ 1")
    if len(words) + max_tokens > engine.max_context:
        return _error(400, f"prompt and output exceed the context of {engine.max_context} "
                           "tokens")
    queue = engine.submit(words, max_tokens)
    rid = f"cmpl-{id(queue):x}"
    kind = "chat.completion.chunk" if chat else "text_completion"
    usage = {"prompt_tokens": len(words), "completion_tokens": max_tokens,
             "total_tokens": len(words) + max_tokens}
    if not body.get("stream"):
        out = []
        while (tok := await queue.get()) is not None:
            out.append(tok)
        choice = ({"message": {"role": "assistant", "content": "".join(out)}} if chat
                  else {"text": "".join(out)})
        return web.json_response({"id": rid, "object": kind.replace(".chunk", ""),
                                  "model": engine.model, "usage": usage,
                                  "choices": [{"index": 0, "finish_reason": "length",
                                               **choice}]})
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache"})
    await resp.prepare(request)
    created = int(time.time())

    def event(choices, extra=None) -> bytes:
        d = {"id": rid, "object": kind, "created": created, "model": engine.model,
             "choices": choices, **(extra or {})}
        return b"data: " + json.dumps(d).encode() + b"\n\n"

    try:
        while (tok := await queue.get()) is not None:
            c = {"delta": {"content": tok}} if chat else {"text": tok}
            await resp.write(event([{"index": 0, "finish_reason": None, **c}]))
        end = {"delta": {}} if chat else {"text": ""}
        await resp.write(event([{"index": 0, "finish_reason": "length", **end}]))
        if (body.get("stream_options") or {}).get("include_usage"):
            await resp.write(event([], {"usage": usage}))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
    except ConnectionResetError:
        pass  # the client went away (a stopped sweep): the engine finishes the request unread
    return resp


async def _models(request: web.Request):
    e = request.app["engine"]
    return web.json_response({"object": "list", "data": [
        {"id": e.model, "object": "model", "owned_by": e.name, "max_model_len": e.max_context}]})


async def _version(request: web.Request):
    e = request.app["engine"]
    return web.json_response({"engine": e.name, "version": e.version,
                              "greencache": __version__})


async def _metrics(request: web.Request):
    return web.Response(text=request.app["engine"].metrics(),
                        content_type="text/plain", charset="utf-8")


async def _health(request: web.Request):
    return web.Response(text="ok")


def serve(engine, host: str, port: int, on_ready=None) -> None:
    """Serve until SIGINT or SIGTERM; ``on_ready(port)`` once listening (port 0: any)."""
    async def main():
        runner = web.AppRunner(make_app(engine), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        engine.start()
        bound = site._server.sockets[0].getsockname()[1]
        if on_ready:
            on_ready(bound)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())
