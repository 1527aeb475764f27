"""Session-reuse model: synthesised prefix blocks for traces that record none (Azure).

The model is generative and causal. Requests are taken in arrival order; request ``i`` with
``L_i`` prompt tokens gets ``n_i = ceil(L_i / B)`` blocks of ``B`` tokens (as Mooncake's
``hash_ids``) built as follows. Every random draw ``u ∈ [0, 1)`` is a counter-based hash of
(seed, request index, draw number), so the result does not depend on how the trace is chunked.

1. Continuation. With probability ``p_cont(L_i)`` (fitted per prompt-length bin) the request is
   the next turn of an earlier conversation. Its parent is looked for around
   ``t_i - g``, with the gap ``g`` drawn from the fitted distribution of gaps between turns:
   among the ``K`` earlier requests nearest that time (alternately at or before it and after
   it, so realised gaps centre on drawn ones), the *open* ones (not continued yet: turns
   form chains) whose full blocks reach past their system prompt, it takes the one whose prompt
   share ``L_parent / L_i`` is closest (in log) to a share ``ρ`` drawn from the fitted
   distribution. The child's prompt then starts with ``r = floor(λ · m)`` of the parent's
   blocks, where ``m = min(floor(L_parent / B), floor(L_i / B))`` is the number of full blocks
   both hold (a partial last block is never shared: its hash changes as the conversation grows)
   and ``λ ∈ (0, 1]`` is drawn from the fitted distribution of the kept fraction (mostly 1; less
   when a conversation's context was cut); ``r`` keeps at least one block past the system
   prompt. The rest are new blocks. When no candidate qualifies the request opens a new session
   instead.
2. New session. With probability ``p_sys`` a prompt of at least ``min_prompt_tokens`` tokens
   starts with a shared system prompt, prompt ``k`` with probability ``share_k``: its ``s_k``
   blocks have the same ids in every request that carries it. The other blocks are new.

The parameters are fitted on the Mooncake conversation trace (``reuse_fit.py``) and shipped as
``profiles/reuse/mooncake-conversation.json``. Synthesis is one O(n·K) numba pass over the
requests and can be fed in chunks (``PrefixSynthesizer``), carrying only the requests that a
later parent search can still reach.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path

import numba
import numpy as np

from planner.errors import InputDataError, UsageError
from planner.input_files import quote, read_text
from planner.paths import profiles_dir
from planner.workload.trace import PREFIX_MODELLED, Trace, replace_fields

DEFAULT_PROFILE = "mooncake-conversation.json"
SCHEMA = 1

# Synthesised system-prompt blocks are numbered from 0 with a stride per prompt (its longest
# length), fresh blocks from NEW_BLOCK_BASE on, so the two never collide.
NEW_BLOCK_BASE = 1 << 40


@dataclass(frozen=True)
class ReuseParams:
    """Fitted parameters of the session-reuse model (module docstring); all lists are plain.

    ``length_edges_tokens`` (ascending, first 0) bins prompt lengths; ``continue_prob[b]`` is the
    probability that a prompt in bin ``b`` continues a session. ``gap_levels`` / ``gap_s`` and
    ``share_levels`` / ``share`` are quantile functions (levels ascending from 0 to 1) of the gap
    between turns (s) and of ``L_parent / L_child``, ``kept_levels`` / ``kept`` that of the kept
    fraction ``λ`` of the common full blocks. ``system_prompt_prob`` is the chance that a
    new session of at least ``min_prompt_tokens`` carries a shared system prompt, which is
    prompt ``k`` (``system_prompt_blocks[k]`` blocks) with probability ``system_prompt_share[k]``.
    ``candidates`` is K of the parent search. ``provenance``, ``statistics`` and ``fit_error``
    document the fit and are not used by the synthesis.
    """

    block_tokens: int
    length_edges_tokens: tuple[int, ...]
    continue_prob: tuple[float, ...]
    gap_levels: tuple[float, ...]
    gap_s: tuple[float, ...]
    share_levels: tuple[float, ...]
    share: tuple[float, ...]
    kept_levels: tuple[float, ...]
    kept: tuple[float, ...]
    system_prompt_prob: float
    min_prompt_tokens: int
    system_prompt_share: tuple[float, ...]
    system_prompt_blocks: tuple[int, ...]
    candidates: int = 64
    provenance: dict = field(default_factory=dict, compare=False)
    statistics: dict = field(default_factory=dict, compare=False)
    fit_error: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        def bad(msg):
            raise InputDataError(f"reuse model parameters: {msg}")

        if self.block_tokens < 1:
            bad("block_tokens must be ≥ 1")
        e = self.length_edges_tokens
        if len(e) < 1 or e[0] != 0 or any(b <= a for a, b in zip(e, e[1:])):
            bad("length_edges_tokens must start at 0 and increase")
        if len(self.continue_prob) != len(e) or not all(0 <= p <= 1 for p in self.continue_prob):
            bad("continue_prob needs one probability in [0, 1] per length bin")
        for name, attr in (("gap", "gap_s"), ("share", "share"), ("kept", "kept")):
            levels = getattr(self, f"{name}_levels")
            values = getattr(self, attr)
            if len(levels) < 2 or len(levels) != len(values) or levels[0] != 0 or \
                    levels[-1] != 1 or any(b <= a for a, b in zip(levels, levels[1:])):
                bad(f"{name} quantile levels must rise from 0 to 1, one value each")
            if any(b < a for a, b in zip(values, values[1:])) or values[0] < 0:
                bad(f"{name} quantiles must be ≥ 0 and non-decreasing")
        if self.share[0] <= 0:
            bad("prompt shares must be positive")
        if self.kept[0] <= 0 or self.kept[-1] > 1:
            bad("kept fractions must be in (0, 1]")
        if not 0 <= self.system_prompt_prob <= 1:
            bad("system_prompt_prob must be in [0, 1]")
        if len(self.system_prompt_share) != len(self.system_prompt_blocks):
            bad("one block count per system prompt")
        if self.system_prompt_share and abs(sum(self.system_prompt_share) - 1) > 1e-6:
            bad("system prompt shares must sum to 1")
        if any(s < 1 for s in self.system_prompt_blocks):
            bad("a system prompt has at least one block")
        if self.candidates < 1:
            bad("candidates must be ≥ 1")

    @property
    def max_gap_s(self) -> float:
        return float(self.gap_s[-1])

    def to_json(self) -> str:
        """Stable JSON (sorted keys, 10 significant digits, one line per list of numbers) so
        that a refit on the same inputs is byte-identical."""
        return _dump({"schema": SCHEMA, **_plain(asdict(self))}, 0) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "reuse model") -> ReuseParams:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputDataError(f"{where} is not valid JSON ({e.msg}, line {e.lineno})") from None
        except RecursionError:
            raise InputDataError(f"{where}: JSON nested too deeply") from None
        if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
            raise InputDataError(f"{where}: expected a reuse model with schema {SCHEMA}")
        raw.pop("schema")
        names = set(cls.__dataclass_fields__)
        missing = [n for n, f in cls.__dataclass_fields__.items() if n not in raw
                   and f.default is MISSING and f.default_factory is MISSING]
        if missing:
            raise InputDataError(f"{where}: missing field(s) {', '.join(sorted(missing))}")
        unknown = set(raw) - names
        if unknown:
            raise InputDataError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        for k, v in raw.items():
            if isinstance(v, list):
                raw[k] = tuple(v)
        try:
            return cls(**raw)
        except (TypeError, ValueError) as e:
            raise InputDataError(f"{where}: {quote(str(e))}") from None


def _dump(value, indent: int) -> str:
    """JSON with nested objects indented and lists of scalars kept on one line."""
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{json.dumps(k)}: {_dump(value[k], indent + 1)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [pad + _dump(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(value, ensure_ascii=False)


def _plain(value):
    """Tuples → lists and floats rounded to 10 significant digits, recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def default_params_path() -> Path:
    return profiles_dir() / "reuse" / DEFAULT_PROFILE


def load_reuse_params(path: str | Path | None = None) -> ReuseParams:
    """The shipped Mooncake-fitted parameters, or those in ``path``."""
    path = Path(path) if path else default_params_path()
    if not path.exists():
        raise InputDataError(f"reuse model file {path} does not exist")
    return ReuseParams.from_json(read_text(path, "reuse model file"), where=str(path))


# ------------------------------------------------------------------------------------------
# synthesis kernel
# ------------------------------------------------------------------------------------------

@numba.njit(cache=True)
def _uniform(seed, index, draw):
    """SplitMix64 of (seed, request index, draw number) → float in [0, 1)."""
    z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(index) * np.uint64(8) \
        + np.uint64(draw) + np.uint64(0x632BE59BD9B4E019)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def _last_at_or_before(arrival, t, hi):
    """The last index ≤ ``hi`` whose arrival is ≤ ``t`` (−1 if none): searched back from
    ``hi`` (a parent is near its child), as ``searchsorted(side="right") − 1`` capped at hi."""
    if hi < 0 or arrival[hi] <= t:
        return hi
    step = 1
    lo = hi - 1
    while lo >= 0 and arrival[lo] > t:     # arrival[hi] > t throughout
        hi = lo
        step *= 2
        lo = hi - step
    if lo < 0:
        lo = -1
    # arrival[lo] ≤ t (or lo = −1) and arrival[hi] > t: bisect between them
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if arrival[mid] <= t:
            lo = mid
        else:
            hi = mid
    return lo


@numba.njit(cache=True)
def _synthesise(arrival, input_tokens, full, offsets, ids, is_open, sys_len, session, start,
                edges, p_cont, gap_levels, gap_s, share_levels, share, kept_levels, kept,
                sys_prob, sys_min_tokens,
                sys_cum, sys_blocks, sys_first, block_tokens, candidates, seed, base_index,
                counters):
    """Fill ``ids`` (CSR by ``offsets``) for requests ``start..n-1``; earlier ones are history.

    ``full[i]``: request ``i``'s full blocks, ``input_tokens[i] // block_tokens``; block ``q``
    of system prompt ``p`` has id ``sys_first[p] + q``.
    ``counters[0]`` is the next fresh block id, ``counters[1]`` the next session id.
    """
    n = arrival.shape[0]
    for i in range(start, n):
        g = base_index + (i - start)
        L = input_tokens[i]
        a = offsets[i]
        nb = offsets[i + 1] - a
        full_i = full[i]
        b = np.searchsorted(edges, L, side="right") - 1
        parent = -1
        if _uniform(seed, g, 0) < p_cont[b]:
            gap = np.interp(_uniform(seed, g, 1), gap_levels, gap_s)
            rho = np.log(np.interp(_uniform(seed, g, 2), share_levels, share))
            j0 = _last_at_or_before(arrival, arrival[i] - gap, i - 1)
            # Examine requests alternately at and before / after the target time, so that the
            # realised gaps centre on the drawn ones.
            lo = j0
            hi = j0 + 1
            best = np.inf
            for step in range(candidates):
                take_lo = lo >= 0 and (step % 2 == 0 or hi > i - 1)
                if take_lo:
                    j = lo
                    lo -= 1
                elif hi <= i - 1:
                    j = hi
                    hi += 1
                else:
                    break
                if is_open[j]:
                    r = min(full[j], full_i)
                    if r > sys_len[j]:
                        score = abs(np.log(input_tokens[j] / L) - rho)
                        if score < best:
                            best = score
                            parent = j
        k = 0
        if parent >= 0:
            m = min(input_tokens[parent] // block_tokens, full_i)
            lam = np.interp(_uniform(seed, g, 5), kept_levels, kept)
            r = int(np.floor(lam * m))
            if r < sys_len[parent] + 1:
                r = sys_len[parent] + 1
            pa = offsets[parent]
            for q in range(r):
                ids[a + q] = ids[pa + q]
            k = r
            is_open[parent] = False
            session[i] = session[parent]
            sys_len[i] = sys_len[parent]
        else:
            session[i] = counters[1]
            counters[1] += 1
            sys_len[i] = 0
            if sys_cum.shape[0] > 0 and L >= sys_min_tokens and _uniform(seed, g, 3) < sys_prob:
                p = np.searchsorted(sys_cum, _uniform(seed, g, 4), side="right")
                if p >= sys_cum.shape[0]:
                    p = sys_cum.shape[0] - 1
                s = sys_blocks[p]
                if s <= full_i:
                    for q in range(s):
                        ids[a + q] = sys_first[p] + q
                    k = s
                    sys_len[i] = s
        for q in range(k, nb):
            ids[a + q] = counters[0]
            counters[0] += 1
        is_open[i] = True


class PrefixSynthesizer:
    """Streaming synthesis: feed requests in arrival order, chunk by chunk.

    Feeding a trace in any number of chunks gives exactly the blocks and sessions of one
    ``feed`` of the whole trace. Between chunks it keeps the requests a later parent search can
    still reach: those within the longest gap of the last arrival, plus ``K`` before them.
    """

    def __init__(self, params: ReuseParams, seed: int = 0, compact: bool = False):
        if not (isinstance(seed, (int, np.integer)) and 0 <= int(seed) < 2**63):
            raise UsageError(f"seed must be an integer in [0, 2**63), got {seed!r}")
        self.params = params
        self.seed = int(seed)
        p = params
        self._edges = np.asarray(p.length_edges_tokens, dtype=np.int64)
        self._p_cont = np.asarray(p.continue_prob, dtype=np.float64)
        self._gap_levels = np.asarray(p.gap_levels, dtype=np.float64)
        self._gap = np.asarray(p.gap_s, dtype=np.float64)
        self._share_levels = np.asarray(p.share_levels, dtype=np.float64)
        self._share = np.asarray(p.share, dtype=np.float64)
        self._kept_levels = np.asarray(p.kept_levels, dtype=np.float64)
        self._kept = np.asarray(p.kept, dtype=np.float64)
        shares = np.asarray(p.system_prompt_share, dtype=np.float64)
        self._sys_cum = np.cumsum(shares) if len(shares) else np.zeros(0)
        self._sys_blocks = np.asarray(p.system_prompt_blocks, dtype=np.int64)
        if compact:
            # The same blocks under other numbers: system prompts back to back from 0, fresh
            # blocks right after them.
            self._sys_first = np.concatenate(([0], np.cumsum(self._sys_blocks)[:-1])) \
                .astype(np.int64)
            self.first_fresh = int(self._sys_blocks.sum())
        else:
            stride = int(self._sys_blocks.max(initial=0)) + 1
            self._sys_first = stride * np.arange(len(self._sys_blocks), dtype=np.int64)
            self.first_fresh = NEW_BLOCK_BASE
        self._counters = np.array([self.first_fresh, 0], dtype=np.int64)
        self._index = 0
        # history: the tail of earlier chunks a parent search may still reach
        self._h_arrival = np.zeros(0)
        self._h_input = np.zeros(0, dtype=np.int64)
        self._h_offsets = np.zeros(1, dtype=np.int64)
        self._h_ids = np.zeros(0, dtype=np.int64)
        self._h_open = np.zeros(0, dtype=np.bool_)
        self._h_sys = np.zeros(0, dtype=np.int64)
        self._h_session = np.zeros(0, dtype=np.int64)

    def feed(self, arrival_s, input_tokens):
        """Blocks for the next requests: (block_offsets, block_ids, session_ids) of the chunk."""
        arrival = np.asarray(arrival_s, dtype=np.float64)
        inp = np.asarray(input_tokens, dtype=np.int64)
        if arrival.shape != inp.shape or arrival.ndim != 1:
            raise ValueError("arrival_s and input_tokens must be 1-D and of equal length")
        if len(arrival) == 0:
            return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), \
                np.zeros(0, dtype=np.int64)
        if np.any(np.diff(arrival) < 0) or (len(self._h_arrival) and
                                            arrival[0] < self._h_arrival[-1]):
            raise ValueError("requests must be fed in arrival order")
        if np.any(inp < 1):
            raise InputDataError("every request needs at least one prompt token")
        bt = self.params.block_tokens
        nb = -(-inp // bt)
        h = len(self._h_arrival)
        all_arrival = np.concatenate((self._h_arrival, arrival))
        all_input = np.concatenate((self._h_input, inp))
        offsets = np.concatenate((self._h_offsets,
                                  self._h_offsets[-1] + np.cumsum(nb, dtype=np.int64)))
        ids = np.empty(int(offsets[-1]), dtype=np.int64)
        ids[: len(self._h_ids)] = self._h_ids
        is_open = np.concatenate((self._h_open, np.zeros(len(arrival), dtype=np.bool_)))
        sys_len = np.concatenate((self._h_sys, np.zeros(len(arrival), dtype=np.int64)))
        session = np.concatenate((self._h_session, np.zeros(len(arrival), dtype=np.int64)))
        _synthesise(all_arrival, all_input, all_input // bt, offsets, ids, is_open, sys_len,
                    session, h,
                    self._edges, self._p_cont, self._gap_levels, self._gap, self._share_levels,
                    self._share, self._kept_levels, self._kept,
                    float(self.params.system_prompt_prob),
                    int(self.params.min_prompt_tokens), self._sys_cum, self._sys_blocks,
                    self._sys_first, bt, int(self.params.candidates), np.uint64(self.seed),
                    self._index, self._counters)
        self._index += len(arrival)
        chunk_offsets = offsets[h:] - offsets[h]
        chunk_ids = ids[offsets[h]:]
        chunk_session = session[h:]
        # Keep what a later search can reach: from K requests before the first one within the
        # longest gap of the last arrival (later targets are never earlier than that).
        reach = np.searchsorted(all_arrival, all_arrival[-1] - self.params.max_gap_s,
                                side="right") - 1
        keep = max(0, int(reach) - int(self.params.candidates) - 1)
        self._h_arrival = all_arrival[keep:]
        self._h_input = all_input[keep:]
        self._h_offsets = offsets[keep:] - offsets[keep]
        self._h_ids = ids[offsets[keep]:]
        self._h_open = is_open[keep:]
        self._h_sys = sys_len[keep:]
        self._h_session = session[keep:]
        return chunk_offsets, chunk_ids, chunk_session


# Requests fed to the synthesiser at once by :func:`synthesize_prefixes`.
SYNTH_CHUNK = 1 << 20


def synthesize_prefixes(trace: Trace, *, seed: int = 0, params: ReuseParams | None = None,
                        replace: bool = False, sessions: bool = True,
                        compact: bool = False) -> Trace:
    """The same requests with synthesised prefix blocks (``prefix_source="modelled"``).

    ``params`` defaults to the shipped fit on the Mooncake conversation trace. The result has
    ``block_tokens = params.block_tokens`` and ``session_ids`` filled; the same trace, seed and
    parameters always give the same blocks. A trace that records prefixes keeps them unless
    ``replace`` is true (used to check the model against the trace it was fitted on).
    ``sessions`` false: ``session_ids`` stays unset (only a replay's routing reads them).
    ``compact``: the same blocks under other numbers, system prompts' from 0 and fresh ones
    right after them (not from 2**40), in 32 bits when they fit: for passes that read blocks for
    identity only (exact LRU and LCS curves; not a sampled curve, which hashes the ids, nor a
    written trace). When every system prompt occurs they are 0..U-1 already (dense_codes).
    """
    if trace.has_prefixes and not replace:
        raise UsageError(f"trace {trace.name} already records prefix blocks; the reuse model is "
                         "for traces without them")
    if len(trace) == 0:
        raise InputDataError(f"trace {trace.name} has no requests")
    params = params or load_reuse_params()
    synth = PrefixSynthesizer(params, seed, compact)
    # Fed a chunk at a time into arrays allocated once (chunks give the blocks of one feed):
    # one feed of a 27M-request week would copy its columns and hold per-request scratch.
    n = len(trace)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(-(-np.asarray(trace.input_tokens, dtype=np.int64) // params.block_tokens),
              out=offsets[1:])
    narrow = compact and synth.first_fresh + int(offsets[-1]) < 2**31
    ids = np.empty(int(offsets[-1]), dtype=np.int32 if narrow else np.int64)
    session_ids = np.empty(n, dtype=np.int64) if sessions else None
    for a in range(0, n, SYNTH_CHUNK):
        b = min(a + SYNTH_CHUNK, n)
        _, chunk_ids, chunk_sessions = synth.feed(trace.arrival_s[a:b], trace.input_tokens[a:b])
        ids[offsets[a]:offsets[b]] = chunk_ids
        if sessions:
            session_ids[a:b] = chunk_sessions
    source = params.provenance.get("input", "a multi-turn trace")
    note = (f"prefix blocks synthesised by the session-reuse model fitted on {source} "
            f"(seed {seed}); hit rates from them are modelled")
    return replace_fields(trace, block_tokens=params.block_tokens, block_offsets=offsets,
                          block_ids=ids, prefix_source=PREFIX_MODELLED, session_ids=session_ids,
                          notes=trace.notes + (note,))


def quantile_function(values, levels) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Empirical quantiles of ``values`` at ``levels`` (linear interpolation), as tuples."""
    q = np.quantile(np.asarray(values, dtype=np.float64), levels)
    q = np.maximum.accumulate(q)
    return tuple(float(x) for x in levels), tuple(float(x) for x in q)
