# greencache: every target installs what it needs into .venv first (Python >= 3.11 on PATH).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
GC      = $(VENV)/bin/greencache
STAMP   = $(VENV)/.installed-stamp

.PHONY: install plan plan-de test check-wheel check-data bench fidelity profiles calibrate experiment clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The README's example: the FR plan for the shipped Azure conversation trace.
plan: $(STAMP)
	$(GC) plan --trace examples/AzureLLMInferenceTrace_conv.csv --grid FR --out out/

plan-de: $(STAMP)
	$(GC) plan --trace examples/AzureLLMInferenceTrace_conv.csv --grid DE --out out/de

test: $(STAMP)
	$(PY) -m pytest -q

## Build the sdist and the wheel, install the wheel into a fresh venv and run the installed
## command from a temporary folder (data from the package, not the checkout); CI runs it.
check-wheel:
	scripts/check_wheel.sh $(PYTHON)

## Regenerate the fitted data (performance model, reuse model, workload shapes) and compare it
## byte for byte with the shipped files. Least squares and quantiles land a few ulps apart on
## other CPUs and BLAS builds, so this holds on the platform it names (the tests compare the
## same regenerations with tolerances on every machine).
check-data: $(STAMP)
	$(PY) scripts/check_data.py

## Benchmarks print their figures; speed targets live here, not in the tests.
bench: $(STAMP)
	@set -e; for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f; done

## The planner's predicted p90 latencies and carbon against a replay of every request, on the
## Azure hour, the Mooncake hour, the Azure week and Mooncake's synthetic trace with its own
## fitted shape (about 4 min on 2 cores; out/fidelity/).
fidelity: $(STAMP)
	$(PY) bench/fidelity.py

## Profile tables from the performance model (profiles/tables); the date is part of the output,
## so a fixed one keeps regenerated tables byte-identical. Workload shapes (profiles/shapes)
## come from `$(PY) scripts/fit_workload_shapes.py --date 2026-11-25`; regenerate the tables after.
PROFILE_DATE ?= 2026-11-24
profiles: $(STAMP)
	$(PY) -m planner.perf.shipped --date $(PROFILE_DATE)

## Fit the performance model on profiles/measured, write its parameters
## (profiles/calibration/perf_model.json), print the error per data set, plot predicted vs
## measured into out/calibration. Run `make profiles` afterwards to rebuild the tables.
calibrate: $(STAMP)
	$(GC) profile calibrate --write --plots out/calibration

## The paper's experiment, judged by replay: a sweep (examples/experiment.toml: 12 zones × 3 SSD
## embodied levels and a sensitivity study on the Azure conversation week) whose page, table and
## figures regenerate docs/experiment/. Finished points are cached ($GREENCACHE_CACHE/sweeps):
## a re-run only runs new or changed points, and an interrupted run resumes.
experiment: $(STAMP)
	$(GC) sweep examples/experiment.toml --out docs/experiment

clean:
	rm -rf out build dist *.egg-info .pytest_cache
