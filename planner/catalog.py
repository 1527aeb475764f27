"""Hardware catalog and model architectures, read from profiles/catalog.toml and models.toml.

Quantities keep their citation and their low/central/high range; ``resolve`` turns a choice of
levels into the plain numbers the carbon and latency models use.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from planner.errors import InputDataError, UsageError
from planner.paths import profiles_dir

HOURS_PER_YEAR = 8760.0
LEVELS = ("low", "central", "high")


@dataclass(frozen=True)
class Quantity:
    """A cited number, with a range where sources disagree."""

    central: float
    low: float
    high: float
    unit: str
    source: str

    def pick(self, level: str = "central") -> float:
        if level not in LEVELS:
            raise UsageError(f"unknown level {level!r}; choose low, central or high")
        return float(getattr(self, level))

    @classmethod
    def parse(cls, raw: dict, where: str) -> Quantity:
        if not isinstance(raw, dict) or "source" not in raw:
            raise InputDataError(f"catalog entry {where} has no source")
        if "value" in raw:
            v = float(raw["value"])
            return cls(v, v, v, raw.get("unit", ""), raw["source"])
        try:
            c, lo, hi = float(raw["central"]), float(raw["low"]), float(raw["high"])
        except KeyError as e:
            raise InputDataError(f"catalog entry {where} lacks {e.args[0]!r}") from None
        if not lo <= c <= hi:
            raise InputDataError(f"catalog entry {where}: expected low ≤ central ≤ high")
        return cls(c, lo, hi, raw.get("unit", ""), raw["source"])


@dataclass(frozen=True)
class GpuType:
    key: str
    name: str
    q: dict[str, Quantity]

    def __getattr__(self, item):
        try:
            return self.q[item].central
        except KeyError:
            raise AttributeError(item) from None


@dataclass(frozen=True)
class SsdType:
    key: str
    name: str
    q: dict[str, Quantity]

    def __getattr__(self, item):
        try:
            return self.q[item].central
        except KeyError:
            raise AttributeError(item) from None


@dataclass(frozen=True)
class ModelArch:
    key: str
    name: str
    params_b: float
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    max_context: int
    source: str

    def kv_bytes_per_token(self, bytes_per_value: int = 2) -> int:
        """2 (K and V) × layers × kv_heads × head_dim × bytes per value."""
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value


@dataclass(frozen=True)
class Catalog:
    gpus: dict[str, GpuType]
    ssds: dict[str, SsdType]
    host: dict[str, Quantity]
    pue: Quantity
    models: dict[str, ModelArch]
    path: Path

    def gpu(self, key: str) -> GpuType:
        return _lookup(self.gpus, key, "GPU")

    def ssd(self, key: str) -> SsdType:
        return _lookup(self.ssds, key, "SSD type")

    def model(self, key: str) -> ModelArch:
        return _lookup(self.models, key, "model")


def _lookup(table: dict, key: str, what: str):
    k = key.lower()
    if k not in table:
        raise UsageError(f"unknown {what} {key!r}; known: {', '.join(sorted(table))}")
    return table[k]


def load_catalog(directory: Path | None = None) -> Catalog:
    return _catalog_in(Path(directory) if directory else profiles_dir())


@lru_cache(maxsize=4)
def _catalog_in(directory: Path) -> Catalog:
    # keyed by the resolved folder, so a changed GREENCACHE_DATA is seen
    cat_path, model_path = directory / "catalog.toml", directory / "models.toml"
    for p in (cat_path, model_path):
        if not p.exists():
            raise InputDataError(f"catalog file {p} does not exist")
    try:
        raw = tomllib.loads(cat_path.read_text(encoding="utf-8"))
        raw_models = tomllib.loads(model_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise InputDataError(f"catalog is not valid TOML: {e}") from None

    def quantities(section: dict, where: str, skip=("name",)) -> dict[str, Quantity]:
        return {k: Quantity.parse(v, f"{where}.{k}") for k, v in section.items() if k not in skip}

    gpus = {k: GpuType(k, v["name"], quantities(v, f"gpu.{k}")) for k, v in raw["gpu"].items()}
    ssds = {k: SsdType(k, v["name"], quantities(v, f"ssd.{k}")) for k, v in raw["ssd"].items()}
    host = quantities(raw["host"], "host")
    pue = Quantity.parse(raw["facility"]["pue"], "facility.pue")
    models = {}
    for k, v in raw_models["model"].items():
        fields = {f: v[f] for f in ModelArch.__dataclass_fields__ if f not in ("key",)}
        models[k] = ModelArch(key=k, **fields)
    return Catalog(gpus, ssds, host, pue, models, cat_path)


# --------------------------------------------------------------------------------------------
# Resolved hardware: the plain numbers one scenario uses
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Levels:
    """Which end of each cited range a scenario takes."""

    ssd_embodied: str = "central"
    gpu_embodied: str = "central"
    host_embodied: str = "central"
    host_power: str = "central"
    ssd_power: str = "central"
    lifetime: str = "central"
    pue: str = "central"


@dataclass(frozen=True)
class Hardware:
    """Everything carbon.py needs about one deployment, in plain units."""

    gpu_key: str
    gpus_per_replica: int
    ssd_key: str
    drives_per_replica: int
    gpu_embodied_kg: float
    gpu_lifetime_h: float
    host_embodied_kg_per_gpu: float
    host_lifetime_h: float
    host_power_w_per_gpu: float
    ssd_embodied_kg_per_gb: float
    ssd_lifetime_h: float
    ssd_idle_w: float
    ssd_active_w: float
    ssd_read_gbps: float
    ssd_write_gbps: float
    ssd_capacity_gb: float
    ssd_dwpd: float
    ssd_warranty_years: float
    pue: float
    gpu_idle_w: float = 0.0          # powered, no model resident
    gpu_loaded_idle_w: float = 0.0   # model weights resident, no work
    gpus_per_server: int = 8


def resolve(catalog: Catalog, gpu: str, gpus_per_replica: int, ssd: str,
            levels: Levels = Levels(), pue: float | None = None) -> Hardware:
    g, s, h = catalog.gpu(gpu), catalog.ssd(ssd), catalog.host
    per_server = h["gpus_per_server"].central
    years = lambda q: q.pick(levels.lifetime) * HOURS_PER_YEAR  # noqa: E731
    return Hardware(
        gpu_key=g.key,
        gpus_per_replica=gpus_per_replica,
        ssd_key=s.key,
        drives_per_replica=int(round(h["drives_per_gpu"].central * gpus_per_replica)),
        gpu_embodied_kg=g.q["embodied_kgco2e"].pick(levels.gpu_embodied),
        gpu_lifetime_h=years(g.q["lifetime_years"]),
        host_embodied_kg_per_gpu=h["embodied_kgco2e"].pick(levels.host_embodied) / per_server,
        host_lifetime_h=years(h["lifetime_years"]),
        host_power_w_per_gpu=h["power_w_per_gpu"].pick(levels.host_power),
        ssd_embodied_kg_per_gb=s.q["embodied_kgco2e_per_gb"].pick(levels.ssd_embodied),
        ssd_lifetime_h=s.q["lifetime_years"].central * HOURS_PER_YEAR,
        ssd_idle_w=s.q["idle_w"].central,
        ssd_active_w=s.q["active_w"].pick(levels.ssd_power),
        ssd_read_gbps=s.q["read_gbps"].central,
        ssd_write_gbps=s.q["write_gbps"].central,
        ssd_capacity_gb=s.q["capacity_gb"].central,
        ssd_dwpd=s.q["dwpd"].central,
        ssd_warranty_years=s.q["warranty_years"].central,
        pue=catalog.pue.pick(levels.pue) if pue is None else float(pue),
        gpu_idle_w=g.q["idle_w"].central,
        gpu_loaded_idle_w=g.q["loaded_idle_w"].central,
        gpus_per_server=int(per_server),
    )
