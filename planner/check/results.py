"""A check's outcome as data: one :class:`CheckResult` per thing checked, grouped in a
:class:`CheckReport` that the CLI prints one line per failure and writes as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum

GROUPS = ("inputs", "arithmetic", "certificate", "regression")


class Outcome(str, Enum):
    passed = "passed"
    failed = "failed"
    skipped = "skipped"     # not applicable to this plan (e.g. regression without --against)


@dataclass(frozen=True)
class CheckResult:
    group: str              # one of GROUPS
    name: str               # what was checked, e.g. "trace sha256", "window 2023-11-16T18:00:00Z"
    outcome: Outcome
    message: str            # one sentence: what holds, or what does not and by how much

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.failed

    def line(self) -> str:
        return f"{self.group}: {self.name}: {self.message}"

    def as_dict(self) -> dict:
        return {"group": self.group, "name": self.name, "outcome": self.outcome.value,
                "message": self.message}


@dataclass
class CheckReport:
    plan: str
    against: str | None
    results: list[CheckResult] = field(default_factory=list)
    # Per-window differences against the reference (regression), one dict per window.
    window_differences: list[dict] = field(default_factory=list)
    # "recorded" (from the plan's candidate table) or "full" (every candidate re-derived),
    # and why a full check ran when it was not asked for.
    mode: str = "recorded"
    mode_reason: str = ""

    def add(self, group: str, name: str, ok: bool, message: str) -> None:
        self.results.append(CheckResult(group, name, Outcome.passed if ok else Outcome.failed,
                                        message))

    def skip(self, group: str, name: str, message: str) -> None:
        self.results.append(CheckResult(group, name, Outcome.skipped, message))

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed]

    @property
    def passed(self) -> bool:
        return not self.failures

    def counts(self) -> dict:
        return {o.value: sum(1 for r in self.results if r.outcome is o) for o in Outcome}

    def as_dict(self) -> dict:
        return {"plan": self.plan, "against": self.against, "mode": self.mode,
                "mode_reason": self.mode_reason, "passed": self.passed,
                "counts": self.counts(), "failures": [r.line() for r in self.failures],
                "checks": [r.as_dict() for r in self.results],
                "window_differences": self.window_differences}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n"
