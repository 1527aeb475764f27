"""One-at-a-time sensitivity around the base point, for the tornado and the page.

Groups come from the variants (their ``group``); without variants, from the axes: the points
that differ from the base in that axis's option only. Each group's entries are the plan's
replayed reduction against the fixed (largest) cache, beside the base's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.scenario import OPTION_KEYS
from planner.sweep.points import Point

METRIC = "reduction_vs_max_cache_pct"


@dataclass(frozen=True)
class Entry:
    group: str
    label: str
    value: float


def base_index(points: list[Point]) -> int | None:
    return next((i for i, p in enumerate(points) if "base" in p.roles), None)


def _differs_only_in(a: dict, b: dict, field: str) -> bool:
    diff = {k for k in a if k != "levels" and a[k] != b[k]}
    diff |= {f"levels.{k}" for k in a["levels"] if a["levels"][k] != b["levels"][k]}
    # Level options (ssd_embodied …) live in the levels table.
    return diff == {field} or diff == {f"levels.{field}"}


def entries(points: list[Point], frame: pd.DataFrame) -> tuple[float | None, list[Entry]]:
    """The base's value and every sensitivity entry (failed points left out)."""
    b = base_index(points)
    if b is None or frame.loc[b, "status"] != "ok":
        return None, []
    base_value = float(frame.loc[b, METRIC])
    ok = frame["status"] == "ok"
    out: list[Entry] = []
    if any(p.variant for p in points):
        for i, p in enumerate(points):
            if p.variant and i != b and ok[i]:
                out.append(Entry(p.group, p.variant, float(frame.loc[i, METRIC])))
        return base_value, out
    base = points[b].options.as_dict()
    axes = list(dict.fromkeys(k for p in points for k in p.axes))
    for key in axes:
        field = OPTION_KEYS.get(key, key)
        for i, p in enumerate(points):
            if i != b and ok[i] and _differs_only_in(p.options.as_dict(), base, field):
                out.append(Entry(key, p.label, float(frame.loc[i, METRIC])))
    return base_value, [e for e in out if np.isfinite(e.value)]


def ranges(base_value: float, items: list[Entry]) -> list[tuple[str, float, float, str, str]]:
    """Per group: (group, lowest, highest, label of lowest, label of highest), the widest
    swing from the base first."""
    groups: dict[str, list[Entry]] = {}
    for e in items:
        groups.setdefault(e.group, []).append(e)
    out = []
    for g, es in groups.items():
        lo = min(es, key=lambda e: e.value)
        hi = max(es, key=lambda e: e.value)
        out.append((g, min(lo.value, base_value), max(hi.value, base_value), lo.label, hi.label))
    return sorted(out, key=lambda r: -(r[2] - r[1]))
