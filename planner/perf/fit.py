"""Parameter sets of the performance model: the uncalibrated prior, and (later) the fit."""

from __future__ import annotations

from planner.catalog import load_catalog
from planner.paths import examples_dir
from planner.perf.iteration import prior_params
from planner.perf.lengths import fit_length_model
from planner.perf.params import ModelParams, file_sha256
from planner.perf.power import derived_power_params

LENGTH_TRACES = ("AzureLLMInferenceTrace_conv.csv", "AzureLLMInferenceTrace_code.csv",
                 "conversation_trace.jsonl")


def length_model_from_examples():
    from planner.workload.readers import read_trace

    paths = [examples_dir() / n for n in LENGTH_TRACES]
    model = fit_length_model([read_trace(p) for p in paths])
    inputs = {f"examples/{p.name}": {"sha256": file_sha256(p)} for p in paths}
    return model, inputs


def prior_model_params() -> ModelParams:
    """Datasheet peaks with assumed efficiencies for every catalog GPU (the M1 model)."""
    cat = load_catalog()
    devices = {k: prior_params(k, g.nvlink_gbps) for k, g in cat.gpus.items()}
    lengths, inputs = length_model_from_examples()
    return ModelParams(devices=devices, power=derived_power_params(), lengths=lengths,
                       method="prior: datasheet peaks with assumed efficiencies (uncalibrated)",
                       extra={"inputs": inputs})
