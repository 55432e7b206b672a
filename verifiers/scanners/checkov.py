"""The ``checkov`` verifier: Bridgecrew/Prisma's checkov run as an EXTERNAL program.

checkov pins ``bc-python-hcl2``, which installs into the same ``hcl2`` module as python-hcl2 8.x, so it
cannot share tfagent's virtualenv: install it in its own (``pipx install checkov``) and put it on PATH,
or point ``TFAGENT_CHECKOV`` at the executable. Offline it needs ``--skip-download``.

Options (``VerifyOptions`` fields): ``checkov_checks`` (list of ids/severities → ``--check``),
``checkov_skip_checks`` (→ ``--skip-check``) — checkov's full set is noisy for a generation loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfagent.prompts import render_line
from tfagent.verifiers.base import Diagnostic, Verdict, VerifyOptions, error
from tfagent.verifiers.scanners.external import ExternalScanner, staged_copy  # noqa: F401  (staged_copy: tests use it from here)


class Checkov(ExternalScanner):
    name = "checkov"
    description = "checkov policy scan (external program: PATH or TFAGENT_CHECKOV)"
    tool = "checkov"
    env_var = "TFAGENT_CHECKOV"
    ok_exit_codes = (0, 1)  # 1: some checks failed, and the report says which

    def command(self, exe: str, scan_dir: Path, work_dir: Path, options: VerifyOptions) -> list[str]:
        cmd = [exe, "-d", str(scan_dir), "--framework", "terraform", "--skip-download", "-o", "json", "--quiet", "--compact"]
        if options.checkov_checks:
            cmd += ["--check", ",".join(options.checkov_checks)]
        if options.checkov_skip_checks:
            cmd += ["--skip-check", ",".join(options.checkov_skip_checks)]
        return cmd

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
