import os

# Tests must not depend on the caller's terminal width or colour support.
os.environ.setdefault("COLUMNS", "120")
os.environ.setdefault("NO_COLOR", "1")
