"""Fitting the iteration model on measured data, with a held-out split per data set.

Stages (each a weighted least-squares fit of log(predicted / measured), so every row counts by
its relative error; within a stage each data set carries equal total weight):

A. all-reduce α, β per GPU and tp on Vidur's all-reduce times;
B. kernel efficiencies per GPU on Vidur's per-operator times of the four GEMMs and the
   elementwise operators (A100, H100); for the H100 jointly with greencache's own measured
   prefill, decode and mixed iterations, which also fit the attention efficiencies and the
   CUDA-graph engine's overhead;
C. the splitwise engine per GPU (per-iteration and per-layer overhead, its kernel and
   all-reduce scale; for the A100 also the attention efficiencies) on splitwise-sim's TTFT and
   TPOT, the kernel parameters of B held fixed.

The power weights w_c, w_m are fitted on the own H100 power phases. H200 takes the H100's
parameters (same compute die; its own HBM bandwidth and capacity come from the catalog), which
the notes of its entry say; the own H200 runs are kept out of the fit entirely and serve as an
independent check of that transfer. A fraction ``HOLDOUT_FRACTION`` of the configurations of every data
set (per stratum, seeded) is held out of all fits; :mod:`planner.perf.calibrate` reports the
errors on both parts.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from planner.catalog import load_catalog
from planner.paths import examples_dir
from planner.perf import datasets as ds
from planner.perf.iteration import CommParams, DeviceParams, IterationModel, prior_params
from planner.perf.lengths import fit_length_model
from planner.perf.params import ModelParams, file_sha256
from planner.perf.power import PowerParams, derived_power_params
from planner.perf.spec import build_spec

LENGTH_TRACES = ("AzureLLMInferenceTrace_conv.csv", "AzureLLMInferenceTrace_code.csv",
                 "conversation_trace.jsonl")
HOLDOUT_FRACTION = 0.25
SPLIT_SEED = 20261124
FIT_METHOD = "fitted: greencache-perf 2 (least squares on measured data, 25 % held out)"


# ------------------------------------------------------------------------------------------
def length_model_from_examples():
    from planner.workload.readers import read_trace

    paths = [examples_dir() / n for n in LENGTH_TRACES]
    model = fit_length_model([read_trace(p) for p in paths])
    inputs = {f"examples/{p.name}": {"sha256": file_sha256(p)} for p in paths}
    return model, inputs


def prior_model_params() -> ModelParams:
    """Datasheet peaks with assumed efficiencies for every catalog GPU (the uncalibrated prior)."""
    cat = load_catalog()
    devices = {k: prior_params(k, g.nvlink_gbps) for k, g in cat.gpus.items()}
    lengths, inputs = length_model_from_examples()
    return ModelParams(devices=devices, power=derived_power_params(), lengths=lengths,
                       method="prior: datasheet peaks with assumed efficiencies (uncalibrated)",
                       extra={"inputs": inputs})


def held_out(keys: pd.DataFrame, strata: list[str], seed: int = SPLIT_SEED,
             fraction: float = HOLDOUT_FRACTION) -> np.ndarray:
    """Boolean mask: True for rows whose configuration is held out.

    Within each stratum the distinct configurations (rows of ``keys``) are shuffled with a
    seeded generator and the first round(fraction × n) are held out.
    """
    keys = keys.reset_index(drop=True)
    cfg = keys.drop_duplicates().sort_values(list(keys.columns)).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    chosen = []
    for _, g in cfg.groupby(strata, sort=True):
        idx = g.index.to_numpy()
        k = int(round(fraction * len(idx)))
        chosen.extend(rng.permutation(idx)[:k].tolist())
    flag = pd.Series(False, index=cfg.index)
    flag.loc[chosen] = True
    merged = keys.merge(cfg.assign(_held=flag.to_numpy()), on=list(keys.columns), how="left")
    return merged["_held"].to_numpy(dtype=bool)


# ------------------------------------------------------------------------------------------
# Vectorised predictions per data set
# ------------------------------------------------------------------------------------------
def predict_vidur(dev: DeviceParams, rows: pd.DataFrame, engine: str = "graph") -> np.ndarray:
    """Per-layer time of each Vidur operator row (GEMMs: kernel time, no engine scale)."""
    cat = load_catalog()
    pred = np.empty(len(rows))
    for (model, tp), idx in rows.groupby(["model", "tp"]).indices.items():
        spec = build_spec(model, dev.gpu, int(tp), "nvme-gen4", catalog=cat)
        m = IterationModel(spec, dev, engine)
        r = rows.iloc[idx]
        n = r["tokens"].to_numpy(float)
        op = r["op"].to_numpy()
        out = np.empty(len(r))
        for i, name in enumerate(ds.VIDUR_GEMM_OPS):
            sel = op == name
            if sel.any():
                out[sel] = m.gemm(n[sel], *m.layer_gemms[i])[0]
        sel = op == "elementwise"
        out[sel] = m.elementwise(n[sel])[0]
        pred[idx] = out
    return pred


def predict_allreduce(comm: CommParams, nbytes: np.ndarray) -> np.ndarray:
    return comm.alpha_s + nbytes / comm.bytes_per_s


def predict_own(dev: DeviceParams, own: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """Predicted times of the own prefill, decode and mixed rows on ``dev.gpu`` (graph
    engine)."""
    spec = build_spec("llama-3-8b", dev.gpu, 1, "nvme-gen4")
    m = IterationModel(spec, dev, "graph")
    p = own["prefill"]
    new, cached, b = (p[c].to_numpy(float) for c in ("new_tokens", "cached_tokens", "batch"))
    out = {"prefill": m.prefill(b, new + cached, cached).time_s}
    d = own["decode"]
    out["decode"] = m.decode(d["batch"].to_numpy(float), d["context"].to_numpy(float)).time_s
    x = own["mixed"]
    n, c, B, ctx = (x[k].to_numpy(float) for k in ("new_tokens", "cached_tokens",
                                                   "decode_batch", "context"))
    out["mixed"] = m.iteration(n + B, 1 + B, n * (c + (n + 1) / 2) + B * ctx,
                               c + n + B * ctx, n).time_s
    return out


def predict_splitwise_rows(dev: DeviceParams, rows: pd.DataFrame):
    """(TTFT, TPOT) predictions for splitwise-sim rows of one GPU, splitwise engine."""
    cat = load_catalog()
    ttft = np.empty(len(rows))
    tpot = np.empty(len(rows))
    for (model, tp), idx in rows.groupby(["model", "tp"]).indices.items():
        spec = build_spec(model, dev.gpu, int(tp), "nvme-gen4", catalog=cat)
        m = IterationModel(spec, dev, "splitwise")
        r = rows.iloc[idx]
        ttft[idx] = m.prefill(r["batch"], r["prompt"]).time_s
        tpot[idx] = m.decode(r["batch"], r["prompt"] + r["tokens"] / 2).time_s
    return ttft, tpot


# ------------------------------------------------------------------------------------------
# Parameter vectors
# ------------------------------------------------------------------------------------------
KERNEL_FIELDS = ("eta_compute", "eta_memory", "sharpness", "t_kernel_s", "elem_bytes_hidden",
                 "elem_bytes_inter", "t_elem_s")
ATTN_FIELDS = ("eta_attn_prefill", "eta_attn_decode")
ENGINE_FIELDS = ("t_iteration_s", "t_layer_s", "t_layer_tp_s", "kernel_scale", "ar_scale",
                 "elem_scale")
# the splitwise engine: its own overheads, all-reduce and activation traffic, GEMM roofline
SPLITWISE_FIELDS = ("t_iteration_s", "t_layer_s", "t_layer_tp_s", "kernel_scale", "ar_scale",
                    "elem_scale", "t_quad_s")
# bounds (in the parameter's own units); efficiencies may not exceed the datasheet peak
BOUNDS = {"eta_compute": (0.05, 1.0), "eta_memory": (0.05, 1.0), "sharpness": (1.0, 12.0),
          "t_kernel_s": (1e-7, 1e-4), "elem_bytes_hidden": (0.5, 200.0),
          "elem_bytes_inter": (0.1, 100.0), "t_elem_s": (1e-7, 2e-4),
          "eta_attn_prefill": (0.02, 1.0), "eta_attn_decode": (0.02, 1.0),
          "t_iteration_s": (1e-9, 0.1), "t_layer_s": (1e-11, 2e-3), "t_layer_tp_s": (1e-9, 1e-3),
          "kernel_scale": (0.5, 4.0), "ar_scale": (0.1, 20.0), "elem_scale": (0.5, 50.0),
          "t_quad_s": (1e-16, 1e-8)}


def _pack(values: dict, names) -> np.ndarray:
    return np.log([values[n] for n in names])


def _bounds(names):
    lo = np.log([BOUNDS[n][0] for n in names])
    hi = np.log([BOUNDS[n][1] for n in names])
    return lo, hi


def _clip_start(x0, names):
    lo, hi = _bounds(names)
    return np.clip(x0, lo + 1e-9, hi - 1e-9)


def _weighted(res_by_set: list[np.ndarray]) -> np.ndarray:
    # each data set contributes the same total weight, whatever its row count
    return np.concatenate([r / np.sqrt(max(len(r), 1)) for r in res_by_set if len(r)])


def _with(dev: DeviceParams, kernel: dict | None = None, engines: dict | None = None,
          comm=None) -> DeviceParams:
    k = replace(dev.kernel, **kernel) if kernel else dev.kernel
    e = dict(dev.engines)
    for name, vals in (engines or {}).items():
        e[name] = replace(e[name], **vals)
    return replace(dev, kernel=k, engines=e, comm=comm if comm is not None else dev.comm)


def _logres(pred, meas):
    return np.log(np.maximum(pred, 1e-12) / meas)


# ------------------------------------------------------------------------------------------
def fit_allreduce(ar: pd.DataFrame, train: np.ndarray) -> dict[str, dict[int, CommParams]]:
    out = {}
    for (gpu, tp), g in ar[train].groupby(["gpu", "tp"]):
        b, t = g["bytes"].to_numpy(), g["time_s"].to_numpy()

        def res(x):
            return _logres(np.exp(x[0]) + b / np.exp(x[1]), t)

        x0 = np.log([t.min(), (b.max() - b.min()) / max(t.max() - t.min(), 1e-9)])
        sol = least_squares(res, x0, method="trf", x_scale="jac")
        out.setdefault(gpu, {})[int(tp)] = CommParams(float(np.exp(sol.x[0])),
                                                      float(np.exp(sol.x[1])))
    return out


def fit_kernels(dev: DeviceParams, vidur: pd.DataFrame, own: dict | None,
                own_train: dict | None) -> DeviceParams:
    """Stage B for one GPU."""
    names = list(KERNEL_FIELDS)
    eng_names = []
    if own is not None:
        names += list(ATTN_FIELDS)
        eng_names = ["t_iteration_s", "t_layer_s"]
    meas_v = vidur["time_s"].to_numpy()
    start = {**{n: getattr(dev.kernel, n) for n in KERNEL_FIELDS + ATTN_FIELDS},
             **{n: getattr(dev.engines["graph"], n) for n in ENGINE_FIELDS}}
    allnames = names + eng_names

    def build(x):
        v = dict(zip(allnames, np.exp(x)))
        kern = {n: v[n] for n in names}
        eng = {"graph": {n: v[n] for n in eng_names}} if eng_names else None
        return _with(dev, kern, eng)

    def res(x):
        d = build(x)
        sets = []
        pv = predict_vidur(d, vidur)
        for op in ds.VIDUR_GEMM_OPS + ("elementwise",):
            sel = (vidur["op"] == op).to_numpy()
            sets.append(_logres(pv[sel], meas_v[sel]))
        if own is not None:
            po = predict_own(d, own)
            for k in ("prefill", "decode", "mixed"):
                tr = own_train[k]
                sets.append(_logres(po[k][tr], own[k]["time_s"].to_numpy()[tr]))
        return _weighted(sets)

    x0 = _clip_start(_pack(start, allnames), allnames)
    sol = least_squares(res, x0, bounds=_bounds(allnames), method="trf", x_scale="jac",
                        max_nfev=400)
    return build(sol.x)


def fit_splitwise_engine(dev: DeviceParams, rows: pd.DataFrame,
                         with_attention: bool) -> DeviceParams:
    """Stage C for one GPU (rows: its splitwise training rows, physically possible only)."""
    eng_names = list(SPLITWISE_FIELDS)
    att_names = list(ATTN_FIELDS) if with_attention else []
    allnames = eng_names + att_names
    e = dev.engines["splitwise"]
    start = {**{n: getattr(e, n) for n in ENGINE_FIELDS}, "t_quad_s": 1e-12,
             **{n: getattr(dev.kernel, n) for n in ATTN_FIELDS}}
    ttft_m, tpot_m = rows["ttft_s"].to_numpy(), rows["tpot_s"].to_numpy()

    def build(x):
        v = dict(zip(allnames, np.exp(x)))
        kern = {n: v[n] for n in att_names} or None
        return _with(dev, kern, {"splitwise": {n: v[n] for n in eng_names}})

    def res(x):
        p_ttft, p_tpot = predict_splitwise_rows(build(x), rows)
        return _weighted([_logres(p_ttft, ttft_m), _logres(p_tpot, tpot_m)])

    x0 = _clip_start(_pack(start, allnames), allnames)
    sol = least_squares(res, x0, bounds=_bounds(allnames), method="trf", x_scale="jac",
                        max_nfev=400)
    return build(sol.x)


def fit_power(dev: DeviceParams, power: pd.DataFrame, idle_w: float, tdp_w: float
              ) -> PowerParams:
    """w_c, w_m by least squares on the measured busy phases:
    P = idle + (TDP − idle) · min(1, w_c f/t + w_m b/t), t the measured iteration time."""
    spec = build_spec("llama-3-8b", dev.gpu, 1, "nvme-gen4")
    m = IterationModel(spec, dev, "graph")
    busy = power[power["phase"] != "idle_loaded"]
    f, b = [], []
    for r in busy.itertuples():
        c = m.prefill(r.batch, r.tokens) if r.phase == "prefill" else m.decode(r.batch, r.context)
        f.append(float(np.asarray(c.flop_time_s).reshape(-1)[0]))
        b.append(float(np.asarray(c.byte_time_s).reshape(-1)[0]))
    t = busy["iteration_s"].to_numpy(float)
    uc, um = np.array(f) / t, np.array(b) / t
    meas = busy["mean_power_w"].to_numpy(float)

    def res(x):
        load = np.minimum(1.0, x[0] * uc + x[1] * um)
        return (idle_w + (tdp_w - idle_w) * load - meas) / meas

    d = derived_power_params()
    sol = least_squares(res, [d.w_compute, d.w_memory], bounds=([0, 0], [10, 10]))
    return PowerParams(float(sol.x[0]), float(sol.x[1]),
                       "fitted on greencache's own H100 power phases (NVML energy counter)")


# ------------------------------------------------------------------------------------------
def load_all():
    """Every measured data set with its held-out mask."""
    sw = ds.load_splitwise()
    vidur = ds.load_vidur_mlp()
    ar = ds.load_vidur_allreduce()
    own = ds.load_own_h100()
    masks = {
        "splitwise": held_out(sw[["gpu", "tp", "batch", "prompt", "tokens"]], ["gpu", "tp"]),
        "vidur": held_out(vidur[["gpu", "model", "tp", "tokens"]], ["gpu", "model", "tp"]),
        "allreduce": held_out(ar[["gpu", "tp", "bytes"]], ["gpu", "tp"]),
        "own_prefill": held_out(own["prefill"][["batch", "new_tokens", "cached_tokens"]],
                                ["cached_tokens"]),
        "own_decode": held_out(own["decode"][["batch", "context", "mode"]], ["mode"]),
        "own_mixed": held_out(own["mixed"][["new_tokens", "cached_tokens", "decode_batch"]],
                              ["new_tokens"]),
    }
    return sw, vidur, ar, own, masks


FIT_DATA_DIRS = ("splitwise-sim", "vidur", ds.OWN_H100)


def measured_inputs() -> dict:
    """sha256 of every measured file the fit reads (validation-only data sets excluded)."""
    root = ds.measured_dir()
    files = sorted(p for d in FIT_DATA_DIRS for p in (root / d).rglob("*")
                   if p.is_file() and p.suffix in (".csv", ".json"))
    base = root.parent.parent
    return {str(p.relative_to(base)): {"sha256": file_sha256(p)} for p in files}


def fit_all() -> tuple[ModelParams, dict]:
    """Fit every stage; returns the parameters and the data sets with their masks."""
    cat = load_catalog()
    sw, vidur, ar, own, masks = load_all()
    prior = {k: prior_params(k, g.nvlink_gbps) for k, g in cat.gpus.items()}
    comm = fit_allreduce(ar, ~masks["allreduce"])
    peaks = {g: cat.gpu(g).bf16_tflops * 1e12 for g in sw["gpu"].unique()}
    possible = ds.physically_possible(sw, peaks, cat.model("llama-2-70b").params_b)
    own_is = {"prefill": own["prefill"]["mode"] == "graph",
              "decode": own["decode"]["mode"] == "graph",
              "mixed": own["mixed"]["mode"] == "graph"}
    own_train = {k: (~masks[f"own_{k}"] & own_is[k].to_numpy()) for k in own_is}
    devices = {}
    for gpu in ("h100-sxm", "a100-80gb"):
        dev = replace(prior[gpu], comm=comm[gpu])
        vtrain = vidur[(vidur["gpu"] == gpu).to_numpy() & ~masks["vidur"]]
        is_h100 = gpu == "h100-sxm"
        dev = fit_kernels(dev, vtrain, own if is_h100 else None, own_train if is_h100 else None)
        strain = sw[(sw["gpu"] == gpu).to_numpy() & ~masks["splitwise"] & possible]
        if not is_h100:
            # no A100 attention measurements: take the H100's efficiencies (fractions of the
            # A100's own peaks); splitwise's short contexts cannot separate them from overhead
            h = devices["h100-sxm"].kernel
            dev = _with(dev, {n: getattr(h, n) for n in ATTN_FIELDS})
        dev = fit_splitwise_engine(dev, strain, with_attention=False)
        devices[gpu] = replace(dev, source=FIT_METHOD)
    h = devices["h100-sxm"]
    devices["a100-80gb"] = replace(
        devices["a100-80gb"],
        engines={**devices["a100-80gb"].engines, "graph": h.engines["graph"]},
        notes=("attention efficiencies and the graph engine's overhead taken from the H100 fit "
               "(no A100 attention or engine-overhead measurements)",))
    devices["h200"] = replace(
        h, gpu="h200",
        notes=("H100 parameters (same compute die, efficiencies as fractions of the peaks); "
               "checked, not fitted, on the own H200 runs",))
    g = cat.gpu("h100-sxm")
    power = fit_power(h, own["power"], g.loaded_idle_w, g.tdp_w)
    lengths, trace_inputs = length_model_from_examples()
    params = ModelParams(devices=devices, power=power, lengths=lengths, method=FIT_METHOD,
                         extra={"inputs": {**trace_inputs, **measured_inputs()},
                                "split": {"seed": SPLIT_SEED, "holdout_fraction": HOLDOUT_FRACTION}})
    data = {"splitwise": sw, "vidur": vidur, "allreduce": ar, "own": own, "masks": masks,
            "possible": possible, "validation": {"h200": ds.load_own("h200")}}
    return params, data
