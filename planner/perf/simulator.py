"""Discrete-event simulator of one replica: continuous batching with chunked prefill.

The engine modelled (vLLM V1 / Sarathi-Serve style):

* Requests arrive (a trace or Poisson) and wait; admission is first come, first served while
  fewer than ``max_seqs`` run and the KV of every running request (prompt + output tokens,
  reserved at admission) fits in HBM; a request that does not fit waits (no preemption). A
  request alone that does not fit is admitted anyway, so the simulation cannot stall.
* At admission a request with C cached prefix tokens on the SSD tier decides how many to
  load, k ≤ C (:func:`planner.perf.ssd.best_loaded_tokens`, given the wait in the SSD's FIFO
  queue), as vLLM V1 loads external KV asynchronously for requests it has allocated blocks to;
  the drives serve loads one after another at the striped bandwidth. Its prefill may start once
  the remaining load is no longer than the compute of its P − k new tokens (layer-wise
  overlap), and its first token comes no earlier than the end of the load plus one layer's
  pipeline drain.
* Every iteration carries one token of each decoding request and fills the rest of the token
  budget with prompt chunks in admission order (chunked prefill). Its duration comes from the
  calibrated iteration model (:mod:`planner.perf.iteration`, tabulated per token count), its
  GPU power from :mod:`planner.perf.power`.
* The last prompt chunk produces the first token (TTFT = first token − arrival); each later
  iteration one more (TPOT = (finish − first token) / (output − 1)).
* When its prefill ends, the prompt's uncached tokens are written to the SSD tier (admission),
  queued at the striped write bandwidth; writes that would wait more than
  ``WRITE_BACKLOG_S`` are dropped (the tier cannot absorb them).

Everything is deterministic: the same inputs give the same outputs, bit for bit.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit

from planner.errors import InputDataError, UsageError
from planner.perf.iteration import IterationModel
from planner.perf.power import PowerParams
from planner.perf.ssd import _prefill_compute_s, best_loaded_tokens

# Longest wait of an admission write in the SSD queue, s; a numba compile-time constant.
WRITE_BACKLOG_S = 5.0


@dataclass(frozen=True)
class ReplicaCosts:
    """The iteration model tabulated for the simulator (all per GPU of the replica)."""

    base_t: np.ndarray     # time of the token-dependent part for N = 0..token_budget tokens
    base_f: np.ndarray     # its ideal compute time (FLOPs / peak)
    base_b: np.ndarray     # its ideal HBM time (bytes / bandwidth)
    lm_t: np.ndarray       # LM head for S = 0..max_seqs sequences
    lm_f: np.ndarray
    lm_b: np.ndarray
    scalars: np.ndarray    # see _SCALARS
    token_budget: int
    max_seqs: int
    kv_capacity_tokens: int
    kv_bytes_per_token: float


_SCALARS = ("c_pair", "c_ctx", "f_pair", "b_ctx", "quad", "t0", "a", "b", "c", "layers",
            "load_s_per_token", "store_bytes_per_s", "kv_bytes", "idle_w", "tdp_w", "w_c", "w_m")


def replica_costs(model: IterationModel, power: PowerParams, token_budget: int = 8192,
                  max_seqs: int = 256) -> ReplicaCosts:
    if token_budget < 16 or max_seqs < 1:
        raise UsageError("the token budget must be ≥ 16 and max sequences ≥ 1")
    if max_seqs > token_budget:
        raise UsageError("max sequences may not exceed the token budget (each decoding "
                         "request needs one token of it per iteration)")
    s = model.spec
    n = np.arange(token_budget + 1, dtype=float)
    base = model.token_part(n, np.zeros_like(n), np.zeros_like(n))
    sq = np.arange(max_seqs + 1, dtype=float)
    lm = model.gemm(sq, *model.lm_head)
    scale = model.engine.kernel_scale
    att1 = model.attention(1.0, 0.0)
    att2 = model.attention(0.0, 1.0)
    t0, a, b, c = model.prefill_coefficients(token_budget)
    load = s.kv_bytes_per_token / s.kv_load_bytes_per_s if s.kv_load_bytes_per_s > 0 else np.inf
    sc = dict(c_pair=float(att1.time_s), c_ctx=float(att2.time_s), f_pair=float(att1.flop_time_s),
              b_ctx=float(att2.byte_time_s), quad=s.layers * model.engine.t_quad_s,
              t0=t0, a=a, b=b, c=c, layers=float(s.layers), load_s_per_token=load,
              store_bytes_per_s=s.kv_store_bytes_per_s, kv_bytes=float(s.kv_bytes_per_token),
              idle_w=s.loaded_idle_w, tdp_w=s.tdp_w, w_c=power.w_compute, w_m=power.w_memory)
    return ReplicaCosts(
        base_t=np.ascontiguousarray(base.time_s), base_f=np.ascontiguousarray(base.flop_time_s),
        base_b=np.ascontiguousarray(base.byte_time_s),
        lm_t=np.ascontiguousarray(scale * lm[0]), lm_f=np.ascontiguousarray(lm[1]),
        lm_b=np.ascontiguousarray(lm[2]),
        scalars=np.array([sc[k] for k in _SCALARS], dtype=float), token_budget=token_budget,
        max_seqs=max_seqs, kv_capacity_tokens=s.kv_capacity_tokens(token_budget),
        kv_bytes_per_token=float(s.kv_bytes_per_token))


@njit(cache=True)
def _window_overlap(t0, t1, lo, hi):
    a = max(t0, lo)
    b = min(t1, hi)
    return b - a if b > a else 0.0


@njit(cache=True)
def iteration_cost(n_tok, s_out, pairs, ctx, n_pf, base_t, base_f, base_b, lm_t, lm_f, lm_b,
                   sc):
    """Duration (s) and GPU power (W per GPU) of one engine iteration of ``n_tok`` tokens
    (``n_pf`` of them prompt tokens) producing ``s_out`` output tokens, with ``pairs``
    attention (query, key) pairs and ``ctx`` context tokens read; the one cost rule of the
    simulator and of the simulator-backed test server (:mod:`planner.measure.engines`)."""
    c_pair, c_ctx, f_pair, b_ctx, quad = sc[0], sc[1], sc[2], sc[3], sc[4]
    idle_w, tdp_w, w_c, w_m = sc[13], sc[14], sc[15], sc[16]
    dt = base_t[n_tok] + lm_t[s_out] + c_pair * pairs + c_ctx * ctx + quad * n_pf * n_pf
    f = base_f[n_tok] + lm_f[s_out] + f_pair * pairs
    b = base_b[n_tok] + lm_b[s_out] + b_ctx * ctx
    load = (w_c * f + w_m * b) / dt
    p = idle_w + (tdp_w - idle_w) * (load if load < 1.0 else 1.0)
    return dt, p


@njit(cache=True)
def _heap_push(key, val, size, k, v):
    """Push (k, v) onto the binary min-heap of ``size`` entries in key/val; the new size."""
    i = size
    while i > 0:
        parent = (i - 1) // 2
        if key[parent] <= k:
            break
        key[i] = key[parent]
        val[i] = val[parent]
        i = parent
    key[i] = k
    val[i] = v
    return size + 1


@njit(cache=True)
def _heap_pop(key, val, size):
    """Remove the heap's least entry; returns its value and the new size."""
    top = val[0]
    size -= 1
    k = key[size]
    v = val[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and key[c + 1] < key[c]:
            c += 1
        if key[c] >= k:
            break
        key[i] = key[c]
        val[i] = val[c]
        i = c
    if size > 0:
        key[i] = k
        val[i] = v
    return top, size


@njit(cache=True)
def _simulate(arrival, prompt, cached, output, base_t, base_f, base_b, lm_t, lm_f, lm_b, sc,
              budget, max_seqs, kv_cap, win_lo, win_hi):
    """The event loop, one engine iteration at a time.

    Running requests are kept in two sets, so that an iteration costs O(prefilling + finishing)
    rather than O(running): the prefilling ones in admission order (their chunks are given in
    that order), and the decoding ones only through their count, the sum of their context
    lengths (each adds one token per iteration) and a heap of the iteration each will finish
    in. The batch's attention pairs and context are sums of whole numbers (half-integers for
    prompt chunks) far below 2**53, so they are exact in any order of summation."""
    t0, pa, pb, pc, layers = sc[5], sc[6], sc[7], sc[8], sc[9]
    s_tok, store_bw, kvb = sc[10], sc[11], sc[12]
    idle_w = sc[13]
    n = arrival.shape[0]
    first = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    loaded = np.zeros(n)
    written = np.zeros(n)
    ready = np.zeros(n)
    load_end = np.zeros(n)
    comp_total = np.zeros(n, dtype=np.int64)
    wq = np.empty(n, dtype=np.int64)
    w_head = 0
    w_tail = 0
    p_id = np.empty(max_seqs, dtype=np.int64)      # prefilling, in admission order
    p_done = np.zeros(max_seqs, dtype=np.int64)
    p_chunk = np.zeros(max_seqs, dtype=np.int64)
    n_pre = 0
    h_key = np.empty(max_seqs, dtype=np.int64)     # decoding: the iteration each finishes in
    h_val = np.empty(max_seqs, dtype=np.int64)
    n_dec = 0
    dec_ctx = 0                                    # sum of their prompt + generated tokens
    it = 0                                         # iterations run
    kv_used = 0
    completed = 0
    i_arr = 0
    ssd_free = -1e300
    write_free = -1e300
    e_win = 0.0
    e_tot = 0.0
    busy_win = 0.0
    busy_tot = 0.0
    t = arrival[0] if n > 0 else 0.0
    t_start = t
    while completed < n:
        while i_arr < n and arrival[i_arr] <= t:
            wq[w_tail] = i_arr
            w_tail += 1
            i_arr += 1
        # admission, first come first served: HBM for the whole request is reserved, then the
        # cached prefix (its loaded share) is queued on the SSD tier; the request computes once
        # the rest of its load overlaps its own prefill (vLLM V1's asynchronous KV loading)
        while w_head < w_tail:
            j = wq[w_head]
            need = prompt[j] + output[j]
            count = n_pre + n_dec
            if count >= max_seqs or (kv_used + need > kv_cap and count > 0):
                break
            k = 0.0
            if cached[j] > 0 and np.isfinite(s_tok):
                wait = ssd_free - t if ssd_free > t else 0.0
                k, _ = best_loaded_tokens(float(prompt[j]), float(cached[j]), s_tok, t0, pa, pb,
                                          pc, int(layers), wait)
                k = np.floor(k)
            if k > 0:
                start = ssd_free if ssd_free > t else t
                le = start + k * s_tok
                ssd_free = le
                comp = _prefill_compute_s(float(prompt[j]), k, t0, pa, pb, pc)
                r0 = le - comp
                ready[j] = r0 if r0 > t else t
                load_end[j] = le + min(le - start, comp) / layers
            else:
                ready[j] = t
                load_end[j] = t
            loaded[j] = k
            # ≥ 1: at most P − 1 tokens are loaded (best_loaded_tokens), so every request
            # prefills at least one token and produces its first token from it
            comp_total[j] = prompt[j] - np.int64(k)
            p_id[n_pre] = j
            p_done[n_pre] = 0
            n_pre += 1
            kv_used += need
            w_head += 1
        # the batch: every decoding request, then prompt chunks up to the budget
        pairs = float(dec_ctx)
        ctx = float(dec_ctx)
        left = budget - n_dec
        n_pf = 0
        s_out = n_dec
        for r in range(n_pre):
            p_chunk[r] = 0
        for r in range(n_pre):
            if left <= 0:
                break
            j = p_id[r]
            if ready[j] <= t:
                rem = comp_total[j] - p_done[r]
                ch = rem if rem < left else left
                before = loaded[j] + p_done[r]
                pairs += ch * (before + (ch + 1) / 2.0)
                ctx += before + ch
                p_chunk[r] = ch
                left -= ch
                n_pf += ch
                if ch == rem:
                    s_out += 1
        n_tok = n_dec + n_pf
        if n_tok == 0:
            nxt = np.inf
            if i_arr < n:
                nxt = arrival[i_arr]
            for r in range(n_pre):
                j = p_id[r]
                if ready[j] > t and ready[j] < nxt:
                    nxt = ready[j]
            if not np.isfinite(nxt):
                break
            e_win += idle_w * _window_overlap(t, nxt, win_lo, win_hi)
            e_tot += idle_w * (nxt - t)
            t = nxt
            continue
        dt, p = iteration_cost(n_tok, s_out, pairs, ctx, n_pf, base_t, base_f, base_b, lm_t,
                               lm_f, lm_b, sc)
        ov = _window_overlap(t, t + dt, win_lo, win_hi)
        e_win += p * ov
        busy_win += ov
        e_tot += p * dt
        busy_tot += dt
        t += dt
        # every decoding request generated one token; those at their last one finish
        dec_ctx += n_dec
        while n_dec > 0 and h_key[0] <= it:
            j, n_dec = _heap_pop(h_key, h_val, n_dec)
            finish[j] = t
            dec_ctx -= prompt[j] + output[j]
            kv_used -= prompt[j] + output[j]
            completed += 1
        keep = 0
        for r in range(n_pre):
            j = p_id[r]
            ch = p_chunk[r]
            if ch > 0:
                p_done[r] += ch
                if p_done[r] >= comp_total[j]:
                    ft = t if t > load_end[j] else load_end[j]
                    first[j] = ft
                    if store_bw > 0:
                        w = (prompt[j] - cached[j]) * kvb
                        if w > 0:
                            st = write_free if write_free > t else t
                            if st - t <= WRITE_BACKLOG_S:
                                write_free = st + w / store_bw
                                written[j] = w
                    if output[j] <= 1:
                        finish[j] = ft
                        kv_used -= prompt[j] + output[j]
                        completed += 1
                    else:
                        # its first token now, one more in each of the next output − 1
                        # iterations: the last in iteration it + output − 1
                        n_dec = _heap_push(h_key, h_val, n_dec, it + output[j] - 1, j)
                        dec_ctx += prompt[j] + 1
                    continue
            p_id[keep] = j
            p_done[keep] = p_done[r]
            keep += 1
        n_pre = keep
        it += 1
    return first, finish, loaded, written, e_win, busy_win, e_tot, busy_tot, t - t_start


@dataclass(frozen=True)
class ReplicaRun:
    """Per-request results and totals of one simulated replica.

    ``gpu_energy_j`` is the energy of each of the replica's GPUs from the first arrival to the
    last completion (idle power between iterations); multiply by tp for the replica.
    """

    ttft_s: np.ndarray
    tpot_s: np.ndarray            # NaN for requests with a single output token
    first_token_s: np.ndarray
    finish_s: np.ndarray
    loaded_tokens: np.ndarray     # cached tokens read from the SSD tier
    written_bytes: np.ndarray     # KV written to the SSD tier at admission
    gpu_energy_j: float
    busy_s: float
    span_s: float
    ssd_read_bytes: float
    ssd_write_bytes: float
    tp: int

    @property
    def mean_gpu_power_w(self) -> float:
        return self.gpu_energy_j / self.span_s if self.span_s > 0 else float("nan")

    def percentiles(self, q=(50, 90, 99)) -> dict:
        t = self.tpot_s[np.isfinite(self.tpot_s)]
        return {"ttft_s": np.percentile(self.ttft_s, q),
                "tpot_s": np.percentile(t, q) if t.size else np.full(len(q), np.nan)}


def _validate(arrival, prompt, cached, output):
    n = len(arrival)
    if not (len(prompt) == len(cached) == len(output) == n):
        raise InputDataError("request arrays differ in length")
    if n == 0:
        raise InputDataError("the request stream is empty")
    for name, v in (("arrival time", arrival), ("prompt tokens", prompt),
                    ("cached tokens", cached), ("output tokens", output)):
        if not np.all(np.isfinite(v)):
            raise InputDataError(f"request {int(np.flatnonzero(~np.isfinite(v))[0])}: {name} "
                                 "is not a finite number")
    if np.any(np.diff(arrival) < 0):
        raise InputDataError("arrival times must be sorted")
    for name, v, lo in (("prompt tokens", prompt, 1), ("output tokens", output, 1),
                        ("cached tokens", cached, 0)):
        bad = np.flatnonzero(v < lo)
        if bad.size:
            raise InputDataError(f"request {int(bad[0])}: {name} must be ≥ {lo} (got {v[bad[0]]})")
    bad = np.flatnonzero(cached > prompt)
    if bad.size:
        raise InputDataError(f"request {int(bad[0])}: more cached tokens ({cached[bad[0]]}) than "
                             f"prompt tokens ({prompt[bad[0]]})")


def simulate(costs: ReplicaCosts, arrival_s, prompt_tokens, cached_tokens, output_tokens,
             tp: int = 1, window: tuple[float, float] | None = None):
    """Run the simulator; returns (ReplicaRun, window energy J, window busy s)."""
    arrival = np.ascontiguousarray(arrival_s, dtype=np.float64)
    prompt = np.ascontiguousarray(prompt_tokens, dtype=np.int64)
    cached = np.ascontiguousarray(cached_tokens, dtype=np.int64)
    output = np.ascontiguousarray(output_tokens, dtype=np.int64)
    _validate(arrival, prompt, cached, output)
    lo, hi = window if window is not None else (arrival[0], np.inf)
    res = _simulate(arrival, prompt, cached, output, costs.base_t, costs.base_f, costs.base_b,
                    costs.lm_t, costs.lm_f, costs.lm_b, costs.scalars, costs.token_budget,
                    costs.max_seqs, costs.kv_capacity_tokens, float(lo), float(hi))
    first, finish, loaded, written, e_win, busy_win, e_tot, busy_tot, span = res
    out = output.astype(float)
    tpot = np.where(out > 1, (finish - first) / np.maximum(out - 1, 1), np.nan)
    run = ReplicaRun(ttft_s=first - arrival, tpot_s=tpot, first_token_s=first, finish_s=finish,
                     loaded_tokens=loaded, written_bytes=written, gpu_energy_j=float(e_tot),
                     busy_s=float(busy_tot), span_s=float(span),
                     ssd_read_bytes=float(loaded.sum() * costs.kv_bytes_per_token),
                     ssd_write_bytes=float(written.sum()), tp=tp)
    return run, float(e_win), float(busy_win)


# ------------------------------------------------------------------------------------------
# Many operating points at once (profile tables): common random numbers, points spread over
# worker processes
# ------------------------------------------------------------------------------------------
@njit(cache=True)
def _pct(values, q):
    """q-th percentile with linear interpolation between order statistics (numpy's default)."""
    x = np.sort(values)
    pos = q / 100.0 * (x.shape[0] - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, x.shape[0] - 1)
    return x[lo] + (x[hi] - x[lo]) * (pos - lo)


@njit(cache=True)
def _latency_percentiles(row, ttft, tpot):
    """p50/p90/p99 of TTFT into row[0:3] and of TPOT into row[3:6] (left as they are when no
    request produced a second token)."""
    row[0] = _pct(ttft, 50.0)
    row[1] = _pct(ttft, 90.0)
    row[2] = _pct(ttft, 99.0)
    if tpot.shape[0] > 0:
        row[3] = _pct(tpot, 50.0)
        row[4] = _pct(tpot, 90.0)
        row[5] = _pct(tpot, 99.0)


@njit(cache=True)
def _stream(rate, hit, mean_in, mean_out, e, m_in, m_out, reuse, n, max_context):
    """The first ``n`` requests of a draw row as a request stream of the given means and
    token hit rate.

    The row's inter-arrival draws and length multipliers are rescaled so that their sample
    means are exactly 1: the stream then offers exactly the nominal load. A finite sample
    whose load is a few percent off would move p90 TTFT near the knee by several times that
    (latency grows like 1/(1 − ρ)), the largest part of the run-to-run scatter there.

    Hits spread over the requests by their reuse potential g (:mod:`planner.perf.shapes`):
    with G the token-weighted mean of g, request i caches the share g_i · hit / G of its
    prompt when hit ≤ G, else g_i + (1 − g_i)(hit − G)/(1 − G); the stream's token hit rate
    is then exactly ``hit`` (before rounding down to whole tokens)."""
    se = 0.0
    si = 0.0
    so = 0.0
    for i in range(n):
        se += e[i]
        si += m_in[i]
        so += m_out[i]
    se /= n
    si /= n
    so /= n
    out = np.empty(n, dtype=np.int64)
    prompt = np.empty(n, dtype=np.int64)
    cached = np.empty(n, dtype=np.int64)
    arrival = np.empty(n)
    acc = 0.0
    tok = 0.0
    reusable = 0.0
    for i in range(n):
        o = np.rint(mean_out * m_out[i] / so)
        o = min(max(o, 1.0), max_context / 2.0)
        out[i] = np.int64(o)
        p = max(np.rint(mean_in * m_in[i] / si), 1.0)
        p = min(p, max_context - out[i])
        prompt[i] = np.int64(p)
        tok += p
        reusable += reuse[i] * p
        if rate > 0:
            acc += e[i] / se / rate
        arrival[i] = acc
    G = reusable / tok
    for i in range(n):
        if G <= 0.0:
            f = hit
        elif hit <= G:
            f = reuse[i] * hit / G
        else:
            f = reuse[i] + (1.0 - reuse[i]) * (hit - G) / (1.0 - G) if G < 1.0 else 1.0
        cached[i] = np.int64(np.floor(min(f, 1.0) * prompt[i]))
    return arrival, prompt, cached, out


@njit(cache=True)
def _simulate_points(rates, hits, mean_in, mean_out, nreq, rows, E, MI, MO, RG, max_context,
                     base_t, base_f, base_b, lm_t, lm_f, lm_b, sc, budget, max_seqs, kv_cap,
                     kv_bytes):
    """For each point: p50/p90/p99 TTFT and TPOT, mean GPU power, SSD read and write bytes/s
    over the window from request n/5 (the first fifth is warm-up) to the last arrival; rate 0
    means every request arrives at once (saturation): column 0 is then the steady throughput
    (requests/s between the 20th and 80th percentile completions)."""
    m = rates.shape[0]
    res = np.full((m, 10), np.nan)
    for i in range(m):
        n = nreq[i]
        r = rows[i]
        arrival, prompt, cached, out = _stream(rates[i], hits[i], mean_in[i], mean_out[i], E[r],
                                               MI[r], MO[r], RG[r], n, max_context)
        warm = n // 5
        lo = arrival[warm]
        hi = arrival[n - 1]
        first, finish, loaded, written, e_win, busy_win, e_tot, busy_tot, span = _simulate(
            arrival, prompt, cached, out, base_t, base_f, base_b, lm_t, lm_f, lm_b, sc, budget,
            max_seqs, kv_cap, lo, hi)
        if rates[i] <= 0:
            f = np.sort(finish)
            a, b = int(0.2 * n), int(0.8 * n)
            res[i, 0] = (b - a) / (f[b] - f[a]) if f[b] > f[a] else np.inf
            continue
        ttft = (first - arrival)[warm:]
        cnt = 0
        tp = np.empty(n - warm)
        for k in range(warm, n):
            if out[k] > 1:
                tp[cnt] = (finish[k] - first[k]) / (out[k] - 1)
                cnt += 1
        _latency_percentiles(res[i], ttft, tp[:cnt])
        width = hi - lo
        res[i, 6] = e_win / width if width > 0 else sc[13]
        rd = 0.0
        wr = 0.0
        for k in range(n):
            if arrival[k] >= lo:
                rd += loaded[k] * kv_bytes
                wr += written[k]
        res[i, 7] = rd / width if width > 0 else 0.0
        res[i, 8] = wr / width if width > 0 else 0.0
        res[i, 9] = busy_win / width if width > 0 else 0.0
    return res


@njit(cache=True)
def _lone(prompt, cached, output, base_t, lm_t, sc, budget):
    """TTFT and TPOT of one request alone on the replica (arrival at 0): the simulator's own
    steps for a single request, in closed form (no queue, no other request)."""
    c_pair, c_ctx, quad = sc[0], sc[1], sc[4]
    t0, pa, pb, pc, layers, s_tok = sc[5], sc[6], sc[7], sc[8], sc[9], sc[10]
    k = 0.0
    if cached > 0 and np.isfinite(s_tok):
        k, _ = best_loaded_tokens(float(prompt), float(cached), s_tok, t0, pa, pb, pc,
                                  int(layers), 0.0)
        k = np.floor(k)
    ready = 0.0
    load_end = 0.0
    if k > 0:
        le = k * s_tok
        comp = _prefill_compute_s(float(prompt), k, t0, pa, pb, pc)
        ready = le - comp if le > comp else 0.0
        load_end = le + min(le, comp) / layers
    t = ready
    done = 0
    total = prompt - np.int64(k)
    while done < total:
        rem = total - done
        ch = rem if rem < budget else budget
        before = k + done
        s_out = 1 if ch == rem else 0
        t += (base_t[ch] + lm_t[s_out] + c_pair * ch * (before + (ch + 1) / 2.0)
              + c_ctx * (before + ch) + quad * ch * ch)
        done += ch
    first = t if t > load_end else load_end
    if output <= 1:
        return first, np.nan
    fin = t
    for g in range(1, output):
        cj = prompt + g
        fin += base_t[1] + lm_t[1] + (c_pair + c_ctx) * cj
    return first, (fin - first) / (output - 1)


@njit(cache=True)
def _lone_points(hits, mean_in, mean_out, nreq, rows, E, MI, MO, RG, max_context, base_t, lm_t,
                 sc, budget):
    m = hits.shape[0]
    res = np.full((m, 6), np.nan)
    for i in range(m):
        n = nreq[i]
        r = rows[i]
        _, prompt, cached, out = _stream(1.0, hits[i], mean_in[i], mean_out[i], E[r], MI[r],
                                         MO[r], RG[r], n, max_context)
        warm = n // 5
        ttft = np.empty(n - warm)
        tp = np.empty(n - warm)
        cnt = 0
        for k in range(warm, n):
            a, b = _lone(prompt[k], cached[k], out[k], base_t, lm_t, sc, budget)
            ttft[k - warm] = a
            if out[k] > 1:
                tp[cnt] = b
                cnt += 1
        _latency_percentiles(res[i], ttft, tp[:cnt])
    return res


@dataclass(frozen=True)
class PointDraws:
    """Random draws that table points share (common random numbers).

    Row k holds unit-mean exponential inter-arrival draws ``e``, the length multipliers
    ``m_in``, ``m_out`` (length / mean) and the reuse potentials ``g`` of one request sample,
    drawn from a workload shape; a point names its row and how many of the row's requests it
    simulates (the first n)."""

    e: np.ndarray
    m_in: np.ndarray
    m_out: np.ndarray
    g: np.ndarray

    @property
    def requests(self) -> int:
        return int(self.e.shape[1])


def shape_draws(shape, keys, n: int, seed: int) -> PointDraws:
    """One row of ``n`` draws per key (a tuple of integers, e.g. a token mix), each from its
    own generator seeded by (seed, *key), so a row does not depend on which other keys exist."""
    e, m_in, m_out, g = (np.empty((len(keys), n)) for _ in range(4))
    for k, key in enumerate(keys):
        rng = np.random.default_rng([int(seed), *(int(x) for x in key)])
        e[k] = rng.exponential(1.0, n)
        u_in = rng.random(n)
        m_in[k], m_out[k] = shape.multipliers(u_in, rng.random(n))
        g[k] = shape.reuse(u_in, rng.random(n))
    return PointDraws(e, m_in, m_out, g)


def _f64(x):
    return np.ascontiguousarray(x, dtype=np.float64)


def _i64(x):
    return np.ascontiguousarray(x, dtype=np.int64)


def _lone_chunk(costs, hits, mean_in, mean_out, nreq, rows, draws, max_context):
    return _lone_points(_f64(hits), _f64(mean_in), _f64(mean_out), _i64(nreq), _i64(rows),
                        draws.e, draws.m_in, draws.m_out, draws.g, float(max_context), costs.base_t,
                        costs.lm_t, costs.scalars, costs.token_budget)


def _points_chunk(costs, rates, hits, mean_in, mean_out, nreq, rows, draws, max_context):
    return _simulate_points(_f64(rates), _f64(hits), _f64(mean_in), _f64(mean_out), _i64(nreq),
                            _i64(rows), draws.e, draws.m_in, draws.m_out, draws.g,
                            float(max_context),
                            costs.base_t, costs.base_f, costs.base_b, costs.lm_t, costs.lm_f,
                            costs.lm_b, costs.scalars, costs.token_budget, costs.max_seqs,
                            costs.kv_capacity_tokens, costs.kv_bytes_per_token)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _spread(fn, point_arrays, fixed, workers):
    """Run ``fn`` over the points in chunks, in worker processes (fork) when there are many;
    each point is computed independently, so the result does not depend on the chunking."""
    m = len(point_arrays[0])
    workers = default_workers() if workers is None else max(1, int(workers))
    if m == 0:
        return fn(*fixed[:1], *[a[:0] for a in point_arrays], *fixed[1:])
    # the first point runs here: it compiles (or loads) the kernel before any fork
    head = fn(*fixed[:1], *[a[:1] for a in point_arrays], *fixed[1:])
    if m == 1:
        return head
    if workers == 1 or m < 32 or "fork" not in mp.get_all_start_methods():
        rest = fn(*fixed[:1], *[a[1:] for a in point_arrays], *fixed[1:])
        return np.vstack([head, rest])
    # interleaved chunks balance cheap and costly points across the workers
    idx = np.arange(1, m)
    parts = [idx[k::workers * 4] for k in range(workers * 4)]
    parts = [p for p in parts if p.size]
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as ex:
        futs = [ex.submit(fn, fixed[0], *[a[p] for a in point_arrays], *fixed[1:])
                for p in parts]
        outs = [f.result() for f in futs]
    res = np.empty((m, head.shape[1]))
    res[0] = head[0]
    for p, o in zip(parts, outs):
        res[p] = o
    return res


def _check_points(requests, rows, draws: PointDraws):
    requests = _i64(requests)
    rows = _i64(rows)
    if requests.size and (requests.min() < 5 or requests.max() > draws.requests):
        raise UsageError(f"a point simulates 5 to {draws.requests} requests (its draw row)")
    if rows.size and (rows.min() < 0 or rows.max() >= draws.e.shape[0]):
        raise UsageError("a point names a draw row that does not exist")
    return requests, rows


def lone_points(costs: ReplicaCosts, hits, mean_in, mean_out, requests, rows, draws: PointDraws,
                max_context: int, workers: int | None = None) -> np.ndarray:
    """p50/p90/p99 TTFT and TPOT of lone requests (the limit of a vanishing load), over the
    same request sample as :func:`simulate_points` with the same ``requests`` and ``rows``."""
    requests, rows = _check_points(requests, rows, draws)
    arrays = [_f64(hits), _f64(mean_in), _f64(mean_out), requests, rows]
    return _spread(_lone_chunk, arrays, (costs, draws, max_context), workers)


def simulate_points(costs: ReplicaCosts, rates, hits, mean_in, mean_out, requests, rows,
                    draws: PointDraws, max_context: int,
                    workers: int | None = None) -> np.ndarray:
    """Summary statistics of many operating points (see ``_simulate_points``): point i
    simulates the first ``requests[i]`` requests of draw row ``rows[i]``. Spread over
    ``workers`` processes (default: the CPUs available)."""
    requests, rows = _check_points(requests, rows, draws)
    arrays = [_f64(rates), _f64(hits), _f64(mean_in), _f64(mean_out), requests, rows]
    return _spread(_points_chunk, arrays, (costs, draws, max_context), workers)
