"""Feedback grounded in the provider's real schema (``--feedback schema``).

A pure function of (diagnostics, files, schema index, repeat kind): same input, same bytes — the
prefix cache and the tests depend on that. Each problem is shown once: Terraform's summary and the
first line of its detail, the offending line with a caret, then one line from the schema that names
the fix (the arguments that exist, the required ones, the real resource types, the block syntax).
Every sentence is a template in ``prompts/`` (``hint_*``, ``escalate_*``, ``feedback_schema``).
"""

from __future__ import annotations

import re

from tfagent.prompts import render, render_line
from tfagent.verifiers.base import Diagnostic
from tfagent.verifiers.terraform.schema_index import Block, SchemaIndex, closest

from .feedback import CHARS_PER_TOKEN, dedupe_and_sort, estimate_tokens, fenced

MAX_NAMES = 12  # names listed per hint: enough to find the right one, few enough for a small model
SAME_REPLY = "same_reply"
SAME_ERRORS = "same_errors"
_QUOTED = re.compile(r'"([^"]+)"')
_CODE_TAIL = re.compile(r"\n(?:code(?: \(in [^)]*\))?:\n)?(?:\d+ \| .*(?:\n|$))+\Z")
_HEADER = re.compile(r'^\s*(resource|data)\s+"([^"]+)"\s+"([^"]+)"\s*\{')
_NESTED = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\{")
_DECLARED = re.compile(r'^\s*(resource|data)\s+"([^"]+)"\s+"([^"]+)"', re.MULTILINE)


def detail_text(d: Diagnostic) -> str:
    """The diagnostic's own words without the code lines Terraform/hcl appended (shown once, below)."""
    return _CODE_TAIL.sub("", d.detail.strip()).strip()


def caret_excerpt(files: dict[str, str], file: str | None, line: int | None, column: int | None) -> str:
    if not file or not line or file not in files:
        return ""
    lines = files[file].splitlines()
    if not 1 <= line <= len(lines):
        return ""
    text = f"{line} | {lines[line - 1]}"
    if column and column >= 1:
        text += "\n" + " " * (len(f"{line} | ") + column - 1) + "^"
    return text


def enclosing(files: dict[str, str], file: str | None, line: int | None,
              column: int | None = None) -> tuple[str, str, list[str]] | None:
    """(kind, type, nested block path) of the resource/data block around ``line``, by brace depth.
    On a nested block's own header line, the block counts only when ``column`` points at its ``{``
    (Terraform's "Missing required argument" in ``vpc { }``), not at its name ("Unsupported block type")."""
    if not file or not line or file not in files:
        return None
    stack: list[tuple[str, int]] = []  # (header, depth at which it opened)
    depth = 0
    found = None
    for number, text in enumerate(files[file].splitlines(), 1):
        code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text.split("#", 1)[0])
        header = _HEADER.match(text) or _NESTED.match(code)
        if header is not None and "{" in code:
            stack.append((text.strip(), depth))
        depth += code.count("{") - code.count("}")
        while stack and depth <= stack[-1][1]:
            stack.pop()
        if number == line - 1 or (number == line and header is not None):
            found = list(stack)
        if number >= line:
            break
    found = found if found is not None else list(stack)
    if not found:
        return None
    top = _HEADER.match(found[0][0])
    if top is None:
        return None
    path = [m.group(1) for h, _ in found[1:] if (m := _NESTED.match(h))]
    header_line = files[file].splitlines()[line - 1] if number == line else ""
    if path and _NESTED.match(header_line) and not (column and column > header_line.find("{") >= 0):
        path = path[:-1]  # the diagnostic names the nested block itself: its parent is where it goes
    return top.group(1), top.group(2), path


def _names(block: Block, first: list[str] | None = None) -> str:
    """Settable names, the closest to what was written first, required ones marked, blocks as ``x { … }``."""
    names = [n for n in block.names() if n != "id"]
    ordered = (closest(first[0], names, limit=len(names)) if first else
               [a.name for a in block.required_attributes()] + [n for n in names if n not in
                                                               {a.name for a in block.required_attributes()}])
    attrs, blocks = block.attributes, block.blocks
    shown = []
    for name in ordered[:MAX_NAMES]:
        if name in blocks:
            shown.append(f"{name} {{ … }}" + (" (required)" if blocks[name].required else ""))
        else:
            shown.append(name + (" (required)" if attrs[name].required else ""))
    more = len(ordered) - len(shown)
    return ", ".join(shown) + (f", … ({more} more)" if more > 0 else "")


def _where(kind: str, type_name: str, path: list[str]) -> str:
    return " > ".join([type_name, *path]) if path else type_name


def block_at(d: Diagnostic, files: dict[str, str], index: SchemaIndex, column: bool = True) -> tuple[str, str, list[str], Block] | None:
    """(kind, type, nested path, schema block) of the block a diagnostic points into (None: not in a
    resource or data block the index knows). ``column``: use the diagnostic's column to tell a nested
    block's own header line from the line inside it."""
    where = enclosing(files, d.file, d.line, d.column if column else None)
    if where is None:
        return None
    kind, type_name, path = where
    top = index.block(kind, type_name)
    block = top.nested(path) if top else None
    return (kind, type_name, path, block) if block is not None else None


def schema_hints(d: Diagnostic, files: dict[str, str], index: SchemaIndex | None) -> list[str]:
    """Lines from the schema that name the fix for one diagnostic (empty: nothing to add)."""
    summary, detail = d.summary.strip(), detail_text(d)
    quoted = _QUOTED.findall(detail) or _QUOTED.findall(summary)
    if d.category == "syntax" or d.source == "hcl":
        return [render("hint_syntax_rule").strip()]
    if summary.startswith("No value for required variable"):  # plan: a variable nobody sets
        return [render("hint_variable_default", name=quoted[0] if quoted else "").strip()]
    if index is None:
        return []
    if summary.startswith("Unknown ") or summary.startswith("Invalid resource type") or \
            summary.startswith("Invalid data source"):
        return _unknown_type_hint(summary, _QUOTED.findall(summary) or quoted, index)
    if summary.startswith("Reference to undeclared"):
        return _declared_hints(files, index, quoted)
    found = block_at(d, files, index)
    if found is None:
        return []
    kind, type_name, path, block = found
    label = _where(kind, type_name, path)
    if summary.startswith(("Unsupported argument", "Unsupported block type")) and quoted:
        return _unknown_name_hints(kind, type_name, label, quoted[0], block, index)
    if summary.startswith(("Missing required argument", "Insufficient ", "Missing required block", "Too few blocks")):
        return _missing_hints(label, block, quoted[0] if quoted else None)
    if summary.startswith("Unsupported attribute") and quoted:
        return _exports_hint(d, files, index)
    if summary.startswith(("Incorrect attribute value type", "Inappropriate value")) and quoted:
        attr = block.attributes.get(quoted[0])
        return [render("hint_value_type", arg=quoted[0], type=label, attr_type=attr.type).strip()] if attr else []
    if summary.startswith("Argument is deprecated") or summary.startswith("Deprecated"):
        name = quoted[0] if quoted else ""
        return [render("hint_deprecated", arg=name, text=(" " + detail.splitlines()[0]) if detail else "").strip()] \
            + _replacement_hints(type_name, name, index)
    return []


def _unknown_name_hints(kind, type_name, label, name, block: Block, index: SchemaIndex) -> list[str]:
    if name in block.blocks:
        return [render("hint_block_not_attribute", arg=name, type=label, names=_names(block.blocks[name].block)).strip()]
    attr = block.attributes.get(name)
    if attr is not None:
        return [render("hint_attribute_not_block", arg=name, type=label, attr_type=attr.type).strip()]
    hints = [render("hint_unknown_name", kind=kind, type=label, what="argument or block", arg=name,
                    names=_names(block, [name])).strip()]
    return hints + _replacement_hints(type_name, name, index)


def _replacement_hints(type_name: str, name: str, index: SchemaIndex) -> list[str]:
    """aws ≥ 4 moved e.g. ``versioning`` of aws_s3_bucket into ``aws_s3_bucket_versioning``: when a
    resource type ``TYPE_NAME`` exists, it is where the argument went."""
    for candidate in (f"{type_name}_{name}", f"{type_name}_{name.rstrip('s')}"):
        replacement = index.block("resource", candidate)
        if replacement is not None and name:
            return [render("hint_moved_to_resource", arg=name, replacement=candidate,
                           names=_names(replacement)).strip()]
    return []


def _missing_hints(label: str, block: Block, missing: str | None) -> list[str]:
    items = []
    attrs = [a for a in block.required_attributes() if missing is None or a.name == missing]
    for attr in attrs:
        items.append(f"{attr.name} = <{attr.type}>" + (f" ({attr.description})" if attr.description else ""))
    for nested in [b for b in block.required_blocks() if missing is None or b.name == missing]:
        items.append(f"{nested.name} {{ {', '.join(a.name for a in nested.block.required_attributes()) or '…'} }}")
    if not items:
        return []
    return [render("hint_missing_required", what="arguments" if len(items) > 1 else "argument", type=label,
                   items="; ".join(items)).strip()]


def _unknown_type_hint(summary: str, quoted: list[str], index: SchemaIndex) -> list[str]:
    kind = "data" if "data" in summary.lower() else "resource"
    name = quoted[-1] if quoted else ""
    if not name:
        return []
    provider = name.split("_", 1)[0] if name.split("_", 1)[0] in index.provider_names() else \
        (index.provider_names() or ["aws"])[0]
    types = index.types(kind, provider)
    if not types:
        return []
    names = ", ".join(closest(name, types, limit=6, prefix=provider + "_"))
    return [render("hint_unknown_type", kind=kind, arg=name, provider=provider, names=names).strip()]


def declared(files: dict[str, str]) -> list[tuple[str, str, str]]:
    return sorted({m.groups() for text in files.values() for m in _DECLARED.finditer(text)})


def _declared_hints(files: dict[str, str], index: SchemaIndex, quoted: list[str]) -> list[str]:
    """The names that exist, and how to declare the missing one (its required arguments first)."""
    names = [f"{t}.{n}" if k == "resource" else f"data.{t}.{n}" for k, t, n in declared(files)]
    hints = [render("hint_declared", names=", ".join(names) or "nothing").strip()]
    if len(quoted) >= 2:
        kind = "data" if quoted[0].startswith("data.") else "resource"
        block = index.block(kind, quoted[0])
        if block is not None:
            hints.append(render("hint_declare", kind=kind, type=quoted[0], label=quoted[1], names=_names(block)).strip())
    return hints


def _exports_hint(d: Diagnostic, files: dict[str, str], index: SchemaIndex) -> list[str]:
    """``aws_vpc.main.vpc_id``: list what aws_vpc exports (the referenced type is on the line)."""
    line = files.get(d.file or "", "").splitlines()[(d.line or 1) - 1] if d.file in files and d.line else ""
    for kind, type_name, name in declared(files):
        ref = f"{type_name}.{name}." if kind == "resource" else f"data.{type_name}.{name}."
        if ref in line:
            block = index.block(kind, type_name)
            if block is not None:
                return [render("hint_exports", type=type_name, names=", ".join(block.exported())).strip()]
    return []


def format_problem(d: Diagnostic, files: dict[str, str], index: SchemaIndex | None) -> str:
    where = d.file or ""
    if d.file and d.line:
        where += f":{d.line}"
    head = f"- {d.severity.upper()}" + (f" {where}" if where else "") + f": {d.summary.strip()}"
    if d.rule and d.rule not in d.summary:
        head += f" (rule {d.rule})"
    parts = [head]
    detail = detail_text(d)
    if detail and detail != d.summary.strip():
        parts.append("  " + detail.replace("\n", "\n  "))
    excerpt = caret_excerpt(files, d.file, d.line, d.column)
    if excerpt:
        parts.append(fenced(excerpt))
    parts += ["  " + render_line("fix_hint", hint=hint) for hint in schema_hints(d, files, index)]
    return "\n".join(parts)


def build_schema_feedback(diagnostics: list[Diagnostic], files: dict[str, str], index: SchemaIndex | None, *,
                          stage: str = "verification", budget_tokens: int = 1500, repeat: str | None = None) -> str:
    """The feedback turn, capped to ``budget_tokens``; ``repeat`` (SAME_REPLY / SAME_ERRORS) escalates."""
    escalation = "\n\n" + render(f"escalate_{repeat}").strip() if repeat else ""
    ordered = dedupe_and_sort(diagnostics)
    used = estimate_tokens(render("feedback_schema", stage=stage, escalation=escalation, diagnostics=""))
    shown: list[str] = []
    for i, d in enumerate(ordered):
        entry = format_problem(d, files, index)
        cost = estimate_tokens(entry) + 1
        if shown and used + cost > budget_tokens:
            shown.append(render("feedback_more", count=len(ordered) - i).strip())
            break
        if not shown and cost > budget_tokens:
            entry = entry[: budget_tokens * CHARS_PER_TOKEN] + " …"
        shown.append(entry)
        used += cost
    return render("feedback_schema", stage=stage, escalation=escalation, diagnostics="\n".join(shown)).strip()


def repeat_kind(previous_files: dict[str, str] | None, files: dict[str, str],
                previous_errors: list[Diagnostic] | None, errors: list[Diagnostic]) -> str | None:
    """SAME_REPLY when the files are byte-identical to the previous attempt's, SAME_ERRORS when the
    set of errors (file, summary, detail; lines may shift) did not change, else None."""
    if previous_files is None:
        return None
    if previous_files == files:
        return SAME_REPLY
    if previous_errors is not None and errors and _error_set(previous_errors) == _error_set(errors):
        return SAME_ERRORS
    return None


def _error_set(diagnostics: list[Diagnostic]) -> set[tuple]:
    return {(d.file, d.summary.strip(), detail_text(d)) for d in diagnostics if d.severity == "error"}
