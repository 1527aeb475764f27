"""A minimal OpenAI-compatible server over a randomly initialised Llama-3-8B-shaped model.

A real engine, small: PyTorch on one GPU (bf16, random weights: no downloads; its outputs are
meaningless, its costs are a Llama-3-8B's), served through greencache's OpenAI streaming
layer (planner/measure/openai_server.py), so `greencache profile measure` can measure it.

* Scheduling (as vLLM's V0 engine without chunked prefill): each iteration is either the
  prefill of the oldest waiting request, when a slot is free, or one decode step of every
  running request (batched, padded to the longest context, with a mask).
* KV cache: one slot of ``--max-context`` tokens per running request (slots kept contiguous).
* Prefix cache: a real KV prefix cache of 16-token blocks in HBM, keyed by the chain of block
  contents, least recently used evicted. A request's leading cached blocks are copied into its
  slot and only the rest of its prompt is computed; after its prefill its full blocks are
  stored. Hits and queries (prompt tokens) are exported under vLLM's metric names.
* Tokens: a prompt's whitespace-separated words, each mapped to a vocabulary id by CRC-32;
  exactly max_tokens tokens are generated (greedy, no end-of-sequence).

Run on the device machine:  python3 bench/device/serve_llama.py --port 8000
Run a tiny CPU check here:   python bench/device/serve_llama.py --tiny --device cpu --port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import threading
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from measure_h100 import LLAMA3_8B, TINY, Model, causal_lower_right  # noqa: E402
from planner.measure.engines import BLOCK, PrefixCache, metrics_text  # noqa: E402
from planner.measure.openai_server import serve  # noqa: E402


class _Req:
    __slots__ = ("ids", "words", "out", "queue", "loop", "slot", "length", "gen", "last")

    def __init__(self, words, out, queue, loop, vocab):
        self.words, self.out, self.queue, self.loop = words, out, queue, loop
        self.ids = [zlib.crc32(w.encode()) % vocab for w in words]
        self.length = self.gen = self.last = 0


class TorchEngine:
    version = torch.__version__

    def __init__(self, cfg, device, max_seqs, max_context, cache_blocks, model_name):
        self.name = f"greencache minimal PyTorch server (Llama-3-8B-shaped, random weights, " \
                    f"torch {torch.__version__})"
        self.model, self.max_context = model_name, max_context
        self.cfg, self.dev = cfg, torch.device(device)
        dtype = torch.bfloat16 if self.dev.type == "cuda" else torch.float32
        self.m = Model(cfg, self.dev, dtype)
        L, Hk, d = cfg["layers"], cfg["kv_heads"], cfg["head_dim"]
        self.Ks = torch.zeros(L, max_seqs, Hk, max_context, d, device=self.dev, dtype=dtype)
        self.Vs = torch.zeros_like(self.Ks)
        self.Kb = torch.zeros(L, cache_blocks, Hk, BLOCK, d, device=self.dev, dtype=dtype)
        self.Vb = torch.zeros_like(self.Kb)
        self.index = PrefixCache(cache_blocks * BLOCK)   # bookkeeping: keys, LRU, counters
        self.block_of: dict = {}                          # key -> block id in Kb/Vb
        self.free = list(range(cache_blocks))
        self.max_seqs = max_seqs
        self.waiting: collections.deque = collections.deque()
        self.running: list[_Req] = []
        self.cv = threading.Condition()

    # -- the asyncio side -------------------------------------------------------------------
    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True).start()

    def submit(self, words, max_tokens):
        q: asyncio.Queue = asyncio.Queue()
        r = _Req(words, max_tokens, q, asyncio.get_running_loop(), self.cfg["vocab"])
        with self.cv:
            self.waiting.append(r)
            self.cv.notify()
        return q

    def metrics(self) -> str:
        return metrics_text("torch", self.index, len(self.running), len(self.waiting), 0.0, 0,
                            "")

    @staticmethod
    def _emit(r: _Req, text):
        if r.loop is not None:
            r.loop.call_soon_threadsafe(r.queue.put_nowait, text)

    def warmup(self, prompt_tokens: int = 600) -> None:
        """One request through prefill (cold and from the prefix cache) and decode before
        serving, so the first measured request pays no start-up costs; then an empty cache."""
        with torch.inference_mode():
            for _ in range(2):
                r = _Req([f"w{k}" for k in range(prompt_tokens)], 3, None, None,
                         self.cfg["vocab"])
                self._prefill(r)
                while self.running:
                    self._decode()
        if self.dev.type == "cuda":
            torch.cuda.synchronize()
        self.index = PrefixCache(self.Kb.shape[1] * BLOCK)
        self.block_of = {}
        self.free = list(range(self.Kb.shape[1]))

    # -- the engine thread ------------------------------------------------------------------
    def _loop(self):
        with torch.inference_mode():
            while True:
                with self.cv:
                    while not self.waiting and not self.running:
                        self.cv.wait()
                    r = self.waiting.popleft() if self.waiting and \
                        len(self.running) < self.max_seqs else None
                if r is not None:
                    self._prefill(r)
                else:
                    self._decode()

    def _cached_blocks(self, r: _Req):
        """Leading cached blocks of the prompt (at least one prompt token left to compute)."""
        keys = list(PrefixCache._keys(r.ids))
        usable = (len(r.ids) - 1) // BLOCK
        found = []
        for k in keys[:usable]:
            if k not in self.index.blocks:
                break
            self.index.blocks.move_to_end(k)
            found.append(self.block_of[k])
        self.index.queries += len(r.ids)
        self.index.hits += len(found) * BLOCK
        return keys, found

    def _store_blocks(self, r: _Req, keys, first: int):
        """Store the prompt's full blocks from index ``first`` on, evicting LRU blocks."""
        slot = r.slot
        new = [(b, k) for b, k in enumerate(keys) if b >= first and k not in self.index.blocks]
        ids = []
        for b, k in new:
            if not self.free:
                old, _ = self.index.blocks.popitem(last=False)
                self.free.append(self.block_of.pop(old))
            bid = self.free.pop()
            self.index.blocks[k] = None
            self.block_of[k] = bid
            ids.append((b, bid))
        if not ids:
            return
        L, Hk, d = self.cfg["layers"], self.cfg["kv_heads"], self.cfg["head_dim"]
        src = torch.tensor([b for b, _ in ids], device=self.dev)
        dst = torch.tensor([bid for _, bid in ids], device=self.dev)
        for S, B in ((self.Ks, self.Kb), (self.Vs, self.Vb)):
            blocks = S[:, slot, :, :len(keys) * BLOCK].reshape(L, Hk, len(keys), BLOCK, d)
            B[:, dst] = blocks[:, :, src].permute(0, 2, 1, 3, 4)

    def _prefill(self, r: _Req):
        m, cfg = self.m, self.cfg
        H, Hk, d = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
        r.slot = len(self.running)
        keys, found = self._cached_blocks(r)
        c, P = len(found) * BLOCK, len(r.ids)
        if found:
            ids = torch.tensor(found, device=self.dev)
            for S, B in ((self.Ks, self.Kb), (self.Vs, self.Vb)):
                S[:, r.slot, :, :c] = B[:, ids].permute(0, 2, 1, 3, 4).reshape(
                    cfg["layers"], Hk, c, d)
        n = P - c
        x = m.embed[torch.tensor(r.ids[c:], device=self.dev)]
        pos = torch.arange(c, P, device=self.dev)
        mask = causal_lower_right(n, P) if c else None
        for li, Lw in enumerate(m.layers):
            y = m.rms(x, Lw["n1"])
            t = (y @ Lw["wqkv"]).view(1, n, H + 2 * Hk, d).transpose(1, 2)
            q, k, v = m.rope(t[:, :H], pos), m.rope(t[:, H:H + Hk], pos), t[:, H + Hk:]
            self.Ks[li, r.slot, :, c:P] = k[0]
            self.Vs[li, r.slot, :, c:P] = v[0]
            K = self.Ks[li, r.slot:r.slot + 1, :, :P]
            V = self.Vs[li, r.slot:r.slot + 1, :, :P]
            if mask is None:
                o = F.scaled_dot_product_attention(q, K, V, is_causal=True, enable_gqa=True)
            else:
                o = F.scaled_dot_product_attention(q, K, V, attn_mask=mask, enable_gqa=True)
            x = x + o.transpose(1, 2).reshape(n, H * d) @ Lw["wo"]
            g, u = (m.rms(x, Lw["n2"]) @ Lw["wgu"]).chunk(2, dim=-1)
            x = x + (F.silu(g) * u) @ Lw["wd"]
        tok = int((m.rms(x[-1:], m.norm) @ m.lm).argmax(-1).item())
        self._store_blocks(r, keys, len(found))
        r.length, r.gen, r.last = P, 1, tok
        self._emit(r, f" w{tok}")
        if r.out <= 1:
            self._emit(r, None)
        else:
            self.running.append(r)

    def _decode(self):
        m, cfg = self.m, self.cfg
        H, Hk, d = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
        run = self.running
        B = len(run)
        pos = torch.tensor([r.length for r in run], device=self.dev)
        T = int(max(r.length for r in run)) + 1
        rows = torch.arange(B, device=self.dev)
        mask = (torch.arange(T, device=self.dev)[None, :] <= pos[:, None])[:, None, None, :]
        f = pos[:, None].float() * m.inv_freq[None, :]
        cos, sin = f.cos()[:, None, None, :], f.sin()[:, None, None, :]
        x = m.embed[torch.tensor([r.last for r in run], device=self.dev)]

        def rope(t):
            t1, t2 = t[..., 0::2], t[..., 1::2]
            return torch.stack((t1 * cos.to(t.dtype) - t2 * sin.to(t.dtype),
                                t1 * sin.to(t.dtype) + t2 * cos.to(t.dtype)), -1).flatten(-2)

        for li, Lw in enumerate(m.layers):
            y = m.rms(x, Lw["n1"])
            t = (y @ Lw["wqkv"]).view(B, 1, H + 2 * Hk, d).transpose(1, 2)
            q, k, v = rope(t[:, :H]), rope(t[:, H:H + Hk]), t[:, H + Hk:]
            self.Ks[li][rows, :, pos] = k[:, :, 0]
            self.Vs[li][rows, :, pos] = v[:, :, 0]
            o = F.scaled_dot_product_attention(q, self.Ks[li, :B, :, :T], self.Vs[li, :B, :, :T],
                                               attn_mask=mask, enable_gqa=True)
            x = x + o.transpose(1, 2).reshape(B, H * d) @ Lw["wo"]
            g, u = (m.rms(x, Lw["n2"]) @ Lw["wgu"]).chunk(2, dim=-1)
            x = x + (F.silu(g) * u) @ Lw["wd"]
        toks = (m.rms(x, m.norm) @ m.lm).argmax(-1).tolist()
        keep = []
        for r, tok in zip(run, toks):
            r.length += 1
            r.gen += 1
            r.last = tok
            self._emit(r, f" w{tok}")
            if r.gen >= r.out:
                self._emit(r, None)
            else:
                keep.append(r)
        # keep the running requests' slots contiguous: move each survivor to its new index
        for j, r in enumerate(keep):
            if r.slot != j:
                self.Ks[:, j, :, :r.length] = self.Ks[:, r.slot, :, :r.length]
                self.Vs[:, j, :, :r.length] = self.Vs[:, r.slot, :, :r.length]
                r.slot = j
        self.running = keep


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="a 2-layer model (CPU check)")
    ap.add_argument("--max-seqs", type=int, default=64)
    ap.add_argument("--max-context", type=int, default=2560)
    ap.add_argument("--cache-blocks", type=int, default=16384,
                    help="16-token KV blocks of the prefix cache")
    ap.add_argument("--served-model", default="llama-3-8b")
    a = ap.parse_args()
    torch.manual_seed(0)
    eng = TorchEngine(TINY if a.tiny else LLAMA3_8B, a.device, a.max_seqs, a.max_context,
                      a.cache_blocks, a.served_model)

    eng.warmup(min(600, a.max_context - 8))

    def ready(port):
        print(f"{eng.name} listening on http://{a.host}:{port}", flush=True)

    serve(eng, a.host, a.port, ready)
    # the engine thread may be inside a CUDA call: leave without finalising the interpreter
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
