"""The prompt-fair judge's rules beside the strict one: a task's correction, and unknown-at-plan references resolved.

IaC-Eval's policies (the *strict* judge, kept unchanged so figures stay comparable with the literature)
sometimes demand what the prompt never states — a zone named ``example53.com``, a resource named
``example53`` — or compare a planned value with a literal, so the idiomatic reference
(``bucket = aws_s3_bucket.a.id``, unknown until apply) fails. The *fair* judge differs in two ways only:

- a task listed in the suite's ``corrections.yaml`` (read with the suite: ``tasks/corrections.py``) is judged
  by its corrected policy (beside the original, e.g. ``intents-fair/<task>.rego``), each correction with a
  one-line reason; a correction may only drop or relax what the prompt does not state (``tfagent eval
  audit-intents`` checks it);
- a planned value that is unknown at plan time because it is a bare reference to another resource of
  the same plan (``bucket = aws_s3_bucket.a.id``) is resolved from the configuration
  (``configuration.root_module…references``): the referenced attribute's planned value, or for ``id`` the
  attribute the aws provider documents ``id`` to equal (``ID_EQUALS``).
"""

from __future__ import annotations

import copy
import re
from typing import Any

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


# ---------------------------------------------------------------- unknown-at-plan references


def bare_references(blocks) -> dict[tuple[str, str], str]:
    """(resource address, top-level attribute) → the traversal it is set to, for attributes whose whole
    value is one reference (``bucket = aws_s3_bucket.a.id``; not ``"${aws_s3_bucket.a.id}-logs"``).
    ``blocks``: ``hcl.parse_blocks`` of the configuration."""
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
