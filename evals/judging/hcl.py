"""Hidden HCL structure checks of the eval judge: required block types and attribute values.

Pure functions over python-hcl2's output (8.x keeps quotes in keys and strings, wraps references as
``${...}`` and marks blocks with ``__is_block__``), so they run anywhere, with no provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tfagent.evals.tasks.fields import HclCheck
from tfagent.verifiers.terraform.hcl import parse_text, unquote


@dataclass
class Block:
    kind: str  # "resource" | "data"
    type: str
    name: str
    body: dict[str, Any]

    @property
    def key(self) -> str:
        return self.type if self.kind == "resource" else f"data.{self.type}"


def parse_blocks(files: dict[str, str]) -> list[Block]:
    """Every resource and data block of the .tf files (raises HclParseError naming the file)."""
    blocks: list[Block] = []
    for path in sorted(files):
        if not path.endswith(".tf"):
            continue
        doc = parse_text(files[path], path)
        for kind in ("resource", "data"):
            for entry in doc.get(kind, []):
                for rtype, named in entry.items():
                    for name, body in named.items():
                        blocks.append(Block(kind, unquote(rtype), unquote(name), body))
    return blocks


def required_types_check(blocks: list[Block], types: list[str]) -> dict[str, Any]:
    present = {b.key for b in blocks}
    missing = [t for t in types if t not in present]
    detail = f"missing: {', '.join(missing)}" if missing else f"present: {', '.join(types)}"
    return {"name": "hcl:types", "ok": not missing, "detail": detail}


def attribute_check(blocks: list[Block], check: HclCheck) -> dict[str, Any]:
    candidates = [b for b in blocks if b.key == check.resource]
    name = f"hcl:{check.describe()}"
    if not candidates:
        return {"name": name, "ok": False, "detail": f"no {check.resource} block"}
    seen = []
    for block in candidates:
        values = _values_at(block.body, check.path.split("."))
        if _satisfies(values, check):
            return {"name": name, "ok": True, "detail": f"{block.key}.{block.name}"}
        seen.append(f"{block.name}: {values[0]!r}" if values else f"{block.name}: not set")
    return {"name": name, "ok": False, "detail": "found " + "; ".join(seen)}


def _normal(value: Any) -> Any:
    """hcl2 value → plain value: quotes dropped, ``${ref}`` → ``ref``, blocks' markers removed."""
    if isinstance(value, str):
        value = unquote(value)
        match = re.fullmatch(r"\$\{(.*)\}", value, re.S)
        return match.group(1) if match else value
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): _normal(v) for k, v in value.items() if k != "__is_block__"}
    return value


def _values_at(body: Any, parts: list[str]) -> list[Any]:
    """All values reached by the dotted path; a repeated nested block contributes each of its copies."""
    if not parts:
        return [_normal(body)]
    if isinstance(body, list):
        return [v for item in body for v in _values_at(item, parts)]
    if not isinstance(body, dict):
        return []
    for key, value in body.items():
        if unquote(key) == parts[0] and value is not None:
            return _values_at(value, parts[1:])
    return []


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool):
        return actual is expected or (isinstance(actual, str) and actual.lower() == str(expected).lower())
    if isinstance(expected, (int, float)):
        try:
            return float(actual) == float(expected)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(_equal, actual, expected))
    return isinstance(actual, (str, int, float)) and not isinstance(actual, bool) and str(actual) == str(expected)


def _mentions(value: Any, target: str) -> bool:
    if isinstance(value, str):
        return re.search(rf"(?<![\w.]){re.escape(target)}\b", value) is not None
    if isinstance(value, list):
        return any(_mentions(v, target) for v in value)
    if isinstance(value, dict):
        return any(_mentions(v, target) for v in value.values())
    return False


def _satisfies(values: list[Any], check: HclCheck) -> bool:
    if check.present is not None:
        return bool(values) == check.present
    if check.references is not None:
        return any(_mentions(v, check.references) for v in values)
    if check.one_of is not None:
        return any(_equal(v, option) for v in values for option in check.one_of)
    return any(_equal(v, check.equals) for v in values)
