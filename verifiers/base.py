"""The one seam every verifier sits behind.

A verifier takes a folder of files (``VerifyContext.workdir``) and returns a ``Verdict``: ok or not,
``Diagnostic``s with severity/summary/detail/file/line/column, and its own seconds. Verifiers may
rewrite files in the folder (``fmt`` formats them) — the agent reads the folder back afterwards, so
what the user gets is what was verified.

Verifiers are found through the entry-point group ``tfagent.verifiers`` (see ``registry.py``); the
built-ins are registered there exactly like a third-party package's.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tfagent.agent.core.defaults import VERIFY_TIMEOUT

ERROR = "error"
WARNING = "warning"

# Error categories the eval reports on (issue 4). A verifier sets one when it knows; None = "other".
CATEGORIES = (
    "syntax",  # the text does not parse
    "unknown_resource",  # resource/data type that no provider has (e.g. "s3_bucket")
    "unknown_argument",  # "Unsupported argument" / block
    "type",  # wrong value type
    "missing_argument",  # required argument missing
    "plan",  # terraform plan failed
    "intent",  # policy/intent rule failed
    "cutoff",  # reply cut off (finish_reason == length)
    "no_code",  # reply had no file
    "unsafe_path",  # reply named a path outside the output folder, too big, too many files
    "compile",  # compiler error (code mode)
    "test",  # a test failed (code mode)
    "sandbox",  # generated code was killed for resource use / isolation breach
    "provider",  # provider could not be installed (air-gapped mirror lacks it)
    "secret",  # the reply hard-codes the value of a secret from the environment
    "other",
)


@dataclass(frozen=True)
class Diagnostic:
    """One problem found by a verifier. Frozen and hashable so feedback can deduplicate."""

    severity: str  # ERROR or WARNING
    summary: str
    detail: str = ""
    file: str | None = None  # path relative to the workdir, "/" separators
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    source: str = ""  # the verifier's name
    rule: str | None = None  # rule id: Rego rule, checkov id, test name
    category: str | None = None  # one of CATEGORIES

    def __post_init__(self) -> None:
        # A contract, not a hint: the eval's error table groups by these names.
        if self.category is not None and self.category not in CATEGORIES:
            raise ValueError(f"Diagnostic category {self.category!r} is not one of {', '.join(CATEGORIES)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Diagnostic":
        known = {k: data.get(k) for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def sort_key(self) -> tuple:
        return (self.file or "", self.line or 0, self.column or 0, self.summary, self.detail)


@dataclass
class Verdict:
    """What one verifier concluded about one folder."""

    verifier: str
    ok: bool
    diagnostics: list[Diagnostic] = field(default_factory=list)
    seconds: float = 0.0
    skipped: bool = False  # could not run here and was not asked for by name
    note: str = ""  # one line for humans, e.g. "rules applied: s3_no_public_access, s3_versioning"
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> path, e.g. {"plan_json": ...}

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == ERROR]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verifier": self.verifier,
            "ok": self.ok,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 4),
            "note": self.note,
            "artifacts": dict(self.artifacts),
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Verdict":
        return cls(
            verifier=data["verifier"],
            ok=bool(data["ok"]),
            diagnostics=[Diagnostic.from_dict(d) for d in data.get("diagnostics", [])],
            seconds=float(data.get("seconds", 0.0)),
            skipped=bool(data.get("skipped", False)),
            note=data.get("note", ""),
            artifacts=dict(data.get("artifacts", {})),
        )


@dataclass
class VerifyOptions:
    """Everything a verifier may need besides the files, as typed fields (``agent/core/verify_options.py``
    builds them from flags, the environment and ``[defaults]``). ``extra`` is only for a third-party
    verifier's own options, under its own keys: tfagent's verifiers read fields, never ``extra``."""

    prompt: str = ""  # the user's request (intent selection for policy checks)
    mode: str = "terraform"  # "terraform" | "code"
    provider_mirror: Path | None = None  # filesystem mirror root (the folder holding registry.terraform.io)
    offline_aws: bool = False  # add dummy-credential/skip-flag settings for the aws provider at plan time
    policies: list[Path] = field(default_factory=list)  # --policy FILE|DIR
    builtin_policies: bool = True
    lang: str | None = None  # code mode language
    test_cmd: str | None = None  # code mode: the user's test command
    tests: Path | None = None  # code mode: the user's tests (never editable by the model)
    artifacts_dir: Path | None = None  # where verifiers save things users keep (plan.json)
    timeout: float = VERIFY_TIMEOUT  # seconds per external command
    # Terraform (fmt, validate, plan)
    terraform: str | None = None  # --terraform: a binary path, `tofu` or `embedded` (None: terraform/tofu on PATH, else embedded)
    terraform_cache_dir: Path | None = None  # init and schema cache (None: tfagent's cache folder)
    defer_data_sources: bool = False  # offline: data sources needing the AWS API are read at apply time (plan_defer)
    schema_index: bool = False  # validate attaches the provider schema index (--feedback schema, --autofix)
    # generated code (compile, tests)
    sandbox: str | None = None  # --sandbox level (None: auto, the best that works, else refuse)
    test_timeout: float | None = None  # seconds for the tests (None: the smaller of timeout and the tests' default)
    show_tests: bool = True  # the first request shows the tests' content (an eval's hidden tests: False)
    # scanners
    checkov_checks: list[str] = field(default_factory=list)  # checkov --check (ids or severities)
    checkov_skip_checks: list[str] = field(default_factory=list)  # checkov --skip-check
    trivy_severity: str | None = None  # trivy --severity, e.g. "HIGH,CRITICAL"
    extra: dict[str, Any] = field(default_factory=dict)  # a third-party verifier's own options

    def __post_init__(self) -> None:
        typed = sorted(set(self.extra) & set(self.__dataclass_fields__))
        if typed:  # an option that used to travel in extra: say where it went rather than ignore it
            raise TypeError(f"VerifyOptions.extra is for third-party verifiers' own options; {', '.join(typed)} "
                            f"is a field: VerifyOptions({typed[0]}=...)")


@dataclass
class VerifyContext:
    """One verification of one folder. ``artifacts`` is shared by the stages of a chain:
    ``plan`` puts ``plan_json`` there and ``rego`` reads it."""

    workdir: Path
    options: VerifyOptions = field(default_factory=VerifyOptions)
    artifacts: dict[str, Any] = field(default_factory=dict)


class Verifier(ABC):
    """Base class for verifiers. Subclasses set ``name`` and ``description`` and implement
    ``check``; ``verify`` times it. Instances are created once per run and reused across attempts,
    so they may keep caches (e.g. Terraform's init per provider requirement set)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    modes: ClassVar[tuple[str, ...]] = ("terraform",)  # which modes it makes sense in

    def available(self) -> tuple[bool, str]:
        """Can it run on this machine? (ok, reason shown by `tfagent verifiers`)."""
        return True, "ok"

    @abstractmethod
    def check(self, ctx: VerifyContext) -> Verdict:
        """The seam: look at ``ctx.workdir`` and return a Verdict (``verify`` adds the timing)."""

    def verify(self, ctx: VerifyContext) -> Verdict:
        start = time.perf_counter()
        verdict = self.check(ctx)
        verdict.verifier = verdict.verifier or self.name
        verdict.seconds = time.perf_counter() - start
        for name, path in verdict.artifacts.items():
            ctx.artifacts[name] = path
        return verdict


def error(summary: str, detail: str = "", **kw: Any) -> Diagnostic:
    return Diagnostic(severity=ERROR, summary=summary, detail=detail, **kw)


def warning(summary: str, detail: str = "", **kw: Any) -> Diagnostic:
    return Diagnostic(severity=WARNING, summary=summary, detail=detail, **kw)
