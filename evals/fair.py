"""The prompt-fair judge's data: corrections of a suite's intents, and unknown-at-plan references resolved.

IaC-Eval's policies (the *strict* judge, kept unchanged so figures stay comparable with the literature)
sometimes demand what the prompt never states — a zone named ``example53.com``, a resource named
``example53`` — or compare a planned value with a literal, so the idiomatic reference
(``bucket = aws_s3_bucket.a.id``, unknown until apply) fails. The *fair* judge differs in two ways only:

- a task listed in the suite's ``corrections.yaml`` is judged by its corrected policy (beside the
  original, e.g. ``intents-fair/<task>.rego``), each correction with a one-line reason; a correction
  may only drop or relax what the prompt does not state (``tfagent eval audit-intents`` checks it);
- a planned value that is unknown at plan time because it is a bare reference to another resource of
  the same plan (``bucket = aws_s3_bucket.a.id``) is resolved from the configuration
  (``configuration.root_module…references``): the referenced attribute's planned value, or for ``id`` the
  attribute the aws provider documents ``id`` to equal (``ID_EQUALS``).

``corrections.yaml``::

    corrections:
      - task: iac-001-aws-route53-record
        kind: unstated_value            # or: planned_literal, unstated_name, …
        reason: zone name "example53.com" and resource name "example53" are not in the prompt
        policy: intents-fair/iac-001-aws-route53-record.rego   # optional: without it, the original
                                                               # policy on the resolved plan
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tfagent.evals.suite_fields import FieldError, RegoIntent, read_suite_file

CORRECTIONS_FILE = "corrections.yaml"
CORRECTION_KEYS = {"task", "kind", "reason", "policy"}
KINDS = ("unstated_value", "unstated_name", "planned_literal", "wrong_attribute", "unstated_resource", "stated_value_unchecked")

# ``id`` of these aws resources equals another attribute (aws provider documentation, "Attribute Reference").
ID_EQUALS = {
    "aws_s3_bucket": "bucket",
    "aws_iam_role": "name",
    "aws_iam_user": "name",
    "aws_iam_group": "name",
    "aws_iam_instance_profile": "name",
    "aws_iam_policy": "arn",
    "aws_dynamodb_table": "name",
    "aws_cloudwatch_log_group": "name",
    "aws_lambda_function": "function_name",
    "aws_ecr_repository": "name",
    "aws_elastic_beanstalk_application": "name",
    "aws_route53_zone": "zone_id",
    "aws_sns_topic": "arn",
    "aws_key_pair": "key_name",
    "aws_elasticache_cluster": "cluster_id",
}
_TRAVERSAL = re.compile(r"^(?:data\.)?([a-z][a-z0-9_]*)\.([A-Za-z_][\w-]*)\.([A-Za-z_]\w*)$")


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


# ---------------------------------------------------------------- unknown-at-plan references


def bare_references(blocks) -> dict[tuple[str, str], str]:
    """(resource address, top-level attribute) → the traversal it is set to, for attributes whose whole
    value is one reference (``bucket = aws_s3_bucket.a.id``; not ``"${aws_s3_bucket.a.id}-logs"``).
    ``blocks``: ``judge_hcl.parse_blocks`` of the configuration."""
    out = {}
    for block in blocks:
        if block.kind != "resource" or not isinstance(block.body, dict):
            continue
        for key, value in block.body.items():
            text = value if isinstance(value, str) else None
            match = re.fullmatch(r"\$\{([^{}]*)\}", text.strip()) if text else None
            if match and _TRAVERSAL.match(match.group(1).strip()):
                out[(f"{block.type}.{block.name}", key.strip('"'))] = match.group(1).strip()
    return out


def resolve_unknowns(plan: dict[str, Any], bare: dict[tuple[str, str], str]) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``plan`` in which each planned value that is unknown only because it is a bare reference
    to another root-module resource holds the referenced value; and one line per value resolved.

    The reference must also be in the plan's own ``configuration.root_module`` expressions (Terraform's
    view), and the referenced value must be known at plan time (directly, or for ``id`` through
    ``ID_EQUALS``). Anything else stays unknown, as in the strict judge."""
    resolved = copy.deepcopy(plan)
    planned = {r.get("address"): r for r in ((resolved.get("planned_values") or {}).get("root_module") or {}).get("resources", [])}
    changes = {c.get("address"): c for c in resolved.get("resource_changes") or []}
    configured = {r.get("address"): r for r in ((resolved.get("configuration") or {}).get("root_module") or {}).get("resources", [])}
    notes: list[str] = []
    for (address, attr), traversal in sorted(bare.items()):
        resource, change = planned.get(address), changes.get(address)
        config = configured.get(address)
        if resource is None or change is None or config is None:
            continue
        unknown = ((change.get("change") or {}).get("after_unknown") or {}).get(attr)
        references = ((config.get("expressions") or {}).get(attr) or {}).get("references") or []
        if unknown is not True or traversal not in references:
            continue
        value = _referenced_value(traversal, planned)
        if value is None:
            continue
        resource.setdefault("values", {})[attr] = value
        after = (change.get("change") or {}).get("after")
        if isinstance(after, dict):
            after[attr] = value
        change["change"]["after_unknown"][attr] = False
        notes.append(f"{address}.{attr} = {traversal} → {value!r}")
    return resolved, notes


def _referenced_value(traversal: str, planned: dict[str, dict[str, Any]]) -> Any:
    match = _TRAVERSAL.match(traversal)
    if match is None or traversal.startswith("data."):
        return None
    rtype, name, attr = match.groups()
    target = planned.get(f"{rtype}.{name}")
    if target is None:
        return None
    values = target.get("values") or {}
    value = values.get(attr)
    if value is None and attr == "id" and rtype in ID_EQUALS:
        value = values.get(ID_EQUALS[rtype])
    return value if isinstance(value, (str, int, float, bool)) else None
