"""What one replica is: model shape, GPU type and count, precision, SSD tier.

A :class:`ReplicaSpec` gathers the plain numbers the iteration model, the power model, the SSD
model and the simulator need, so that none of them reads the catalog itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.choices import PRECISIONS
from planner.catalog import Catalog, load_catalog
from planner.errors import UsageError


# Fraction of HBM the engine may use (vLLM's default ``gpu_memory_utilization``); the rest is
# left to the CUDA context, NCCL buffers and fragmentation.
HBM_UTILISATION = 0.90


@dataclass(frozen=True)
class ReplicaSpec:
    """One model replica on ``tp`` GPUs with tensor parallelism and its SSD tier."""

    model: str
    gpu: str
    tp: int
    ssd: str
    drives: int
    precision: str
    # model shape
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    params: float               # parameter count
    max_context: int
    # GPU
    peak_flops: float           # dense FLOP/s per GPU at the precision used
    hbm_bytes_per_s: float      # per GPU
    hbm_bytes: float            # per GPU
    pcie_bytes_per_s: float     # per GPU, host to device
    tdp_w: float
    loaded_idle_w: float
    # SSD tier
    ssd_read_bytes_per_s: float   # per drive
    ssd_write_bytes_per_s: float  # per drive
    ssd_capacity_bytes: float     # per drive

    @property
    def weight_bytes_per_value(self) -> int:
        return 1 if self.precision == "fp8" else 2

    @property
    def kv_bytes_per_value(self) -> int:
        # fp8 deployments (TensorRT-LLM's published runs) keep the KV cache in fp8 too.
        return 1 if self.precision == "fp8" else 2

    @property
    def kv_bytes_per_token(self) -> int:
        """2 (K and V) × layers × kv_heads × head_dim × bytes per value (whole replica)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.kv_bytes_per_value

    @property
    def kv_heads_per_gpu(self) -> float:
        # With tp > kv_heads each KV head is replicated on tp / kv_heads GPUs.
        return max(1.0, self.kv_heads / self.tp)

    @property
    def heads_per_gpu(self) -> float:
        return self.heads / self.tp

    @property
    def weight_bytes_per_gpu(self) -> float:
        return self.params * self.weight_bytes_per_value / self.tp

    @property
    def kv_load_bytes_per_s(self) -> float:
        """Striped KV read bandwidth of the replica: min(drives × drive read, tp × PCIe link)."""
        return min(self.drives * self.ssd_read_bytes_per_s, self.tp * self.pcie_bytes_per_s)

    @property
    def kv_store_bytes_per_s(self) -> float:
        """Striped KV write bandwidth of the replica: min(drives × drive write, tp × PCIe)."""
        return min(self.drives * self.ssd_write_bytes_per_s, self.tp * self.pcie_bytes_per_s)

    def kv_capacity_tokens(self, token_budget: int) -> int:
        """Tokens of KV the replica's HBM holds for running requests.

        capacity = (HBM_UTILISATION × HBM − weights − activations) × tp / kv_bytes_per_token,
        where activations ≈ token_budget × (4 h + 2 I/tp + V/tp) × 2 bytes per GPU (the largest
        intermediate tensors of one iteration, including the logits).
        """
        act = token_budget * (4 * self.hidden + 2 * self.intermediate / self.tp
                              + self.vocab / self.tp) * 2
        free = HBM_UTILISATION * self.hbm_bytes - self.weight_bytes_per_gpu - act
        if free <= 0:
            raise UsageError(
                f"{self.model} does not fit on {self.tp} × {self.gpu} in {self.precision}: the "
                f"weights need {self.weight_bytes_per_gpu / 1e9:,.0f} GB per GPU of "
                f"{self.hbm_bytes / 1e9:,.0f} GB")
        return int(free * self.tp // self.kv_bytes_per_token)


def build_spec(model: str, gpu: str, tp: int, ssd: str, drives: int | None = None,
               precision: str = "bf16", catalog: Catalog | None = None) -> ReplicaSpec:
    """Resolve catalog keys into a :class:`ReplicaSpec`.

    ``drives`` defaults to the DGX layout: tp × host.drives_per_gpu drives per replica.
    """
    cat = catalog or load_catalog()
    m, g, s = cat.model(model), cat.gpu(gpu), cat.ssd(ssd)
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}; choose {' or '.join(PRECISIONS)}")
    if not isinstance(tp, int) or tp < 1 or tp > 8 or tp & (tp - 1):
        raise UsageError(f"tensor parallelism must be 1, 2, 4 or 8 (got {tp})")
    if m.heads % tp:
        raise UsageError(f"{model} has {m.heads} attention heads, not divisible by tp={tp}")
    if drives is None:
        drives = int(round(cat.host["drives_per_gpu"].central * tp))
    if drives < 0:
        raise UsageError(f"drives per replica must be ≥ 0 (got {drives})")
    if precision == "fp8":
        if g.fp8_tflops <= 0:
            raise UsageError(f"{gpu} has no FP8 tensor cores; use --precision bf16")
        peak = g.fp8_tflops * 1e12
    else:
        peak = g.bf16_tflops * 1e12
    return ReplicaSpec(
        model=m.key, gpu=g.key, tp=tp, ssd=s.key, drives=int(drives), precision=precision,
        layers=m.layers, hidden=m.hidden, heads=m.heads, kv_heads=m.kv_heads,
        head_dim=m.head_dim, intermediate=m.intermediate, vocab=m.vocab,
        params=m.params_b * 1e9, max_context=m.max_context,
        peak_flops=peak, hbm_bytes_per_s=g.hbm_tbps * 1e12, hbm_bytes=g.hbm_gb * 1e9,
        pcie_bytes_per_s=g.pcie_gbps * 1e9, tdp_w=g.tdp_w, loaded_idle_w=g.loaded_idle_w,
        ssd_read_bytes_per_s=s.read_gbps * 1e9, ssd_write_bytes_per_s=s.write_gbps * 1e9,
        ssd_capacity_bytes=s.capacity_gb * 1e9,
    )
