"""``python``: byte-compile every .py file and report the lint errors that are certain bugs.

Nothing is executed: ``compile()`` parses in-process, and pyflakes walks the syntax tree. Only the
pyflakes messages that fail at run time (undefined names, ``return`` outside a function, …) are
reported; style findings (unused imports) are not, so the model is not sent chasing noise.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from tfagent.prompts import render_line
from tfagent.verifiers.base import Diagnostic, Verdict, Verifier, VerifyContext, error

NAME = "python"
SKIP_DIRS = {".venv", "venv", "__pycache__", ".git", "node_modules", ".tox"}
# pyflakes message classes that mean the code cannot run as written.
FATAL_PYFLAKES = {
    "UndefinedName", "UndefinedLocal", "UndefinedExport", "DuplicateArgument", "ReturnOutsideFunction",
    "YieldOutsideFunction", "BreakOutsideLoop", "ContinueOutsideLoop", "ImportStarNotPermitted",
    "TwoStarredExpressions", "TooManyExpressionsInStarredAssignment", "FutureFeatureNotDefined",
    "LateFutureImport", "DefaultExceptNotLast",
}


def python_files(workdir: Path) -> list[Path]:
    return sorted(p for p in workdir.rglob("*.py")
                  if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(workdir).parts))


def syntax_diagnostic(exc: SyntaxError, rel: str) -> Diagnostic:
    snippet = (exc.text or "").rstrip("\n")
    if snippet and exc.offset:
        snippet += "\n" + " " * (exc.offset - 1) + "^"
    return error(f"{type(exc).__name__}: {exc.msg}", snippet, file=rel, line=exc.lineno, column=exc.offset,
                 source=NAME, category="syntax")


def _pyflakes_available() -> bool:
    return importlib.util.find_spec("pyflakes") is not None


def lint_errors(tree, rel: str) -> list[Diagnostic]:
    """The fatal pyflakes findings for one parsed file."""
    from pyflakes.checker import Checker

    checker = Checker(tree, filename=rel)
    found = []
    for message in checker.messages:
        kind = type(message).__name__
        if kind in FATAL_PYFLAKES:
            found.append(error(message.message % message.message_args, file=rel, line=message.lineno,
                               column=(message.col or 0) + 1, source=NAME, rule=kind, category="compile"))
    return found


def check_file(path: Path, rel: str, lint: bool) -> list[Diagnostic]:
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return [error(render_line("diag_code_not_utf8", file=rel, error=exc), file=rel, source=NAME, category="syntax")]
    try:
        tree = ast.parse(source, rel)
        compile(tree, rel, "exec", dont_inherit=True)  # byte-compiles: catches errors the parser lets through
    except SyntaxError as exc:  # IndentationError and TabError are SyntaxErrors too
        return [syntax_diagnostic(exc, rel)]
    except ValueError as exc:  # e.g. source with NUL bytes
        return [error(render_line("diag_python_not_compilable", file=rel, error=exc), file=rel, source=NAME, category="syntax")]
    return lint_errors(tree, rel) if lint else []


class PythonCheck(Verifier):
    name = NAME
    description = "byte-compiles every .py file and reports undefined names and other fatal lint errors"
    modes = ("code",)

    def available(self) -> tuple[bool, str]:
        if _pyflakes_available():
            return True, "syntax + pyflakes"
        return True, "syntax only (pyflakes is not installed: undefined names are not checked)"

    def check(self, ctx: VerifyContext) -> Verdict:
        files = python_files(ctx.workdir)
        if not files:
            return Verdict(NAME, False, [error(render_line("diag_python_no_files"), source=NAME, category="no_code")])
        lint = _pyflakes_available()
        diagnostics: list[Diagnostic] = []
        for path in files:
            diagnostics += check_file(path, path.relative_to(ctx.workdir).as_posix(), lint)
        note = f"{len(files)} file(s)" + ("" if lint else "; pyflakes not installed, names not checked")
        return Verdict(NAME, not diagnostics, diagnostics, note=note)
