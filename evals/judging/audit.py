"""The intent audit: does each task's judge accept every correct answer and reject wrong ones?

For every task with a reference: the reference and its equivalent variants (``audit_variants``: renamed
resources, reordered arguments, literal ↔ reference) must pass; its wrong variants (a required resource
dropped, a stated value changed, a stated setting flipped) must fail. Each variant is planned once and
judged by both judges (strict: the task's own intent; fair: the suite's corrections). A task is flagged,
per judge, with the variants that show the flaw. Runs on any suite with references (an imported one,
a user's own), so anyone can check their benchmark's judge.

- an equivalent variant that does not plan says nothing about the policy (our rewrite broke it, or an
  environment limit): reported as "not informative", never as a flag;
- undecided verdicts (``judge.py``) are likewise not counted.
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from tfagent.evals.judging.audit_variants import Variant, variants
from tfagent.evals.judging.verdicts import JUDGES
from tfagent.evals.tasks.suite import Suite, Task
from tfagent.verifiers.base import VerifyOptions

FAMILIES = ("rename", "reorder", "literal-to-reference", "reference-to-literal", "drop", "value", "flip")
# A literal in place of a reference plans the same values but drops the implicit dependency (Terraform may
# create the user before the resource it names), so a policy that requires the reference is defensible:
# such rejections are reported, and a correction need not accept them.
DEPENDENCY_DROPPING = "reference-to-literal"


@dataclass
class Outcome:
    variant: str  # "reference" or the variant's name
    kind: str  # "reference" | "equivalent" | "wrong"
    note: str
    strict: str  # pass | fail | undecided: …
    fair: str
    planned: bool
    detail: str = ""  # the failed checks when it did not pass (first one, shortened)

    @property
    def family(self) -> str:
        return self.variant.split(":", 1)[0]

    def expected(self) -> str:
        return "fail" if self.kind == "wrong" else "pass"

    def flaw(self, judge: str) -> str | None:
        """"rejects" / "accepts" when ``judge``'s verdict is wrong for this variant, None otherwise."""
        status = getattr(self, judge)
        if status.startswith("undecided"):
            return None
        if self.kind == "wrong":
            return "accepts" if status == "pass" else None
        if status == "fail" and (self.planned or self.kind == "reference"):
            return "rejects"
        return None

    def informative(self) -> bool:
        return self.kind == "wrong" or self.planned


@dataclass
class TaskAudit:
    task: str
    prompt: str
    correction: str | None
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def flags(self, judge: str) -> list[dict[str, str]]:
        return [{"flaw": o.flaw(judge), "variant": o.variant, "note": o.note, "detail": o.detail}
                for o in self.outcomes if o.flaw(judge)]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TaskAudit":
        """Back from ``to_dict`` (audit.json): re-render or merge audits without planning again."""
        return cls(data["task"], data["prompt"], data.get("correction"), [Outcome(**o) for o in data["outcomes"]],
                   float(data.get("seconds", 0.0)))

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "prompt": self.prompt, "correction": self.correction, "seconds": round(self.seconds, 2),
                "flags": {judge: self.flags(judge) for judge in JUDGES},
                "outcomes": [asdict(o) for o in self.outcomes]}


def required_types(task: Task) -> list[str]:
    """The resource types a task names (IaC-Eval's ``Resource`` column, imported as tags)."""
    return [t for t in task.tags if t.startswith("aws_") or t.startswith("azurerm_") or t.startswith("google_")]


def task_variants(task: Task) -> list[Variant]:
    main = next(iter(task.reference.values()))
    return variants(main, task.prompt, required_types(task))


def audit_task(task: Task, options: VerifyOptions, judge: Callable[..., Any] | None = None) -> TaskAudit:
    from tfagent.evals.judging.judge import judge_task

    judge = judge or judge_task
    start = time.perf_counter()
    (path, main), *rest = task.reference.items()
    audit = TaskAudit(task.id, task.prompt, task.judge.fair.reason if task.judge.fair is not None else None)
    cases = [Variant("reference", "reference", main, "the suite's reference output")] + task_variants(task)
    for case in cases:
        verdict = judge(task, {**dict(rest), path: case.text}, options=options)
        planned = any(c["name"] == "plan" and c["ok"] for c in verdict.checks)
        failed = [c for c in verdict.checks if not c["ok"]]
        detail = f"{failed[0]['name']}: {failed[0]['detail']}"[:300] if failed else ""
        audit.outcomes.append(Outcome(case.name, case.kind, case.note, verdict.status("strict"), verdict.status("fair"),
                                      planned, detail))
    audit.seconds = time.perf_counter() - start
    return audit


def audit_suite(suite: Suite, options: VerifyOptions, *, tasks: list[Task] | None = None, workers: int = 2,
                on_task: Callable[[TaskAudit], None] | None = None) -> list[TaskAudit]:
    chosen = [t for t in (tasks or suite.tasks) if t.reference and t.judge.rego]
    audits: dict[str, TaskAudit] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(audit_task, task, options): task.id for task in chosen}
        for future in concurrent.futures.as_completed(futures):
            audit = future.result()
            audits[audit.task] = audit
            if on_task is not None:
                on_task(audit)
    return [audits[t.id] for t in chosen]


def fair_problems(audit: TaskAudit) -> list[dict[str, str]]:
    """What the fair judge must never do: reject a correct variant (but a reference replaced by a literal,
    ``DEPENDENCY_DROPPING``), or accept a wrong one the strict judge rejects (a correction only relaxes what
    the prompt does not state)."""
    strict_accepts = {f["variant"] for f in audit.flags("strict") if f["flaw"] == "accepts"}
    return [f for f in audit.flags("fair")
            if (f["flaw"] == "rejects" and not f["variant"].startswith(DEPENDENCY_DROPPING))
            or (f["flaw"] == "accepts" and f["variant"] not in strict_accepts)]


def summarize(audits: list[TaskAudit]) -> dict[str, Any]:
    """Per judge: tasks flagged, and flagged tasks by the family of variant that shows the flaw."""
    out: dict[str, Any] = {"tasks": len(audits),
                           "variants": sum(len(a.outcomes) - 1 for a in audits),
                           "not_informative": sum(not o.informative() for a in audits for o in a.outcomes),
                           "corrected": sorted(a.task for a in audits if a.correction)}
    for judge in JUDGES:
        by_kind: dict[str, list[str]] = {}
        for audit in audits:
            for flag in audit.flags(judge):
                key = f"{flag['flaw']} {flag['variant'].split(':', 1)[0]}"
                if audit.task not in by_kind.setdefault(key, []):
                    by_kind[key].append(audit.task)
        out[judge] = {"flagged": sorted(a.task for a in audits if a.flags(judge)),
                      "by_kind": {k: sorted(v) for k, v in sorted(by_kind.items())}}
    out["fair_problems"] = sorted(a.task for a in audits if fair_problems(a))
    return out


def markdown(audits: list[TaskAudit], meta: dict[str, Any]) -> str:
    summary = summarize(audits)
    lines = [f"# Intent audit: {meta.get('suite', '')}", "",
             " · ".join(f"{k}: {v}" for k, v in meta.items() if k != "suite"), "",
             f"{summary['tasks']} tasks, {summary['variants']} variants (+ each reference); "
             f"{summary['not_informative']} equivalent variants did not plan and say nothing about the policy.", "",
             "A judge is flagged on a task when it rejects the reference or an equivalent variant (renamed resources, "
             "reordered arguments, literal ↔ reference), or accepts a wrong one (a required resource dropped, a value "
             "the prompt states changed, a setting the prompt names flipped).", "",
             "| judge | tasks flagged | by kind (tasks) |", "|---|---|---|"]
    for judge in JUDGES:
        part = summary[judge]
        kinds = "; ".join(f"{k}: {len(v)}" for k, v in part["by_kind"].items()) or "none"
        lines.append(f"| {judge} | {len(part['flagged'])} of {summary['tasks']} | {kinds} |")
    lines += ["", "The fair judge must never reject the reference or an equivalent variant, nor accept a wrong variant the "
              "strict judge rejects; a policy too lenient to reject a wrong variant stays as IaC-Eval wrote it (a "
              "correction only relaxes what the prompt does not state). A reference replaced by its literal value plans "
              "the same but drops the implicit dependency (Terraform may create the user first), so a policy requiring "
              "the reference is reported, not corrected. Tasks where the fair judge breaks these rules: "
              + (", ".join(summary["fair_problems"]) or "none") + "."]
    lines += ["", "## Flagged tasks", ""]
    for audit in audits:
        strict, fair = audit.flags("strict"), audit.flags("fair")
        if not strict and not fair:
            continue
        lines.append(f"### {audit.task}" + (" (corrected)" if audit.correction else ""))
        lines += ["", f"Prompt: {audit.prompt}", ""]
        if audit.correction:
            lines += [f"Correction: {audit.correction}", ""]
        for judge, flags in (("strict", strict), ("fair", fair)):
            for flag in flags:
                lines.append(f"- {judge} {flag['flaw']} `{flag['variant']}` ({flag['note']})"
                             + (f" — {flag['detail']}" if flag["detail"] and flag["flaw"] == "rejects" else ""))
        lines.append("")
    lines += ["## Every task", "", "| task | variants | strict | fair |", "|---|---|---|---|"]
    for audit in audits:
        def cell(judge: str) -> str:
            flags = audit.flags(judge)
            return "ok" if not flags else ", ".join(f"{f['flaw']} {f['variant'].split(':', 1)[0]}" for f in flags)
        lines.append(f"| {audit.task} | {len(audit.outcomes) - 1} | {cell('strict')} | {cell('fair')} |")
    return "\n".join(lines) + "\n"
