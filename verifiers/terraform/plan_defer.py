"""Offline: plan past data sources that need the AWS API by deferring their read to apply time.

Terraform defers a data source's read to apply when it ``depends_on`` a resource with a pending
change; its attributes are then "known after apply" in the plan, exactly as in a real plan whose
data source inputs are not known yet. ``depends_on`` cannot be set from an override file ("The
depends_on argument may not be overridden"), so the *scratch copy* is rewritten: a ``depends_on``
line is inserted into each such data block and a ``terraform_data`` resource (built into Terraform
>= 1.4, no provider to install) is added. Afterwards that resource is removed from plan.json, so
policies see the user's configuration only. The model's folder is never edited.
"""

from __future__ import annotations

import re
from pathlib import Path

from tfagent.verifiers.terraform.hcl import ParsedConfig, iter_blocks

DEFER_FILE = "zz_tfagent_defer.tf"
DEFER_ADDRESS = "terraform_data.tfagent_offline_defer"
_DEFER_RESOURCE = 'resource "terraform_data" "tfagent_offline_defer" {}\n'
_DEPENDS_ON = f"  depends_on = [{DEFER_ADDRESS}]"
MIN_TERRAFORM = (1, 4)  # terraform_data


def supports_deferral(terraform_version: str) -> bool:
    parts = re.findall(r"\d+", terraform_version)[:2]
    return len(parts) == 2 and (int(parts[0]), int(parts[1])) >= MIN_TERRAFORM


def defer_data_sources(scratch: Path, config: ParsedConfig, addresses: set[str]) -> tuple[set[str], dict]:
    """Rewrite root-module data blocks named in ``addresses`` (``data.TYPE.NAME``) in ``scratch``.
    Returns (addresses deferred, {file: new line -> original line}). Blocks with their own
    ``depends_on`` are left alone (one argument cannot appear twice)."""
    targets: dict[str, list[tuple[str, str]]] = {}
    for rel, type_label, name, body in iter_blocks(config, "data"):
        if f"data.{type_label}.{name}" in addresses and not (isinstance(body, dict) and "depends_on" in body):
            targets.setdefault(rel, []).append((type_label, name))
    deferred, origins = set(), {}
    for rel, blocks in targets.items():
        path = scratch / rel
        text, origin, done = _insert_depends_on(path.read_text(), blocks)
        if done:
            path.write_text(text)
            origins[rel] = origin
            deferred |= {f"data.{t}.{n}" for t, n in done}
    if deferred:
        (scratch / DEFER_FILE).write_text(_DEFER_RESOURCE)
    return deferred, origins


def _insert_depends_on(text: str, blocks: list[tuple[str, str]]) -> tuple[str, list[int], list]:
    headers = {_header_pattern(t, n): (t, n) for t, n in blocks}
    out, origin, done = [], [], []
    for number, line in enumerate(text.split("\n"), start=1):
        match = next(((p.match(line), block) for p, block in headers.items() if p.match(line)), None)
        if match is None:
            out.append(line)
            origin.append(number)
            continue
        found, block = match
        new_lines = _rewritten_header(found.group(1), found.group(2).strip())
        out += new_lines
        origin += [number] * len(new_lines)
        done.append(block)
    return "\n".join(out), origin, done


def _header_pattern(type_label: str, name: str) -> re.Pattern:
    return re.compile(r'^([ \t]*data\s+"?' + re.escape(type_label) + r'"?\s+"?' + re.escape(name) + r'"?\s*\{)(.*)$')


def _rewritten_header(opening: str, rest: str) -> list[str]:
    """``data "t" "n" {`` + whatever followed the brace on that line -> lines with depends_on."""
    if rest.endswith("}") and not rest.startswith("#"):  # a one-line block: data "t" "n" { a = 1 }
        body = rest[:-1].strip()
        return [opening, _DEPENDS_ON] + (["  " + body] if body else []) + ["}"]
    return [opening, _DEPENDS_ON] + (["  " + rest] if rest else [])


def original_line(origins: dict, file: str | None, line: int | None) -> int | None:
    """Map a line of a rewritten scratch file back to the model's file."""
    origin = origins.get(file) if file else None
    if origin is None or line is None or not 1 <= line <= len(origin):
        return line
    return origin[line - 1]


def without_defer_resource(plan: dict) -> dict:
    """Remove our helper resource (and references to it) from a ``show -json`` plan document."""
    plan["resource_changes"] = [c for c in plan.get("resource_changes") or [] if c.get("address") != DEFER_ADDRESS]
    root = (plan.get("planned_values") or {}).get("root_module") or {}
    if "resources" in root:
        root["resources"] = [r for r in root["resources"] if r.get("address") != DEFER_ADDRESS]
    config_root = (plan.get("configuration") or {}).get("root_module") or {}
    kept = []
    for resource in config_root.get("resources") or []:
        if resource.get("address") == DEFER_ADDRESS:
            continue
        if DEFER_ADDRESS in (resource.get("depends_on") or []):
            resource["depends_on"] = [a for a in resource["depends_on"] if a != DEFER_ADDRESS]
            if not resource["depends_on"]:
                del resource["depends_on"]
        kept.append(resource)
    if "resources" in config_root:
        config_root["resources"] = kept
    return plan
