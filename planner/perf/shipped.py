"""The profile tables greencache ships, and ``python -m planner.perf.shipped`` to rebuild them.

``make profiles`` runs this module with a fixed ``--date``, so rebuilding with unchanged inputs
gives byte-identical tables.

Every configuration ships with the default workload shape (Azure conversation); the default
replica (Llama-3-70B on 4 × H100, Gen4) also with the shapes of the other example traces, so
that the shipped Mooncake and Azure-code examples are planned on tables of their own shape.
Any other combination: ``greencache profile synth --shape``.
"""

from __future__ import annotations

import argparse
import sys

from planner.errors import GreencacheError

# (model, tp) × GPU × SSD type: 4 × 3 × 2 = 24 configurations
SHIPPED_MODELS = (("llama-3-8b", 1), ("llama-3-70b", 4), ("llama-3-70b", 8),
                  ("qwen2.5-72b", 4))
SHIPPED_GPUS = ("a100-80gb", "h100-sxm", "h200")
SHIPPED_SSDS = ("nvme-gen4", "nvme-gen5")
DEFAULT_REPLICA = ("llama-3-70b", "h100-sxm", 4, "nvme-gen4")
EXTRA_SHAPES = ("mooncake-conv", "azure-code")


def shipped_configs():
    """(model, gpu, tp, ssd, shape) of every shipped table."""
    from planner.perf.profile import DEFAULT_SHAPE

    out = [(m, g, tp, s, DEFAULT_SHAPE) for m, tp in SHIPPED_MODELS for g in SHIPPED_GPUS
           for s in SHIPPED_SSDS]
    return out + [(*DEFAULT_REPLICA, shape) for shape in EXTRA_SHAPES]


def main(argv=None) -> int:
    from planner.perf.synth import SynthOptions, synthesize, write_table

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--date", required=True, help="generation date written into every table")
    ap.add_argument("--out", default=None, help="folder (default profiles/tables)")
    ap.add_argument("--only", default=None, help="substring of the table names to rebuild")
    args = ap.parse_args(argv)
    try:
        for m, g, tp, s, shape in shipped_configs():
            if args.only and args.only not in f"{m}__{g}-tp{tp}__{s}__{shape}":
                continue
            frame, meta = synthesize(SynthOptions(model=m, gpu=g, tp=tp, ssd=s, shape=shape,
                                                  date=args.date))
            path = write_table(frame, meta, args.out)
            print(f"wrote {path} ({len(frame):,} rows)", flush=True)
    except GreencacheError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
