"""Latency and power model of one serving replica, its simulator and the profile tables.

Public entry points:

* :func:`planner.perf.profile.load_profile` — the planner's view (profile tables);
* :func:`planner.perf.replay.replay_replica` — one replica over a request stream;
* SSD wear and power for carbon accounting live in :mod:`planner.carbon`;
* :func:`planner.perf.synth.synthesize` — build a profile table.
"""
