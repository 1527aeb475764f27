"""The points of a sweep: every combination of the axes over the base, the base itself, and
each variant over the base; each checked as a plan's options before any work runs.

A point reached in two ways (the base is also a combination of the axes, say) is one point
with both roles: it runs once and is one row of the results.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from planner.catalog import load_catalog, resolve
from planner.config import PlanOptions
from planner.errors import GreencacheError, InputDataError
from planner.grid import find_zone, looks_like_path
from planner.perf.profile import available_shapes, tables_dir
from planner.scenario import PATH_KEYS, plan_options
from planner.sweep.spec import SweepSpec


@dataclass
class Point:
    """One plan (with its replays) of the sweep."""

    options: PlanOptions
    label: str
    roles: list[str] = field(default_factory=list)     # "base", "axes", "variant"
    axes: dict = field(default_factory=dict)            # axis key -> this point's value
    variant: str = ""                                   # variant label ("" if none)
    group: str = ""                                     # variant group ("" if none)
    key: str = ""                                       # planner.sweep.keys.point_key


def show_value(value) -> str:
    """A value as a label or a table cell shows it (a file by its name)."""
    if isinstance(value, tuple):
        return ",".join(f"{x:g}" for x in value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return Path(value).name
    return str(value)


def portable(opt: PlanOptions) -> dict:
    """The options as a dict with files named by their names, the same from any folder."""
    d = opt.as_dict()
    for k in PATH_KEYS:
        if d[k] is not None:
            d[k] = Path(d[k]).name
    if looks_like_path(d["grid"]):
        d["grid"] = Path(d["grid"]).name
    return d


def axis_label(axes: dict) -> str:
    return ", ".join(f"{k}={show_value(v)}" for k, v in axes.items()) or "base"


def check_point(spec: SweepSpec, label: str, values: dict) -> PlanOptions:
    """The point's options, validated as `plan` validates them, and its files, model, GPU,
    SSD and profile tables found; anything wrong is an InputDataError naming the point."""
    where = f"sweep file {spec.path}: point {label}"
    if "trace" not in values:
        raise InputDataError(f"{where}: no trace")
    try:
        opt = plan_options(values)
        if not Path(opt.trace).is_file():
            raise InputDataError(f"trace {opt.trace} does not exist or is not a file")
        if looks_like_path(opt.grid):
            if not Path(opt.grid).is_file():
                raise InputDataError(f"grid file {opt.grid} does not exist or is not a file")
        else:
            find_zone(opt.grid)
        for key in PATH_KEYS:
            p = getattr(opt, key)
            if key not in ("trace", "profile_dir") and p is not None and not Path(p).is_file():
                raise InputDataError(f"{key} {p} does not exist or is not a file")
        catalog = load_catalog()
        catalog.model(opt.model)
        resolve(catalog, opt.gpu, opt.tp, opt.ssd, opt.levels, opt.pue)
        directory = Path(opt.profile_dir) if opt.profile_dir else tables_dir()
        if not available_shapes(opt.model, opt.gpu, opt.tp, opt.ssd, directory):
            raise InputDataError(f"no profile table for {opt.model} on {opt.tp}×{opt.gpu} with "
                                 f"{opt.ssd} in {directory}")
    except GreencacheError as e:
        # A sweep file is input data: whatever the option would be on the command line, a bad
        # value here is exit 3, naming the point.
        raise InputDataError(f"{where}: {e}") from None
    return opt


def expand(spec: SweepSpec) -> list[Point]:
    """Every point, in a fixed order: the base, the combinations of the axes (the first axis
    varying slowest), then the variants. Points with equal options merge."""
    raw: list[Point] = []
    raw.append(Point(check_point(spec, "base", spec.base), "base", ["base"]))
    names = list(spec.axes)
    for combo in itertools.product(*(spec.axes[n] for n in names)):
        axes = dict(zip(names, combo))
        label = axis_label(axes)
        raw.append(Point(check_point(spec, label, {**spec.base, **axes}), label, ["axes"],
                         axes))
    for v in spec.variants:
        values = {**spec.base, **v.values}
        if "levels" in v.values:
            values["levels"] = {**spec.base.get("levels", {}), **v.values["levels"]}
        raw.append(Point(check_point(spec, v.label, values), v.label, ["variant"],
                         variant=v.label, group=v.group))
    merged: dict[PlanOptions, Point] = {}
    for p in raw:
        if p.options in merged:
            m = merged[p.options]
            m.roles += [r for r in p.roles if r not in m.roles]
            m.axes = m.axes or p.axes
            if p.variant and not m.variant:
                m.variant, m.group = p.variant, p.group
            if m.label == "base":
                m.label = p.label
        else:
            merged[p.options] = p
    return list(merged.values())
