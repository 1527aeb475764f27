"""Measure a Llama-3-8B-shaped transformer on one GPU (random bf16 weights; no downloads).

Run on the device machine: python3 measure_h100.py --out $OUT
Run a tiny CPU smoke test here: python measure_h100.py --tiny --out /tmp/m

Measures, each with CUDA-event timing (median of repeats after warm-up), as CUDA graphs where
they can be captured (an engine's steady state: no Python launch overhead):
  * prefill time vs new tokens and cached-prefix length (the prefix's KV already in HBM),
    and batched prefill;
  * decode step time vs batch and context;
  * mixed iterations (a prompt chunk plus a decode batch in one forward, as chunked prefill does);
  * GPU power (NVML energy counter) while idle with the weights loaded, during sustained
    prefill and during sustained decode at several batch sizes;
  * KV-cache save and load to the local disk (O_DIRECT), and host<->device copy bandwidth;
  * the two ceilings: a large bf16 GEMM and a device-to-device copy.
Writes prefill.csv, decode.csv, mixed.csv, power.csv, kv_io.csv, env.json under --out.
"""

import argparse
import csv
import json
import mmap
import os
import platform
import sys
import threading
import time

import torch
import torch.nn.functional as F

try:
    from torch.nn.attention.bias import causal_lower_right
except Exception:  # pragma: no cover
    causal_lower_right = None

LLAMA3_8B = dict(layers=32, hidden=4096, heads=32, kv_heads=8, head_dim=128,
                 intermediate=14336, vocab=128256)
TINY = dict(layers=2, hidden=256, heads=8, kv_heads=2, head_dim=32, intermediate=512, vocab=1000)


def log(*a):
    print(*a, flush=True)


class Model:
    """Weights of a Llama-style decoder: QKV, O, gate+up, down per layer, RMSNorm, LM head."""

    def __init__(self, cfg, device, dtype):
        self.cfg, self.device, self.dtype = cfg, device, dtype
        h, H, Hk, d, I = (cfg[k] for k in ("hidden", "heads", "kv_heads", "head_dim",
                                           "intermediate"))
        g = torch.Generator(device=device).manual_seed(0)

        def w(*shape):
            return (torch.randn(*shape, device=device, dtype=dtype, generator=g) * 0.02)

        self.layers = [dict(wqkv=w(h, (H + 2 * Hk) * d), wo=w(H * d, h), wgu=w(h, 2 * I),
                            wd=w(I, h), n1=torch.ones(h, device=device, dtype=dtype),
                            n2=torch.ones(h, device=device, dtype=dtype))
                       for _ in range(cfg["layers"])]
        self.embed = w(cfg["vocab"], h)
        self.lm = w(h, cfg["vocab"])
        self.norm = torch.ones(h, device=device, dtype=dtype)
        inv = 1.0 / (500000.0 ** (torch.arange(0, d, 2, device=device).float() / d))
        self.inv_freq = inv

    def rope(self, x, pos):
        # x: (..., T, d); pos: (T,) absolute positions
        f = torch.outer(pos.float(), self.inv_freq)
        cos, sin = f.cos().to(x.dtype), f.sin().to(x.dtype)
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)

    @staticmethod
    def rms(x, w):
        return F.rms_norm(x, (x.shape[-1],), w, 1e-5)


def sdpa(q, k, v, mask=None):
    try:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    except TypeError:
        rep = q.shape[1] // k.shape[1]
        return F.scaled_dot_product_attention(q, k.repeat_interleave(rep, 1),
                                              v.repeat_interleave(rep, 1), attn_mask=mask)


def forward(m, x, attn_parts, logits_rows):
    """One iteration. x: (N, h) hidden states of every token. attn_parts: list of
    (start, stop, kind, state) slices of x; kind 'prefill' (state: (B, n, K, V, pos) with K/V
    prefix caches of shape (L, B, Hk, c, d)) or 'decode' (state: (B, K, V, pos) with caches
    (L, B, Hk, ctx, d), the new token written at the last slot)."""
    cfg = m.cfg
    H, Hk, d = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
    for li, L in enumerate(m.layers):
        y = m.rms(x, L["n1"])
        qkv = y @ L["wqkv"]
        outs = []
        for start, stop, kind, st in attn_parts:
            part = qkv[start:stop]
            if kind == "prefill":
                B, n, Kc, Vc, pos = st
                t = part.view(B, n, H + 2 * Hk, d).transpose(1, 2)
                q, k, v = t[:, :H], t[:, H:H + Hk], t[:, H + Hk:]
                q, k = m.rope(q, pos), m.rope(k, pos)
                if Kc is not None:
                    k = torch.cat([Kc[li], k], dim=2)
                    v = torch.cat([Vc[li], v], dim=2)
                c = k.shape[2] - n
                if c == 0:
                    o = sdpa_causal(q, k, v)
                else:
                    o = sdpa(q, k, v, causal_lower_right(n, n + c))
                outs.append(o.transpose(1, 2).reshape(B * n, H * d))
            else:
                B, Kc, Vc, pos = st
                t = part.view(B, 1, H + 2 * Hk, d).transpose(1, 2)
                q, k, v = t[:, :H], t[:, H:H + Hk], t[:, H + Hk:]
                q, k = m.rope(q, pos), m.rope(k, pos)
                Kc[li][:, :, -1:].copy_(k)
                Vc[li][:, :, -1:].copy_(v)
                o = sdpa(q, Kc[li], Vc[li], None)
                outs.append(o.transpose(1, 2).reshape(B, H * d))
        a = torch.cat(outs, 0) if len(outs) > 1 else outs[0]
        x = x + a @ L["wo"]
        y = m.rms(x, L["n2"])
        gu = y @ L["wgu"]
        g, u = gu.chunk(2, dim=-1)
        x = x + (F.silu(g) * u) @ L["wd"]
    y = m.rms(x[logits_rows], m.norm)
    return (y @ m.lm).argmax(-1)


def sdpa_causal(q, k, v):
    if _has_gqa():
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    rep = q.shape[1] // k.shape[1]
    return F.scaled_dot_product_attention(q, k.repeat_interleave(rep, 1),
                                          v.repeat_interleave(rep, 1), is_causal=True)


_GQA = None


def _has_gqa():
    global _GQA
    if _GQA is None:
        try:
            q = torch.zeros(1, 4, 2, 8)
            F.scaled_dot_product_attention(q, q[:, :2], q[:, :2], enable_gqa=True)
            _GQA = True
        except TypeError:
            _GQA = False
    return _GQA


class Timer:
    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def time(self, fn, warmup=2, reps=5, graph=True):
        """Median seconds of fn(); as a replayed CUDA graph when capture works."""
        mode = "eager"
        run = fn
        if self.cuda and graph:
            try:
                s = torch.cuda.Stream()
                s.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(s):
                    for _ in range(2):
                        fn()
                torch.cuda.current_stream().wait_stream(s)
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    fn()
                run = g.replay
                mode = "graph"
            except Exception as e:  # capture not possible: time eagerly
                log(f"  graph capture failed ({type(e).__name__}: {str(e)[:80]}); eager")
                torch.cuda.synchronize()
                run = fn
        for _ in range(warmup):
            run()
        ts = []
        for _ in range(reps):
            if self.cuda:
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                run()
                b.record()
                b.synchronize()
                ts.append(a.elapsed_time(b) / 1e3)
            else:
                t0 = time.perf_counter()
                run()
                ts.append(time.perf_counter() - t0)
        ts.sort()
        return ts[len(ts) // 2], min(ts), max(ts), mode, run


def kv_cache(m, B, ctx):
    cfg = m.cfg
    shape = (cfg["layers"], B, cfg["kv_heads"], ctx, cfg["head_dim"])
    K = torch.randn(shape, device=m.device, dtype=m.dtype) * 0.5
    V = torch.randn(shape, device=m.device, dtype=m.dtype) * 0.5
    return K, V


def prefill_fn(m, B, n, c):
    K, V = kv_cache(m, B, c) if c else (None, None)
    x = torch.randn(B * n, m.cfg["hidden"], device=m.device, dtype=m.dtype)
    pos = torch.arange(c, c + n, device=m.device)
    rows = torch.arange(n - 1, B * n, n, device=m.device)
    parts = [(0, B * n, "prefill", (B, n, K, V, pos))]
    return lambda: forward(m, x, parts, rows)


def decode_fn(m, B, ctx):
    K, V = kv_cache(m, B, ctx)
    x = torch.randn(B, m.cfg["hidden"], device=m.device, dtype=m.dtype)
    pos = torch.tensor([ctx - 1], device=m.device)
    rows = torch.arange(B, device=m.device)
    parts = [(0, B, "decode", (B, K, V, pos))]
    return lambda: forward(m, x, parts, rows)


def mixed_fn(m, n, c, B, ctx):
    Kp, Vp = kv_cache(m, 1, c) if c else (None, None)
    Kd, Vd = kv_cache(m, B, ctx)
    x = torch.randn(n + B, m.cfg["hidden"], device=m.device, dtype=m.dtype)
    parts = [(0, n, "prefill", (1, n, Kp, Vp, torch.arange(c, c + n, device=m.device))),
             (n, n + B, "decode", (B, Kd, Vd, torch.tensor([ctx - 1], device=m.device)))]
    rows = torch.cat([torch.tensor([n - 1]), torch.arange(n, n + B)]).to(m.device)
    return lambda: forward(m, x, parts, rows)


def write_csv(path, rows):
    if not rows:
        return
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def free():
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


class Power:
    """NVML energy counter (mJ) read around a phase: mean power = ΔE / Δt."""

    def __init__(self):
        self.h = None
        try:
            import pynvml
            pynvml.nvmlInit()
            self.nv = pynvml
            self.h = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception as e:
            log(f"no NVML: {e}")

    def phase(self, run, seconds, sync):
        if self.h is None:
            return None
        samples = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    samples.append(self.nv.nvmlDeviceGetPowerUsage(self.h) / 1e3)
                except Exception:
                    pass
                time.sleep(0.05)

        # settle for 1 s, then measure
        t_end = time.perf_counter() + 1.0
        while time.perf_counter() < t_end:
            run()
        sync()
        th = threading.Thread(target=sample)
        th.start()
        e0 = self.nv.nvmlDeviceGetTotalEnergyConsumption(self.h)
        t0 = time.perf_counter()
        iters = 0
        while time.perf_counter() - t0 < seconds:
            run()
            iters += 1
            if iters % 8 == 0:
                sync()
        sync()
        t1 = time.perf_counter()
        e1 = self.nv.nvmlDeviceGetTotalEnergyConsumption(self.h)
        stop.set()
        th.join()
        s = sorted(samples[len(samples) // 3:]) or [float("nan")]
        return dict(mean_power_w=(e1 - e0) / 1e3 / (t1 - t0), median_sampled_w=s[len(s) // 2],
                    seconds=t1 - t0, iterations=iters, iteration_s=(t1 - t0) / max(iters, 1))


def kv_io(m, out_rows, tokens_list, directory, reps, device):
    """Save and load the KV of N tokens (all layers) to a file with O_DIRECT."""
    bytes_per_token = 2 * m.cfg["layers"] * m.cfg["kv_heads"] * m.cfg["head_dim"] * 2
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "kv.bin")
    for n in tokens_list:
        size = n * bytes_per_token
        size = (size + 4095) // 4096 * 4096
        src = torch.randn(size // 2, device=device, dtype=torch.bfloat16)
        pinned = torch.empty(size // 2, dtype=torch.bfloat16, pin_memory=device.type == "cuda")
        buf = mmap.mmap(-1, size)
        view = memoryview(buf)
        for r in range(reps):
            row = dict(tokens=n, bytes=size, rep=r)
            sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
            sync()
            t0 = time.perf_counter()
            pinned.copy_(src)
            sync()
            t1 = time.perf_counter()
            # pinned → page-aligned buffer → file (O_DIRECT needs aligned memory)
            ctypes_copy(view, pinned)
            t2 = time.perf_counter()
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_DIRECT", 0)
            try:
                fd = os.open(path, flags, 0o600)
                direct = bool(getattr(os, "O_DIRECT", 0))
            except OSError:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                direct = False
            try:
                write_all(fd, view)
            except OSError:
                os.close(fd)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                direct = False
                write_all(fd, view)
            os.fsync(fd)
            os.close(fd)
            t3 = time.perf_counter()
            try:
                fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECT", 0) if direct else 0))
                got = read_all(fd, view)
            finally:
                os.close(fd)
            t4 = time.perf_counter()
            ctypes_copy(pinned, view)
            t5 = time.perf_counter()
            src.copy_(pinned, non_blocking=True)
            sync()
            t6 = time.perf_counter()
            row.update(d2h_s=t1 - t0, stage_out_s=t2 - t1, file_write_s=t3 - t2,
                       file_read_s=t4 - t3, stage_in_s=t5 - t4, h2d_s=t6 - t5,
                       o_direct=int(direct), read_bytes=got)
            out_rows.append(row)
            log(f"  kv io {n} tokens ({size / 1e9:.2f} GB): write {row['file_write_s']:.3f}s "
                f"read {row['file_read_s']:.3f}s h2d {row['h2d_s']:.4f}s d2h {row['d2h_s']:.4f}s "
                f"direct={direct}")
        del src, pinned
        view.release()
        buf.close()
        free()
    try:
        os.remove(path)
    except OSError:
        pass


CHUNK = 1 << 30  # a single read/write moves at most ~2 GiB on Linux


def write_all(fd, view):
    done = 0
    while done < len(view):
        done += os.write(fd, view[done:done + CHUNK])


def read_all(fd, view):
    done = 0
    while done < len(view):
        k = os.readv(fd, [view[done:done + CHUNK]])
        if k == 0:
            break
        done += k
    return done


def ctypes_copy(dst, src):
    """Copy between a memoryview and a CPU tensor (either direction) without reallocating."""
    import numpy as np
    if isinstance(dst, memoryview):
        a = np.frombuffer(dst, dtype=np.uint8)
        b = src.view(torch.uint8).numpy()
        a[:] = b[:a.size]
    else:
        a = dst.view(torch.uint8).numpy()
        b = np.frombuffer(src, dtype=np.uint8)
        a[:] = b[:a.size]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--skip", default="", help="comma list of sections to skip")
    ap.add_argument("--disk-dir", default="/var/tmp/gc-kv")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    cfg = TINY if args.tiny else LLAMA3_8B
    dtype = torch.bfloat16
    tm = Timer(device)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    env = dict(torch=torch.__version__, python=sys.version, platform=platform.platform(),
               device=torch.cuda.get_device_name(0) if cuda else "cpu", shape=cfg,
               started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    if cuda:
        p = torch.cuda.get_device_properties(0)
        env.update(sm_count=p.multi_processor_count, total_memory=p.total_memory)
    log(json.dumps(env))
    T0 = time.perf_counter()

    # ceilings
    if "ceil" not in skip:
        n = 256 if args.tiny else 8192
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        med, *_ = tm.time(lambda: a @ b, reps=10, graph=False)
        env["gemm_tflops"] = 2 * n ** 3 / med / 1e12
        big = torch.randn((1 << 20) if args.tiny else (1 << 30), device=device, dtype=dtype)
        dst = torch.empty_like(big)
        med, *_ = tm.time(lambda: dst.copy_(big), reps=10, graph=False)
        env["copy_tbps_read_plus_write"] = 2 * big.numel() * 2 / med / 1e12
        del a, b, big, dst
        free()
        log(f"ceilings: gemm {env['gemm_tflops']:.0f} TFLOP/s, copy {env['copy_tbps_read_plus_write']:.2f} TB/s")

    m = Model(cfg, device, dtype)
    env["weights_bytes"] = sum(t.numel() * 2 for L in m.layers for t in L.values()) + \
        (m.embed.numel() + m.lm.numel()) * 2
    reps = 3 if args.tiny else 7

    rows = []
    if "prefill" not in skip:
        if args.tiny:
            cfgs = [(1, 16, 0), (1, 64, 0), (1, 16, 32), (2, 32, 0)]
        else:
            cfgs = [(1, n, 0) for n in (128, 256, 512, 1024, 2048, 4096, 8192, 16384)]
            cfgs += [(1, n, c) for c in (1024, 4096, 16384) for n in (128, 1024, 4096)]
            cfgs += [(4, 1024, 0), (16, 512, 0), (8, 256, 0)]
        for B, n, c in cfgs:
            try:
                med, lo, hi, mode, _ = tm.time(prefill_fn(m, B, n, c), reps=reps)
                rows.append(dict(batch=B, new_tokens=n, cached_tokens=c, time_s=med,
                                 min_s=lo, max_s=hi, mode=mode, reps=reps))
                log(f"prefill B={B} n={n} c={c}: {med * 1e3:.2f} ms ({mode})")
            except Exception as e:
                log(f"prefill B={B} n={n} c={c} failed: {type(e).__name__}: {e}")
            free()
        write_csv(os.path.join(args.out, "prefill.csv"), rows)
    log(f"t={time.perf_counter() - T0:.0f}s")

    rows = []
    if "decode" not in skip:
        if args.tiny:
            cfgs = [(1, 32), (4, 64)]
        else:
            cfgs = [(b, ctx) for ctx in (128, 1024, 4096, 16384)
                    for b in (1, 4, 16, 32, 64, 128, 256) if b * ctx <= 262144]
        for B, ctx in cfgs:
            try:
                med, lo, hi, mode, _ = tm.time(decode_fn(m, B, ctx), warmup=3, reps=reps * 2)
                rows.append(dict(batch=B, context=ctx, time_s=med, min_s=lo, max_s=hi,
                                 mode=mode, reps=reps * 2))
                log(f"decode B={B} ctx={ctx}: {med * 1e3:.3f} ms ({mode})")
            except Exception as e:
                log(f"decode B={B} ctx={ctx} failed: {type(e).__name__}: {e}")
            free()
        # the same steps without graphs: what Python launch overhead adds
        for B, ctx in ([(1, 32)] if args.tiny else [(1, 1024), (64, 1024)]):
            med, lo, hi, mode, _ = tm.time(decode_fn(m, B, ctx), warmup=3, reps=reps * 2,
                                           graph=False)
            rows.append(dict(batch=B, context=ctx, time_s=med, min_s=lo, max_s=hi,
                             mode=mode, reps=reps * 2))
            log(f"decode eager B={B} ctx={ctx}: {med * 1e3:.3f} ms")
            free()
        write_csv(os.path.join(args.out, "decode.csv"), rows)
    log(f"t={time.perf_counter() - T0:.0f}s")

    rows = []
    if "mixed" not in skip:
        cfgs = [(16, 0, 2, 32)] if args.tiny else \
            [(n, c, B, 1024) for n in (512, 2048) for c in (0, 4096) for B in (16, 64)]
        for n, c, B, ctx in cfgs:
            try:
                med, lo, hi, mode, _ = tm.time(mixed_fn(m, n, c, B, ctx), reps=reps)
                rows.append(dict(new_tokens=n, cached_tokens=c, decode_batch=B, context=ctx,
                                 time_s=med, min_s=lo, max_s=hi, mode=mode, reps=reps))
                log(f"mixed n={n} c={c} B={B} ctx={ctx}: {med * 1e3:.2f} ms ({mode})")
            except Exception as e:
                log(f"mixed failed: {type(e).__name__}: {e}")
            free()
        write_csv(os.path.join(args.out, "mixed.csv"), rows)
    log(f"t={time.perf_counter() - T0:.0f}s")

    rows = []
    if "power" not in skip and cuda:
        pw = Power()
        secs = 6.0
        if pw.h is not None:
            time.sleep(1.0)
            e0 = pw.nv.nvmlDeviceGetTotalEnergyConsumption(pw.h)
            t0 = time.perf_counter()
            time.sleep(secs)
            e1 = pw.nv.nvmlDeviceGetTotalEnergyConsumption(pw.h)
            rows.append(dict(phase="idle_loaded", batch=0, tokens=0, context=0, mode="",
                             mean_power_w=(e1 - e0) / 1e3 / (time.perf_counter() - t0),
                             median_sampled_w="", seconds=secs, iterations=0, iteration_s=""))
            log(f"power idle loaded: {rows[-1]['mean_power_w']:.0f} W")
            phases = [("prefill", 1, 512, 0), ("prefill", 1, 4096, 0), ("prefill", 1, 16384, 0)]
            phases += [("decode", b, 1, 1024) for b in (1, 16, 64, 256)]
            phases += [("decode", 64, 1, 4096)]
            for kind, B, n, ctx in phases:
                try:
                    fn = prefill_fn(m, B, n, 0) if kind == "prefill" else decode_fn(m, B, ctx)
                    _, _, _, mode, run = tm.time(fn, reps=2)
                    r = pw.phase(run, secs, sync)
                    rows.append(dict(phase=kind, batch=B, tokens=n, context=ctx, mode=mode, **r))
                    log(f"power {kind} B={B} n={n} ctx={ctx}: {r['mean_power_w']:.0f} W "
                        f"({r['iteration_s'] * 1e3:.2f} ms/iteration)")
                except Exception as e:
                    log(f"power {kind} failed: {type(e).__name__}: {e}")
                free()
        write_csv(os.path.join(args.out, "power.csv"), rows)
    log(f"t={time.perf_counter() - T0:.0f}s")

    rows = []
    if "kvio" not in skip:
        toks = [64, 256] if args.tiny else [512, 2048, 8192, 32768]
        try:
            kv_io(m, rows, toks, args.disk_dir, 3, device)
        except Exception as e:
            log(f"kv io failed: {type(e).__name__}: {e}")
        write_csv(os.path.join(args.out, "kv_io.csv"), rows)
        try:
            st = os.statvfs(args.disk_dir)
            env["disk_free_bytes"] = st.f_bavail * st.f_frsize
            with open("/proc/mounts") as f:
                env["mounts"] = [l.strip() for l in f if " / " in l or "/var" in l][:5]
        except Exception:
            pass
    env["elapsed_s"] = time.perf_counter() - T0
    with open(os.path.join(args.out, "env.json"), "w") as f:
        json.dump(env, f, indent=2, default=str)
    log(f"done in {env['elapsed_s']:.0f}s")


if __name__ == "__main__":
    main()
