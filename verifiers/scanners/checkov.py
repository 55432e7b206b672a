"""The ``checkov`` verifier: Bridgecrew/Prisma's checkov run as an EXTERNAL program.

checkov pins ``bc-python-hcl2``, which installs into the same ``hcl2`` module as python-hcl2 8.x, so it
cannot share tfagent's virtualenv: install it in its own (``pipx install checkov``) and put it on PATH,
or point ``TFAGENT_CHECKOV`` at the executable. Offline it needs ``--skip-download``.

Options (``VerifyOptions.extra``): ``checkov_checks`` (list of ids/severities → ``--check``),
``checkov_skip_checks`` (→ ``--skip-check``) — checkov's full set is noisy for a generation loop.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tfagent.prompts import render_line
from tfagent.verifiers.base import Diagnostic, Verdict, Verifier, VerifyContext, error

# What the scanners should see of a work folder: configuration, not plans, state or provider caches.
SCANNED_SUFFIXES = (".tf", ".tf.json", ".tfvars", ".tfvars.json", ".hcl")
SKIPPED_DIRS = {".terraform", ".git", "__pycache__"}


def find_tool(env_var: str, command: str) -> tuple[str | None, str]:
    """(path, reason): the executable named by ``env_var`` (which must exist) or ``command`` on PATH."""
    configured = os.environ.get(env_var)
    if configured:
        path = Path(configured)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path), f"ok ({path}, from {env_var})"
        return None, f"{command}: {env_var}={configured} is not an executable file"
    found = shutil.which(command)
    if found:
        return found, f"ok ({found})"
    return None, f"{command}: not found on PATH (install it in its own environment, or set {env_var})"


@contextmanager
def staged_copy(workdir: Path) -> Iterator[Path]:
    """A temporary copy of the configuration files only, with the same relative paths."""
    with tempfile.TemporaryDirectory(prefix="tfagent-scan-") as tmp:
        root = Path(tmp) / "config"
        root.mkdir()
        for path in sorted(Path(workdir).rglob("*")):
            relative = path.relative_to(workdir)
            if any(part in SKIPPED_DIRS for part in relative.parts) or not path.is_file():
                continue
            if path.name.endswith(SCANNED_SUFFIXES):
                target = root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        yield root


def run_tool(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def tail_lines(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class Checkov(Verifier):
    name = "checkov"
    description = "checkov policy scan (external program: PATH or TFAGENT_CHECKOV)"
    modes = ("terraform",)
    env_var = "TFAGENT_CHECKOV"

    def available(self) -> tuple[bool, str]:
        path, reason = find_tool(self.env_var, "checkov")
        return path is not None, reason

    def command(self, exe: str, scan_dir: Path, extra: dict[str, Any]) -> list[str]:
        cmd = [exe, "-d", str(scan_dir), "--framework", "terraform", "--skip-download", "-o", "json", "--quiet", "--compact"]
        if extra.get("checkov_checks"):
            cmd += ["--check", ",".join(extra["checkov_checks"])]
        if extra.get("checkov_skip_checks"):
            cmd += ["--skip-check", ",".join(extra["checkov_skip_checks"])]
        return cmd

    def check(self, ctx: VerifyContext) -> Verdict:
        exe, reason = find_tool(self.env_var, "checkov")
        if exe is None:
            return Verdict(self.name, ok=False, diagnostics=[error(reason, source=self.name, category="other")])
        with staged_copy(ctx.workdir) as scan_dir:
            cmd = self.command(exe, scan_dir, ctx.options.extra)
            try:
                done = run_tool(cmd, ctx.options.timeout)
            except subprocess.TimeoutExpired:
                return self._failure(render_line("diag_scanner_timeout", tool="checkov", seconds=f"{ctx.options.timeout:.0f}"))
        if done.returncode not in (0, 1):
            return self._failure(render_line("diag_scanner_exit", tool="checkov", code=done.returncode), tail_lines(done.stderr or done.stdout))
        try:
            report = json.loads(done.stdout)
        except ValueError:
            return self._failure(render_line("diag_scanner_no_report", tool="checkov"), tail_lines(done.stderr or done.stdout))
        return self.verdict_from_report(report)

    def _failure(self, summary: str, detail: str = "") -> Verdict:
        return Verdict(self.name, ok=False, diagnostics=[error(summary, detail, source=self.name, category="other")])

    def verdict_from_report(self, report: Any) -> Verdict:
        """checkov's JSON: one report object per framework (a list when several), or a bare summary
        when nothing was scanned."""
        reports = report if isinstance(report, list) else [report]
        diagnostics: list[Diagnostic] = []
        parsing_errors = 0
        for part in reports:
            summary = part.get("summary", part)
            parsing_errors += int(summary.get("parsing_errors", 0) or 0)
            for failed in part.get("results", {}).get("failed_checks", []) or []:
                diagnostics.append(self._diagnostic(failed))
        if parsing_errors:
            diagnostics.append(error(render_line("diag_scanner_parse_errors", tool="checkov", count=parsing_errors), source=self.name, category="syntax"))
        counts = reports[0].get("summary", reports[0]) if reports else {}
        note = f"checkov {counts.get('checkov_version', '?')}: {len(diagnostics)} failed, {counts.get('passed', 0)} passed"
        return Verdict(self.name, ok=not diagnostics, diagnostics=sorted(diagnostics, key=Diagnostic.sort_key), note=note)

    def _diagnostic(self, failed: dict[str, Any]) -> Diagnostic:
        lines = failed.get("file_line_range") or [None]
        resource = failed.get("resource", "")
        return error(
            f"{resource}: {failed.get('check_name', 'failed check')} ({failed.get('check_id')})",
            failed.get("guideline") or "",
            file=(failed.get("file_path") or "").lstrip("/") or None,
            line=lines[0],
            source=self.name,
            rule=failed.get("check_id"),
            category="intent",
        )
