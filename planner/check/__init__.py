"""``greencache check``: verify a plan folder without re-running the plan.

Four groups of checks, each a file of its own: ``inputs`` (every input's SHA-256 against the
summary), ``arithmetic`` (every window's numbers recomputed from the recorded window inputs
through the production candidate, profile and carbon functions), ``certificate`` (the plan's
configuration satisfies the plan's model and its objective is within the reported MIP gap of
the optimum: by default from the value function the plan recorded, with ``--full`` by
re-deriving the candidates and re-solving the model) and ``regression`` (against a reference
plan). ``run.py`` runs them in order; the results are data (``results.py``) that the
CLI prints, and writes as JSON and JUnit XML.
"""
