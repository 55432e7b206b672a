"""``tests``: run the user's tests against the generated code, inside the sandbox.

The user's tests (``options.tests``, a file or a folder) are copied into the working copy AFTER the
model's files, so the model can never change them: a model file at a test's path is reported ("you may
not modify the user's tests") and the user's version is the one that runs. The copy keeps the test
path's own name (``--tests tests`` → ``tests/…``; ``--tests test_x.py`` → ``test_x.py``).

Python without ``--test-cmd`` runs pytest with a JUnit report, parsed into one diagnostic per failing
test: its name, the assertion message and the file/line where it failed. Other commands give one
diagnostic with the output's tail when they exit non-zero.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from tfagent.verifiers.code import code_lang
from tfagent.prompts import render_line
from tfagent.verifiers.base import Diagnostic, Verdict, Verifier, VerifyContext, error, warning
from tfagent.verifiers.code.code_lang import user_test_files
from tfagent.verifiers.code.compile import parse_colon_diagnostics, relative_path
from tfagent.verifiers.code.sandbox import SandboxResult, run_sandboxed, sandbox_diagnostics

NAME = "tests"
JUNIT_FILE = ".tfagent-junit.xml"
PYTEST_INI = ".tfagent-pytest.ini"
DEFAULT_TEST_TIMEOUT = 120.0
# The last "path.py:LINE: ExceptionName" line of a pytest failure is where the test failed.
PYTEST_CRASH_LINE = re.compile(r"^(?P<file>[^\s:]+\.py):(?P<line>\d+): (?P<exc>\w+)", re.M)
PYTEST_NO_TESTS = 5


def stage(workdir: Path, tests: Path | None, dest: Path) -> list[Diagnostic]:
    """Model files, then the user's tests on top. Returns a diagnostic per test file the model wrote."""
    shutil.copytree(workdir, dest, symlinks=True, dirs_exist_ok=True)
    found: list[Diagnostic] = []
    for rel, src in (user_test_files(tests) if tests else {}).items():
        if _clear_way(dest, rel):
            found.append(error(render_line("diag_tests_protected", file=rel), render_line("diag_tests_protected_detail"),
                               file=rel, source=NAME, category="test"))
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / rel)
    return found


def _clear_way(dest: Path, rel: str) -> bool:
    """Remove whatever the model put at ``rel`` or at a parent path of it (a file named like the
    user's test folder). True when something was in the way."""
    parts = Path(rel).parts
    for depth in range(1, len(parts) + 1):
        path = dest.joinpath(*parts[:depth])
        is_last = depth == len(parts)
        if path.is_symlink() or (path.exists() and (is_last or not path.is_dir())):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            return True
    return False


def isolate_pytest(dest: Path, user_files: set[str]) -> list[Diagnostic]:
    """Our pytest run uses our own (empty) config file, so a model's pytest.ini / pyproject settings
    cannot change what runs, and drops conftest.py files the model wrote (they could rewrite results)."""
    found = []
    for conftest in sorted(dest.rglob("conftest.py")):
        rel = conftest.relative_to(dest).as_posix()
        if rel not in user_files:
            conftest.unlink()
            found.append(warning(render_line("diag_conftest_ignored", file=rel),
                                 file=rel, source=NAME, category="test"))
    (dest / PYTEST_INI).write_text("[pytest]\n")
    return found


def _crash_location(text: str) -> tuple[str | None, int | None]:
    matches = list(PYTEST_CRASH_LINE.finditer(text or ""))
    if not matches:
        return None, None
    last = matches[-1]
    return relative_path(last.group("file")), int(last.group("line"))


def parse_junit(xml_text: str | bytes, source: str = NAME) -> list[Diagnostic]:
    """One diagnostic per failed or errored testcase of a JUnit XML report (pytest's, or any)."""
    root = ET.fromstring(xml_text)
    found: list[Diagnostic] = []
    for case in root.iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        classname, name = case.get("classname", ""), case.get("name", "")
        test_id = f"{classname}::{name}" if classname else name
        text = problem.text or ""
        file, line = _crash_location(text)
        if file is None and case.get("file"):
            file = relative_path(case.get("file"))
            line = int(case.get("line")) + 1 if (case.get("line") or "").isdigit() else None  # junit lines are 0-based
        message = (problem.get("message") or text.strip().splitlines()[-1:] or ["failed"])
        message = message if isinstance(message, str) else message[0]
        kind = "failed" if problem.tag == "failure" else "errored"
        first_line = (message.strip().splitlines() or ["failed"])[0][:300]
        found.append(error(render_line("diag_test_outcome", test=test_id, outcome=kind, message=first_line), text.strip()[-3000:], file=file,
                           line=line, source=source, rule=test_id, category="test"))
    return found


# Failure reports of the other languages' standard test runners (cargo test, go test, node --test).
RUST_FAILURE = re.compile(r"^---- (?P<name>\S+) stdout ----\n(?P<body>.*?)(?=^---- |^failures:|\Z)", re.M | re.S)
RUST_PANIC = re.compile(r"panicked at (?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+):\n(?P<msg>(?:(?!note: ).*\n?)*)")
GO_FAILURE = re.compile(r"^\s*--- FAIL: (?P<name>\S+) \([^)]*\)\n(?P<body>(?:^\s{4,}.*\n?)*)", re.M)
GO_LOCATION = re.compile(r"^\s*(?P<file>[^\s:]+\.go):(?P<line>\d+): (?P<msg>.*)", re.M)
TAP_FAILURE = re.compile(r"^\s*not ok \d+ - (?P<name>.+)\n(?P<yaml>(?:(?!\s*\.\.\.\n).*\n)*?)\s*\.\.\.", re.M)
TAP_LOCATION = re.compile(r"location: '(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)'")
TAP_ERROR = re.compile(r"error: \|-?\n(?P<msg>(?:\s{4,}.*\n)+)|error: '(?P<short>[^']*)'")


def _failure(name: str, message: str, detail: str, file=None, line=None, column=None) -> Diagnostic:
    first = (message.strip().splitlines() or ["failed"])[0][:300]
    return error(render_line("diag_test_outcome", test=name, outcome="failed", message=first), detail.strip()[-3000:], file=relative_path(file) if file else None,
                 line=int(line) if line else None, column=int(column) if column else None, source=NAME, rule=name,
                 category="test")


def parse_runner_output(lang: str, output: str) -> list[Diagnostic]:
    """Failing tests from cargo test / go test / node --test output; [] when none are recognised."""
    found: list[Diagnostic] = []
    if lang == "rust":
        for m in RUST_FAILURE.finditer(output):
            panic = RUST_PANIC.search(m.group("body"))
            where = (panic.group("file"), panic.group("line"), panic.group("col")) if panic else (None, None, None)
            found.append(_failure(m.group("name"), " ".join((panic.group("msg") if panic else m.group("body")).split()),
                                  m.group("body"), *where))
    elif lang == "go":
        for m in GO_FAILURE.finditer(output):
            loc = GO_LOCATION.search(m.group("body"))
            found.append(_failure(m.group("name"), loc.group("msg") if loc else "failed", m.group("body"),
                                  loc.group("file") if loc else None, loc.group("line") if loc else None))
    elif lang in ("javascript", "typescript"):
        for m in TAP_FAILURE.finditer(output):
            loc, err = TAP_LOCATION.search(m.group("yaml")), TAP_ERROR.search(m.group("yaml"))
            message = " ".join((err.group("msg") or err.group("short") or "").split()) if err else "failed"
            found.append(_failure(m.group("name").strip(), message, m.group("yaml"),
                                  *((loc.group("file"), loc.group("line"), loc.group("col")) if loc else ())))
    return found


def _command(ctx: VerifyContext, lang: code_lang.Language, tc: code_lang.Toolchain) -> tuple[list[str] | None, bool]:
    """(command, writes_junit)."""
    if ctx.options.test_cmd:
        return shlex.split(ctx.options.test_cmd), False
    if lang.name == "python":
        # -P: the working copy is not put first on sys.path, so a reply's own "pytest.py" cannot stand
        # in for pytest; pytest adds it (pythonpath=.) once it runs, for the tests' imports.
        safe_path = ["-P"] if sys.version_info >= (3, 11) else []
        return [tc.binary, *safe_path, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", PYTEST_INI,
                "--rootdir", ".", "-o", "pythonpath=.", "-o", "junit_family=xunit1", f"--junitxml={JUNIT_FILE}"], True
    return lang.test_command(tc), False


class RunTests(Verifier):
    name = NAME
    description = "runs the user's tests (--test-cmd, or pytest for Python) against the code, in the sandbox"
    modes = ("code",)

    def check(self, ctx: VerifyContext) -> Verdict:
        try:
            lang = code_lang.language(ctx.options.lang)
        except code_lang.UnknownLanguage as exc:
            return Verdict(NAME, False, [error(str(exc), source=NAME, category="other")])
        tc = code_lang.toolchain(lang.name)
        if not tc.ok and not ctx.options.test_cmd:
            return Verdict(NAME, False, [error(render_line("diag_cannot_run_tests", lang=lang.name, reason=tc.reason), source=NAME,
                                               category="other")])
        cmd, junit = _command(ctx, lang, tc)
        if cmd is None:
            return Verdict(NAME, False, [error(render_line("diag_no_test_command", lang=lang.name),
                                               source=NAME, category="other")])
        with tempfile.TemporaryDirectory(prefix="tfagent-tests-") as tmp:
            staged = Path(tmp) / "work"
            try:
                diagnostics = stage(ctx.workdir, ctx.options.tests, staged)
            except FileNotFoundError as exc:
                return Verdict(NAME, False, [error(str(exc), source=NAME, category="other")])
            code_lang.scaffold(lang.name, staged)
            if junit:
                user_files = set(user_test_files(ctx.options.tests)) if ctx.options.tests else set()
                diagnostics += isolate_pytest(staged, user_files)
            timeout = float(ctx.options.test_timeout if ctx.options.test_timeout is not None
                            else min(ctx.options.timeout, DEFAULT_TEST_TIMEOUT))
            # Our own pytest run loads no third-party plugins: the venv's (langsmith, anyio, …) cost
            # ~4 s of startup per attempt and are nothing the user's tests asked for.
            env = {**tc.env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"} if junit else tc.env
            result = run_sandboxed(cmd, staged, timeout=timeout, memory_bytes=4 * 1024**3, env=env,
                                   extra_ro_paths=tc.ro_paths, collect=[JUNIT_FILE] if junit else [],
                                   level=ctx.options.sandbox)
        diagnostics += self._outcome(result, cmd, junit, lang.name)
        ok = result.ok and not any(d.severity == "error" for d in diagnostics)
        shown = shlex.join([Path(cmd[0]).name, *cmd[1:4]])
        return Verdict(NAME, ok, diagnostics, note=f"{shown} in {result.isolation} sandbox, {result.seconds:.1f}s")

    def _outcome(self, result: SandboxResult, cmd: list[str], junit: bool, lang: str) -> list[Diagnostic]:
        found = sandbox_diagnostics(result, NAME, "the tests")
        if result.timed_out:
            return found
        if junit and JUNIT_FILE not in result.collected:
            found.append(error(render_line("diag_no_junit"), _tail(result), source=NAME,
                               category="test"))
        elif junit:
            try:
                found += parse_junit(result.collected[JUNIT_FILE])
            except ET.ParseError as exc:
                found.append(error(render_line("diag_junit_invalid", error=exc), source=NAME,
                                   category="other"))
            if result.rc == PYTEST_NO_TESTS:
                found.append(error(render_line("diag_no_tests_collected"), _tail(result), source=NAME, category="test"))
        elif result.rc != 0:
            output = result.stdout + "\n" + result.stderr
            found += parse_runner_output(lang, output) or (
                # the tests did not build: compiler errors in file:line:col form
                [d for d in parse_colon_diagnostics(output, NAME) if d.severity == "error"] if lang in ("go", "c", "cpp") else [])
        if result.rc != 0 and not any(d.category in ("test", "compile") for d in found):
            found.append(error(render_line("diag_tests_exited", command=shlex.join([Path(cmd[0]).name, *cmd[1:4]]), code=result.rc),
                               _tail(result),
                               source=NAME, category="test"))
        return found


def _tail(result: SandboxResult, lines: int = 40) -> str:
    text = (result.stdout + "\n" + result.stderr).strip()
    return "\n".join(text.splitlines()[-lines:])
