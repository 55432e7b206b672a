"""What every external scanner verifier shares (checkov, trivy, and a third one added the same way):
finding the program, scanning a copy of the configuration files only, running it with a timeout, and
turning "it did not run" into one diagnostic. A scanner says its command and how to read its report."""

from __future__ import annotations

import json
from abc import abstractmethod
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tfagent.prompts import render_line
from tfagent.verifiers.base import Verdict, Verifier, VerifyContext, VerifyOptions, error

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


class ExternalScanner(Verifier):
    """A verifier that runs a scanner program on a copy of the configuration files and reads its JSON."""

    modes = ("terraform",)
    tool = ""  # the program's name on PATH
    env_var = ""  # the variable that may name the program's path instead
    ok_exit_codes: tuple[int, ...] = (0,)  # exit codes that still mean "here is the report"

    def available(self) -> tuple[bool, str]:
        path, reason = find_tool(self.env_var, self.tool)
        return path is not None, reason

    @abstractmethod
    def command(self, exe: str, scan_dir: Path, work_dir: Path, options: VerifyOptions) -> list[str]:
        """The scanner's command line for ``scan_dir`` (``work_dir``: a private scratch folder for its cache)."""

    @abstractmethod
    def verdict_from_report(self, report: Any) -> Verdict:
        """The verdict from the scanner's parsed JSON report."""

    def check(self, ctx: VerifyContext) -> Verdict:
        exe, reason = find_tool(self.env_var, self.tool)
        if exe is None:
            return self.failure(reason)
        # A private scratch folder: scanners would otherwise write caches under $HOME; nothing in it is worth
        # keeping offline.
        with staged_copy(ctx.workdir) as scan_dir, tempfile.TemporaryDirectory(prefix=f"tfagent-{self.tool}-") as work:
            try:
                done = run_tool(self.command(exe, scan_dir, Path(work), ctx.options), ctx.options.timeout)
            except subprocess.TimeoutExpired:
                return self.failure(render_line("diag_scanner_timeout", tool=self.tool, seconds=f"{ctx.options.timeout:.0f}"))
        if done.returncode not in self.ok_exit_codes:
            return self.failure(render_line("diag_scanner_exit", tool=self.tool, code=done.returncode),
                                tail_lines(done.stderr or done.stdout))
        try:
            report = json.loads(done.stdout)
        except ValueError:
            return self.failure(render_line("diag_scanner_no_report", tool=self.tool), tail_lines(done.stderr or done.stdout))
        return self.verdict_from_report(report)

    def failure(self, summary: str, detail: str = "") -> Verdict:
        """The scanner did not give a report: one diagnostic saying why."""
        return Verdict(self.name, ok=False, diagnostics=[error(summary, detail, source=self.name, category="other")])
