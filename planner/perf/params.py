"""The performance model's parameter file: fitted iteration costs per GPU, power, lengths.

``profiles/calibration/perf_model.json`` is written by ``greencache profile calibrate
--write`` (``make calibrate``) and read by ``greencache profile synth``; its sha256 goes into
every table's provenance, so a table can always be traced to the fit that produced it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from planner.errors import InputDataError, UsageError
from planner.input_files import quote, read_text
from planner.outputs import atomic_write_text
from planner.paths import profiles_dir
from planner.perf.iteration import DeviceParams
from planner.perf.lengths import LengthModel
from planner.perf.power import PowerParams

PARAMS_SCHEMA = 1


def default_params_path() -> Path:
    return profiles_dir() / "calibration" / "perf_model.json"


@dataclass(frozen=True)
class ModelParams:
    devices: dict[str, DeviceParams]
    power: PowerParams
    lengths: LengthModel
    method: str
    extra: dict = field(default_factory=dict)   # fit summary, inputs and their hashes

    def device(self, gpu: str) -> DeviceParams:
        if gpu not in self.devices:
            raise UsageError(f"the performance model has no parameters for GPU {gpu!r}; "
                             f"calibrated: {', '.join(sorted(self.devices))}")
        return self.devices[gpu]

    def to_json(self) -> str:
        d = {"schema": PARAMS_SCHEMA, "method": self.method,
             "devices": {k: v.to_dict() for k, v in sorted(self.devices.items())},
             "power": self.power.to_dict(), "lengths": self.lengths.to_dict(), **self.extra}
        return json.dumps(d, indent=2, sort_keys=True) + "\n"


def write_params(params: ModelParams, path: Path | None = None) -> Path:
    path = Path(path) if path else default_params_path()
    atomic_write_text(path, params.to_json())
    return path


def load_params(path: Path | None = None) -> ModelParams:
    path = Path(path) if path else default_params_path()
    if not path.exists():
        raise InputDataError(f"performance model parameters {path} do not exist; run "
                             "`greencache profile calibrate --write` (make calibrate)")
    text = read_text(path, "performance model parameters")
    try:
        d = json.loads(text)
        if not isinstance(d, dict):
            raise InputDataError(f"{path} must hold a JSON object")
        if d.get("schema") != PARAMS_SCHEMA:
            raise InputDataError(f"{path} has schema {quote(d.get('schema'))}, expected "
                                 f"{PARAMS_SCHEMA}")
        extra = {k: v for k, v in d.items()
                 if k not in ("schema", "method", "devices", "power", "lengths")}
        return ModelParams(
            devices={k: DeviceParams.from_dict(v) for k, v in d["devices"].items()},
            power=PowerParams(**d["power"]), lengths=LengthModel(**d["lengths"]),
            method=d["method"], extra=extra)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise InputDataError(f"cannot read performance model parameters {path}: "
                             f"{quote(str(e))}") from None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
