"""A check report as JUnit XML, the format CI systems (GitHub Actions reporters, GitLab,
Jenkins) display as test results: one test suite per group, one test case per check."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from planner.check.results import GROUPS, CheckReport, Outcome


def to_junit(report: CheckReport) -> str:
    root = ET.Element("testsuites", name="greencache check")
    total = failed = skipped = 0
    for group in GROUPS:
        results = [r for r in report.results if r.group == group]
        suite = ET.SubElement(root, "testsuite", name=f"greencache.check.{group}",
                              tests=str(len(results)),
                              failures=str(sum(r.failed for r in results)),
                              skipped=str(sum(r.outcome is Outcome.skipped for r in results)),
                              errors="0")
        for r in results:
            case = ET.SubElement(suite, "testcase", classname=f"greencache.check.{group}",
                                 name=r.name)
            if r.failed:
                ET.SubElement(case, "failure", message=r.message, type="CheckFailed").text = \
                    r.line()
            elif r.outcome is Outcome.skipped:
                ET.SubElement(case, "skipped", message=r.message)
            else:
                ET.SubElement(case, "system-out").text = r.message
        total += len(results)
        failed += sum(r.failed for r in results)
        skipped += sum(r.outcome is Outcome.skipped for r in results)
    root.set("tests", str(total))
    root.set("failures", str(failed))
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"
