"""Terminal rendering: the live status line while a run works, and the summary after it."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tfagent.agent.core.types import Attempt, RunResult, fix_change


class LiveStatus:
    """`attempt n/N · generating · 312 tok · 18.4 tok/s · 17.0 s` — updated in place on a TTY,
    printed as plain lines (one per phase change) elsewhere."""

    def __init__(self, console: Console, enabled: bool = True):
        self.console = console
        self.enabled = enabled
        self.live: Live | None = None
        self.number, self.max, self.phase = 0, 0, "starting"
        self.tokens, self.gen_elapsed = 0, 0.0
        self.candidate_tokens: dict[int, int] = {}
        self.t0 = time.perf_counter()

    def __enter__(self) -> "LiveStatus":
        if self.enabled and self.console.is_terminal:
            self.live = Live(self._line(), console=self.console, refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def _line(self) -> Text:
        rate = self.tokens / self.gen_elapsed if self.gen_elapsed > 0 else 0.0
        elapsed = time.perf_counter() - self.t0
        return Text(
            f"attempt {self.number}/{self.max} · {self.phase} · {self.tokens} tok · {rate:.1f} tok/s · {elapsed:.1f} s",
            style="cyan",
        )

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "attempt_start":
            self.number, self.max, self.tokens, self.gen_elapsed = data["number"], data["max_attempts"], 0, 0.0
            self.candidate_tokens = {}
        elif kind == "phase":
            self.phase = data["phase"]
            if self.live is None and self.enabled:
                self.console.print(f"attempt {self.number}/{self.max}: {self.phase}…", highlight=False)
        elif kind == "progress":
            self.tokens, self.gen_elapsed = data["tokens"], data["elapsed"]
        elif kind == "candidate_progress":  # --candidates: the live line counts every sample's tokens
            self.candidate_tokens[data["index"]] = data["tokens"]
            self.tokens, self.gen_elapsed = sum(self.candidate_tokens.values()), max(self.gen_elapsed, data["elapsed"])
            self.phase = f"generating {len(self.candidate_tokens)}/{data['count']} candidates"
        elif kind == "candidate_done":
            print_candidate(self.console, data["candidate"], data["count"])
        elif kind == "autofix":
            print_autofix(self.console, data["fixes"], data["ok"], data["kept"], data["errors_before"], data["errors_after"])
        elif kind == "attempt_done":
            print_attempt(self.console, data["attempt"], self.max)
        elif kind == "grounding" and self.enabled:
            types = ", ".join(data["types"]) or "none found"
            self.console.print(f"[dim]grounding: {escape(types)} (~{data['tokens']} tokens of schema cards)[/]", highlight=False)
        elif kind == "folder_note":  # --in: the folder already fails before any change
            self.console.print(Text(data["text"], style="yellow"), soft_wrap=True)
        elif kind == "skipped_verifier":
            self.console.print(f"[yellow]skipping verifier {escape(data['name'])}: {escape(data['reason'])}[/]")
        if self.live is not None:
            self.live.update(self._line())


def print_candidate(console: Console, c: dict[str, Any], count: int) -> None:
    """`candidate 2/4: verified · 312 tok · model 14.1s · seed 123 (chosen)` — one line per sample."""
    state = "[green]verified[/]" if c["ok"] else f"[red]{c['errors']} error(s)[/]"
    fixed = " with autofix" if c["ok"] and c.get("autofix") else ""
    usage = c.get("usage") or {}
    first = f"  {escape(c['first_errors'][0])}" if c.get("first_errors") and not c["ok"] else ""
    console.print(
        f"candidate {c['index'] + 1}/{count}: {state}{fixed} · {usage.get('completion_tokens') or 0} tok · "
        f"model {c.get('model_seconds', 0.0):.1f}s · verify {c.get('verify_seconds', 0.0):.1f}s · "
        f"seed {(c.get('sampling') or {}).get('seed', '-')}{' [bold](chosen)[/]' if c.get('chosen') else ''}{first}",
        highlight=False)


def print_autofix(console: Console, fixes: list[dict[str, Any]], ok: bool, kept: bool, before: int, after: int) -> None:
    outcome = "verified" if ok else f"{before} → {after} error(s), " + ("kept" if kept else "not kept")
    console.print(f"[cyan]autofix[/] ({outcome}):", highlight=False)
    for f in fixes:
        before, after = fix_change(f)
        console.print(Text(f"  {f['file']}:{f['line']} {before} → {after} ({f['why']})"))


def print_attempt(console: Console, attempt: Attempt, max_attempts: int) -> None:
    verdict = ("[green]verified with autofix[/]" if attempt.autofixed else "[green]verified[/]") if attempt.ok \
        else "[red]failed[/]"
    stages = " ".join(
        f"{v.verifier}:{'ok' if v.ok else 'FAIL'}({v.seconds:.2f}s)" for v in attempt.verdicts
    )
    console.print(
        f"attempt {attempt.number}/{max_attempts}: {verdict}  {stages}  "
        f"[dim]{attempt.usage.completion_tokens} tok, model {attempt.model_seconds:.1f}s, verify {attempt.verify_seconds:.1f}s[/]",
        highlight=False,
    )
    if attempt.candidates:
        chosen = next((c for c in attempt.candidates if c.get("chosen")), attempt.candidates[0])
        console.print(f"  candidates: {len(attempt.candidates)} sampled, {sum(c['ok'] for c in attempt.candidates)} "
                      f"verified, #{chosen['index'] + 1} chosen (tokens and seconds above are the sum)", highlight=False)
    for f in attempt.autofix:
        before, after = fix_change(f)
        console.print(Text(f"  autofix: {f['file']}:{f['line']} {before} → {after} ({f['why']})", style="cyan"))
    for note in attempt.notes:
        console.print(Text(f"  note: {note}", style="yellow"))
    for v in attempt.verdicts:
        if v.note:
            console.print(f"  [dim]{escape(v.verifier)}: {escape(v.note)}[/]", highlight=False)
    for d in attempt.diagnostics[:12]:
        where = f"{d.file}:{d.line}" if d.file and d.line else (d.file or "")
        console.print(f"  [red]{d.severity}[/] {escape(where)} {escape(d.summary)}", highlight=False, markup=True, soft_wrap=True)
        if d.detail:
            console.print(Text("    " + d.detail.strip().splitlines()[0][:200], style="dim"))
    if len(attempt.diagnostics) > 12:
        console.print(f"  … {len(attempt.diagnostics) - 12} more")


def summary_table(result: RunResult) -> Table:
    table = Table(title=f"run {result.run_id}", show_lines=False)
    for col in ("attempt", "verdict", "errors", "prompt tok", "cached", "completion tok", "decode tok/s", "drafts ok",
                "ttft s", "model s", "verify s"):
        table.add_column(col, justify="right" if col not in ("verdict",) else "left")
    for a in result.attempts:
        errors = sum(1 for d in a.diagnostics if d.severity == "error")
        table.add_row(
            str(a.number), ("verified (autofix)" if a.autofixed else "verified") if a.ok else "failed", str(errors),
            prompt_tokens_text(a.usage),
            "-" if a.usage.cached_tokens is None else str(a.usage.cached_tokens), str(a.usage.completion_tokens),
            _optional(a.usage.decode_tokens_per_second, "{:.1f}"), _optional(a.usage.draft_acceptance, "{:.0%}"),
            "-" if a.ttft is None else f"{a.ttft:.2f}", f"{a.model_seconds:.2f}", f"{a.verify_seconds:.2f}",
        )
    return table


def prompt_tokens_text(usage) -> str:
    """The server's count; `~N` when counted through its tokenize endpoint; never a made-up 0."""
    if not usage.prompt_reported:
        return "not reported"
    return f"~{usage.prompt_tokens}" if usage.prompt_source == "tokenize" else str(usage.prompt_tokens)


def _optional(value, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def rules_applied(result: RunResult) -> str:
    """"; rules applied: a, b" from the last attempt's rego verdict (empty when rego did not run)."""
    for verdict in reversed(result.attempts[-1].verdicts if result.attempts else []):
        if verdict.verifier == "rego":
            part = next((p for p in verdict.note.split("; ") if p.startswith("rules applied: ")), "")
            return f"; {part}" if part else ""
    return ""


def print_result(console: Console, result: RunResult, written: list[str], out: str | None) -> None:
    console.print(summary_table(result))
    checked = ", ".join(result.chain) + rules_applied(result)
    if result.ok:
        fixed = " with autofix" if result.attempts and result.attempts[-1].autofixed else ""
        console.print(f"[green]verified{fixed}[/] after {len(result.attempts)} attempt(s) ({checked})")
    else:
        console.print(f"[red]not verified[/] after {len(result.attempts)} attempt(s) ({checked})")
    if written:
        console.print(f"wrote {len(written)} file(s) into {out}:")
        for path in written:
            console.print(f"  {path}", highlight=False)
