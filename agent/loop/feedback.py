"""Diagnostics → the next user turn. Pure functions: same input, same text (the prefix cache and the
tests depend on that)."""

from __future__ import annotations

from tfagent.prompts import render, render_line
from tfagent.verifiers.base import ERROR, Diagnostic

CHARS_PER_TOKEN = 4  # a conservative estimate; exact counts need the server's tokenizer
CONTEXT_LINES = 1  # lines of code shown around the offending line


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def dedupe_and_sort(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Errors before warnings, then by (file, line, column); exact repeats removed (Terraform
    reports the same problem once per module instance, and stages can repeat each other)."""
    seen: set[tuple] = set()
    unique: list[Diagnostic] = []
    for d in diagnostics:
        key = (d.severity, d.file, d.line, d.column, d.summary.strip(), d.detail.strip())
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return sorted(unique, key=lambda d: (d.severity != ERROR, *d.sort_key()))


def code_excerpt(files: dict[str, str], file: str | None, line: int | None, context: int = CONTEXT_LINES) -> str:
    """A few numbered lines around ``line`` of ``file``, the offending one marked with ``>``."""
    if not file or not line or file not in files:
        return ""
    lines = files[file].splitlines()
    if not 1 <= line <= len(lines):
        return ""
    start, end = max(1, line - context), min(len(lines), line + context)
    width = len(str(end))
    return "\n".join(
        f"{'>' if n == line else ' '} {n:>{width}} | {lines[n - 1]}" for n in range(start, end + 1)
    )


def format_diagnostic(d: Diagnostic, files: dict[str, str]) -> str:
    where = d.file or ""
    if d.file and d.line:
        where += f":{d.line}" + (f":{d.column}" if d.column else "")
    head = f"- {d.severity.upper()}" + (f" [{d.source}]" if d.source else "") + (f" {where}" if where else "")
    head += f": {d.summary.strip()}"
    if d.rule and d.rule not in d.summary:
        head += f" (rule {d.rule})"
    parts = [head]
    if d.detail.strip() and d.detail.strip() != d.summary.strip():
        parts.append("  " + d.detail.strip().replace("\n", "\n  "))
    excerpt = code_excerpt(files, d.file, d.line)
    if excerpt:
        parts.append(fenced(excerpt))
    return "\n".join(parts)


def fenced(excerpt: str, indent: str = "  ") -> str:
    """The code lines of a problem in a fence (prompts/code_excerpt.md), indented under its line."""
    return "\n".join(indent + x for x in render_line("code_excerpt", lines=excerpt).split("\n"))


def build_feedback(
    diagnostics: list[Diagnostic],
    files: dict[str, str],
    *,
    stage: str = "verification",
    budget_tokens: int = 1500,
) -> str:
    """The feedback turn for a failed attempt, capped to ``budget_tokens``. When the budget cuts,
    the turn says how many problems were left out. At least one problem is always shown."""
    ordered = dedupe_and_sort(diagnostics)
    shown: list[str] = []
    used = estimate_tokens(render("feedback", stage=stage, diagnostics=""))
    for i, d in enumerate(ordered):
        entry = format_diagnostic(d, files)
        cost = estimate_tokens(entry) + 1
        if shown and used + cost > budget_tokens:
            shown.append(render("feedback_more", count=len(ordered) - i).strip())
            break
        if not shown and cost > budget_tokens:  # one huge diagnostic: truncate rather than drop
            entry = entry[: budget_tokens * CHARS_PER_TOKEN] + " …"
        shown.append(entry)
        used += cost
    return render("feedback", stage=stage, diagnostics="\n".join(shown)).strip()


def cutoff_feedback(tokens: int) -> str:
    return render("cutoff", tokens=tokens).strip()


def no_files_feedback(fence: str = "hcl", example: str = "main.tf") -> str:
    return render("no_files", fence=fence, example=example).strip()


def rejected_files_feedback(diagnostics: list[Diagnostic], max_files: int, max_bytes: int) -> str:
    lines = "\n".join(f"- {d.summary}" for d in dedupe_and_sort(diagnostics))
    return render("rejected_files", diagnostics=lines, max_files=max_files, max_kib=max_bytes // 1024).strip()


def hardcoded_secret_feedback(names: list[str]) -> str:
    """Names only: the value itself must never go back to the model."""
    return render("hardcoded_secret", names=", ".join(names)).strip()


def restated(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The retry as one fresh user turn: the request, the failed reply quoted, the last feedback.
    ``messages`` is a loop conversation (system, request, then reply/feedback pairs); the system
    prompt stays, so only the turns after it lose the server's prefix cache."""
    replies = [m["content"] for m in messages if m["role"] == "assistant"]
    if len(messages) < 4 or not replies or messages[-1]["role"] != "user":
        return messages
    turn = render("restated_retry", prompt=messages[1]["content"], previous=replies[-1], feedback=messages[-1]["content"])
    return [messages[0], {"role": "user", "content": turn.strip()}]
