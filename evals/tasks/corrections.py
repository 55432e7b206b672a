"""The prompt-fair judge's corrections of a suite's intents: ``corrections.yaml`` beside ``suite.yaml``.

A task listed there is judged by the fair judge (``judging/fair.py``, ``judging/judge.py``) with its corrected
policy (beside the original, e.g. ``intents-fair/<task>.rego``), each correction with a one-line reason; a
correction may only drop or relax what the prompt does not state (``tfagent eval audit-intents`` checks it).
``suite.py`` reads it with the suite and hangs each task's correction on ``task.judge.fair``.

``corrections.yaml``::

    corrections:
      - task: iac-001-aws-route53-record
        kind: unstated_value            # or: planned_literal, unstated_name, …
        reason: zone name "example53.com" and resource name "example53" are not in the prompt
        policy: intents-fair/iac-001-aws-route53-record.rego   # optional: without it, the original
                                                               # policy on the resolved plan
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tfagent.evals.tasks.fields import FieldError, RegoIntent, read_suite_file

CORRECTIONS_FILE = "corrections.yaml"
CORRECTION_KEYS = {"task", "kind", "reason", "policy"}
KINDS = ("unstated_value", "unstated_name", "planned_literal", "wrong_attribute", "unstated_resource", "stated_value_unchecked")


class CorrectionsError(ValueError):
    """corrections.yaml is malformed; the message names the file, the entry and the field."""


@dataclass(frozen=True)
class Correction:
    task: str
    kind: str
    reason: str
    rego: tuple[RegoIntent, ...] = ()  # empty: the original policy, on the resolved plan

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "kind": self.kind, "reason": self.reason,
                "policy": [r.name for r in self.rego]}


def load_corrections(suite_dir: Path) -> dict[str, Correction]:
    """task id → its correction (``{}`` when the suite has no corrections.yaml)."""
    path = Path(suite_dir) / CORRECTIONS_FILE
    if not path.is_file():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CorrectionsError(f"{path}: cannot read: {exc}") from exc
    entries = doc.get("corrections") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise CorrectionsError(f"{path}: expected a mapping with 'corrections:' holding a list of entries")
    out: dict[str, Correction] = {}
    for index, entry in enumerate(entries):
        where = f"{path}: corrections[{index}]"
        if not isinstance(entry, dict):
            raise CorrectionsError(f"{where}: expected a mapping {{task, kind, reason, policy}}")
        unknown = sorted(set(entry) - CORRECTION_KEYS)
        if unknown:
            raise CorrectionsError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(CORRECTION_KEYS))})")
        task, kind, reason = entry.get("task"), entry.get("kind"), entry.get("reason")
        if not isinstance(task, str) or not task.strip():
            raise CorrectionsError(f"{where}: field 'task': expected a task id")
        if task in out:
            raise CorrectionsError(f"{where}: task {task!r} is corrected twice")
        if kind not in KINDS:
            raise CorrectionsError(f"{where} ({task}): field 'kind': expected one of {', '.join(KINDS)}, got {kind!r}")
        if not isinstance(reason, str) or not reason.strip() or "\n" in reason.strip():
            raise CorrectionsError(f"{where} ({task}): field 'reason': expected one line of text")
        policies = entry.get("policy") or []
        policies = [policies] if isinstance(policies, str) else policies
        if not isinstance(policies, list) or not all(isinstance(p, str) and p.endswith(".rego") for p in policies):
            raise CorrectionsError(f"{where} ({task}): field 'policy': expected a .rego path (or a list of them)")
        try:
            rego = tuple(RegoIntent(p, read_suite_file(p, "policy", Path(suite_dir))) for p in policies)
        except FieldError as exc:
            raise CorrectionsError(f"{where} ({task}): field {exc.field!r}: {exc.message}") from exc
        out[task] = Correction(task.strip(), kind, reason.strip(), rego)
    return out
