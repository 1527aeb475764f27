"""``candidates.npz``: the candidate table a plan's model was built from, beside the schedule.

The rows after pruning, with every column a constraint or the objective reads, so that
``greencache check`` rebuilds and re-solves the plan's model from the table instead of
recomputing it, and recomputes only a sample of it (the scheduled rows and a seeded draw of
the others) to prove the table follows from the plan's inputs. Its SHA-256 is in
summary.json like every other input's.

A zip of ``.npy`` arrays, one per column in the frame's order, with a fixed timestamp: the
same table gives the same bytes (numpy's own ``savez`` stamps the current time), and floats
are stored as float64, bit for bit. Deflated at level 1: a tenth of the raw size (the columns
repeat a few values per window) for about 6 ms a megabyte to write and 4 to read.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputDataError

FILE_NAME = "candidates.npz"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def to_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, col in enumerate(frame.columns):
            arr = io.BytesIO()
            np.lib.format.write_array(arr, np.ascontiguousarray(frame[col].to_numpy()),
                                      allow_pickle=False)
            # The index keeps the column order through the zip's directory.
            info = zipfile.ZipInfo(f"{i:03d}_{col}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, arr.getvalue(), compresslevel=1)
    return buf.getvalue()


def read(path: Path) -> pd.DataFrame:
    """The table written by :func:`to_bytes`; a missing or malformed file is an input error."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path} does not exist: the plan was made by an older greencache "
                             "or the file was removed; plan again to check it")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = sorted(z.files)
            return pd.DataFrame({name.split("_", 1)[1]: z[name] for name in names})
    except (OSError, ValueError, IndexError, zipfile.BadZipFile) as e:
        raise InputDataError(f"{path} is not a readable candidate table: {e}") from None
