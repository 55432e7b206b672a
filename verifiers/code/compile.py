"""``compile``: build the generated code with its language's compiler, inside the sandbox.

Compilers run untrusted code too (cargo build scripts, proc macros, go generate-like tricks), so the
build runs in ``run_sandboxed`` like the tests do. Output is parsed into diagnostics with file, line
and column: the ``file:line:col: error: msg`` shape (gcc, g++, go, go vet), tsc's
``file(line,col): error TSnnnn: msg``, node's ``--check`` report and cargo's JSON messages.
"""

from __future__ import annotations

import json
import re

from tfagent.verifiers.code import code_lang
from tfagent.prompts import render_line
from tfagent.verifiers.base import Diagnostic, Verdict, Verifier, VerifyContext, error
from tfagent.verifiers.code.sandbox import run_sandboxed, sandbox_diagnostics

NAME = "compile"
MAX_DETAIL_LINES = 12

# file:line:col: [severity:] message — gcc/clang/go. The file must not start with a space (gcc's
# source-snippet lines do) and is non-greedy so Windows-free POSIX paths with colons are rare enough.
COLON_SHAPE = re.compile(
    r"^(?P<file>[^\s:][^:\n]*?):(?P<line>\d+):(?:(?P<col>\d+):)?\s*"
    r"(?:(?P<sev>fatal error|error|warning|note|vet):\s*)?(?P<msg>.+)$"
)
TSC_SHAPE = re.compile(r"^(?P<file>[^\s(][^(\n]*)\((?P<line>\d+),(?P<col>\d+)\): (?P<sev>error|warning) (?P<code>TS\d+): (?P<msg>.+)$")
NODE_LOCATION = re.compile(r"^(?P<file>/[^\n:]+):(?P<line>\d+)$")
NODE_ERROR = re.compile(r"^(?P<kind>\w*Error): (?P<msg>.+)$")
LINKER_ERROR = re.compile(r"undefined reference to [`'‘](?P<sym>[^'’`]+)")
SANDBOX_WORK = re.compile(r"^.*?/tfagent-sandbox-[^/]+/work/")


def relative_path(path: str) -> str:
    """A path as the model knows it: relative to its project, without the sandbox's temp prefix."""
    path = SANDBOX_WORK.sub("", path)
    return path[2:] if path.startswith("./") else path


def _severity(word: str | None) -> str | None:
    if word in (None, "error", "fatal error", "vet"):
        return "error"
    return "warning" if word == "warning" else None  # notes belong to the diagnostic before them


def parse_colon_diagnostics(output: str, source: str = NAME) -> list[Diagnostic]:
    """gcc/g++/go-style output. Snippet and note lines become the detail of the diagnostic above."""
    found: list[Diagnostic] = []
    detail: list[str] = []

    def flush() -> None:
        if found and detail:
            last = found[-1]
            found[-1] = Diagnostic(**{**last.to_dict(), "detail": "\n".join(detail[:MAX_DETAIL_LINES])})
        detail.clear()

    for raw in output.splitlines():
        line = raw.rstrip()
        match = COLON_SHAPE.match(line)
        severity = _severity(match.group("sev")) if match else None
        if match and severity and not line.startswith("/usr/bin/ld"):
            flush()
            col = match.group("col")
            found.append(Diagnostic(severity=severity, summary=match.group("msg").strip(),
                                    file=relative_path(match.group("file")), line=int(match.group("line")),
                                    column=int(col) if col else None, source=source, category="compile"))
        elif (link := LINKER_ERROR.search(line)) is not None:
            flush()
            found.append(error(render_line("diag_link_error", symbol=link.group("sym")), line,
                               source=source, category="compile"))
        elif found and line and not line.startswith(("#", "collect2:")) and " In function " not in line:
            detail.append(line)
    flush()
    return found


def parse_tsc(output: str, source: str = NAME) -> list[Diagnostic]:
    found = []
    for line in output.splitlines():
        m = TSC_SHAPE.match(line.strip())
        if m:
            found.append(Diagnostic(severity=m.group("sev"), summary=m.group("msg"), file=relative_path(m.group("file")),
                                    line=int(m.group("line")), column=int(m.group("col")), source=source,
                                    rule=m.group("code"), category="compile"))
    return found


def parse_node_check(output: str, source: str = NAME) -> list[Diagnostic]:
    """``node --check``: "FILE:LINE", the source line, a caret, blank, "SyntaxError: msg"."""
    lines = output.splitlines()
    at = next((i for i, text in enumerate(lines) if NODE_LOCATION.match(text)), None)
    location = NODE_LOCATION.match(lines[at]) if at is not None else None
    message = next((m for m in map(NODE_ERROR.match, lines) if m), None)
    if message is None:
        return []
    caret = next((text for text in lines if text.strip().startswith("^")), "")
    snippet = "\n".join(lines[at + 1 : at + 3]) if at is not None else ""
    return [error(f"{message.group('kind')}: {message.group('msg')}", snippet, source=source, category="syntax",
                  file=relative_path(location.group("file")) if location else None,
                  line=int(location.group("line")) if location else None,
                  column=(caret.index("^") + 1) if caret else None)]


def parse_cargo_json(output: str, source: str = NAME) -> list[Diagnostic]:
    """cargo ``--message-format=json``: one JSON object per line; compiler messages carry spans."""
    found: list[Diagnostic] = []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # cargo interleaves plain text with JSON; plain text is not ours
            continue
        if record.get("reason") != "compiler-message":
            continue
        msg = record.get("message") or {}
        level = msg.get("level", "")
        if level not in ("error", "warning") or msg.get("message", "").startswith("aborting due to"):
            continue
        span = next((s for s in msg.get("spans", []) if s.get("is_primary")), None)
        code = (msg.get("code") or {}).get("code")
        found.append(Diagnostic(
            severity="error" if level == "error" else "warning", summary=msg.get("message", "").strip(),
            detail=(msg.get("rendered") or "").strip(), file=relative_path(span["file_name"]) if span else None,
            line=span.get("line_start") if span else None, column=span.get("column_start") if span else None,
            source=source, rule=code, category="compile"))
    return found


def parse_compiler_output(lang: str, output: str) -> list[Diagnostic]:
    name = code_lang.language(lang).name
    if name == "rust":
        return parse_cargo_json(output) + [d for d in parse_colon_diagnostics(output) if d.severity == "error"
                                           and d.file and d.file.endswith("Cargo.toml")]
    if name == "typescript":
        return parse_tsc(output)
    if name == "javascript":
        return parse_node_check(output)
    return parse_colon_diagnostics(output)


class Compile(Verifier):
    name = NAME
    description = "compiles the generated code with its language's compiler, in the sandbox"
    modes = ("code",)

    def available(self) -> tuple[bool, str]:
        present = [lang for lang in code_lang.LANGUAGES if code_lang.toolchain(lang).ok]
        missing = [lang for lang in code_lang.LANGUAGES if lang not in present]
        if not present:
            return False, "no compiler found for any language"
        return True, f"toolchains: {', '.join(present)}" + (f" (missing: {', '.join(missing)})" if missing else "")

    def check(self, ctx: VerifyContext) -> Verdict:
        try:
            lang = code_lang.language(ctx.options.lang)
        except code_lang.UnknownLanguage as exc:
            return Verdict(NAME, False, [error(str(exc), source=NAME, category="other")])
        if lang.name == "python":
            from tfagent.verifiers.code.python import PythonCheck  # the python verifier does the python "compile"

            return PythonCheck().check(ctx)
        tc = code_lang.toolchain(lang.name)
        if not tc.ok:
            return Verdict(NAME, False, [error(render_line("diag_cannot_compile", lang=lang.name, reason=tc.reason),
                                               render_line("diag_cannot_compile_detail", tool=lang.tool, lang=lang.name), source=NAME,
                                               category="other")])
        written = code_lang.scaffold(lang.name, ctx.workdir)
        commands = lang.compile_commands(ctx.workdir, tc)
        if not commands:
            return Verdict(NAME, False, [error(render_line("diag_no_sources", lang=lang.name, extensions=", ".join(lang.extensions)),
                                               source=NAME, category="no_code")])
        diagnostics: list[Diagnostic] = []
        for cmd in commands:
            diagnostics += self._run_one(lang.name, cmd, ctx, tc)
            if any(d.severity == "error" for d in diagnostics):
                break  # later commands (go vet after go build) only repeat the failure
        diagnostics = list(dict.fromkeys(diagnostics))  # cargo reports a message once per target
        note = f"generated {', '.join(written)}" if written else ""
        ok = not any(d.severity == "error" for d in diagnostics)
        return Verdict(NAME, ok, diagnostics, note=note)

    def _run_one(self, lang: str, cmd: list[str], ctx: VerifyContext, tc: code_lang.Toolchain) -> list[Diagnostic]:
        result = run_sandboxed(cmd, ctx.workdir, timeout=min(ctx.options.timeout, 600), memory_bytes=4 * 1024**3,
                               env=tc.env, extra_ro_paths=tc.ro_paths, level=ctx.options.sandbox)
        killed = sandbox_diagnostics(result, NAME, f"the {lang} compiler")
        if result.timed_out:
            return killed  # a killed build's partial output would only add noise
        output = result.stdout + "\n" + result.stderr
        parsed = parse_compiler_output(lang, output)
        if result.rc != 0 and not any(d.severity == "error" for d in parsed):
            tail = "\n".join(output.strip().splitlines()[-30:])
            parsed.append(error(render_line("diag_command_exit", command=" ".join(cmd[:2]), code=result.rc), tail, source=NAME,
                                category="compile"))
        return killed + parsed
