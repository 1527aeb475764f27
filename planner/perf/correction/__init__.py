"""Correction of a profile table from what a deployment was observed to do.

A profile table predicts p90 TTFT, p90 TPOT and GPU power at a load and hit rate; what is
served can differ (another engine version, other kernels, a noisy neighbour). Like NVIDIA
Dynamo's SLA planner, which scales its profiles by the ratio of observed to expected TTFT and
ITL, ``greencache profile correct`` fits one factor per (load fraction, hit rate) bin and
metric from observations, and ``plan --correction`` multiplies the table by them:

* :mod:`.observed` reads observations into windows (per-request logs, a measured run's
  per-request file, or a replay's per-window results);
* :mod:`.fit` compares each window with the table and fits the factors (the rule is there);
* :mod:`.file` writes and validates the correction file;
* :mod:`.apply` applies a correction file to a table.
"""
