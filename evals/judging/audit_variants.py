"""Variants of a reference configuration for the intent audit (pure text transformations, no I/O).

Equivalent variants (a correct judge must accept each): every resource renamed; each block's arguments in
another order; a literal that repeats another resource's identifying argument replaced by a reference
to it (``bucket = "x"`` → ``aws_s3_bucket.a.bucket`` and ``.id`` where the provider documents ``id`` equal to
it, ``fair.ID_EQUALS``); a bare reference to such an argument replaced by its literal value.

Wrong variants (a correct judge must reject each): a resource type the task names removed; a value the
prompt states changed; a boolean setting the prompt names flipped.

The scanner reads Terraform as IaC-Eval's references are written: top-level blocks, one argument per line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tfagent.evals.judging.fair import ID_EQUALS

_HEADER = re.compile(r'^\s*(resource|data)\s+"([\w-]+)"\s+"([\w-]+)"\s*\{')
_ARGUMENT = re.compile(r"^(\s*)([A-Za-z_][\w-]*)(\s*=\s*)(.+?)\s*$")
_STRING = re.compile(r'^"((?:[^"\\$]|\\.)*)"$')
_BARE_REF = re.compile(r"^([a-z][a-z0-9_]*)\.([A-Za-z_][\w-]*)\.([A-Za-z_]\w*)$")


@dataclass(frozen=True)
class Variant:
    name: str  # e.g. "rename", "literal-to-reference:aws_s3_bucket_public_access_block.example.bucket"
    kind: str  # "equivalent" | "wrong"
    text: str
    note: str = ""


@dataclass
class Block:
    kind: str  # resource | data
    type: str
    name: str
    start: int  # line index of the header
    end: int  # line index of the closing brace
    arguments: dict[str, tuple[int, str]] = field(default_factory=dict)  # top-level name -> (line, raw value)

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}" if self.kind == "resource" else f"data.{self.type}.{self.name}"


def blocks_of(text: str) -> list[Block]:
    """Top-level resource/data blocks with their single-line top-level arguments."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _HEADER.match(lines[i])
        if not match or lines[i].startswith((" ", "\t")):
            i += 1
            continue
        depth, j = 0, i
        block = Block(match.group(1), match.group(2), match.group(3), i, i)
        while j < len(lines):
            line = _code(lines[j])
            if j > i and depth == 1:
                arg = _ARGUMENT.match(lines[j])
                if arg and not arg.group(4).rstrip().endswith(("{", "[", "(", "<<EOF", "<<-EOF")):
                    block.arguments[arg.group(2)] = (j, _strip_comment(arg.group(4)))
            depth += line.count("{") - line.count("}")
            if depth <= 0 and j >= i:
                block.end = j
                break
            j += 1
        blocks.append(block)
        i = block.end + 1
    return blocks


def _code(line: str) -> str:
    """The line without string contents and comments (for brace counting)."""
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', _strip_comment(line))


def _strip_comment(value: str) -> str:
    """``value`` up to a ``#`` or ``//`` comment outside a string."""
    in_string, index = False, 0
    while index < len(value):
        char = value[index]
        if char == '"' and (index == 0 or value[index - 1] != "\\"):
            in_string = not in_string
        elif not in_string and (char == "#" or value.startswith("//", index)):
            return value[:index].rstrip()
        index += 1
    return value.strip()


def literal(value: str) -> str | None:
    match = _STRING.match(value.strip())
    return match.group(1) if match else None


# ---------------------------------------------------------------- equivalent variants


def renamed(text: str, prompt: str = "") -> Variant | None:
    """Every resource renamed ``audit_N`` but those whose name the prompt states."""
    blocks = [b for b in blocks_of(text) if b.kind == "resource" and not _names(b.name, prompt)]
    if not blocks:
        return None
    out = text
    for index, block in enumerate(blocks):
        new = f"audit_{index}"
        out = re.sub(rf'^(resource\s+"{re.escape(block.type)}"\s+)"{re.escape(block.name)}"', rf'\1"{new}"', out, flags=re.M)
        out = re.sub(rf"(?<![\w.]){re.escape(block.type)}\.{re.escape(block.name)}(?=[.\[\s,)}}\]]|$)",
                     f"{block.type}.{new}", out, flags=re.M)
    return Variant("rename", "equivalent", out, "resources renamed audit_N (names the prompt states kept), references updated")


def reordered(text: str) -> Variant | None:
    """Each run of consecutive one-line top-level arguments reversed."""
    lines = text.split("\n")
    changed = False
    for block in blocks_of(text):
        rows = sorted(line for line, _ in block.arguments.values())
        runs, run = [], []
        for row in rows:
            if run and row != run[-1] + 1:
                runs.append(run)
                run = []
            run.append(row)
        runs.append(run)
        for run in runs:
            if len(run) > 1:
                values = [lines[r] for r in run]
                for r, value in zip(run, reversed(values)):
                    lines[r] = value
                changed = True
    return Variant("reorder", "equivalent", "\n".join(lines), "arguments of each block in reverse order") if changed else None


def literal_to_reference(text: str) -> list[Variant]:
    """``x = "lit"`` in one resource where another resource's identifying argument is the same literal →
    a reference to that argument, and to ``id`` where the provider documents them equal."""
    blocks = [b for b in blocks_of(text) if b.kind == "resource"]
    out = []
    for target in blocks:
        ident = ID_EQUALS.get(target.type)
        if ident is None or ident not in target.arguments:
            continue
        value = literal(target.arguments[ident][1])
        if not value:
            continue
        for user in blocks:
            if user is target or _mentions(text, user, target.address):
                continue  # a reference back would be a cycle
            for arg, (row, raw) in user.arguments.items():
                if literal(raw) != value:
                    continue
                for attr in dict.fromkeys((ident, "id")):
                    ref = f"{target.address}.{attr}"
                    out.append(Variant(f"literal-to-reference:{user.address}.{arg}={ref}", "equivalent",
                                       _replace_line_value(text, row, ref), f'{arg} = "{value}" → {ref}'))
    return out


def reference_to_literal(text: str) -> list[Variant]:
    """A bare reference to another resource's literal argument (or to ``id`` where ``ID_EQUALS`` names it)
    → the literal itself."""
    blocks = blocks_of(text)
    by_address = {b.address: b for b in blocks}
    out = []
    for user in blocks:
        for arg, (row, raw) in user.arguments.items():
            match = _BARE_REF.match(raw.strip())
            if not match:
                continue
            target = by_address.get(f"{match.group(1)}.{match.group(2)}")
            if target is None:
                continue
            attr = match.group(3)
            if attr == "id" and target.type in ID_EQUALS:
                attr = ID_EQUALS[target.type]
            value = literal(target.arguments.get(attr, (0, ""))[1])
            if value is None:
                continue
            out.append(Variant(f"reference-to-literal:{user.address}.{arg}", "equivalent",
                               _replace_line_value(text, row, f'"{value}"'), f'{raw.strip()} → "{value}"'))
    return out


def _mentions(text: str, block: Block, address: str) -> bool:
    body = "\n".join(text.split("\n")[block.start:block.end + 1])
    return re.search(rf"(?<![\w.]){re.escape(address)}\b", body) is not None


def _replace_line_value(text: str, row: int, value: str) -> str:
    lines = text.split("\n")
    match = _ARGUMENT.match(lines[row])
    lines[row] = f"{match.group(1)}{match.group(2)}{match.group(3)}{value}"
    return "\n".join(lines)


# ---------------------------------------------------------------- wrong variants


def dropped(text: str, required_types: list[str]) -> list[Variant]:
    """Every block of one required resource type removed (one variant per type present)."""
    blocks = blocks_of(text)
    out = []
    for rtype in required_types:
        mine = [b for b in blocks if b.kind == "resource" and b.type == rtype]
        if not mine:
            continue
        lines = text.split("\n")
        for block in sorted(mine, key=lambda b: -b.start):
            del lines[block.start:block.end + 1]
        out.append(Variant(f"drop:{rtype}", "wrong", "\n".join(lines), f"every {rtype} removed"))
    return out


def stated_values_changed(text: str, prompt: str) -> list[Variant]:
    """A string or number the prompt states (verbatim) changed everywhere the configuration uses it."""
    values: dict[str, str] = {}
    for block in blocks_of(text):
        if block.kind != "resource":
            continue
        body = text.split("\n")[block.start + 1:block.end]
        for line in body:
            arg = _ARGUMENT.match(line)
            if not arg:
                continue
            raw = _strip_comment(arg.group(4))
            for string in re.findall(r'"((?:[^"\\$]|\\.)*)"', raw):
                if len(string) >= 3 and _stated(string, prompt):
                    values.setdefault(f'"{string}"', f'"{_other_string(string)}"')
            number = re.fullmatch(r"\d+", raw)
            if number and _stated(raw, prompt) and arg.group(2) not in ("count",):
                values.setdefault(raw, str(int(raw) + 1))
    out = []
    for old, new in values.items():
        if old.startswith('"'):
            changed = text.replace(old, new)
        else:
            changed = re.sub(rf"(=\s*){re.escape(old)}\b", rf"\g<1>{new}", text)
        if changed != text:
            out.append(Variant(f"value:{old.strip(chr(34))}", "wrong", changed, f"{old} → {new} (stated in the prompt)"))
    return out


def stated_settings_flipped(text: str, prompt: str) -> list[Variant]:
    """A boolean argument whose name the prompt spells out (``block_public_acls`` ~ "block public ACLs") flipped."""
    words = re.sub(r"[^a-z0-9]+", " ", prompt.lower())
    out = []
    for block in blocks_of(text):
        for arg, (row, raw) in block.arguments.items():
            if raw.strip() not in ("true", "false"):
                continue
            spoken = arg.replace("_", " ").lower()
            if f" {spoken} " not in f" {words} " and f" {spoken}s " not in f" {words} ":
                continue
            flipped = "false" if raw.strip() == "true" else "true"
            out.append(Variant(f"flip:{block.address}.{arg}", "wrong", _replace_line_value(text, row, flipped),
                               f"{arg} = {raw.strip()} → {flipped} (the prompt names it)"))
    return out


def _stated(value: str, prompt: str) -> bool:
    return re.search(rf"(?<![\w.-]){re.escape(value)}(?![\w-])", prompt) is not None


def _names(name: str, prompt: str) -> bool:
    """Whether the prompt states ``name`` as a name of its own (not inside "example53.com")."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", prompt) is not None


def _other_string(value: str) -> str:
    """A value of the same shape that differs: the last letter or digit changed."""
    for index in range(len(value) - 1, -1, -1):
        char = value[index]
        if char.isdigit():
            return value[:index] + str((int(char) + 1) % 10) + value[index + 1:]
        if char.isalpha():
            swap = "x" if char.lower() != "x" else "y"
            return value[:index] + (swap.upper() if char.isupper() else swap) + value[index + 1:]
    return value + "x"


def variants(text: str, prompt: str, required_types: list[str]) -> list[Variant]:
    """Every equivalent and wrong variant of ``text`` (variants identical to it are left out)."""
    found = [renamed(text, prompt), reordered(text), *literal_to_reference(text), *reference_to_literal(text),
             *dropped(text, required_types), *stated_values_changed(text, prompt), *stated_settings_flipped(text, prompt)]
    seen, out = set(), []
    for variant in found:
        if variant is None or variant.text == text or variant.name in seen:
            continue
        seen.add(variant.name)
        out.append(variant)
    return out
