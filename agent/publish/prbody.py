"""The pull-request body, commit message and title for a run: pure functions of a ``RunResult``.

A reviewer reads the PR, not the terminal, so the body carries the verification transcript: the
prompt, which model/quant wrote it, what each attempt got wrong and what the next one fixed, the
final verifier stages and (when ``plan`` ran) what Terraform would add, change and destroy.

Everything that leaves the machine goes through ``secrets.redact`` first: any value of an environment
variable whose name looks like a credential is replaced by ``[redacted]``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

from tfagent.agent.core.secrets import redact
from tfagent.agent.core.types import Attempt, RunResult, fix_change
from tfagent.verifiers.base import Diagnostic

MAX_BODY_CHARS = 60_000  # GitHub rejects bodies over 65,536 characters
MAX_DETAIL_CHARS = 1_500
MAX_ERRORS_PER_CELL = 4
MAX_DIFF_CHARS = 40_000  # the rest of the body (attempts, stages, plan) must still fit


def public_url(url: str) -> str:
    """A base URL without user:password@ (people do put keys there)."""
    parts = urlsplit(url)
    if not parts.username and not parts.password:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# ---------------------------------------------------------------- plan summary


@dataclass
class PlanSummary:
    """Resource addresses by what ``terraform plan`` would do to them."""

    add: list[str] = field(default_factory=list)
    change: list[str] = field(default_factory=list)
    destroy: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)  # destroy-and-create (either order)
    error: str = ""  # why the plan JSON could not be read

    def counts(self) -> str:
        total_add = len(self.add) + len(self.replace)
        total_destroy = len(self.destroy) + len(self.replace)
        return f"{total_add} to add, {len(self.change)} to change, {total_destroy} to destroy"


def summarize_plan(plan: dict) -> PlanSummary:
    """Classify ``resource_changes[].change.actions`` of ``terraform show -json`` output."""
    summary = PlanSummary()
    for rc in plan.get("resource_changes") or []:
        actions = tuple((rc.get("change") or {}).get("actions") or ())
        address = str(rc.get("address", "?"))
        if set(actions) == {"create", "delete"}:
            summary.replace.append(address)
        elif actions == ("create",):
            summary.add.append(address)
        elif actions == ("update",):
            summary.change.append(address)
        elif actions == ("delete",):
            summary.destroy.append(address)
        # "no-op" and "read" change nothing
    return summary


def read_plan_summary(path: str | Path) -> PlanSummary:
    """Read a plan JSON file; an unreadable one becomes a summary that says why (not a crash)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return PlanSummary(error=f"could not read plan output {Path(path).name}: {type(exc).__name__}")
    if not isinstance(data, dict):
        return PlanSummary(error=f"plan output {Path(path).name} is not a JSON object")
    return summarize_plan(data)


def plan_json_path(result: RunResult) -> str | None:
    """The plan JSON of the last attempt whose verdicts produced one."""
    for attempt in reversed(result.attempts):
        for verdict in attempt.verdicts:
            if verdict.artifacts.get("plan_json"):
                return verdict.artifacts["plan_json"]
    return None


# ---------------------------------------------------------------- attempts


def first_line(text: str, limit: int = 90) -> str:
    line = (text.strip().splitlines() or [""])[0].strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def error_key(d: Diagnostic) -> tuple[str, str, str, str]:
    """Identity of an error across attempts. Line numbers shift when the model edits, so they are
    left out (also from the detail, which tells two "Unsupported argument"s apart)."""
    return (d.source, d.rule or d.summary, d.file or "", re.sub(r"\d+", "#", first_line(d.detail)))


def describe_error(d: Diagnostic, with_detail: bool = True) -> str:
    where = f" ({d.file}:{d.line})" if d.file and d.line else (f" ({d.file})" if d.file else "")
    detail = f" — {first_line(d.detail)}" if d.detail and with_detail else ""
    return f"{d.source + ': ' if d.source else ''}{d.summary}{detail}{where}"


def attempt_errors(attempt: Attempt) -> list[Diagnostic]:
    return sorted((d for d in attempt.diagnostics if d.severity == "error"), key=Diagnostic.sort_key)


def attempt_verdict(attempt: Attempt) -> str:
    if attempt.ok:
        return "verified with autofix" if attempt.autofixed else "verified"
    failed = [v.verifier for v in attempt.verdicts if not v.ok and not v.skipped]
    if failed:
        return "failed: " + ", ".join(failed)
    if attempt.reply_diagnostics:
        return "bad reply"
    return "not verified"


def fixed_errors(previous: Attempt | None, current: Attempt) -> list[Diagnostic]:
    """Errors present in the previous attempt and gone in this one."""
    if previous is None:
        return []
    now = {error_key(d) for d in attempt_errors(current)}
    seen: set[tuple[str, str, str, str]] = set()
    fixed = []
    for d in attempt_errors(previous):
        key = error_key(d)
        if key not in now and key not in seen:
            seen.add(key)
            fixed.append(d)
    return fixed


def cell(text: str) -> str:
    """Make text safe inside one Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


def list_cell(diagnostics: list[Diagnostic]) -> str:
    if not diagnostics:
        return "—"
    shown = [cell(describe_error(d)) for d in diagnostics[:MAX_ERRORS_PER_CELL]]
    more = len(diagnostics) - len(shown)
    return "<br>".join(shown + ([f"… and {more} more"] if more else []))


def attempts_table(result: RunResult) -> str:
    lines = ["| attempt | verdict | errors | what it fixed |", "|---|---|---|---|"]
    previous = None
    for attempt in result.attempts:
        errors = attempt_errors(attempt)
        errors_text = f"{len(errors)}: {list_cell(errors)}" if errors else "0"
        lines.append(f"| {attempt.number} | {cell(attempt_verdict(attempt))} | {errors_text} | "
                     f"{list_cell(fixed_errors(previous, attempt))} |")
        previous = attempt
    return "\n".join(lines)


# ---------------------------------------------------------------- sections


def endpoint_line(endpoint: dict) -> str:
    bpw = endpoint.get("bpw")
    bpw_text = f"{bpw:g} bpw" if isinstance(bpw, (int, float)) else "bpw unknown"
    url = public_url(str(endpoint.get("base_url", "")))
    return f"`{endpoint.get('name', '?')}` — model `{endpoint.get('model', '?')}`, {bpw_text}, {url}"


def stages_table(result: RunResult) -> str:
    final = result.attempts[-1] if result.attempts else None
    lines = ["| stage | ok | seconds | note |", "|---|---|---|---|"]
    for verdict in final.verdicts if final else []:
        ok = "skipped" if verdict.skipped else ("yes" if verdict.ok else "**no**")
        lines.append(f"| {cell(verdict.verifier)} | {ok} | {verdict.seconds:.2f} | {cell(verdict.note) or '—'} |")
    for name, why in sorted(result.skipped_verifiers.items()):
        lines.append(f"| {cell(name)} | skipped | — | {cell(why)} |")
    return "\n".join(lines) if len(lines) > 2 else "_No verifier ran._"


def plan_section(plan: PlanSummary) -> str:
    if plan.error:
        return f"_{plan.error}_"
    lines = [f"**{plan.counts()}**", ""]
    for label, addresses in (("add", plan.add), ("change", plan.change),
                             ("replace", plan.replace), ("destroy", plan.destroy)):
        lines.extend(f"- {label} `{address}`" for address in addresses)
    return "\n".join(lines).rstrip()


def files_section(files_changed: list[tuple[str, str]]) -> str:
    if not files_changed:
        return "_No files._"
    return "\n".join(f"- {status} `{path}`" for status, path in files_changed)


def fence(text: str) -> str:
    """A code fence longer than any backtick run inside the text."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{text}\n{ticks}"


def autofix_section(result: RunResult) -> str:
    """--autofix: every rename tfagent made (Terraform's "Did you mean" or the schema's one close name)."""
    lines = ["tfagent renamed these names itself (nothing deleted or added); the model's own reply had the old ones:", ""]
    for attempt in result.attempts:
        for f in attempt.autofix:
            before, after = fix_change(f)
            lines.append(f"- attempt {attempt.number}: `{cell(str(f['file']))}:{f['line']}` "
                         f"`{cell(before)}` → `{cell(after)}` ({cell(str(f['why']))})")
    return "\n".join(lines)


def candidates_line(result: RunResult) -> str:
    """--candidates: how many samples the first request took and which one the verifier chose."""
    first = result.attempts[0] if result.attempts else None
    if first is None or not first.candidates:
        return ""
    chosen = next((c for c in first.candidates if c.get("chosen")), first.candidates[0])
    verified = sum(bool(c.get("ok")) for c in first.candidates)
    return (f"\n\nAttempt 1 sampled {len(first.candidates)} candidates ({verified} verified); candidate "
            f"{chosen['index'] + 1} was chosen. Its tokens and seconds are the sum over all of them.")


def diagnostics_section(result: RunResult) -> str:
    final = result.attempts[-1] if result.attempts else None
    errors = attempt_errors(final) if final else []
    if not errors:
        return "_The last attempt reported no error diagnostics._"
    parts = []
    for d in errors:
        parts.append(f"- **{cell(describe_error(d, with_detail=False))}**")
        if d.detail:
            detail = d.detail if len(d.detail) <= MAX_DETAIL_CHARS else d.detail[:MAX_DETAIL_CHARS] + "\n…"
            parts.append("\n" + fence(detail) + "\n")
    return "\n".join(parts)


def deleted_paths(result: RunResult) -> list[str]:
    """--in: the files the change deletes (relative to the folder)."""
    return list((result.change or {}).get("deleted") or [])


def change_section(change: dict) -> str:
    """--in: the diff of the change (what a reviewer reads instead of whole files)."""
    diff = change.get("diff") or ""
    if not diff:
        return "_The change leaves every file as it was._"
    shown = diff if len(diff) <= MAX_DIFF_CHARS else diff[:MAX_DIFF_CHARS].rsplit("\n", 1)[0] + "\n"
    body = shown.rstrip("\n")
    ticks = "`" * max(3, max((len(m) for m in re.findall(r"`+", body)), default=0) + 1)
    text = f"{ticks}diff\n{body}\n{ticks}"
    if shown != diff:
        text += f"\n\n_The diff is cut at {MAX_DIFF_CHARS:,} characters; the commit holds all of it._"
    return text


def preexisting_section(change: dict) -> str:
    """--in: problems the folder had before the change (not counted against the model)."""
    lines = ["The folder already failed verification before this change; these problems were there before it and "
             "were not counted against the model:", ""]
    for d in change.get("preexisting") or []:
        diagnostic = Diagnostic.from_dict(d)
        lines.append(f"- {cell(describe_error(diagnostic, with_detail=False))}")
    return "\n".join(lines)


def render_pr_body(result: RunResult, files_changed: list[tuple[str, str]], *,
                   plan: PlanSummary | None = None, env: Mapping[str, str] | None = None) -> str:
    """The Markdown body. ``files_changed`` is ``[(status, path)]``; ``plan`` from ``read_plan_summary``."""
    status = "verified" if result.ok else "**NOT verified**"
    sections = [
        f"Generated by tfagent — {status} after {len(result.attempts)} of {result.max_attempts} attempt(s).",
        "## Prompt\n\n" + "\n".join("> " + line for line in result.prompt.splitlines() or [""]),
        "## Model\n\n" + endpoint_line(result.endpoint),
        "## Attempts\n\n" + attempts_table(result) + candidates_line(result),
        f"## Final verification ({cell(' → '.join(result.chain))})\n\n" + stages_table(result),
    ]
    if plan is not None:
        sections.append("## Plan\n\n" + plan_section(plan))
    if any(a.autofix for a in result.attempts):
        sections.append("## Autofix\n\n" + autofix_section(result))
    if not result.ok:
        sections.append("## Failing diagnostics\n\n" + diagnostics_section(result))
    if result.change is not None:  # --in: the diff, not whole files
        if result.change.get("baseline_ok") is False:
            sections.append("## Already failing before the change\n\n" + preexisting_section(result.change))
        sections.append("## Change\n\n" + change_section(result.change))
    sections.append("## Files\n\n" + files_section(files_changed))
    sections.append(f"<sub>tfagent run `{result.run_id}`</sub>")
    body = redact("\n\n".join(sections) + "\n", env)
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS] + "\n\n… (truncated)\n"
    return body


def pr_title(result: RunResult, max_chars: int = 72, env: Mapping[str, str] | None = None) -> str:
    first_line = (result.prompt.strip().splitlines() or ["(empty prompt)"])[0]
    title = f"tfagent: {first_line}"
    if len(title) > max_chars:
        title = title[: max_chars - 1].rstrip() + "…"
    return redact(title, env)


def commit_message(result: RunResult, *, env: Mapping[str, str] | None = None) -> str:
    """Subject = the title; body = prompt, endpoint/quant, one line per attempt, the verdict."""
    lines = [pr_title(result, env=env), "", "Prompt:", *("  " + line for line in result.prompt.splitlines()), ""]
    endpoint = result.endpoint
    bpw = endpoint.get("bpw")
    lines.append(f"Endpoint: {endpoint.get('name', '?')} (model {endpoint.get('model', '?')}"
                 f"{f', {bpw:g} bpw' if isinstance(bpw, (int, float)) else ''})")
    lines.append(f"Chain: {', '.join(result.chain)}")
    for attempt in result.attempts:
        errors = attempt_errors(attempt)
        lines.append(f"Attempt {attempt.number}: {attempt_verdict(attempt)} ({len(errors)} error(s))")
    lines.append(f"Verdict: {'verified' if result.ok else 'NOT verified'}")
    lines.append(f"Tfagent-Run: {result.run_id}")
    return redact("\n".join(lines) + "\n", env)


def dry_run_text(result: RunResult, branch: str, start: str, commit_wanted: bool, pr_target: str | None,
                 body: str) -> str:
    """What ``--dry-run`` prints: where the commit would go, its message, the PR title and body."""
    action = "would commit" if commit_wanted else "would NOT commit (not verified; --pr-on-failure to commit)"
    lines = [f"branch: {branch} (from {start}; {action})"]
    if pr_target:
        lines.append(f"pull request: {pr_target}{' as a DRAFT' if not result.ok else ''}")
    return "\n".join(lines + ["", "--- commit message ---", commit_message(result),
                              "--- PR title ---", pr_title(result), "", "--- PR body ---", body])


def outcome_line(branch: str, sha: str, committed: bool, pushed_to: str | None, pr_number: int | None,
                 pr_url: str | None) -> str:
    """One console line saying what ``publish`` did."""
    parts = [f"committed {sha[:10]} on {branch}" if committed else f"{branch} already holds these files ({sha[:10]})"]
    if pushed_to:
        parts.append(f"pushed to {pushed_to}")
    if pr_url:
        parts.append(f"PR #{pr_number}: {pr_url}")
    return "; ".join(parts)
