"""Scenario sweeps: a base scenario and axes → many plans, each replayed, run on Ray and cached.

spec.py (the sweep file) · points.py (expansion and checks) · keys.py (a point's SHA-256) ·
cache.py (results on disk) · point.py (one plan and its replays) · replay_cache.py (replays
shared within a worker) · runner.py (Ray) · table.py (results.csv/.parquet) ·
sensitivity.py · figures.py · page.py (README.md) · driver.py (file to outputs).
"""
