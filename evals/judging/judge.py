"""The eval's judge: hidden checks, run apart from the in-loop verifier chain.

The model never sees these checks (IaC-Eval's multi-turn mode showed the judge's own errors to the model,
which inflates scores). For terraform: a real ``terraform plan`` when the task requires one (offline aws
settings, the caller's provider mirror), the task's Rego intent on the plan JSON — or on the parsed
configuration when there is no plan — HCL structure checks and checkov ids that must pass. For code:
the hidden tests, run in the sandbox by the ``tests`` verifier.

Three verdicts: pass, fail, and **undecided: <reason>** — the environment, not the model, stopped the
judge (a Rego builtin regopy lacks, a data source that needs the AWS API, ``file()`` of a path outside
the configuration such as ``~/.ssh/…``, a provider or provider version the mirror lacks, no checkov).
Undecided cells are left out of every rate and listed in the reports, never counted as model failures.

Two judges rule on the same plan: **strict** (the task's own policy: IaC-Eval's, unchanged, comparable
with the literature) and **fair** (``judging/fair.py``; ``tasks/corrections.py``: the suite's corrected policy
where the prompt does not state what the original demands, and unknown-at-plan references resolved from the
configuration).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tfagent.evals.judging.hcl import attribute_check, parse_blocks, required_types_check
from tfagent.evals.tasks.fields import FieldError, rego_package, safe_relative
from tfagent.evals.tasks.suite import Task
from tfagent.evals.judging.verdicts import JUDGES, NoFairVerdict, stored_undecided, verdict_outcome  # noqa: F401 (re-exported)
from tfagent.verifiers.base import Verdict, Verifier, VerifyContext, VerifyOptions
from tfagent.verifiers.terraform.hcl import HclParseError
from tfagent.verifiers.undecided import undecided_reason

OFFLINE_DATA_SOURCE = "offline_data_source"  # the plan verifier's rule for data sources needing the AWS API
_instances: dict[str, Verifier] = {}
_instances_lock = threading.Lock()



@dataclass
class JudgeVerdict:
    """The strict verdict (``ok``, ``checks``, ``undecided``) and the fair one beside it (``fair``:
    ``{ok, checks, undecided, correction, resolved}``; None when the fair judge was not asked)."""

    ok: bool
    checks: list[dict[str, Any]] = field(default_factory=list)  # {name, ok, detail}
    undecided: str | None = None  # why the judge could not decide here (not a model failure)
    seconds: float = 0.0
    fair: dict[str, Any] | None = None

    @property
    def unsupported(self) -> str | None:  # the earlier name of ``undecided``
        return self.undecided

    def status(self, judge: str = "strict") -> str:
        """"pass", "fail" or "undecided: <reason>" under ``judge``."""
        ok, undecided = verdict_outcome(self.to_dict(), judge)
        return f"undecided: {undecided}" if undecided else ("pass" if ok else "fail")

    def to_dict(self) -> dict[str, Any]:
        data = {"ok": self.ok, "checks": [dict(c) for c in self.checks], "undecided": self.undecided,
                "seconds": round(self.seconds, 4)}
        if self.fair is not None:
            data["fair"] = {**self.fair, "checks": [dict(c) for c in self.fair.get("checks", [])]}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JudgeVerdict":
        return cls(ok=bool(data["ok"]), checks=[dict(c) for c in data.get("checks", [])],
                   undecided=stored_undecided(data), seconds=float(data.get("seconds", 0.0)),
                   fair=dict(data["fair"]) if isinstance(data.get("fair"), dict) else None)


def judge_task(task: Task, files: dict[str, str], *, options: VerifyOptions,
               keep_dir: Path | None = None, judges: tuple[str, ...] = JUDGES, deleted: tuple[str, ...] = ()) -> JudgeVerdict:
    """Judge a task's final files. ``files`` are copied into a scratch folder (removed afterwards
    unless ``keep_dir`` is given, which then receives the scratch copy for inspection). ``judges``:
    "strict" always rules; with "fair" the fair verdict is computed beside it (same plan)."""
    unknown = [j for j in judges if j not in JUDGES]
    if unknown:
        raise ValueError(f"unknown judge {unknown[0]!r} (known: {', '.join(JUDGES)})")
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=f"tfagent-judge-{task.id}-"))
    run = _JudgeRun(task, scratch, options, fair="fair" in judges)
    try:
        if not files and not deleted:
            run.add("files", False, "no files to judge")
        else:
            # The task's given files first: the model need not repeat them, and its own version wins;
            # ``deleted``: the files its reply deleted (a task that starts from a folder).
            run.write_files({p: t for p, t in {**task.files, **files}.items() if p not in deleted})
            if run.ok_so_far():
                run.judge()
        if keep_dir is not None:
            shutil.copytree(scratch, keep_dir, dirs_exist_ok=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ok = run.undecided is None and bool(run.checks) and all(c["ok"] for c in run.checks)
    return JudgeVerdict(ok=ok, checks=run.checks, undecided=run.undecided, seconds=time.perf_counter() - start,
                        fair=run.fair_verdict() if "fair" in judges else None)


JUDGE_STAGES = ("plan", "checkov", "tests")  # the verifiers a task's judge may name


def _verifier(name: str) -> Verifier:
    """One instance per verifier per process (they keep caches: Terraform's init per provider set),
    looked up in the verifier registry like every other chain."""
    if name not in JUDGE_STAGES:
        raise ValueError(f"the judge has no stage {name!r} (known: {', '.join(JUDGE_STAGES)})")
    with _instances_lock:
        if name not in _instances:
            from tfagent.verifiers.registry import discover

            info = discover().get(name)
            if info is None or info.cls is None:
                raise ValueError(f"the judge's stage {name!r} is not registered: {info.load_error if info else 'no entry point'}")
            _instances[name] = info.cls()  # availability is the stage's own business (missing checkov → undecided)
        return _instances[name]


def _is_test_file(path: str) -> bool:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name == "conftest.py" or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")))


def _summary(verdict: Verdict, limit: int = 5) -> str:
    errors = verdict.errors or verdict.diagnostics
    parts = []
    for d in errors[:limit]:
        where = f"{d.file}:{d.line}: " if d.file and d.line else (f"{d.file}: " if d.file else "")
        rule = f"[{d.rule}] " if d.rule else ""
        parts.append(f"{where}{rule}{d.summary}" + (f" — {d.detail[:200]}" if d.detail else ""))
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(parts) + more if parts else (verdict.note or "failed")


class _JudgeRun:
    def __init__(self, task: Task, scratch: Path, options: VerifyOptions, fair: bool = False):
        self.task = task
        self.workdir = scratch / "work"
        self.scratch = scratch
        self.options = options
        self.checks: list[dict[str, Any]] = []
        self.env_undecided: str | None = None  # the environment stopped a stage: both judges undecided
        self.rego_undecided: dict[str, str | None] = {"strict": None, "fair": None}
        self.fair = fair
        self.fair_checks: list[dict[str, Any]] = []  # the fair judge's Rego checks (the strict ones are in checks)
        self.resolved: list[str] = []  # unknown-at-plan references the fair judge resolved

    @property
    def undecided(self) -> str | None:
        return self.env_undecided or self.rego_undecided["strict"]

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append({"name": name, "ok": bool(ok), "detail": detail})

    def mark_undecided(self, reason: str) -> None:
        self.env_undecided = self.env_undecided or reason

    def fair_verdict(self) -> dict[str, Any]:
        """Every check but the strict Rego intents is shared; the fair Rego checks take their place."""
        if self.task.judge.rego:
            checks = [dict(c) for c in self.checks if not c["name"].startswith("rego:")] + self.fair_checks
        else:  # no intent to correct: the fair verdict is the strict one
            checks = [dict(c) for c in self.checks]
        undecided = self.env_undecided or self.rego_undecided["fair"]
        correction = self.task.judge.fair
        return {"ok": undecided is None and bool(checks) and all(c["ok"] for c in checks), "checks": checks,
                "undecided": undecided, "correction": correction.reason if correction is not None else None,
                "resolved": list(self.resolved)}

    def ok_so_far(self) -> bool:
        return all(c["ok"] for c in self.checks)

    def write_files(self, files: dict[str, str]) -> None:
        self.workdir.mkdir(parents=True)
        for path, content in files.items():
            if self.task.mode == "code" and _is_test_file(path):
                # Only the hidden tests judge: the model's own tests (or a conftest.py that could alter
                # pytest) must neither fail nor rescue an answer.
                continue
            try:
                rel = safe_relative(path, "files")
            except FieldError as exc:
                self.add("files", False, exc.message)
                continue
            target = self.workdir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")

    def judge(self) -> None:
        spec = self.task.judge
        if self.task.mode == "code":
            self._tests()
            return
        if spec.hcl_resources or spec.hcl_checks:
            self._hcl()
        plan_json = self._plan() if spec.plan_required else None
        if spec.rego:
            self._rego(plan_json)
        if spec.checkov_pass:
            self._checkov()

    def _run_stage(self, name: str, options: VerifyOptions) -> tuple[Verdict | None, VerifyContext]:
        ctx = VerifyContext(workdir=self.workdir, options=options)
        try:
            verifier = _verifier(name)
        except ImportError as exc:
            self.mark_undecided(f"judge stage {name!r} is not installed: {exc}")
            return None, ctx
        available, reason = verifier.available()
        if not available:
            self.mark_undecided(f"judge stage {name!r} cannot run here: {reason}")
            return None, ctx
        try:
            return verifier.verify(ctx), ctx
        except Exception as exc:  # a crashing stage is the judge's problem, not the model's: reported
            self.add(name, False, f"judge stage crashed: {type(exc).__name__}: {exc}")
            self.mark_undecided(f"judge stage {name!r} crashed: {type(exc).__name__}: {exc}")
            return None, ctx

    def _hcl(self) -> None:
        try:
            blocks = parse_blocks(self._tf_files())
        except HclParseError as exc:
            self.add("hcl:parse", False, str(exc))
            return
        if self.task.judge.hcl_resources:
            self.checks.append(required_types_check(blocks, self.task.judge.hcl_resources))
        for check in self.task.judge.hcl_checks:
            self.checks.append(attribute_check(blocks, check))

    def _tf_files(self) -> dict[str, str]:
        return {str(p.relative_to(self.workdir).as_posix()): p.read_text(encoding="utf-8")
                for p in self.workdir.rglob("*.tf")}

    def _plan(self) -> dict[str, Any] | None:
        artifacts = self.scratch / "artifacts"
        artifacts.mkdir(exist_ok=True)
        options = replace(self.options, offline_aws=True, artifacts_dir=artifacts)
        verdict, ctx = self._run_stage("plan", options)
        if verdict is None:
            return None
        needs_api = [d for d in verdict.diagnostics if d.rule == OFFLINE_DATA_SOURCE]
        if not verdict.ok:
            environment = undecided_reason(verdict, self.workdir)
            if environment:
                self.mark_undecided(environment)
            self.add("plan", False, _summary(verdict))
            return None
        path = ctx.artifacts.get("plan_json") or verdict.artifacts.get("plan_json")
        if not path or not Path(path).is_file():
            if needs_api:  # a data source read at plan time: only real AWS can decide this task
                self.mark_undecided(f"plan needs the AWS API: {needs_api[0].summary}")
            self.add("plan", False, verdict.note or "the plan verifier produced no plan JSON")
            return None
        self.add("plan", True, verdict.note)
        return json.loads(Path(path).read_text(encoding="utf-8"))

    def _rego(self, plan_json: dict[str, Any] | None) -> None:
        from tfagent.verifiers.policy.rego import load_input

        strict = list(self.task.judge.rego)
        correction = self.task.judge.fair
        fair = list(correction.rego) if correction is not None and correction.rego else strict
        if self.task.judge.plan_required and plan_json is None:
            for intent in strict:
                self.add(f"rego:{intent.name}", False, "not evaluated: no plan")
            self.fair_checks = [{"name": f"rego:{i.name}", "ok": False, "detail": "not evaluated: no plan"} for i in fair]
            return
        try:
            input_obj = plan_json if plan_json is not None else load_input(self.workdir)
        except ValueError as exc:  # HclParseError (file:line) or an unreadable plan JSON
            for intent in strict:
                self.add(f"rego:{intent.name}", False, f"not evaluated: {exc}")
            self.fair_checks = [{"name": f"rego:{i.name}", "ok": False, "detail": f"not evaluated: {exc}"} for i in fair]
            return
        self.checks += self._evaluate(strict, input_obj, "strict")
        if self.fair:
            fair_input = input_obj
            if plan_json is not None:
                fair_input, self.resolved = self._resolved(plan_json)
            self.fair_checks = self._evaluate(fair, fair_input, "fair")

    def _resolved(self, plan_json: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        from tfagent.evals.judging.fair import bare_references, resolve_unknowns

        try:
            blocks = parse_blocks(self._tf_files())
        except HclParseError:  # it planned, so it parses; a file python-hcl2 cannot read resolves nothing
            return plan_json, []
        return resolve_unknowns(plan_json, bare_references(blocks))

    def _evaluate(self, intents, input_obj: dict[str, Any], judge: str) -> list[dict[str, Any]]:
        from tfagent.verifiers.policy.rego import evaluate_policy

        checks = []
        for intent in intents:
            query = self.task.judge.rego_query or f"data.{rego_package(intent.text) or 'terraform.validation'}"
            outcome = evaluate_policy(intent.text, input_obj, query=query)
            name = f"rego:{intent.name}"
            if outcome.unsupported_builtin:
                self.rego_undecided[judge] = self.rego_undecided[judge] or (
                    f"Rego builtin {outcome.unsupported_builtin} is not supported by regopy ({intent.name})")
                checks.append({"name": name, "ok": False, "detail": f"unsupported builtin {outcome.unsupported_builtin}"})
            elif outcome.error:
                checks.append({"name": name, "ok": False, "detail": f"policy error: {outcome.error}"})
            else:
                failed = ", ".join(outcome.failed_rules)
                checks.append({"name": name, "ok": outcome.ok, "detail": f"false rules: {failed}" if failed else "all rules true"})
        return checks

    def _checkov(self) -> None:
        verdict, _ = self._run_stage("checkov", self.options)
        if verdict is None:
            return
        failed = {d.rule for d in verdict.diagnostics if d.rule}
        for check_id in self.task.judge.checkov_pass:
            self.add(f"checkov:{check_id}", check_id not in failed, "failed" if check_id in failed else "passed")

    def _tests(self) -> None:
        tests_dir = self.scratch / "judge_tests"
        for path, content in self.task.judge.tests.items():
            target = tests_dir / safe_relative(path, "judge.tests")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        options = replace(self.options, mode="code", lang=self.task.lang or "python", tests=tests_dir,
                          test_cmd=None)
        verdict, _ = self._run_stage("tests", options)
        if verdict is not None:
            self.add("tests", verdict.ok, verdict.note if verdict.ok else _summary(verdict, limit=8))
