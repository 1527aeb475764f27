"""The profile tables greencache ships, and ``python -m planner.perf.shipped`` to rebuild them.

``make profiles`` runs this module with a fixed ``--date``, so rebuilding with unchanged inputs
gives byte-identical tables.
"""

from __future__ import annotations

import argparse
import sys

from planner.errors import GreencacheError

# (model, gpu, tp) × every SSD type
SHIPPED_REPLICAS = (
    ("llama-3-8b", "h100-sxm", 1),
    ("llama-3-70b", "h100-sxm", 4),
)
SHIPPED_SSDS = ("nvme-gen4", "nvme-gen5")


def shipped_configs():
    return [(m, g, tp, s) for m, g, tp in SHIPPED_REPLICAS for s in SHIPPED_SSDS]


def main(argv=None) -> int:
    from planner.perf.synth import SynthOptions, synthesize, write_table

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--date", required=True, help="generation date written into every table")
    ap.add_argument("--out", default=None, help="folder (default profiles/tables)")
    args = ap.parse_args(argv)
    try:
        for m, g, tp, s in shipped_configs():
            frame, meta = synthesize(SynthOptions(model=m, gpu=g, tp=tp, ssd=s, date=args.date))
            path = write_table(frame, meta, args.out)
            print(f"wrote {path} ({len(frame):,} rows, {int(frame['stable'].sum()):,} stable)")
    except GreencacheError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
