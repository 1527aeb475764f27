"""``greencache check``: verify a plan folder without re-running the plan.

Four groups of checks, each a file of its own: ``inputs`` (every input's SHA-256 against the
summary), ``arithmetic`` (every window's numbers re-derived from the recorded window inputs
through the production candidate, profile and carbon functions), ``certificate`` (the plan's
configuration satisfies the plan's MILP, rebuilt by the same function the plan uses, and its
objective is within the reported MIP gap of a fresh solve) and ``regression`` (against a
reference plan). ``run.py`` runs them in order; the results are data (``results.py``) that the
CLI prints, and writes as JSON and JUnit XML.
"""
