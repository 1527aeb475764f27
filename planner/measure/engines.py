"""Engines of the simulator-backed test server (``greencache profile serve-sim``).

Not a real inference engine: no model runs. They stand in for one where no real engine can
run (2 CPU cores, no GPU, no weights), so that the profiler can be driven over a real socket
against delays that are known:

* :class:`DelaysEngine` (``--mode delays``): every request, alone or not, gets its first token
  ``ttft_s`` after it arrives and each later one ``tpot_s`` after the previous (on a fixed
  schedule, so delays do not accumulate); power is a constant. For checking the profiler's
  arithmetic.
* :class:`SimulatedEngine` (``--mode simulated``): the replica simulator's engine run online
  in real time: continuous batching with chunked prefill, FCFS admission within ``max_seqs``
  and the KV capacity, each iteration lasting what the calibrated iteration model says
  (:func:`planner.perf.simulator.iteration_cost`, the simulator's own cost rule), GPU power
  from the same rule. Prompt tokens found in its prefix cache skip prefill, as an engine's
  HBM prefix cache does (no SSD load time is modelled here). Its latencies and power are
  modelled, and it says so in ``/version`` and in the power metric's ``modelName``.

Both keep a prefix cache of :data:`BLOCK`-token blocks (LRU) and count prompt tokens queried
and found, exported under vLLM's metric names.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass

from planner import __version__

BLOCK = 16
POWER_WINDOW_S = 1.0


class PrefixCache:
    """Blocks of a prompt keyed by the chain of their contents (a block is found only when
    every block before it is), least recently used evicted first."""

    def __init__(self, capacity_tokens: int):
        self.capacity = max(1, capacity_tokens // BLOCK)
        self.blocks: collections.OrderedDict = collections.OrderedDict()
        self.queries = 0
        self.hits = 0

    @staticmethod
    def _keys(words):
        h = 0
        for k in range(len(words) // BLOCK):
            h = hash((h, tuple(words[k * BLOCK:(k + 1) * BLOCK])))
            yield h

    def lookup(self, words) -> int:
        """Prompt tokens served from the cache (at least one token is always computed)."""
        found = 0
        for key in self._keys(words):
            if key not in self.blocks:
                break
            self.blocks.move_to_end(key)
            found += BLOCK
        found = min(found, len(words) - 1)
        self.queries += len(words)
        self.hits += found
        return found

    def insert(self, words) -> None:
        for key in self._keys(words):
            self.blocks[key] = None
            self.blocks.move_to_end(key)
        while len(self.blocks) > self.capacity:
            self.blocks.popitem(last=False)


def metrics_text(name: str, cache: PrefixCache, running: int, waiting: int, power_w: float,
                  gpus: int, gpu_label: str) -> str:
    lab = f'engine="{name}"'
    lines = ["# TYPE vllm:prefix_cache_queries_total counter",
             f"vllm:prefix_cache_queries_total{{{lab}}} {cache.queries}",
             "# TYPE vllm:prefix_cache_hits_total counter",
             f"vllm:prefix_cache_hits_total{{{lab}}} {cache.hits}",
             "# TYPE vllm:num_requests_running gauge",
             f"vllm:num_requests_running{{{lab}}} {running}",
             "# TYPE vllm:num_requests_waiting gauge",
             f"vllm:num_requests_waiting{{{lab}}} {waiting}",
             "# TYPE DCGM_FI_DEV_POWER_USAGE gauge"]
    lines += [f'DCGM_FI_DEV_POWER_USAGE{{gpu="{g}",modelName="{gpu_label}"}} {power_w:.3f}'
              for g in range(gpus)]
    return "\n".join(lines) + "\n"


class DelaysEngine:
    """Known delays: first token after ``ttft_s``, then one every ``tpot_s``."""

    name = "greencache simulator-backed test server (delays)"
    version = __version__

    def __init__(self, model: str, ttft_s: float, tpot_s: float, power_w: float = 100.0,
                 max_context: int = 1 << 20):
        self.model, self.ttft_s, self.tpot_s, self.power_w = model, ttft_s, tpot_s, power_w
        self.max_context = max_context
        self.cache = PrefixCache(1 << 22)
        self.running = 0

    def start(self) -> None:
        pass

    def submit(self, words, max_tokens: int) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue()
        self.cache.lookup(words)
        asyncio.get_running_loop().create_task(self._run(words, max_tokens, q))
        return q

    async def _run(self, words, n: int, q: asyncio.Queue) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        self.running += 1
        try:
            for k in range(n):
                delay = t0 + self.ttft_s + k * self.tpot_s - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if k == 0:
                    self.cache.insert(words)
                q.put_nowait(f" t{k}")
        finally:
            self.running -= 1
            q.put_nowait(None)

    def metrics(self) -> str:
        return metrics_text("delays", self.cache, self.running, 0, self.power_w, 1,
                             "constant (delays test server)")


@dataclass
class _Req:
    words: list
    prompt: int
    output: int
    queue: asyncio.Queue
    cached: int = 0
    done: int = 0          # prompt tokens computed
    gen: int = 0           # tokens generated
    chunk: int = 0
    kind: int = 0          # 0 waiting for prefill, 1 decoding, 2 prefilling this iteration


class SimulatedEngine:
    """The replica simulator's engine, online, in real time (see the module docstring)."""

    version = __version__

    def __init__(self, model: str, costs, tp: int, gpu: str, max_context: int):
        self.model, self.costs, self.tp, self.gpu = model, costs, tp, gpu
        self.name = f"greencache simulator-backed test server (simulated {gpu} tp{tp})"
        self.max_context = max_context
        self.cache = PrefixCache(costs.kv_capacity_tokens)
        self.waiting: collections.deque = collections.deque()
        self.running: list[_Req] = []
        self.kv_used = 0
        self.recent: collections.deque = collections.deque()   # (start, end, W per GPU)
        self._wake: asyncio.Event | None = None
        self.idle_w = float(costs.scalars[13])

    def start(self) -> None:
        self._wake = asyncio.Event()
        asyncio.get_running_loop().create_task(self._loop())

    def submit(self, words, max_tokens: int) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue()
        self.waiting.append(_Req(words, len(words), max_tokens, q))
        self._wake.set()
        return q

    def _admit(self) -> None:
        c = self.costs
        while self.waiting:
            r = self.waiting[0]
            need = r.prompt + r.output
            if len(self.running) >= c.max_seqs or \
                    (self.kv_used + need > c.kv_capacity_tokens and self.running):
                break
            self.waiting.popleft()
            r.cached = self.cache.lookup(r.words)
            self.running.append(r)
            self.kv_used += need

    def _batch(self):
        """The simulator's batch rule: every decoding request, then prompt chunks in
        admission order up to the token budget."""
        n_dec, pairs, ctx = 0, 0.0, 0.0
        for r in self.running:
            r.chunk = 0
            if r.done >= r.prompt - r.cached:
                r.kind = 1
                n_dec += 1
                cj = r.prompt + r.gen
                pairs += cj
                ctx += cj
            else:
                r.kind = 0
        left, n_pf, s_out = self.costs.token_budget - n_dec, 0, n_dec
        for r in self.running:
            if left <= 0:
                break
            if r.kind == 0:
                rem = r.prompt - r.cached - r.done
                ch = min(rem, left)
                before = r.cached + r.done
                pairs += ch * (before + (ch + 1) / 2.0)
                ctx += before + ch
                r.chunk, r.kind = ch, 2
                left -= ch
                n_pf += ch
                if ch == rem:
                    s_out += 1
        return n_dec + n_pf, s_out, pairs, ctx, n_pf

    async def _loop(self) -> None:
        from planner.perf.simulator import iteration_cost

        c = self.costs
        loop = asyncio.get_running_loop()
        t = loop.time()
        while True:
            self._admit()
            n_tok, s_out, pairs, ctx, n_pf = self._batch()
            if n_tok == 0:
                self._wake.clear()
                await self._wake.wait()
                t = loop.time()
                continue
            dt, p = iteration_cost(n_tok, s_out, pairs, ctx, n_pf, c.base_t, c.base_f, c.base_b,
                                   c.lm_t, c.lm_f, c.lm_b, c.scalars)
            start = max(t, loop.time() - 0.005)  # a late wake-up does not shorten the next
            t = start + float(dt)
            self.recent.append((start, t, float(p)))
            delay = t - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._advance()

    def _advance(self) -> None:
        keep = []
        for r in self.running:
            finished = False
            if r.kind == 1:
                r.gen += 1
                r.queue.put_nowait(f" t{r.gen - 1}")
                finished = r.gen >= r.output
            elif r.kind == 2:
                r.done += r.chunk
                if r.done >= r.prompt - r.cached:
                    self.cache.insert(r.words)
                    r.gen = 1
                    r.queue.put_nowait(" t0")
                    finished = r.output <= 1
            if finished:
                r.queue.put_nowait(None)
                self.kv_used -= r.prompt + r.output
            else:
                keep.append(r)
        self.running = keep

    def power_w(self) -> float:
        """Mean power per GPU over the last ``POWER_WINDOW_S`` (idle power between
        iterations)."""
        now = time.monotonic()
        lo = now - POWER_WINDOW_S
        while self.recent and self.recent[0][1] < lo:
            self.recent.popleft()
        busy = energy = 0.0
        for s, e, p in self.recent:
            ov = max(0.0, min(e, now) - max(s, lo))
            busy += ov
            energy += p * ov
        return (energy + self.idle_w * max(0.0, POWER_WINDOW_S - busy)) / POWER_WINDOW_S

    def metrics(self) -> str:
        return metrics_text("simulated", self.cache, len(self.running), len(self.waiting),
                             self.power_w(), self.tp, f"simulated {self.gpu}")


def simulated_engine(model: str, gpu: str, tp: int, ssd: str, precision: str = "bf16",
                     engine: str = "graph", token_budget: int = 8192,
                     max_seqs: int = 256) -> SimulatedEngine:
    """The simulated engine of a replica configuration, with the shipped calibration."""
    from planner.catalog import load_catalog
    from planner.perf.iteration import IterationModel
    from planner.perf.params import default_params_path, load_params
    from planner.perf.simulator import replica_costs
    from planner.perf.spec import build_spec

    spec = build_spec(model, gpu, tp, ssd, None, precision, load_catalog())
    params = load_params(default_params_path())
    im = IterationModel(spec, params.device(spec.gpu), engine)
    costs = replica_costs(im, params.power, token_budget, max_seqs)
    return SimulatedEngine(model, costs, tp, gpu, spec.max_context)
