"""Parsing of a task's structured fields (judge, files, reference) for ``suite.py``.

Every problem raises ``FieldError(field, message)``; ``suite.py`` adds the file and the task id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tfagent.agent.core.paths import check_path

JUDGE_KEYS = {"plan_required", "rego", "rego_query", "checkov_pass", "hcl", "tests"}
HCL_KEYS = {"resources", "data", "attributes"}
CHECK_KEYS = {"resource", "path", "equals", "one_of", "present", "references"}
CHECKOV_ID = re.compile(r"^CKV2?_[A-Z0-9_]+$")
_MISSING = object()


class FieldError(ValueError):
    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class RegoIntent:
    name: str  # file name relative to the suite, or "inline-N"
    text: str


@dataclass(frozen=True)
class HclCheck:
    """Some ``resource`` block (``data.TYPE`` for data sources) whose attribute at dotted ``path``
    satisfies exactly one condition: equals / one_of / present / references (a resource type or
    address the value must refer to)."""

    resource: str
    path: str
    equals: Any = None
    one_of: tuple | None = None
    present: bool | None = None
    references: str | None = None

    def describe(self) -> str:
        if self.one_of is not None:
            cond = f"in {list(self.one_of)}"
        elif self.present is not None:
            cond = "is set" if self.present else "is not set"
        elif self.references is not None:
            cond = f"refers to {self.references}"
        else:
            cond = f"== {self.equals!r}"
        return f"{self.resource}.{self.path} {cond}"


@dataclass
class JudgeSpec:
    plan_required: bool = False
    rego: list[RegoIntent] = field(default_factory=list)
    rego_query: str | None = None  # None: data.<the policy's own package> (IaC-Eval's policies vary)
    checkov_pass: list[str] = field(default_factory=list)
    hcl_resources: list[str] = field(default_factory=list)  # "TYPE" or "data.TYPE"
    hcl_checks: list[HclCheck] = field(default_factory=list)
    tests: dict[str, str] = field(default_factory=dict)  # hidden test files: path -> content
    # The prompt-fair judge's correction of this task's intent (tasks/corrections.py, from the suite's
    # corrections.yaml; judging/fair.py), None when the fair judge uses the original policy.
    fair: Any = None

    @property
    def has_checks(self) -> bool:
        return bool(self.plan_required or self.rego or self.checkov_pass or self.hcl_resources
                    or self.hcl_checks or self.tests)


def string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise FieldError(name, "expected a list of non-empty strings")
    return [v.strip() for v in value]


def safe_relative(path_text: str, name: str) -> str:
    """A path a task (or a stored model reply) may name: the one path-safety rule of tfagent
    (agent/core/paths.py), with the error naming the field."""
    if not isinstance(path_text, str) or not path_text.strip():
        raise FieldError(name, "expected a non-empty relative path")
    safe, why = check_path(path_text)
    if safe is None:
        raise FieldError(name, f"path {path_text!r} {why}: a path must be relative and stay inside its folder")
    return safe


def read_suite_file(ref: str, name: str, suite_dir: Path) -> str:
    rel = safe_relative(ref, name)
    target = suite_dir / rel
    if not target.is_file():
        raise FieldError(name, f"file {rel!r} not found in {suite_dir}")
    try:
        return target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FieldError(name, f"cannot read {rel!r}: {exc}") from exc


def load_file_map(value: Any, name: str, suite_dir: Path) -> dict[str, str]:
    """``{path: "inline text" | {file: ref}}``, or a folder ref (every file in it, relative names)."""
    if value is None:
        return {}
    if isinstance(value, str):
        rel = safe_relative(value, name)
        folder = suite_dir / rel
        if not folder.is_dir():
            raise FieldError(name, f"folder {rel!r} not found in {suite_dir}")
        return {str(p.relative_to(folder).as_posix()): read_suite_file(str(p.relative_to(suite_dir).as_posix()),
                                                                     name, suite_dir)
                for p in sorted(folder.rglob("*")) if p.is_file()}
    if not isinstance(value, dict):
        raise FieldError(name, "expected a mapping of path -> content (or {file: ref}), or a folder")
    files: dict[str, str] = {}
    for key, content in value.items():
        path = safe_relative(key, f"{name}.{key}")
        if isinstance(content, dict) and set(content) == {"file"}:
            files[path] = read_suite_file(content["file"], f"{name}.{key}", suite_dir)
        elif isinstance(content, str):
            files[path] = content
        else:
            raise FieldError(f"{name}.{key}", "expected text or {file: path-relative-to-the-suite}")
    return files


def parse_judge(value: Any, mode: str, suite_dir: Path) -> JudgeSpec:
    if not isinstance(value, dict):
        raise FieldError("judge", "expected a mapping of hidden checks (rego, plan_required, hcl, tests, ...)")
    unknown = sorted(set(value) - JUDGE_KEYS)
    if unknown:
        raise FieldError("judge", f"unknown check {unknown[0]!r} (allowed: {', '.join(sorted(JUDGE_KEYS))})")
    plan_required = value.get("plan_required", False)
    if not isinstance(plan_required, bool):
        raise FieldError("judge.plan_required", "expected true or false")
    if mode == "code" and (plan_required or value.get("rego") or value.get("hcl") or value.get("checkov_pass")):
        raise FieldError("judge", "code tasks are judged by hidden tests only (no plan, rego, hcl or checkov)")
    if mode == "terraform" and value.get("tests"):
        raise FieldError("judge.tests", "hidden tests are for code tasks; judge terraform with rego/hcl/plan")
    query = value.get("rego_query")
    if query is not None and (not isinstance(query, str) or not query.startswith("data.")):
        raise FieldError("judge.rego_query", "expected a query starting with 'data.'")
    spec = JudgeSpec(
        plan_required=plan_required,
        rego=_parse_rego(value.get("rego", []), suite_dir),
        rego_query=query,
        checkov_pass=_parse_checkov(value.get("checkov_pass", [])),
        tests=_parse_tests(value.get("tests"), suite_dir),
    )
    if value.get("hcl") is not None:
        spec.hcl_resources, spec.hcl_checks = _parse_hcl(value["hcl"])
    if not spec.has_checks:
        raise FieldError("judge", "no hidden checks (give rego, plan_required, hcl, checkov_pass or tests)")
    return spec


def rego_package(text: str) -> str | None:
    match = re.search(r"^\s*package\s+([\w.]+)", text, re.M)
    return match.group(1) if match else None


def _parse_rego(value: Any, suite_dir: Path) -> list[RegoIntent]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise FieldError("judge.rego", "expected a list of .rego files (relative to the suite) or inline Rego")
    intents = []
    for i, item in enumerate(items):
        name = f"judge.rego[{i}]"
        if not isinstance(item, str) or not item.strip():
            raise FieldError(name, "expected a .rego file path or inline Rego text")
        if re.search(r"^\s*package\s", item, re.M):
            intents.append(RegoIntent(f"inline-{i}", item))
        elif item.strip().endswith(".rego"):
            intents.append(RegoIntent(safe_relative(item.strip(), name), read_suite_file(item.strip(), name, suite_dir)))
        else:
            raise FieldError(name, "neither a .rego file path nor Rego text (no 'package' line)")
    return intents


def _parse_checkov(value: Any) -> list[str]:
    ids = string_list(value, "judge.checkov_pass")
    for check_id in ids:
        if not CHECKOV_ID.match(check_id):
            raise FieldError("judge.checkov_pass", f"{check_id!r} is not a checkov id (CKV_... / CKV2_...)")
    return ids


def _parse_tests(value: Any, suite_dir: Path) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, list):  # files relative to the suite; kept under their own names
        refs = string_list(value, "judge.tests")
        return {PurePosixPath(safe_relative(r, "judge.tests")).name: read_suite_file(r, "judge.tests", suite_dir)
                for r in refs}
    return load_file_map(value, "judge.tests", suite_dir)


def _parse_hcl(value: Any) -> tuple[list[str], list[HclCheck]]:
    if not isinstance(value, dict):
        raise FieldError("judge.hcl", "expected a mapping with resources / data / attributes")
    unknown = sorted(set(value) - HCL_KEYS)
    if unknown:
        raise FieldError("judge.hcl", f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(HCL_KEYS))})")
    types = string_list(value.get("resources", []), "judge.hcl.resources")
    types += [f"data.{t}" for t in string_list(value.get("data", []), "judge.hcl.data")]
    raw_checks = value.get("attributes", [])
    if not isinstance(raw_checks, list):
        raise FieldError("judge.hcl.attributes", "expected a list of {resource, path, equals|one_of|present|references}")
    return types, [_parse_check(item, i) for i, item in enumerate(raw_checks)]


def _parse_check(item: Any, index: int) -> HclCheck:
    name = f"judge.hcl.attributes[{index}]"
    if not isinstance(item, dict):
        raise FieldError(name, "expected a mapping {resource, path, equals|one_of|present|references}")
    unknown = sorted(set(item) - CHECK_KEYS)
    if unknown:
        raise FieldError(name, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(CHECK_KEYS))})")
    for key in ("resource", "path"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise FieldError(name, f"{key!r} must be non-empty text")
    conditions = [k for k in ("equals", "one_of", "present", "references") if k in item]
    if len(conditions) != 1:
        raise FieldError(name, "give exactly one of equals, one_of, present, references")
    one_of = item.get("one_of")
    if one_of is not None and not isinstance(one_of, list):
        raise FieldError(name, "'one_of' must be a list")
    if "present" in item and not isinstance(item["present"], bool):
        raise FieldError(name, "'present' must be true or false")
    return HclCheck(resource=item["resource"].strip(), path=item["path"].strip(), equals=item.get("equals"),
                    one_of=tuple(one_of) if one_of is not None else None, present=item.get("present"),
                    references=item.get("references"))
