"""Comparing regenerated data with the shipped files on any CPU.

Least squares, quantiles, sums and libm calls differ between CPUs and BLAS builds in the last
units of a double (vector widths change summation order; vectorised exp and log round
differently), and a refit can amplify that along a flat valley of its loss. So a regenerated
file is compared with the shipped one by structure, strings and integers exactly, and floats to
a relative tolerance chosen per quantity; the byte-for-byte check belongs to the platform that
made the files (`make check-data`).
"""

from __future__ import annotations

import math


def assert_close(again, shipped, rel: float, abs_: float = 0.0, path: str = "") -> None:
    """Same structure, keys and strings; numbers within ``rel`` (relative) or ``abs_``."""
    if isinstance(shipped, dict):
        assert isinstance(again, dict) and again.keys() == shipped.keys(), path
        for key in shipped:
            assert_close(again[key], shipped[key], rel, abs_, f"{path}.{key}")
    elif isinstance(shipped, (list, tuple)):
        assert isinstance(again, (list, tuple)) and len(again) == len(shipped), path
        for i, (a, b) in enumerate(zip(again, shipped)):
            assert_close(a, b, rel, abs_, f"{path}[{i}]")
    elif isinstance(shipped, float) or isinstance(again, float):
        assert isinstance(again, (int, float)) and not isinstance(again, bool), path
        assert math.isclose(again, shipped, rel_tol=rel, abs_tol=abs_) or (
            math.isnan(again) and math.isnan(shipped)), f"{path}: {again} against {shipped}"
    else:
        assert again == shipped, f"{path}: {again!r} against {shipped!r}"
