"""A workload shape fitted from any trace the readers accept (``profile fit-shape``), and the
profile table built for it and cached (``plan --auto-profile``).

The fit is the one the shipped shapes come from (``scripts/fit_workload_shapes.py``): length /
mean quantiles of prompts and outputs, and each request's reuse potential (the share of its
prompt an unbounded LRU prefix cache that has seen every earlier request would serve) per
prompt-length bin. Requests in a warm-up see a cold cache and are left out of the reuse
potential: the first ``WARMUP_S`` seconds, or the first quarter of a shorter trace. A trace
with too few requests after it for the reuse bins gets a shape whose hits spread evenly.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from planner.errors import InputDataError
from planner.perf.shapes import WorkloadShape, fit_shape
from planner.workload.trace import Trace

# 90 % of the Mooncake trace's gaps between turns are shorter (docs/cache-reuse.md).
WARMUP_S = 600.0
MIN_REUSE_REQUESTS = 1000
METHOD = ("empirical quantiles (numpy linear) of length / trace mean at the probabilities of "
          "planner/perf/shapes.py; outputs of 0 tokens counted as 1 (an engine emits at least "
          "the end-of-sequence token); reuse potential = cached prompt tokens in an unbounded "
          "LRU prefix cache / prompt tokens, for requests after the warm-up (the first 600 s, "
          "or the first quarter of a shorter trace), quantiles per prompt-length quantile bin")


def warmup_s(trace: Trace) -> float:
    return min(WARMUP_S, 0.25 * trace.duration_s)


def reuse_potential(trace: Trace, seed: int = 0, reuse_model=None):
    """(each request's share of its prompt an unbounded cache serves, NaN in the warm-up;
    the prefix source: the trace's own hashes, or prefixes the reuse model synthesises)."""
    from planner.workload.eviction import simulate_cache
    from planner.workload.prepare import with_prefixes

    trace = with_prefixes(trace, seed, reuse_model)
    cached = simulate_cache(trace, np.int64(2 ** 62))
    g = np.minimum(cached / trace.input_tokens, 1.0)
    g[trace.arrival_s - trace.arrival_s[0] < warmup_s(trace)] = np.nan
    return g, trace.prefix_source


def shape_name(text: str) -> str:
    """A shape name from a file stem: lower case letters, digits and dashes."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name or "fitted"


def fit_trace_shape(trace: Trace, name: str, source: str, sha256: str, date: str | None = None,
                    seed: int = 0, reuse_model=None) -> WorkloadShape:
    """The workload shape of ``trace`` (module docstring); ``source`` and ``sha256`` name the
    file it was read from in the provenance."""
    if len(trace) < 100:
        raise InputDataError(f"{trace.name} has {len(trace)} requests; fitting a workload shape "
                             "needs at least 100")
    g, prefixes = reuse_potential(trace, seed, reuse_model)
    provenance = {"input": source, "input_sha256": sha256, "method": METHOD,
                  "reuse": ("from the trace's own prefix hashes" if prefixes == "trace" else
                            f"modelled: prefixes synthesised by the session-reuse model "
                            f"(seed {seed})"),
                  "command": f"greencache profile fit-shape {source}"}
    if date:
        provenance["date"] = date
    what = f"fitted from {source} ({len(trace):,} requests)"
    # The reuse potential is stored per prompt-length bin, the last holding 1 % of the
    # requests: below MIN_REUSE_REQUESTS after the warm-up hits are spread evenly instead.
    if np.isfinite(g).sum() >= MIN_REUSE_REQUESTS:
        try:
            return fit_shape(name, trace.input_tokens, trace.output_tokens, what, provenance, g)
        except InputDataError:
            pass        # a bin too thin (many equal prompt lengths): even hits, as below
    provenance["reuse"] = (f"not fitted: too few requests after the warm-up to spread hits by "
                           f"prompt length ({int(np.isfinite(g).sum()):,}); hits spread evenly")
    return fit_shape(name, trace.input_tokens, trace.output_tokens, what, provenance)


# --------------------------------------------------------------------------------------------
# the cache of tables built for fitted shapes
# --------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """``$GREENCACHE_CACHE``, else ``$XDG_CACHE_HOME/greencache``, else ~/.cache/greencache."""
    env = os.environ.get("GREENCACHE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "greencache"


# The grid of a fitted shape's table. Load fractions and run lengths are the shipped tables'
# (planner/perf/synth.py). Token axes take the shipped doublings (prompts from 128, outputs
# from 16 tokens) but only the span that brackets the trace's windows, extended past the
# shipped tops when a window needs it: a table for one trace need not cover every mix, and
# fewer mixes make it quicker to build. Hit rates are denser above 0.75 than the shipped
# axis: there p90 TTFT falls steeply towards a full hit, and between rows at 0.75 and 1
# the geometric reading under-predicted the simulated p90 TTFT by 21–31 % (median) at hit
# rates 0.8–0.9 (Mooncake's synthetic trace on 8 × H100); with rows at 0.875 and 0.95 by 6–7 %.
HIT_AXIS = (0.0, 0.25, 0.5, 0.75, 0.875, 0.95, 1.0)
INPUT_START = 128
OUTPUT_START = 16


def bracket(start: int, values, ceiling: float) -> tuple[int, ...]:
    """The doublings of ``start`` from the largest at or below min(values) (``start`` at
    least) to the smallest at or above max(values), at least two; none beyond the first at
    or above ``ceiling`` (the model's context)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (start, start)
    seq = [start]
    while seq[-1] < min(max(hi, start), ceiling):
        seq.append(seq[-1] * 2)
    if len(seq) == 1:
        seq.append(2 * start)
    a = max(i for i, x in enumerate(seq) if x <= max(lo, start))
    return tuple(seq[min(a, len(seq) - 2):])


def token_axes(window_inputs, window_outputs, max_context: int):
    """(mean-prompt axis, mean-output axis) of a fitted table covering the busy windows'
    means (:func:`bracket`)."""
    return (bracket(INPUT_START, window_inputs, max_context),
            bracket(OUTPUT_START, window_outputs, max_context / 2))


def _key_base(shape: WorkloadShape, model: str, gpu: str, tp: int, ssd: str) -> list:
    from planner.perf import synth
    from planner.perf.params import default_params_path, file_sha256
    from planner.perf.profile import profiles_dir

    files = [file_sha256(p) for p in (default_params_path(), profiles_dir() / "catalog.toml",
                                      profiles_dir() / "models.toml") if p.exists()]
    return [shape.digest(), model, gpu, tp, ssd, synth.MODEL_VERSION, files, synth.REQUESTS,
            synth.LOAD_AXIS, HIT_AXIS]


def table_key(base: list, inputs: tuple[int, ...], outputs: tuple[int, ...]) -> str:
    """What a cached table depends on: the shape's quantiles, the replica, the performance
    model's version and its inputs (parameter file, catalog, models), the table grid
    (``base`` from :func:`_key_base`, then the token axes)."""
    text = json.dumps([*base, list(inputs), list(outputs)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _covering(axis: tuple[int, ...], start: int, ceiling: float):
    """Every run of consecutive doublings of ``start`` (up to ``ceiling``) that contains
    ``axis``."""
    seq = [start]
    while seq[-1] < ceiling:
        seq.append(seq[-1] * 2)
    a, b = seq.index(axis[0]), seq.index(axis[-1])
    return [tuple(seq[i:j + 1]) for i in range(a + 1) for j in range(b, len(seq))]


def cached_table(shape: WorkloadShape, model: str, gpu: str, tp: int, ssd: str,
                 progress=None, window_inputs=(), window_outputs=()) -> Path:
    """The folder holding the profile table of ``shape`` for this replica whose token axes
    cover the busy windows' mean prompts and outputs (:func:`token_axes`): a cached one (the
    smallest that covers them), else synthesised into the cache (``progress(done, total)``
    while it runs)."""
    from planner.catalog import load_catalog
    from planner.perf import synth
    from planner.perf.profile import table_name

    name = f"{table_name(model, gpu, tp, ssd, shape.name)}.csv"
    context = load_catalog().model(model).max_context
    inputs, outputs = token_axes(window_inputs, window_outputs, context)
    base = _key_base(shape, model, gpu, tp, ssd)
    found = [(len(i) * len(o), table_key(base, i, o))
             for i in _covering(inputs, INPUT_START, context)
             for o in _covering(outputs, OUTPUT_START, context / 2)]
    for _, key in sorted(found):
        if (cache_dir() / "tables" / key / name).exists():
            return cache_dir() / "tables" / key
    folder = cache_dir() / "tables" / table_key(base, inputs, outputs)
    opts = synth.SynthOptions(model=model, gpu=gpu, tp=tp, ssd=ssd, shape=shape,
                              requests=synth.REQUESTS, load_axis=synth.LOAD_AXIS,
                              hit_axis=HIT_AXIS, input_axis=inputs, output_axis=outputs)
    frame, meta = synth.synthesize(opts, progress)
    synth.write_table(frame, meta, folder)
    return folder
