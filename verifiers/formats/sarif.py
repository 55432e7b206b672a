"""Verdicts → SARIF 2.1.0, the format GitHub code scanning (and most IDEs) read.

Shape, so a Terraform error shows inline on the pull request's diff:
- one run; ``tool.driver`` is tfagent, and every verifier of the chain is a ``tool.extensions[]``
  component holding the rules it reported (rule ids are the verifier's own: a Rego rule, a checkov
  id, else the diagnostic's category such as ``unknown_argument``);
- one ``result`` per diagnostic, its ``ruleId`` qualified as ``verifier/rule`` (GitHub groups alerts
  by ruleId across components) and ``rule.toolComponent`` pointing at the verifier;
- locations relative to ``%SRCROOT%`` (the folder the command ran in), with line/column regions when
  the verifier knew them. A diagnostic without a file is placed on the folder's first file, line 1,
  because code scanning rejects results without a location;
- a stage that could not run here (or was skipped) becomes a ``toolExecutionNotification``, not a
  finding; a verifier that crashed is reported as its own error result (the registry turns it into one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from tfagent.verifiers.base import ERROR, WARNING, Diagnostic, Verdict

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
_LEVELS = {ERROR: "error", WARNING: "warning"}
_RULE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/]+")


@dataclass
class FolderVerdicts:
    """The verdicts of one verified folder. ``folder`` is relative to the SARIF's %SRCROOT% (posix)."""

    folder: str
    verdicts: list[Verdict]
    files: list[str] = field(default_factory=list)  # the folder's files (relative), for location-less results
    descriptions: dict[str, str] = field(default_factory=dict)  # verifier name -> what it checks


def rule_id(diag: Diagnostic) -> str:
    """The verifier-local rule id: its own rule, else the category, else "other" (never empty)."""
    raw = diag.rule or diag.category or "other"
    return _RULE_ID_UNSAFE.sub("-", raw).strip("-") or "other"


def _message(diag: Diagnostic) -> str:
    detail = diag.detail.strip()
    return f"{diag.summary}\n{detail}" if detail else diag.summary


def _uri(folder: str, rel: str) -> str:
    path = PurePosixPath(folder) / PurePosixPath(rel) if folder not in ("", ".") else PurePosixPath(rel)
    return path.as_posix()


def _location(item: FolderVerdicts, diag: Diagnostic) -> dict[str, Any]:
    region: dict[str, Any] = {}
    if diag.file:
        uri = _uri(item.folder, diag.file)
        if diag.line and diag.line >= 1:
            region["startLine"] = int(diag.line)
            if diag.column and diag.column >= 1:
                region["startColumn"] = int(diag.column)
    else:
        # No file from the verifier (e.g. "provider not found"): anchor it where a reviewer looks first.
        anchor = sorted(item.files)[0] if item.files else ""
        uri = _uri(item.folder, anchor) if anchor else (item.folder.rstrip("/") + "/" if item.folder else "./")
        if anchor:
            region["startLine"] = 1
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": SRCROOT}}
    if region:
        physical["region"] = region
    return {"physicalLocation": physical}


class _Components:
    """tool.extensions: one toolComponent per verifier, each with the rules it reported, in first-seen order."""

    def __init__(self) -> None:
        self.components: list[dict[str, Any]] = []
        self._index: dict[str, int] = {}
        self._rules: dict[tuple[str, str], int] = {}

    def component(self, name: str, description: str = "") -> int:
        if name not in self._index:
            entry: dict[str, Any] = {"name": name, "rules": []}
            if description:
                entry["shortDescription"] = {"text": description}
            self._index[name] = len(self.components)
            self.components.append(entry)
        return self._index[name]

    def rule(self, verifier: str, diag: Diagnostic) -> tuple[int, int]:
        comp = self.component(verifier)
        rid = rule_id(diag)
        key = (verifier, rid)
        if key not in self._rules:
            rules = self.components[comp]["rules"]
            entry: dict[str, Any] = {"id": rid, "shortDescription": {"text": diag.summary[:200] or rid},
                                     "defaultConfiguration": {"level": _LEVELS.get(diag.severity, "note")}}
            if diag.category:
                entry["properties"] = {"category": diag.category}
            self._rules[key] = len(rules)
            rules.append(entry)
        return comp, self._rules[key]


def to_sarif(items: Iterable[FolderVerdicts], *, tool_version: str, srcroot: Path,
             skipped: dict[str, str] | None = None) -> dict[str, Any]:
    """One SARIF log for the folders verified by one command. ``srcroot``: the absolute folder the
    relative ``folder`` paths start from (it becomes ``originalUriBaseIds[%SRCROOT%]``).
    ``skipped``: verifiers of the chain that could not run here (name → why)."""
    components = _Components()
    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for item in items:
        for verdict in item.verdicts:
            comp = components.component(verdict.verifier, item.descriptions.get(verdict.verifier, ""))
            for diag in sorted(verdict.diagnostics, key=Diagnostic.sort_key):
                comp, rule_index = components.rule(verdict.verifier, diag)
                result: dict[str, Any] = {
                    "ruleId": f"{verdict.verifier}/{rule_id(diag)}",
                    "rule": {"id": rule_id(diag), "index": rule_index, "toolComponent": {"name": verdict.verifier, "index": comp}},
                    "level": _LEVELS.get(diag.severity, "note"),
                    "message": {"text": _message(diag)},
                    "locations": [_location(item, diag)],
                }
                if diag.category:
                    result["properties"] = {"category": diag.category}
                results.append(result)
            if verdict.skipped:
                notifications.append(_notification(verdict.verifier, comp, verdict.note or "skipped", item.folder))
    for name, why in sorted((skipped or {}).items()):
        notifications.append(_notification(name, components.component(name), f"not run here: {why}", None))
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    root_uri = srcroot.resolve().as_uri().rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {
                "driver": {"name": "tfagent", "version": tool_version, "semanticVersion": tool_version,
                           "rules": []},
                "extensions": components.components,
            },
            "originalUriBaseIds": {SRCROOT: {"uri": root_uri}},
            "invocations": [invocation],
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }


def _notification(verifier: str, comp: int, text: str, folder: str | None) -> dict[str, Any]:
    note: dict[str, Any] = {"level": "warning", "message": {"text": f"{verifier}: {text}"},
                            "properties": {"verifier": verifier, "component": comp}}
    if folder is not None:
        note["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": (folder.rstrip("/") + "/") if folder else "./",
                                                                         "uriBaseId": SRCROOT}}}]
    return note
