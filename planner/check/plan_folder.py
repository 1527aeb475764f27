"""Reading a plan folder for checking: its summary, schedule and scenario, validated up front
(a folder that is not a readable plan is invalid input, exit 3, not a failed check)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from planner.config import PlanOptions
from planner.errors import InputDataError, UsageError
from planner.plan_files import read_schedule, read_summary, scenario_options
from planner.window_inputs import FILE_NAME as WINDOW_INPUTS


@dataclass(frozen=True)
class PlanFolder:
    directory: Path
    summary: dict
    schedule: pd.DataFrame
    options: PlanOptions

    @property
    def window_inputs(self) -> Path:
        return self.directory / WINDOW_INPUTS

    def file(self, name: str) -> Path:
        return self.directory / name


def read_plan_folder(directory: Path) -> PlanFolder:
    directory = Path(directory)
    if not directory.is_dir():
        raise InputDataError(f"plan folder {directory} does not exist")
    summary_path = directory / "summary.json"
    if not summary_path.exists():
        raise InputDataError(f"{directory} holds no summary.json: not a greencache plan folder")
    summary = read_summary(summary_path)
    options = scenario_options(summary, summary_path)
    if options.foresight == "forecast":
        # Its windows were decided on forecasts no file records in full (the grid's forecast
        # intensity, the seasonal hit curves), one decision at a time: neither the arithmetic
        # from the grid nor the certificate of one optimum applies.
        raise UsageError(f"{directory} is a plan made on forecasts (--foresight forecast); "
                         "check verifies plans made with perfect foresight, and `greencache "
                         "compare` judges this one against them")
    schedule = read_schedule(directory / "schedule.csv")
    return PlanFolder(directory, summary, schedule, options)
