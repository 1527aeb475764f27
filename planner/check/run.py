"""Run every check on a plan folder, in order: inputs, arithmetic, certificate, regression.

Each group runs even when an earlier one failed, as far as it can (the certificate needs the
recomputed schedule; a group that cannot run says why as a failed check), so one run lists
every problem a CI job should see.

Two modes (README, "Checking a plan in CI"): by default the schedule's own configurations
are recomputed and the certificate is read from the plan's recorded candidate table
(candidates.npy); ``full`` re-derives every candidate and re-solves the model. A full check
also runs, and says why, when the plan was made by another greencache version (its table
may be computed otherwise), records no table, or its table no longer matches its hash.
"""

from __future__ import annotations

from pathlib import Path

from planner import __version__
from planner.candidate_record import FILE_NAME as CANDIDATE_TABLE, VALUE_FILE
from planner.check.arithmetic import rederive
from planner.check.certificate import certify, certify_recorded
from planner.check.inputs import check_inputs
from planner.check.plan_folder import PlanFolder, read_plan_folder
from planner.check.regression import check_regression
from planner.check.results import CheckReport
from planner.errors import InputDataError, UsageError


def full_reason(plan: PlanFolder, located: dict[str, Path]) -> str:
    """Why the recorded table cannot stand for the re-derivation ('' when it can)."""
    made_by = plan.summary.get("greencache", {}).get("version")
    if made_by != __version__:
        return (f"the plan was made by greencache {made_by}, this is {__version__}: its "
                "recorded candidate table may be stale")
    if "candidates" not in plan.summary["inputs"]:
        return "the plan folder records no candidate table"
    for key, name in (("candidates", CANDIDATE_TABLE), ("value_function", VALUE_FILE)):
        if key in plan.summary["inputs"] and key not in located:
            return f"the plan's {name} does not match its recorded hash"
    return ""


def run_check(plan_dir: Path, against: Path | None = None, rtol: float = 0.01,
              full: bool = False) -> CheckReport:
    if not 0 <= rtol < 1:
        raise UsageError(f"--rtol must be within [0, 1), got {rtol}")
    plan = read_plan_folder(plan_dir)
    ref = None
    if against is not None:
        # A plan checked against its own folder (a CI job's first run) is read once.
        same = Path(against).is_dir() and Path(against).resolve() == plan.directory.resolve()
        ref = plan if same else read_plan_folder(against)
    if "window_inputs" not in plan.summary["inputs"]:
        raise InputDataError(f"{plan_dir} was planned by a greencache that recorded no window "
                             "inputs; plan it again to check it")
    report = CheckReport(str(plan_dir), str(against) if against is not None else None)
    located = check_inputs(plan, report)
    reason = "" if full else full_reason(plan, located)
    if full or reason:
        report.mode, report.mode_reason = "full", reason or "asked for (--full)"
    recorded = None if report.mode == "full" else located["candidates"]
    red = rederive(plan, located, report, recorded)
    if red is None:
        report.add("certificate", "model", False,
                   "not run: the schedule could not be recomputed")
    elif red.charged is None:
        report.add("certificate", "model", False,
                   "not run: some window's configuration is not a candidate")
    elif recorded is None:
        certify(plan, red, report)
    else:
        certify_recorded(plan, red, report, located.get("value_function"))
    if ref is None:
        report.skip("regression", "reference", "no --against reference given")
    else:
        check_regression(plan, ref, rtol, report)
    return report
