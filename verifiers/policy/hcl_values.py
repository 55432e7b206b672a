"""python-hcl2 8.x values → Terraform's JSON expression objects and (where possible) plain values.

python-hcl2 8.x keeps HCL source text: a string literal arrives with its quotes (``'"private"'``), an
expression as ``'${aws_kms_key.k.arn}'``, a template as ``'"${var.n}-x"'``; numbers, bools, lists and
maps arrive as Python values. Terraform's ``show -json`` prints an attribute as
``{"constant_value": v}`` when it is constant, else ``{"references": [...]}`` (``{}`` when it is
neither, e.g. a function of constants). This module reproduces that, and evaluates the simple cases
(variable defaults, constant locals, count.index, each.key) for ``planned_values``.
"""

from __future__ import annotations

from tfagent.verifiers.terraform.hcl import unquote  # the one unquote (labels keep their quotes in python-hcl2 8.x)

import re
from dataclasses import dataclass, field
from typing import Any


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()  # a value only known after apply (or that we cannot compute statically)

# Roots whose references Terraform reports as "<root>.<name>" (plus the rest of the traversal).
_NAMED_ROOTS = {"var", "local", "count", "each", "path", "terraform", "self"}
_KEYWORDS = {"true", "false", "null", "for", "in", "if", "else", "endif", "endfor"}
_TRAVERSAL = re.compile(
    r"(?<![\w.\-\"])([A-Za-z_][\w-]*)((?:\.[A-Za-z_][\w-]*|\.\d+|\[(?:\d+|\"[^\"]*\")\])*)(\s*\()?"
)
_STEP = re.compile(r"\.([A-Za-z_][\w-]*|\d+)|\[(\d+|\"[^\"]*\")\]")
_STRING = re.compile(r'(?<!\[)"(?:[^"\\]|\\.)*"')
_INTERPOLATION = re.compile(r"(?<!\$)\$\{((?:[^{}]|\{[^{}]*\})*)\}")
_SIMPLE_REF = re.compile(r"^\s*(var|local)\.([A-Za-z_][\w-]*)\s*$|^\s*(count\.index|each\.key|each\.value)\s*$")


@dataclass
class Scope:
    variables: dict[str, Any] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    instance_key: Any = None  # count.index (int) or each.key (str) of the instance being evaluated

    def for_instance(self, key: Any) -> "Scope":
        return Scope(self.variables, self.locals, key)

    def lookup(self, text: str) -> Any:
        match = _SIMPLE_REF.match(text)
        if not match:
            return UNKNOWN
        if match.group(1) == "var":
            return self.variables.get(match.group(2), UNKNOWN)
        if match.group(1) == "local":
            return self.locals.get(match.group(2), UNKNOWN)
        return UNKNOWN if self.instance_key is None else self.instance_key


def _is_template(text: str) -> bool:
    return len(text) >= 2 and text[0] == '"' and text[-1] == '"'


def _template_body(text: str) -> str:
    body = text[1:-1]
    if body.startswith("<<"):  # heredoc: '"<<EOT\n...\nEOT"' (or <<-EOT, which trims indentation)
        lines = body.split("\n")
        marker, inner = lines[0], lines[1:-1]
        if marker.startswith("<<-"):
            indent = min((len(l) - len(l.lstrip()) for l in inner if l.strip()), default=0)
            inner = [l[indent:] for l in inner]
        return "\n".join(inner) + "\n"
    return body


def _has_interpolation(body: str) -> bool:
    return bool(_INTERPOLATION.search(body)) or "%{" in body.replace("%%{", "")


def _unescape(body: str) -> str:
    body = body.replace("$${", "${").replace("%%{", "%{")
    return re.sub(r'\\(["\\nrt])', lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1), m.group(1)), body)


def references(expression_text: str) -> list[str]:
    """Terraform-style reference list for an expression's text, e.g. 'aws_kms_key.k.arn' →
    ['aws_kms_key.k.arn', 'aws_kms_key.k']; 'aws_s3_bucket.c[0].id' adds 'aws_s3_bucket.c[0]' and
    'aws_s3_bucket.c'. Literal strings are skipped except for their interpolations."""
    text = _STRING.sub(lambda m: " " + " ".join(_INTERPOLATION.findall(m.group(0))) + " ", expression_text)
    found: list[str] = []
    for match in _TRAVERSAL.finditer(text):
        root, rest, call = match.group(1), match.group(2), match.group(3)
        if call or root in _KEYWORDS:
            continue  # a function call, or a keyword
        steps = [m.group(0) for m in _STEP.finditer(rest)]
        for ref in _reference_forms(root, steps):
            if ref not in found:
                found.append(ref)
    return found


def _reference_forms(root: str, steps: list[str]) -> list[str]:
    full = root + "".join(steps)
    if root in _NAMED_ROOTS:
        subject = root + "".join(steps[:1])
        return [full, subject] if len(steps) > 1 else [subject] if steps else []
    if root == "module":
        if not steps:
            return []
        call = root + steps[0]
        rest = steps[1:]
        index = rest[:1] if rest and rest[0].startswith("[") else []
        output = call + "".join(index) + "".join(rest[len(index) : len(index) + 1])
        forms = [full, output, call + "".join(index), call] if rest else [call]
        return _dedupe(forms)
    if root == "data":
        if len(steps) < 2:
            return []
        root, steps = "data" + steps[0], steps[1:]
    elif "_" not in root or not steps:
        return []  # not a resource type (for-expression variables, bare identifiers)
    resource = root + steps[0]
    rest = steps[1:]
    forms = [full]
    if rest and rest[0].startswith("["):
        forms.append(resource + rest[0])
    forms.append(resource)
    return _dedupe(forms)


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def decode_expression(raw: Any) -> dict[str, Any]:
    """One attribute value → Terraform's expression object."""
    constant = _constant(raw)
    if constant is not UNKNOWN:
        return {"constant_value": constant}
    refs = references(_source_text(raw))
    return {"references": refs} if refs else {}


def _source_text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw[2:-1] if raw.startswith("${") and raw.endswith("}") else raw
    if isinstance(raw, list):
        return " ".join(_source_text(v) for v in raw)
    if isinstance(raw, dict):
        return " ".join(_source_text(v) for k, v in raw.items() if k != "__is_block__")
    return ""


def _constant(raw: Any) -> Any:
    if raw is None or isinstance(raw, (bool, int, float)):
        return raw
    if isinstance(raw, str):
        if _is_template(raw):
            body = _template_body(raw)
            return UNKNOWN if _has_interpolation(body) else _unescape(body)
        return UNKNOWN  # '${...}': an expression
    if isinstance(raw, list):
        items = [_constant(v) for v in raw]
        return UNKNOWN if any(i is UNKNOWN for i in items) else items
    if isinstance(raw, dict):
        items = {unquote(k): _constant(v) for k, v in raw.items() if k != "__is_block__"}
        return UNKNOWN if any(i is UNKNOWN for i in items.values()) else items
    return UNKNOWN


def evaluate(raw: Any, scope: Scope) -> Any:
    """The value when it is constant or only uses variable defaults, constant locals, count.index or
    each.key/value; else UNKNOWN."""
    constant = _constant(raw)
    if constant is not UNKNOWN:
        return constant
    if isinstance(raw, list):
        items = [evaluate(v, scope) for v in raw]
        return UNKNOWN if any(i is UNKNOWN for i in items) else items
    if isinstance(raw, dict):
        items = {unquote(k): evaluate(v, scope) for k, v in raw.items() if k != "__is_block__"}
        return UNKNOWN if any(i is UNKNOWN for i in items.values()) else items
    if not isinstance(raw, str):
        return UNKNOWN
    if raw.startswith("${") and raw.endswith("}"):
        return scope.lookup(raw[2:-1])
    if _is_template(raw):
        return _render_template(_template_body(raw), scope)
    return UNKNOWN


def _render_template(body: str, scope: Scope) -> Any:
    if "%{" in body.replace("%%{", ""):
        return UNKNOWN
    unknown = False

    def substitute(match: re.Match) -> str:
        nonlocal unknown
        value = scope.lookup(match.group(1))
        if value is UNKNOWN or isinstance(value, (list, dict)):
            unknown = True
            return ""
        return _to_string(value)

    rendered = _INTERPOLATION.sub(substitute, body)
    return UNKNOWN if unknown else _unescape(rendered)


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
