"""JUnit XML, the test-report dialect CI dashboards read (Jenkins, GitLab, GitHub test reporters).

The common subset every reader accepts: ``<testsuites>`` › ``<testsuite name tests failures errors
skipped time>`` › ``<testcase classname name time>`` with at most one of ``<failure message>text``,
``<error message>text`` or ``<skipped message>``. Text is stripped of the characters XML 1.0 cannot
carry (model replies and compiler output may contain them), so the document always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Iterable

from tfagent.verifiers.base import Diagnostic, Verdict

# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates and U+FFFE/U+FFFF.
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MESSAGE_LIMIT = 500  # characters of a failure's one-line message attribute


def xml_text(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


@dataclass
class Case:
    classname: str
    name: str
    seconds: float = 0.0
    failure: tuple[str, str] | None = None  # (message, text): the checked thing is wrong
    error: tuple[str, str] | None = None  # (message, text): the check itself could not be done
    skipped: str | None = None  # why it did not run
    output: str = ""  # <system-out>


@dataclass
class Suite:
    name: str
    cases: list[Case] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)


def diagnostics_text(diagnostics: Iterable[Diagnostic]) -> str:
    """One diagnostic per paragraph: ``severity file:line:col [rule] summary`` then its detail."""
    parts = []
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        where = d.file or ""
        if d.file and d.line:
            where += f":{d.line}" + (f":{d.column}" if d.column else "")
        rule = f"[{d.source + '/' if d.source else ''}{d.rule or d.category or 'other'}]"
        head = " ".join(x for x in (d.severity, where, rule, d.summary) if x)
        parts.append(head + (f"\n  {d.detail.strip()}" if d.detail.strip() else ""))
    return "\n".join(parts)


def first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:MESSAGE_LIMIT]


def verdict_cases(classname: str, chain: list[str], verdicts: list[Verdict], skipped: dict[str, str] | None = None) -> list[Case]:
    """One test case per stage of ``chain``: passed, failed (its diagnostics), or skipped (an earlier
    stage failed with fail-fast, or the verifier cannot run here)."""
    by_name = {v.verifier: v for v in verdicts}
    skipped = skipped or {}
    cases = []
    for name in chain:
        verdict = by_name.get(name)
        case = Case(classname=classname, name=name)
        if verdict is None:
            case.skipped = f"not run here: {skipped[name]}" if name in skipped else "not run: an earlier stage failed"
        else:
            case.seconds = verdict.seconds
            case.output = verdict.note
            if verdict.skipped:
                case.skipped = verdict.note or "skipped"
            elif not verdict.ok:
                text = diagnostics_text(verdict.errors or verdict.diagnostics) or verdict.note or "failed"
                case.failure = (first_line(text), text)
        cases.append(case)
    return cases


def to_junit_xml(suites: list[Suite], name: str = "tfagent") -> str:
    root = ET.Element("testsuites", name=xml_text(name))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for suite in suites:
        counts = {
            "tests": len(suite.cases),
            "failures": sum(1 for c in suite.cases if c.failure),
            "errors": sum(1 for c in suite.cases if c.error),
            "skipped": sum(1 for c in suite.cases if c.skipped and not (c.failure or c.error)),
        }
        seconds = sum(c.seconds for c in suite.cases)
        el = ET.SubElement(root, "testsuite", name=xml_text(suite.name), time=f"{seconds:.3f}",
                           **{k: str(v) for k, v in counts.items()})
        if suite.properties:
            props = ET.SubElement(el, "properties")
            for key, value in suite.properties.items():
                ET.SubElement(props, "property", name=xml_text(key), value=xml_text(str(value)))
        for case in suite.cases:
            _case(el, case)
        for key in totals:
            totals[key] += counts[key]
        total_time += seconds
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case(parent: ET.Element, case: Case) -> None:
    el = ET.SubElement(parent, "testcase", classname=xml_text(case.classname), name=xml_text(case.name),
                       time=f"{case.seconds:.3f}")
    if case.failure:
        child = ET.SubElement(el, "failure", message=xml_text(case.failure[0]), type="failure")
        child.text = xml_text(case.failure[1])
    elif case.error:
        child = ET.SubElement(el, "error", message=xml_text(case.error[0]), type="error")
        child.text = xml_text(case.error[1])
    elif case.skipped:
        ET.SubElement(el, "skipped", message=xml_text(case.skipped))
    if case.output:
        ET.SubElement(el, "system-out").text = xml_text(case.output)
