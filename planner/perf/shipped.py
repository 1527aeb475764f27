"""The profile tables greencache ships, and ``python -m planner.perf.shipped`` to rebuild them.

``make profiles`` runs this module with a fixed ``--date``, so rebuilding with unchanged inputs
gives byte-identical tables.
"""

from __future__ import annotations

import argparse
import sys

from planner.errors import GreencacheError

# (model, tp) × GPU × SSD type: 4 × 3 × 2 = 24 tables
SHIPPED_MODELS = (("llama-3-8b", 1), ("llama-3-70b", 4), ("llama-3-70b", 8),
                  ("qwen2.5-72b", 4))
SHIPPED_GPUS = ("a100-80gb", "h100-sxm", "h200")
SHIPPED_SSDS = ("nvme-gen4", "nvme-gen5")


def shipped_configs():
    return [(m, g, tp, s) for m, tp in SHIPPED_MODELS for g in SHIPPED_GPUS
            for s in SHIPPED_SSDS]


def main(argv=None) -> int:
    from planner.perf.synth import SynthOptions, synthesize, write_table

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--date", required=True, help="generation date written into every table")
    ap.add_argument("--out", default=None, help="folder (default profiles/tables)")
    ap.add_argument("--only", default=None, help="substring of the table names to rebuild")
    args = ap.parse_args(argv)
    try:
        for m, g, tp, s in shipped_configs():
            if args.only and args.only not in f"{m}__{g}-tp{tp}__{s}":
                continue
            frame, meta = synthesize(SynthOptions(model=m, gpu=g, tp=tp, ssd=s, date=args.date))
            path = write_table(frame, meta, args.out)
            print(f"wrote {path} ({len(frame):,} rows, {int(frame['stable'].sum()):,} stable)")
    except GreencacheError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
