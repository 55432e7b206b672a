"""Model reply → files. Every reply is hostile until checked.

Convention the system prompt asks for: one fenced block per file whose opening fence names the path,
```hcl title="main.tf"``` . We also accept what small models actually do: ```` ```main.tf ````,
```` ```hcl main.tf ````, a filename alone on the line before the block (``**main.tf**``), or a
single unlabeled block (→ the mode's default file). Reasoning (``<think>…</think>``) and prose are
dropped. Paths must stay inside the output folder; any violation rejects the whole reply (nothing
of it is written) and becomes feedback for the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tfagent.agent.core.paths import check_path
from tfagent.prompts import render_line
from tfagent.verifiers.base import Diagnostic, error

MAX_FILES = 50
MAX_TOTAL_BYTES = 1024 * 1024

_FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
_TITLE = re.compile(r"""(?:title|file|filename|path)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))""", re.I)
_BARE_NAME = re.compile(r"^[\w.\-/\\: ]*\.[A-Za-z0-9]{1,10}$|^[\w.\-/\\:]*(?:Makefile|Dockerfile)$")
_LABEL_LINE = re.compile(r"^\s*(?:#{1,6}\s*)?(?:[*_`]{0,3})(?:file(?:name)?\s*:\s*)?`?([^\s`*]+?)`?(?:[*_`]{0,3})\s*:?\s*$", re.I)
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)


@dataclass
class Block:
    lang: str
    name: str | None
    body: str


@dataclass
class ParsedReply:
    files: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    reasoning: str = ""  # reasoning removed from the content

    @property
    def ok(self) -> bool:
        return bool(self.files) and not self.diagnostics


def strip_reasoning(text: str) -> tuple[str, str]:
    """(content without reasoning, the reasoning). Handles GLM's template that opens <think> itself
    (only ``</think>`` appears) and a reply that never closes its <think>."""
    reasoning: list[str] = []

    def keep(m: re.Match) -> str:
        reasoning.append(m.group(0)[7:-8])
        return ""

    text = _THINK.sub(keep, text)
    lower = text.lower()
    if "</think>" in lower:  # opening tag was in the template, not the reply
        idx = lower.rindex("</think>")
        reasoning.insert(0, text[:idx])
        text = text[idx + len("</think>"):]
    elif "<think>" in lower:  # never closed: everything after it is unfinished reasoning
        idx = lower.index("<think>")
        reasoning.append(text[idx + len("<think>"):])
        text = text[:idx]
    return text, "\n".join(r.strip() for r in reasoning if r.strip())


def _name_from_info(info: str) -> tuple[str, str | None]:
    info = info.strip()
    if not info:
        return "", None
    m = _TITLE.search(info)
    if m:
        lang = info[: m.start()].strip().split()[0] if info[: m.start()].strip() else ""
        return lang.lower(), next(g for g in m.groups() if g is not None)
    parts = info.split()
    if len(parts) == 1:
        return ("", parts[0]) if _BARE_NAME.match(parts[0]) else (parts[0].lower(), None)
    if _BARE_NAME.match(parts[1]):
        return parts[0].lower(), parts[1]
    return parts[0].lower(), None


def _label_before(lines: list[str], index: int) -> str | None:
    """A filename alone on the nearest non-empty line before a fence (``**main.tf**``, ``main.tf:``)."""
    j = index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j < 0:
        return None
    m = _LABEL_LINE.match(lines[j])
    if m and _BARE_NAME.match(m.group(1)) and "." in m.group(1):
        return m.group(1)
    return None


def extract_blocks(text: str) -> list[Block]:
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i].rstrip("\r"))
        if not m:
            i += 1
            continue
        fence = m.group("fence")
        lang, name = _name_from_info(m.group("info"))
        name = name or _label_before(lines, i)
        body: list[str] = []
        i += 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                break
            body.append(lines[i].rstrip("\r"))
            i += 1
        i += 1  # skip the closing fence (or run off the end: an unterminated block is kept)
        blocks.append(Block(lang=lang, name=name, body="\n".join(body).rstrip("\n") + "\n"))
    return blocks


def parse_reply(
    text: str,
    reasoning: str = "",
    *,
    default_name: str = "main.tf",
    accept_langs: tuple[str, ...] = ("hcl", "terraform", "tf", ""),
    join_unlabeled: bool = True,
) -> ParsedReply:
    """Turn a reply into files. ``join_unlabeled``: several unnamed blocks of an accepted language go
    into ``default_name`` together (HCL does not care about order); otherwise the longest is kept."""
    content, think = strip_reasoning(text or "")
    result = ParsedReply(reasoning="\n".join(x for x in (reasoning.strip(), think) if x))
    named: dict[str, str] = {}
    unnamed: list[str] = []
    for block in extract_blocks(content):
        if block.name:
            named[block.name] = block.body
        elif block.lang in accept_langs and block.body.strip():
            unnamed.append(block.body)
    if not named and unnamed:
        named[default_name] = "\n".join(unnamed) if join_unlabeled else max(unnamed, key=len)
    return _checked(named, result)


def _checked(candidates: dict[str, str], result: ParsedReply) -> ParsedReply:
    files: dict[str, str] = {}
    for raw, body in candidates.items():
        path, why = check_path(raw)
        if why:
            result.diagnostics.append(
                error(render_line("reply_rejected_path", path=repr(raw[:80]), why=why), source="reply", category="unsafe_path")
            )
            continue
        if "\x00" in body:
            result.diagnostics.append(
                error(render_line("reply_rejected_nul", path=path), source="reply", file=path, category="unsafe_path")
            )
            continue
        files[path] = body
    if len(files) > MAX_FILES:
        result.diagnostics.append(
            error(render_line("reply_too_many_files", count=len(files), limit=MAX_FILES), source="reply", category="unsafe_path")
        )
    total = sum(len(b.encode("utf-8")) for b in files.values())
    if total > MAX_TOTAL_BYTES:
        result.diagnostics.append(
            error(
                render_line("reply_too_large", total=total, limit=MAX_TOTAL_BYTES),
                source="reply",
                category="unsafe_path",
            )
        )
    if result.diagnostics:
        return result  # nothing is written for an attempt with any rejected file
    result.files = files
    return result
