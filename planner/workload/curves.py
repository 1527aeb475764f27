"""The hit-curve record: per-window KV-cache hit rates for a list of cache capacities.

Computed by :mod:`planner.workload.hitcurve` (re-exported there), read back from a plan's
``window_inputs.json``; kept apart from the simulations so that reading a plan's record does
not load the compiled cache kernels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class HitCurves:
    """Hit rates per window (rows) and cache capacity (columns).

    ``token_hit[t, c]`` is the fraction of window ``t``'s prompt tokens served from a cache of
    ``capacities_tokens[c]`` tokens; ``request_hit[t, c]`` the fraction of its requests with at
    least one cached block. ``source`` says where the numbers come from; ``modelled`` is true
    when they do not come from prefix hashes recorded in the trace itself.

    ``grown_token_hit[t, i, c]`` (with ``warmup=True``): the same fraction when the cache ran
    ``capacities_tokens[i]`` in window ``t − 1`` and ``capacities_tokens[c]`` in window ``t``
    (:mod:`planner.workload.warmup`); equal to ``token_hit[t, c]`` wherever ``i`` ≥ ``c``.

    ``warm_share[t]`` (only where the profile table's workload shape was fitted from this very
    trace): the window's reusable token share (what an unbounded cache that has seen every
    earlier request serves) over the trace's warm one (the shape's, measured after its
    warm-up), at most 1. A window below 1 is colder than the trace once warm: that share of its
    requests is read as reusing like the shape, the rest as finding nothing cached
    (:func:`planner.perf.mixture.lookup_buckets`). None: every window is read at its hit rate.
    """

    capacities_tokens: np.ndarray
    token_hit: np.ndarray
    request_hit: np.ndarray
    source: str
    modelled: bool
    notes: tuple[str, ...] = field(default_factory=tuple)
    grown_token_hit: np.ndarray | None = None
    grown_request_hit: np.ndarray | None = None
    warm_share: np.ndarray | None = None

    def __post_init__(self):
        w, c = self.token_hit.shape
        if len(self.capacities_tokens) != c or self.request_hit.shape != (w, c):
            raise ValueError("hit-curve arrays disagree in shape")
        if self.grown_token_hit is not None and (
                self.grown_token_hit.shape != (w, c, c)
                or self.grown_request_hit is None
                or self.grown_request_hit.shape != (w, c, c)):
            raise ValueError("warm-up arrays must be windows × capacities × capacities")
        if self.warm_share is not None and (
                np.shape(self.warm_share) != (w,)
                or not np.all((np.asarray(self.warm_share) >= 0)
                              & (np.asarray(self.warm_share) <= 1))):
            raise ValueError("warm shares must be one value in [0, 1] per window")
