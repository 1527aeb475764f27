"""Per-iteration cost of one replica: GEMMs, attention, all-reduce, elementwise, engine overhead.

One engine iteration (a forward pass over every token scheduled in it: prompt chunks and one
token per decoding request) on each of the ``tp`` GPUs of a tensor-parallel replica costs

    t = t_iter + L · [ s · (Σ_g T_gemm(N, K_g, O_g) + T_attn) + T_elem(N) + T_ar(N)
        + t_layer(tp) ] + s · T_gemm(S, h, V/tp)

with N the tokens in the iteration and S the sequences that emit a token. Per layer and GPU the
four GEMMs are QKV (K = h, O = (H/tp + 2 H_kv/tp) d), output projection (K = H d/tp, O = h),
gate+up (K = h, O = 2 I/tp) and down (K = I/tp, O = h) (Megatron-LM column/row split,
Shoeybi et al. 2019). Each GEMM is a roofline with a smooth corner:

    T_gemm = ((F / (P η_c))^k + (B / (W η_m))^k)^(1/k) + t_kernel,
    F = 2 N K O,   B = K O b_w + 2 N (K + O)

(P peak FLOP/s, W HBM bytes/s, b_w bytes per weight). Attention is FlashAttention-style:

    T_attn = 4 d (H/tp) · pairs / (P η_ap) + ctx · 2 (H_kv/tp) d b_kv / (W η_ad)

where ``pairs`` counts query-key products (a prompt chunk of n tokens after c cached ones has
n (c + (n + 1)/2), a decoding request with c tokens of context has c) and ``ctx`` the KV tokens
read. Elementwise kernels (norms, RoPE, SiLU, residual adds) move
N (c_h h + c_i I/tp) bytes per layer: T_elem = t_elem + that / W. With tp > 1 each layer has
two all-reduces of N h 2 bytes: T_ar = 2 r (α_tp + N h 2 / β_tp). ``t_iter``, ``t_layer(tp) =
t_layer + t_layer_tp · log2 tp``, the kernel scale ``s``, the all-reduce scale ``r`` and the
activation-traffic scale ``e`` (multiplying T_elem: unfused kernels move more bytes) and a
batch-quadratic term ``L · t_quad · N_p²`` in the prompt tokens N_p of the iteration are the
serving engine's own cost (scheduling, launches, synchronisation), which kernel benchmarks do
not see; they are kept per engine (:data:`ENGINES`). The quadratic term is empirical: the
splitwise-sim measurements cost more per prompt token the more prompt tokens a batch holds, also
for batches of short prompts whose attention is cheap (as if the engine's prompt attention
spanned the whole batch); the CUDA-graph engine measured by greencache has none (t_quad = 0).

The parameters live in :class:`DeviceParams` (one per GPU type); :func:`prior_params` gives
datasheet values with assumed efficiencies (the first, uncalibrated model) and
:mod:`planner.perf.fit` fits them on measurements.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from planner.choices import ENGINES
from planner.perf.spec import ReplicaSpec

ACT_BYTES = 2  # activations stay in 16-bit between kernels, also in fp8 deployments


@dataclass(frozen=True)
class KernelParams:
    """Kernel efficiencies of one GPU type (fractions of the datasheet peaks)."""

    eta_compute: float       # η_c: large GEMMs, fraction of peak FLOP/s
    eta_memory: float        # η_m: weight streaming, fraction of HBM bandwidth
    sharpness: float         # k of the smooth roofline corner
    t_kernel_s: float        # launch and tail per GEMM
    eta_attn_prefill: float  # η_ap: attention FLOPs, fraction of peak
    eta_attn_decode: float   # η_ad: KV reads, fraction of HBM bandwidth
    elem_bytes_hidden: float   # c_h: bytes per token per hidden unit per layer (elementwise)
    elem_bytes_inter: float    # c_i: bytes per token per intermediate unit per GPU per layer
    t_elem_s: float          # launches of the elementwise kernels per layer


@dataclass(frozen=True)
class CommParams:
    """All-reduce cost α + bytes / β for one tensor-parallel degree."""

    alpha_s: float
    bytes_per_s: float


@dataclass(frozen=True)
class EngineParams:
    """Costs of the serving engine that kernel benchmarks do not see."""

    t_iteration_s: float     # per iteration: scheduling, sampling, step launch
    t_layer_s: float         # per layer and iteration
    t_layer_tp_s: float      # added per layer for each doubling of tp (rank synchronisation)
    kernel_scale: float      # the engine's kernels relative to the benchmarked ones
    ar_scale: float = 1.0    # the engine's all-reduce relative to the benchmarked one
    elem_scale: float = 1.0  # the engine's activation traffic relative to the benchmarked one
    t_quad_s: float = 0.0    # per layer per (prompt tokens of the iteration)² (see below)


DEFAULT_ENGINE = "graph"


@dataclass(frozen=True)
class DeviceParams:
    """Everything the iteration model needs about one GPU type and its engine."""

    gpu: str
    kernel: KernelParams
    comm: dict[int, CommParams]
    engines: dict[str, EngineParams]
    source: str = "prior"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def engine(self, name: str) -> EngineParams:
        if name not in self.engines:
            from planner.errors import UsageError

            raise UsageError(f"unknown engine {name!r}; choose {', '.join(sorted(self.engines))}")
        return self.engines[name]

    def comm_for(self, tp: int) -> CommParams:
        if tp in self.comm:
            return self.comm[tp]
        # An unmeasured degree takes the nearest measured one: ring all-reduce cost changes
        # slowly with the degree inside one NVLink domain.
        near = min(self.comm, key=lambda k: (abs(np.log2(k) - np.log2(tp)), k))
        return self.comm[near]

    def to_dict(self) -> dict:
        return {"gpu": self.gpu, "source": self.source, "notes": list(self.notes),
                "kernel": asdict(self.kernel),
                "engines": {k: asdict(v) for k, v in sorted(self.engines.items())},
                "comm": {str(k): asdict(v) for k, v in sorted(self.comm.items())}}

    @classmethod
    def from_dict(cls, d: dict) -> DeviceParams:
        return cls(gpu=d["gpu"], kernel=KernelParams(**d["kernel"]),
                   engines={k: EngineParams(**v) for k, v in d["engines"].items()},
                   comm={int(k): CommParams(**v) for k, v in d["comm"].items()},
                   source=d.get("source", ""), notes=tuple(d.get("notes", ())))


def prior_params(gpu: str, nvlink_gbps: float) -> DeviceParams:
    """Datasheet peaks with assumed efficiencies: the uncalibrated prior.

    Assumptions: large GEMMs reach 60 % of peak, weight streaming 80 % of HBM bandwidth,
    attention 40 % of peak FLOPs and 70 % of HBM bandwidth; all-reduce 20 µs + bytes at 40 % of
    the NVLink bandwidth; 1 ms per iteration and 30 µs per layer of engine overhead.
    """
    comm = {tp: CommParams(alpha_s=20e-6, bytes_per_s=0.4 * nvlink_gbps * 1e9)
            for tp in (2, 4, 8)}
    engine = EngineParams(t_iteration_s=1e-3, t_layer_s=30e-6, t_layer_tp_s=1e-6,
                          kernel_scale=1.0)
    return DeviceParams(
        gpu=gpu,
        kernel=KernelParams(eta_compute=0.6, eta_memory=0.8, sharpness=4.0, t_kernel_s=5e-6,
                            eta_attn_prefill=0.4, eta_attn_decode=0.7, elem_bytes_hidden=16.0,
                            elem_bytes_inter=6.0, t_elem_s=20e-6),
        comm=comm,
        engines={name: engine for name in ENGINES},
        source="prior: datasheet peaks with assumed efficiencies (uncalibrated)")


@dataclass(frozen=True)
class IterationCost:
    """Time of iterations and the ideal (peak-rate) compute and memory time inside them."""

    time_s: np.ndarray
    flop_time_s: np.ndarray   # FLOPs / peak FLOP/s
    byte_time_s: np.ndarray   # HBM bytes / peak bandwidth


class IterationModel:
    """The equation of the module docstring for one replica spec and one parameter set."""

    def __init__(self, spec: ReplicaSpec, params: DeviceParams, engine: str = DEFAULT_ENGINE):
        self.spec = spec
        self.params = params
        self.engine_name = engine
        self.engine = params.engine(engine)
        s, tp = spec, spec.tp
        qkv_out = (s.heads / tp + 2 * s.kv_heads_per_gpu) * s.head_dim
        # (K, O) of the four GEMMs of one layer on one GPU
        self.layer_gemms = ((s.hidden, qkv_out), (s.heads * s.head_dim / tp, s.hidden),
                            (s.hidden, 2 * s.intermediate / tp), (s.intermediate / tp, s.hidden))
        self.lm_head = (s.hidden, s.vocab / tp)
        self.comm = params.comm_for(tp) if tp > 1 else None
        k = params.kernel
        self.attn_flops_per_pair = 4 * s.head_dim * s.heads_per_gpu
        self.kv_bytes_per_token_layer = 2 * s.kv_heads_per_gpu * s.head_dim * s.kv_bytes_per_value
        self.t_per_pair = self.attn_flops_per_pair / (s.peak_flops * k.eta_attn_prefill)
        self.t_per_ctx = self.kv_bytes_per_token_layer / (s.hbm_bytes_per_s * k.eta_attn_decode)

    # ---------------------------------------------------------------------------------------
    def gemm(self, m, k_dim, o_dim):
        """(time, ideal flop time, ideal byte time) of one GEMM of M tokens, vectorised in M."""
        s, kp = self.spec, self.params.kernel
        m = np.asarray(m, dtype=float)
        flops = 2.0 * m * k_dim * o_dim
        nbytes = k_dim * o_dim * s.weight_bytes_per_value + ACT_BYTES * m * (k_dim + o_dim)
        q = kp.sharpness
        tc = flops / (s.peak_flops * kp.eta_compute)
        tm = nbytes / (s.hbm_bytes_per_s * kp.eta_memory)
        t = (tc ** q + tm ** q) ** (1.0 / q) + kp.t_kernel_s
        t = np.where(m > 0, t, 0.0)
        return t, flops / s.peak_flops, np.where(m > 0, nbytes, 0.0) / s.hbm_bytes_per_s

    def elementwise(self, n):
        s, kp = self.spec, self.params.kernel
        n = np.asarray(n, dtype=float)
        nbytes = n * (kp.elem_bytes_hidden * s.hidden + kp.elem_bytes_inter * s.intermediate / s.tp)
        t = np.where(n > 0, kp.t_elem_s + nbytes / s.hbm_bytes_per_s, 0.0)
        return t, nbytes / s.hbm_bytes_per_s

    def all_reduce(self, n):
        n = np.asarray(n, dtype=float)
        if self.comm is None:
            return np.zeros_like(n)
        size = n * self.spec.hidden * ACT_BYTES
        t = 2.0 * (self.comm.alpha_s + size / self.comm.bytes_per_s) * self.engine.ar_scale
        return np.where(n > 0, t, 0.0)

    def layer_linear(self, n):
        """Per-layer time of the GEMMs of N tokens (kernel time, before the engine scale)."""
        total = np.zeros_like(np.asarray(n, dtype=float))
        for k_dim, o_dim in self.layer_gemms:
            total = total + self.gemm(n, k_dim, o_dim)[0]
        return total

    def token_part(self, n_tokens, n_logits, n_prompt=None) -> IterationCost:
        """Cost of everything that depends on the token count N (N_p of them prompt tokens,
        default all) and the logit count S."""
        s, e = self.spec, self.engine
        n = np.asarray(n_tokens, dtype=float)
        n_p = n if n_prompt is None else np.asarray(n_prompt, dtype=float)
        lin_t = np.zeros_like(n)
        lin_f = np.zeros_like(n)
        lin_b = np.zeros_like(n)
        for k_dim, o_dim in self.layer_gemms:
            t, f, b = self.gemm(n, k_dim, o_dim)
            lin_t, lin_f, lin_b = lin_t + t, lin_f + f, lin_b + b
        el_t, el_b = self.elementwise(n)
        el_t, el_b = el_t * e.elem_scale, el_b * e.elem_scale
        ar = self.all_reduce(n)
        t_layer = e.t_layer_s + e.t_layer_tp_s * np.log2(s.tp)
        lm_t, lm_f, lm_b = self.gemm(n_logits, *self.lm_head)
        busy = n > 0
        time = np.where(busy, e.t_iteration_s + s.layers * (e.kernel_scale * lin_t + el_t + ar
                                                            + t_layer + e.t_quad_s * n_p * n_p),
                        0.0)
        time = time + e.kernel_scale * lm_t
        return IterationCost(time, s.layers * lin_f + lm_f, s.layers * (lin_b + el_b) + lm_b)

    def attention(self, pairs, ctx_tokens) -> IterationCost:
        """Attention over all layers: ``pairs`` query-key products, ``ctx_tokens`` KV read."""
        s, e = self.spec, self.engine
        pairs = np.asarray(pairs, dtype=float)
        ctx = np.asarray(ctx_tokens, dtype=float)
        t = s.layers * e.kernel_scale * (pairs * self.t_per_pair + ctx * self.t_per_ctx)
        f = s.layers * pairs * self.attn_flops_per_pair / s.peak_flops
        b = s.layers * ctx * self.kv_bytes_per_token_layer / s.hbm_bytes_per_s
        return IterationCost(t, f, b)

    def iteration(self, n_tokens, n_logits, pairs, ctx_tokens, n_prompt=None) -> IterationCost:
        a = self.token_part(n_tokens, n_logits, n_prompt)
        b = self.attention(pairs, ctx_tokens)
        return IterationCost(a.time_s + b.time_s, a.flop_time_s + b.flop_time_s,
                             a.byte_time_s + b.byte_time_s)

    def prefill_coefficients(self, token_budget: int) -> tuple[float, float, float, float]:
        """(t0, a, b, c) of a standalone prefill, T ≈ t0 + a n + b pairs + c ctx: a is the
        marginal time per token at a full token budget, t0 the rest of a full-budget
        iteration; b and c the attention costs per query-key pair and per KV token read."""
        n1, n2 = token_budget / 2, token_budget
        t1, t2 = self.token_part(np.array([n1, n2]), 1, np.zeros(2)).time_s
        a = (t2 - t1) / (n2 - n1)
        t0 = max(0.0, float(t2 - a * n2))
        sc = self.engine.kernel_scale * self.spec.layers
        return t0, float(a), sc * self.t_per_pair, sc * self.t_per_ctx

    # ---- the two measurement shapes of the calibration data --------------------------------
    def prefill(self, batch, prompt, cached=0) -> IterationCost:
        """One unchunked prefill iteration of ``batch`` prompts of ``prompt`` tokens, of which
        ``cached`` come from a loaded prefix (their KV is read, not computed)."""
        batch = np.asarray(batch, dtype=float)
        prompt = np.asarray(prompt, dtype=float)
        cached = np.asarray(cached, dtype=float)
        new = prompt - cached
        pairs = batch * new * (cached + (new + 1) / 2)
        return self.iteration(batch * new, batch, pairs, batch * prompt, batch * new)

    def decode(self, batch, context) -> IterationCost:
        """One decode iteration of ``batch`` requests with ``context`` tokens of KV each."""
        batch = np.asarray(batch, dtype=float)
        context = np.asarray(context, dtype=float)
        return self.iteration(batch, batch, batch * context, batch * context, 0 * batch)
