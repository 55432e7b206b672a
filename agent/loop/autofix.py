"""``--autofix``: apply the renames Terraform or the provider schema names, re-verify once.

Small models repeat ``aws_route_53_zone`` unchanged after Terraform said "Did you mean
\"aws_route53_zone\"?" (docs/results/repair-ab-0.5b-40). When a diagnostic names exactly one
replacement, tfagent makes that edit itself:

* Terraform's "Did you mean" for an unsupported argument or block (the name at the diagnostic's line
  and column is renamed, nothing else), or for an invalid resource / data source type (the block's
  type label and every reference to that block, ``OLD.NAME`` → ``NEW.NAME``);
* a type that belongs to no provider (``resource "s3_bucket"``) whose provider-prefixed name is a real
  type in the schema index (``aws_s3_bucket``);
* an unsupported argument with exactly one close settable argument in the schema of its own block
  (edit distance ≤ 2, or one of the written name's ``_`` words: ``table_name`` → ``name``) that the
  block does not set already.

Only renames: nothing is deleted or invented, and a rename whose text is not where the diagnostic
points is not made. The fixed files are verified once; when they pass, the attempt is verified "with
autofix" (``Attempt.autofix`` lists each edit); when they do not, the better version (fewer errors, or as many but other ones) is kept
for the feedback, whose first lines then tell the model which renames were applied.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from tfagent.agent.core.types import fix_change
from tfagent.prompts import render, render_line
from tfagent.verifiers.base import Diagnostic
from tfagent.verifiers.terraform.schema_index import SchemaIndex, edit_distance, index_in

from tfagent.agent.loop.environment import template_pattern
from tfagent.agent.loop.schema_feedback import block_at, detail_text

_DID_YOU_MEAN = re.compile(r'[Dd]id you mean "([^"]+)"\?')  # Terraform's words, and diag_unknown_type_detail's
# Terraform on `versioning = { … }` where versioning is a nested block (the 0.5B's favourite mistake).
_BLOCK_NOT_ARGUMENT = re.compile(r'[Dd]id you mean to define a block of type "([^"]+)"\?')
_QUOTED = re.compile(r'"([^"]+)"')
_IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
MAX_CLOSE_DISTANCE = 2
MIN_CLOSE_LENGTH = 4  # names shorter than this are too easy to reach by edit distance alone


@dataclass(frozen=True)
class Fix:
    file: str
    line: int  # 1-based
    old: str
    new: str
    why: str
    kind: str = "argument"  # argument | block | type (a block header's type label) | reference | block_syntax

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {"file": d["file"], "line": d["line"], "from": d["old"], "to": d["new"], "why": d["why"], "kind": d["kind"]}


# ---- what to rename (pure) -------------------------------------------------------------------------
def propose(diagnostics: list[Diagnostic], files: dict[str, str], index: SchemaIndex | None) -> list[Fix]:
    """The renames the diagnostics name, at most one per (file, line, name); references included."""
    fixes: dict[tuple[str, int, str], Fix] = {}
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        if d.severity != "error" or not d.file or not d.line or d.file not in files:
            continue
        for fix in _fixes_for(d, files, index):
            fixes.setdefault((fix.file, fix.line, fix.old), fix)
    return sorted(fixes.values(), key=lambda f: (f.file, f.line, f.old))


def _fixes_for(d: Diagnostic, files: dict[str, str], index: SchemaIndex | None) -> list[Fix]:
    summary, detail = d.summary.strip(), detail_text(d)
    suggested = _DID_YOU_MEAN.findall(detail)
    if summary.startswith(("Unsupported argument", "Unsupported block type")):
        quoted = _QUOTED.findall(detail)
        if not quoted:
            return []
        kind = "argument" if summary.startswith("Unsupported argument") else "block"
        as_block = _BLOCK_NOT_ARGUMENT.findall(detail)
        if kind == "argument" and as_block == [quoted[0]]:  # `NAME = {` -> `NAME {`: the same content, as a block
            return [Fix(d.file, d.line, quoted[0], quoted[0], render_line("autofix_why_block", name=quoted[0]), "block_syntax")]
        if len(suggested) == 1:
            if kind == "argument" and suggested[0] in block_arguments(files[d.file], d.line):
                return []  # the block sets it already: the rename would define it twice
            return [Fix(d.file, d.line, quoted[0], suggested[0], render_line("autofix_why_terraform", new=suggested[0]), kind)]
        if kind == "argument" and index is not None:
            return _schema_rename(d, files, index, quoted[0])
        return []
    if summary.startswith(("Invalid resource type", "Invalid data source")):
        quoted = [q for q in _QUOTED.findall(detail) if q not in suggested]
        if len(suggested) != 1 or not quoted:
            return []
        kind = "data" if summary.startswith("Invalid data source") else "resource"
        why = render_line("autofix_why_terraform", new=suggested[0])
        return _type_rename(d, files, kind, quoted[-1], suggested[0], why)
    unknown = template_pattern("diag_unknown_type").match(summary)
    if unknown and d.category == "unknown_resource" and len(suggested) == 1 and index is not None:
        # tfagent's own "belongs to no provider" (s3_bucket → aws_s3_bucket): only when the schema has it
        kind, old, new = unknown.group(1), unknown.group(2), suggested[0]
        provider = new.split("_", 1)[0]
        if kind in ("resource", "data") and new != old and new in index.types(kind, provider):
            why = render_line("autofix_why_prefix", kind=f"{kind} type", old=old, new=new, provider=provider)
            return _type_rename(d, files, kind, old, new, why)
    return []


def _schema_rename(d: Diagnostic, files: dict[str, str], index: SchemaIndex, old: str) -> list[Fix]:
    found = block_at(d, files, index, column=False)
    if found is None:
        return []
    _, type_name, path, block = found
    present = set(block_arguments(files[d.file], d.line))
    words = set(old.lower().split("_"))
    close = [name for name, attr in block.attributes.items()
             if attr.settable and name != "id" and name not in present and name != old and
             (name in words or (len(name) >= MIN_CLOSE_LENGTH and edit_distance(old.lower(), name) <= MAX_CLOSE_DISTANCE))]
    if len(close) != 1:
        return []
    label = " > ".join([type_name, *path])
    return [Fix(d.file, d.line, old, close[0], render_line("autofix_why_schema", kind="argument", old=old, type=label), "argument")]


def _type_rename(d: Diagnostic, files: dict[str, str], kind: str, old: str, new: str, why: str) -> list[Fix]:
    """The block header's type label, and every ``OLD.NAME`` reference to that block in any file."""
    header = re.compile(rf'^\s*{kind}\s+"{re.escape(old)}"\s+"({_IDENT})"')
    lines = files[d.file].splitlines()
    match = header.match(lines[d.line - 1]) if 1 <= d.line <= len(lines) else None
    if match is None:
        return []
    fixes = [Fix(d.file, d.line, old, new, why, "type")]
    prefix = "data." if kind == "data" else ""
    ref = re.compile(rf"(?<![A-Za-z0-9_.-]){re.escape(prefix + old)}\.{re.escape(match.group(1))}\b")
    also = render_line("autofix_why_reference", kind=f"{kind} type", old=old, new=new)
    for file, text in sorted(files.items()):
        for number, line in enumerate(text.splitlines(), 1):
            if ref.search(line):
                fixes.append(Fix(file, number, prefix + old, prefix + new, also, "reference"))
    return fixes


def block_arguments(text: str, line: int) -> list[str]:
    """Names of the arguments set directly in the innermost block around ``line`` (by brace depth)."""
    codes = [re.sub(r'"(?:[^"\\]|\\.)*"', '""', raw.split("#", 1)[0]) for raw in text.splitlines()]
    if not 1 <= line <= len(codes):
        return []
    starts, depth = [], 0  # the brace depth at the start of each line
    for code in codes:
        starts.append(depth)
        depth += code.count("{") - code.count("}")
    inner = starts[line - 1]
    first = line - 1
    while first > 0 and starts[first - 1] >= inner:
        first -= 1
    last = line - 1
    while last + 1 < len(codes) and starts[last + 1] >= inner:
        last += 1
    names = [m.group(1) for i in range(first, last + 1)
             if starts[i] == inner and (m := re.match(rf"^\s*({_IDENT})\s*=", codes[i]))]
    return list(dict.fromkeys(names))


# ---- making the edits (pure) ------------------------------------------------------------------------
def apply_fixes(files: dict[str, str], fixes: list[Fix]) -> tuple[dict[str, str], list[Fix]]:
    """The files with each rename made where its text is; the fixes that were made."""
    out = dict(files)
    made: list[Fix] = []
    for fix in fixes:
        text = out.get(fix.file)
        if text is None:
            continue
        lines = text.split("\n")
        if not 1 <= fix.line <= len(lines):
            continue
        changed = _rename_in_line(lines[fix.line - 1], fix)
        if changed is None:
            continue
        lines[fix.line - 1] = changed
        out[fix.file] = "\n".join(lines)
        made.append(fix)
    return out, made


def _rename_in_line(line: str, fix: Fix) -> str | None:
    old, new = re.escape(fix.old), fix.new
    if fix.kind == "type":
        pattern = re.compile(rf'^(\s*(?:resource|data)\s+)"{old}"')
        replacement = rf'\1"{new}"'
    elif fix.kind == "block_syntax":  # only an object written on this line: `NAME = {` (a list of them is left alone)
        pattern = re.compile(rf"^(\s*){old}\s*=\s*\{{")
        replacement = r"\g<1>" + fix.old + " {"
    elif fix.kind == "reference":
        pattern = re.compile(rf"(?<![A-Za-z0-9_.-]){old}(?=\.)")
        replacement = new
    else:  # an argument (NAME =) or a block (NAME {) at the start of its line
        pattern = re.compile(rf"^(\s*){old}(?=\s*(?:=|\{{))")
        replacement = rf"\g<1>{new}"
    changed, count = pattern.subn(lambda m: m.expand(replacement), line, count=0 if fix.kind == "reference" else 1)
    return changed if count else None


def describe(fixes: list[dict[str, Any]]) -> str:
    return ", ".join(f'{f["file"]}:{f["line"]} {" -> ".join(fix_change(f))}' for f in fixes)


# ---- in the loop ------------------------------------------------------------------------------------
def _error_set(verdicts) -> set[tuple]:
    return {(d.file, d.summary, detail_text(d)) for v in verdicts for d in v.diagnostics if d.severity == "error"}


def _errors(verdicts) -> int:
    return sum(1 for v in verdicts for d in v.diagnostics if d.severity == "error")


def apply_autofix(runtime, attempt, options) -> None:
    """After a failed verification: make the renames the diagnostics name, verify the result once, and
    keep it when it verifies or is better (recorded in ``attempt.autofix``); else note why not."""
    diagnostics = [d for v in attempt.verdicts for d in v.diagnostics]
    fixed, made = apply_fixes(attempt.files, propose(diagnostics, attempt.files, index_in(attempt.verdicts)))
    if not made or fixed == attempt.files:
        return
    records = [f.to_dict() for f in made]
    verdicts, files = runtime.run_chain(fixed, options, attempt.deleted)
    attempt.verify_seconds += sum(v.seconds for v in verdicts)
    folder = runtime.request.folder  # --in: problems the folder had before the change do not count
    ok = folder.passes(verdicts) if folder is not None else all(v.ok for v in verdicts)
    before, after = _errors(attempt.verdicts), _errors(verdicts)
    # Better: fewer errors, or as many but others — the renamed errors are gone and Terraform now shows
    # what they hid (an invalid resource type hides the errors inside its block).
    kept = ok or after < before or (after == before and _error_set(verdicts) != _error_set(attempt.verdicts))
    runtime.emit("autofix", number=attempt.number, fixes=records, ok=ok, kept=kept, errors_before=before, errors_after=after)
    if kept:
        attempt.verdicts, attempt.files, attempt.ok, attempt.autofix = verdicts, files, ok, records
    else:
        attempt.notes.append(f"autofix tried {describe(records)}: {after} error(s) after, {before} before; "
                             "kept the reply's files")


def autofix_preamble(attempt) -> str:
    """The feedback's first lines when the verified files carry tfagent's renames (empty otherwise)."""
    if not attempt.autofix:
        return ""
    items = "\n".join(render_line("autofix_item", file=f["file"], line=f["line"], old=old, new=new, why=f["why"])
                      for f in attempt.autofix for old, new in [fix_change(f)])
    return render("autofix_applied", fixes=items)
