"""Run every check on a plan folder, in order: inputs, arithmetic, certificate, regression.

Each group runs even when an earlier one failed, as far as it can (the certificate needs the
re-derived candidates; a group that cannot run says why as a failed check), so one run lists
every problem a CI job should see.
"""

from __future__ import annotations

from pathlib import Path

from planner.check.arithmetic import rederive
from planner.check.certificate import certify
from planner.check.inputs import check_inputs
from planner.check.plan_folder import read_plan_folder
from planner.check.regression import check_regression
from planner.check.results import CheckReport
from planner.errors import InputDataError, UsageError


def run_check(plan_dir: Path, against: Path | None = None, rtol: float = 0.01) -> CheckReport:
    if not 0 <= rtol < 1:
        raise UsageError(f"--rtol must be within [0, 1), got {rtol}")
    plan = read_plan_folder(plan_dir)
    ref = read_plan_folder(against) if against is not None else None
    if "window_inputs" not in plan.summary["inputs"]:
        raise InputDataError(f"{plan_dir} was planned by a greencache that recorded no window "
                             "inputs; plan it again to check it")
    report = CheckReport(str(plan_dir), str(against) if against is not None else None)
    located = check_inputs(plan, report)
    red = rederive(plan, located, report)
    if red is None:
        report.add("certificate", "model", False,
                   "not run: the candidates could not be re-derived")
    elif red.charged is None:
        report.add("certificate", "model", False,
                   "not run: some window's configuration is not a candidate")
    else:
        certify(plan, red, report)
    if ref is None:
        report.skip("regression", "reference", "no --against reference given")
    else:
        check_regression(plan, ref, rtol, report)
    return report
