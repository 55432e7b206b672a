"""Parsed HCL → the document ``terraform show -json PLAN`` would print, as far as it can be known
without a provider.

Why: policies (ours and IaC-Eval's) are written against real plan JSON. Azure configurations cannot be
planned offline (no registry ships azurerm), and plans are slow, so the ``rego`` verifier falls back to
this static view. It fills the same keys a real plan has:

- ``configuration.root_module.resources[]``: address, mode, type, name, provider_config_key,
  ``expressions`` (``{"constant_value": v}`` or ``{"references": [...]}``, nested blocks as lists of
  such objects, dynamic blocks left out — exactly as Terraform does), count/for_each expressions,
  depends_on;
- ``planned_values.root_module.resources[]`` and ``resource_changes[]`` (action ``create``) with the
  values that are constant or built only from variable defaults / constant locals. Provider defaults
  and computed attributes are absent (a real plan would have them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tfagent.verifiers.policy.hcl_values import UNKNOWN, Scope, decode_expression, evaluate
from tfagent.verifiers.terraform.hcl import HclParseError, ParsedConfig, parse_folder, unquote  # noqa: F401 (HclParseError re-exported)

META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection", "dynamic"}

# Blocks Terraform's aws schema marks "attributes as blocks": show -json prints them as one constant list.
ATTRIBUTES_AS_BLOCKS = {
    ("aws_security_group", "ingress"),
    ("aws_security_group", "egress"),
    ("aws_default_security_group", "ingress"),
    ("aws_default_security_group", "egress"),
    ("aws_network_acl", "ingress"),
    ("aws_network_acl", "egress"),
    ("aws_default_network_acl", "ingress"),
    ("aws_default_network_acl", "egress"),
    ("aws_route_table", "route"),
    ("aws_default_route_table", "route"),
}


def parse_workdir(workdir: Path, config: ParsedConfig | None = None) -> dict[str, dict]:
    """Every ``*.tf`` file directly in ``workdir`` (Terraform's root module), parsed, keyed by name;
    ``config``: the attempt's already parsed configuration (see hcl.parsed_config), else parsed here.
    Raises HclParseError naming the first file that does not parse."""
    config = config if config is not None else parse_folder(Path(workdir))
    root_files = {rel: doc for rel, doc in config.files.items() if "/" not in rel}
    broken = sorted((d for d in config.diagnostics if d.file and "/" not in d.file), key=lambda d: (d.file, d.line or 0))
    if broken:
        d = broken[0]
        raise HclParseError(d.file, d.line, d.column, d.summary)
    return dict(sorted(root_files.items()))


def plan_shape(parsed_files: dict[str, dict]) -> dict[str, Any]:
    """Build the plan-JSON-shaped document from ``parse_workdir``'s result."""
    blocks = _collect_blocks(parsed_files)
    scope = _scope(blocks)
    config_resources, planned, changes = [], [], []
    for mode, rtype, name, body in blocks["resources"]:
        config_resources.append(_config_resource(mode, rtype, name, body))
        if mode != "managed":
            continue  # data sources are read, not planned; a real plan lists them only when deferred
        for instance in _instances(rtype, name, body, scope):
            planned.append(instance)
            changes.append(_resource_change(instance))
    return {
        "format_version": "1.2",
        "tfagent_shape": "hcl",  # tells a reader this came from the static fallback, not a real plan
        "variables": {k: {"value": v} for k, v in scope.variables.items()},
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": _provider_config(blocks["providers"]),
            "root_module": {
                "resources": config_resources,
                "variables": {n: _variable_config(b) for n, b in blocks["variables"]},
                "outputs": {n: {"expression": decode_expression(b.get("value"))} for n, b in blocks["outputs"]},
                "module_calls": {n: _module_call(b) for n, b in blocks["modules"]},
            },
        },
    }


def resource_types(input_obj: dict[str, Any]) -> set[str]:
    """Resource types a plan-shaped document mentions (configuration and planned values)."""
    found: set[str] = set()
    config = input_obj.get("configuration", {}).get("root_module", {})
    for res in config.get("resources", []) or []:
        found.add(res.get("type", ""))
    stack = [input_obj.get("planned_values", {}).get("root_module", {})]
    while stack:
        module = stack.pop()
        found.update(r.get("type", "") for r in module.get("resources", []) or [])
        stack.extend(module.get("child_modules", []) or [])
    found.discard("")
    return found


# --- collecting ------------------------------------------------------------------------------


def _labelled(entries: list[dict] | None) -> list[tuple[str, dict]]:
    out = []
    for entry in entries or []:
        for label, body in entry.items():
            out.append((unquote(label), body))
    return out


def _collect_blocks(parsed_files: dict[str, dict]) -> dict[str, list]:
    blocks: dict[str, list] = {k: [] for k in ("resources", "providers", "variables", "outputs", "modules", "locals")}
    for doc in parsed_files.values():
        for kind, mode in (("resource", "managed"), ("data", "data")):
            for rtype, by_name in _labelled(doc.get(kind)):
                for name, body in by_name.items():
                    blocks["resources"].append((mode, rtype, unquote(name), body))
        blocks["providers"].extend(_labelled(doc.get("provider")))
        blocks["variables"].extend(_labelled(doc.get("variable")))
        blocks["outputs"].extend(_labelled(doc.get("output")))
        blocks["modules"].extend(_labelled(doc.get("module")))
        blocks["locals"].extend(doc.get("locals") or [])
    return blocks


def _scope(blocks: dict[str, list]) -> Scope:
    scope = Scope()
    for name, body in blocks["variables"]:
        if "default" in body:
            value = evaluate(body["default"], scope)
            if value is not UNKNOWN:
                scope.variables[name] = value
    # Locals may refer to each other in any order; a few passes settle the simple chains.
    pending = {k: v for entry in blocks["locals"] for k, v in entry.items() if k != "__is_block__"}
    for _ in range(3):
        for name, raw in list(pending.items()):
            value = evaluate(raw, scope)
            if value is not UNKNOWN:
                scope.locals[name] = value
                del pending[name]
    return scope


# --- configuration -----------------------------------------------------------------------------


def _is_block_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get("__is_block__") for v in value)


def _block_expressions(rtype: str, body: dict) -> dict[str, Any]:
    expressions: dict[str, Any] = {}
    for key, value in body.items():
        if key == "__is_block__" or key in META_ARGUMENTS:
            continue
        if _is_block_list(value):
            nested = [_block_expressions(rtype, b) for b in value]
            if (rtype, key) in ATTRIBUTES_AS_BLOCKS:  # one expression, as for any attribute
                expressions[key] = _attribute_blocks_expression(nested)
            else:
                expressions[key] = nested
        else:
            expressions[key] = decode_expression(value)
    return expressions


def _attribute_blocks_expression(nested: list[dict[str, Any]]) -> dict[str, Any]:
    if all(_all_constant(n) for n in nested):
        return {"constant_value": [_constants_of(n) for n in nested]}
    refs: list[str] = []
    for expressions in nested:
        for expression in expressions.values():
            for ref in expression.get("references", []) if isinstance(expression, dict) else []:
                if ref not in refs:
                    refs.append(ref)
    return {"references": refs} if refs else {}


def _all_constant(expressions: dict[str, Any]) -> bool:
    return all(isinstance(e, dict) and "constant_value" in e for e in expressions.values())


def _constants_of(expressions: dict[str, Any]) -> dict[str, Any]:
    return {k: e["constant_value"] for k, e in expressions.items()}


def _config_resource(mode: str, rtype: str, name: str, body: dict) -> dict[str, Any]:
    prefix = "data." if mode == "data" else ""
    resource: dict[str, Any] = {
        "address": f"{prefix}{rtype}.{name}",
        "mode": mode,
        "type": rtype,
        "name": name,
        "provider_config_key": _provider_key(rtype, body),
        "expressions": _block_expressions(rtype, body),
        "schema_version": 0,
    }
    for meta in ("count", "for_each"):
        expression = decode_expression(body[meta]) if meta in body else {}
        if expression:  # Terraform leaves out an empty one (e.g. for_each = toset([...]))
            resource[f"{meta}_expression"] = expression
    if "depends_on" in body:
        resource["depends_on"] = [_strip_interpolation(d) for d in body["depends_on"] or []]
    return resource


def _strip_interpolation(text: Any) -> str:
    text = str(text)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else unquote(text)


def _provider_key(rtype: str, body: dict) -> str:
    if "provider" in body:
        return _strip_interpolation(body["provider"])
    return rtype.split("_", 1)[0]


def _provider_config(providers: list[tuple[str, dict]]) -> dict[str, Any]:
    config = {}
    for name, body in providers:
        alias = evaluate(body.get("alias"), Scope()) if "alias" in body else None
        key = f"{name}.{alias}" if isinstance(alias, str) else name
        entry = {"name": name, "full_name": f"registry.terraform.io/hashicorp/{name}"}
        if isinstance(alias, str):
            entry["alias"] = alias
        entry["expressions"] = {k: v for k, v in _block_expressions(name, body).items() if k != "alias"}
        config[key] = entry
    return config


def _variable_config(body: dict) -> dict[str, Any]:
    out = {}
    if "default" in body:
        value = evaluate(body["default"], Scope())
        out["default"] = None if value is UNKNOWN else value
    if "description" in body:
        out["description"] = evaluate(body["description"], Scope())
    return out


def _module_call(body: dict) -> dict[str, Any]:
    expressions = {k: decode_expression(v) for k, v in body.items() if k not in {"source", "version", "__is_block__"}}
    return {"source": unquote(str(body.get("source", ""))), "expressions": expressions}


# --- planned values ----------------------------------------------------------------------------


def _block_values(body: dict, scope: Scope) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in body.items():
        if key == "__is_block__" or key in META_ARGUMENTS:
            continue
        if _is_block_list(raw):
            values[key] = [_block_values(b, scope) for b in raw]
            continue
        value = evaluate(raw, scope)
        if value is not UNKNOWN:
            values[key] = value
    return values


_TOSET = re.compile(r"^\$\{\s*toset\((\[.*\])\)\s*\}$", re.S)


def _instance_keys(body: dict, scope: Scope) -> list[int | str | None]:
    """[None] = a single unindexed instance; count → 0..n-1; for_each → its keys (when constant)."""
    if "count" in body:
        count = evaluate(body["count"], scope)
        return list(range(count)) if isinstance(count, int) and not isinstance(count, bool) else [None]
    if "for_each" in body:
        value = _for_each_value(body["for_each"], scope)
        if isinstance(value, dict):
            return sorted(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return sorted(set(value))
    return [None]


def _for_each_value(raw: Any, scope: Scope) -> Any:
    """A map or set of strings; ``toset([...])`` of string literals is the common constant form."""
    match = _TOSET.match(raw) if isinstance(raw, str) else None
    if match:
        items = re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1))
        return items if items else UNKNOWN
    return evaluate(raw, scope)


def _instances(rtype: str, name: str, body: dict, scope: Scope) -> list[dict[str, Any]]:
    instances = []
    for key in _instance_keys(body, scope):
        instance_scope = scope.for_instance(key)
        address = f"{rtype}.{name}" if key is None else f"{rtype}.{name}[{_index_text(key)}]"
        instance: dict[str, Any] = {
            "address": address,
            "mode": "managed",
            "type": rtype,
            "name": name,
            "provider_name": f"registry.terraform.io/hashicorp/{rtype.split('_', 1)[0]}",
            "schema_version": 0,
            "values": _block_values(body, instance_scope),
            "sensitive_values": {},
        }
        if key is not None:
            instance["index"] = key
        instances.append(instance)
    return instances


def _index_text(key: int | str) -> str:
    return str(key) if isinstance(key, int) else f'"{key}"'


def _resource_change(instance: dict[str, Any]) -> dict[str, Any]:
    change = {k: instance[k] for k in ("address", "mode", "type", "name", "provider_name") if k in instance}
    if "index" in instance:
        change["index"] = instance["index"]
    change["change"] = {"actions": ["create"], "before": None, "after": instance["values"], "after_unknown": {}}
    return change
