"""`terraform fmt`: rewrites the files in place. Formatting alone never costs a retry — only a file
fmt cannot parse makes this verdict fail."""

from __future__ import annotations

import re

from tfagent.prompts import render_line
from tfagent.verifiers.base import Diagnostic, Verdict, VerifyContext, error
from tfagent.verifiers.terraform.engine import TerraformEngine, TerraformVerifier
from tfagent.verifiers.terraform.validate import category_for

# Terraform's human error format: "Error: SUMMARY\n\n  on FILE line N, in CONTEXT:\n  N: code\n\nDETAIL"
_ERROR_BLOCK = re.compile(r"^Error: (?P<summary>.+?)\n(?P<body>.*?)(?=^Error: |\Z)", re.MULTILINE | re.DOTALL)
_LOCATION = re.compile(r"^\s*on (?P<file>.+?) line (?P<line>\d+)(?:, in [^\n]*)?:\s*$", re.MULTILINE)


def parse_human_errors(text: str, source: str) -> list[Diagnostic]:
    """Terraform's plain-text errors (fmt has no -json) -> Diagnostics with file/line."""
    diagnostics = []
    for match in _ERROR_BLOCK.finditer(text):
        summary, body = match["summary"].strip(), match["body"].strip("\n")
        location = _LOCATION.search(body)
        file = line = None
        if location:
            file, line = location["file"], int(location["line"])
        detail = "\n".join(part.rstrip() for part in body.splitlines() if part.strip() and not _LOCATION.match(part))
        diagnostics.append(error(summary, detail.strip(), file=file, line=line, source=source,
                                 category=category_for(summary)))
    return diagnostics


class TerraformFmt(TerraformVerifier):
    name = "fmt"
    description = "terraform fmt (rewrites files in place; fails only when a file cannot be parsed)"

    def check(self, ctx: VerifyContext) -> Verdict:
        engine = TerraformEngine.for_options(ctx.options)
        result = engine.fmt(ctx.workdir, timeout=ctx.options.timeout)
        changed = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if result.rc == 0:
            note = f"formatted: {', '.join(changed)}" if changed else "already formatted"
            return Verdict(self.name, ok=True, note=note)
        diagnostics = parse_human_errors(result.stderr, self.name) or [
            error(render_line("diag_command_failed", command="terraform fmt"), result.stderr.strip()[-1500:], source=self.name, category="syntax")]
        return Verdict(self.name, ok=False, diagnostics=sorted(diagnostics, key=Diagnostic.sort_key))
