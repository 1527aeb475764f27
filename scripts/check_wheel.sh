#!/usr/bin/env bash
# Build the source distribution and the wheel from it (as a release would), install the wheel
# into a fresh virtual environment (pinned by constraints.txt, the build's own tools too) and
# run the installed command from a folder outside the repository: the data must come from the
# package, not from the checkout.
#
#     scripts/check_wheel.sh [PYTHON]      (default python3; `make check-wheel`, .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-python3}
repo=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/greencache-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

export PIP_CONSTRAINT="$repo/constraints.txt" PIP_DISABLE_PIP_VERSION_CHECK=1
"$PYTHON" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip)
"${pip[@]}" install --quiet build
# sdist first, then the wheel from the unpacked sdist: MANIFEST.in must carry the data
"$work/venv/bin/python" -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/greencache-*.whl)
echo "built $(basename "$wheel") ($(du -h "$wheel" | cut -f1)) from $(basename "$(ls "$work"/dist/*.tar.gz)")"
"${pip[@]}" install --quiet "$wheel"

gc="$work/venv/bin/greencache"
cd "$work"
unset GREENCACHE_DATA
"$gc" grid list >/dev/null
"$gc" catalog >/dev/null
"$gc" examples --out "$work/examples" >/dev/null
"$gc" plan --trace "$work/examples/AzureLLMInferenceTrace_conv.csv" --grid FR \
    --out "$work/plan" --no-timing >/dev/null
test -s "$work/plan/schedule.csv" && test -s "$work/plan/summary.json"
# the shipped scenario, copied out: its trace resolves beside the scenario file
"$gc" plan --config "$work/examples/scenario-fr.toml" --out "$work/scenario" --no-timing >/dev/null
test -s "$work/scenario/schedule.csv"
echo "wheel: grid list, catalog, examples, plan and plan --config ran from $work (data from the package)"
