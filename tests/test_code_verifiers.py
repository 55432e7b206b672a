"""Code-mode verifiers with real tools: python/pyflakes, gcc, cargo, node, pytest in the sandbox."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tfagent.prompts import render
from tfagent.verifiers.code import code_lang
from tfagent.verifiers.base import VerifyContext, VerifyOptions
from tfagent.verifiers.code.compile import Compile, parse_cargo_json, parse_colon_diagnostics, parse_tsc
from tfagent.verifiers.code.python import PythonCheck
from tfagent.verifiers.registry import build_chain
from tfagent.verifiers.code.tests import RunTests, parse_junit, parse_runner_output

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
needs_cargo = pytest.mark.skipif(not code_lang.toolchain("rust").ok, reason="no usable rust toolchain")


def write(folder: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def ctx(folder: Path, lang: str, **options) -> VerifyContext:
    return VerifyContext(folder, VerifyOptions(mode="code", lang=lang, **options))


# ---------------------------------------------------------------- language table


def test_language_table_defaults():
    assert code_lang.default_file("python") == "solution.py"
    assert code_lang.default_file("rust") == "src/main.rs"
    assert code_lang.default_chain("python", True) == ["python", "tests"]
    assert code_lang.default_chain("go", False) == ["compile"]
    assert "c++" in code_lang.fence_tags("cpp")
    with pytest.raises(code_lang.UnknownLanguage, match="cobol"):
        code_lang.language("cobol")


def test_entry_points_build_a_code_chain():
    chain = build_chain(["python", "compile", "tests"])
    assert [type(v).__name__ for v in chain.verifiers] == ["PythonCheck", "Compile", "RunTests"]


def test_request_lists_tests_and_shows_them_only_when_allowed(tmp_path):
    tests = write(tmp_path / "tests", {"test_sol.py": "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"})
    shown = render("code_request", **code_lang.code_request_vars("add numbers", "python", VerifyOptions(tests=tests)))
    assert "add numbers" in shown and "Python" in shown and "`tests/test_sol.py`" in shown
    assert "assert add(1, 2) == 3" in shown
    hidden_opts = VerifyOptions(tests=tests, show_tests=False)
    hidden = render("code_request", **code_lang.code_request_vars("add numbers", "python", hidden_opts))
    assert "`tests/test_sol.py`" in hidden and "assert add" not in hidden
    plain = render("code_request", **code_lang.code_request_vars("add numbers", "c"))
    assert "main.c" in plain and "tests" not in plain
    assert "$" not in render("code_system")


# ---------------------------------------------------------------- python


def test_python_syntax_error_has_file_line_column(tmp_path):
    write(tmp_path, {"pkg/bad.py": "def f(:\n    pass\n", "good.py": "x = 1\n"})
    verdict = PythonCheck().verify(ctx(tmp_path, "python"))
    assert not verdict.ok
    [diag] = verdict.diagnostics
    assert (diag.file, diag.line, diag.column, diag.category) == ("pkg/bad.py", 1, 7, "syntax")


def test_python_undefined_name_is_a_compile_error_and_unused_import_is_not(tmp_path):
    write(tmp_path, {"solution.py": "import os\n\ndef area(r):\n    return pi * r * r\n"})
    verdict = PythonCheck().verify(ctx(tmp_path, "python"))
    [diag] = verdict.diagnostics
    assert "undefined name 'pi'" in diag.summary
    assert (diag.line, diag.column, diag.category, diag.rule) == (4, 12, "compile", "UndefinedName")


def test_python_clean_code_passes_and_empty_folder_is_no_code(tmp_path):
    write(tmp_path / "a", {"solution.py": "import math\n\ndef area(r):\n    return math.pi * r * r\n"})
    assert PythonCheck().verify(ctx(tmp_path / "a", "python")).ok
    (tmp_path / "b").mkdir()
    verdict = PythonCheck().verify(ctx(tmp_path / "b", "python"))
    assert not verdict.ok and verdict.diagnostics[0].category == "no_code"


# ---------------------------------------------------------------- compile


@needs_gcc
def test_gcc_error_is_parsed_with_file_line_column(tmp_path):
    write(tmp_path, {"main.c": "int main(void) {\n    int x = 1\n    return x;\n}\n"})
    verdict = Compile().verify(ctx(tmp_path, "c"))
    assert not verdict.ok
    err = verdict.errors[0]
    assert (err.file, err.line, err.column, err.category) == ("main.c", 3, 5, "compile")
    assert "before" in err.summary and "return x;" in err.detail


@needs_gcc
def test_gcc_link_error_and_clean_build(tmp_path):
    write(tmp_path / "bad", {"main.c": "int helper(void);\nint main(void) { return helper(); }\n"})
    verdict = Compile().verify(ctx(tmp_path / "bad", "c"))
    assert not verdict.ok and "undefined reference to 'helper'" in verdict.errors[0].summary
    write(tmp_path / "good", {"main.cpp": "#include <iostream>\nint main() { std::cout << 42 << std::endl; }\n"})
    assert Compile().verify(ctx(tmp_path / "good", "cpp")).ok


def test_colon_parser_handles_go_shapes():
    out = "# solution\n./main.go:5:2: undefined: fmtx\n./main.go:7:1: missing return\n"
    diags = parse_colon_diagnostics(out)
    assert [(d.file, d.line, d.column, d.summary) for d in diags] == [
        ("main.go", 5, 2, "undefined: fmtx"), ("main.go", 7, 1, "missing return")]


def test_tsc_parser():
    [diag] = parse_tsc("index.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\n")
    assert (diag.file, diag.line, diag.column, diag.rule) == ("index.ts", 3, 7, "TS2322")


CARGO_LINE = json.dumps({
    "reason": "compiler-message", "package_id": "path+file:///tmp/x#solution@0.1.0",
    "message": {"rendered": "error[E0425]: cannot find value `y` in this scope\n --> src/main.rs:3:20\n",
                "$message_type": "diagnostic", "children": [], "level": "error",
                "message": "cannot find value `y` in this scope", "code": {"code": "E0425", "explanation": "…"},
                "spans": [{"file_name": "src/main.rs", "is_primary": True, "line_start": 3, "line_end": 3,
                           "column_start": 20, "column_end": 21}]}})


def test_cargo_json_line_is_parsed():
    text = "   Compiling solution v0.1.0\n" + CARGO_LINE + '\n{"reason":"build-finished","success":false}\n'
    [diag] = parse_cargo_json(text)
    assert (diag.file, diag.line, diag.column, diag.rule) == ("src/main.rs", 3, 20, "E0425")
    assert diag.summary == "cannot find value `y` in this scope" and "-->" in diag.detail


@needs_cargo
def test_cargo_check_runs_offline_in_the_sandbox(tmp_path):
    write(tmp_path / "bad", {"src/main.rs": 'fn main() {\n    let x: i32 = "s";\n    println!("{}", x);\n}\n'})
    verdict = Compile().verify(ctx(tmp_path / "bad", "rust"))
    assert not verdict.ok and (tmp_path / "bad" / "Cargo.toml").exists()  # generated: the model left it out
    [diag] = verdict.errors  # reported once although cargo checks two targets
    assert (diag.file, diag.line, diag.rule) == ("src/main.rs", 2, "E0308")
    write(tmp_path / "good", {"src/main.rs": 'fn main() { println!("hi"); }\n'})
    assert Compile().verify(ctx(tmp_path / "good", "rust")).ok


@needs_node
def test_node_check_syntax_error(tmp_path):
    write(tmp_path, {"index.js": "const a = 1;\nlet x = (1;\n"})
    verdict = Compile().verify(ctx(tmp_path, "javascript"))
    [diag] = verdict.errors
    assert (diag.file, diag.line, diag.column) == ("index.js", 2, 11) and "SyntaxError" in diag.summary


def test_missing_toolchain_is_named(tmp_path, monkeypatch):
    write(tmp_path, {"main.go": "package main\nfunc main() {}\n"})
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # a machine without go
    code_lang.toolchain.cache_clear()
    try:
        [diag] = Compile().verify(ctx(tmp_path, "go")).diagnostics
    finally:
        code_lang.toolchain.cache_clear()
    assert diag.category == "other" and "go not found" in diag.summary


# ---------------------------------------------------------------- tests


def test_pytest_failures_become_named_diagnostics(tmp_path):
    model = write(tmp_path / "model", {"solution.py": "def add(a, b):\n    return a - b\n"})
    tests = write(tmp_path / "tests", {"test_sol.py": "from solution import add\n\n\ndef test_add():\n"
                                       "    assert add(2, 2) == 4, 'two plus two'\n\n\ndef test_zero():\n"
                                       "    assert add(0, 0) == 0\n"})
    verdict = RunTests().verify(ctx(model, "python", tests=tests))
    assert not verdict.ok
    [diag] = verdict.diagnostics
    assert diag.rule == "tests.test_sol::test_add" and diag.category == "test"
    assert "two plus two" in diag.summary
    assert (diag.file, diag.line) == ("tests/test_sol.py", 5)
    write(model, {"solution.py": "def add(a, b):\n    return a + b\n"})
    assert RunTests().verify(ctx(model, "python", tests=tests)).ok


def test_model_cannot_overwrite_the_users_tests(tmp_path):
    tests = write(tmp_path / "tests", {"test_sol.py": "from solution import VALUE\n\ndef test_value():\n    assert VALUE == 42\n"})
    model = write(tmp_path / "model", {"solution.py": "VALUE = 41\n",
                                       "tests/test_sol.py": "def test_value():\n    assert True\n"})
    verdict = RunTests().verify(ctx(model, "python", tests=tests))
    assert not verdict.ok
    summaries = [d.summary for d in verdict.diagnostics]
    assert "you may not modify the user's tests: tests/test_sol.py" in summaries
    assert any("test_value failed" in s for s in summaries)  # the user's version ran
    assert (model / "tests/test_sol.py").read_text() == "def test_value():\n    assert True\n"  # model folder untouched


def test_a_hanging_solution_is_a_sandbox_diagnostic(tmp_path):
    model = write(tmp_path / "model", {"solution.py": "def wait():\n    while True:\n        pass\n"})
    tests = write(tmp_path / "tests", {"test_wait.py": "from solution import wait\n\ndef test_wait():\n    wait()\n"})
    verdict = RunTests().verify(ctx(model, "python", tests=tests, test_timeout=3))
    assert not verdict.ok
    assert verdict.diagnostics[0].category == "sandbox" and "timeout after 3s" in verdict.diagnostics[0].summary


@needs_gcc
def test_user_test_command_for_c(tmp_path):
    model = write(tmp_path / "model", {"add.c": "int add(int a, int b) { return a + b + 1; }\n"})
    tests = write(tmp_path / "t", {"check.c": '#include <stdio.h>\nint add(int, int);\nint main(void) {\n'
                                   '  if (add(2, 2) != 4) { printf("add(2,2) gave %d\\n", add(2, 2)); return 1; }\n  return 0;\n}\n'})
    cmd = "sh -c 'gcc -o \"$TMPDIR/t\" add.c t/check.c && \"$TMPDIR/t\"'"
    verdict = RunTests().verify(ctx(model, "c", tests=tests, test_cmd=cmd))
    [diag] = verdict.diagnostics
    assert diag.category == "test" and "add(2,2) gave 5" in diag.detail
    write(model, {"add.c": "int add(int a, int b) { return a + b; }\n"})
    assert RunTests().verify(ctx(model, "c", tests=tests, test_cmd=cmd)).ok


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1" tests="3">
<testcase classname="tests.test_a" name="test_ok" time="0.001"/>
<testcase classname="tests.test_a" name="test_bad" file="tests/test_a.py" line="3" time="0.001">
<failure message="assert 1 == 2">def test_bad():
&gt;       assert 1 == 2
E       assert 1 == 2

tests/test_a.py:5: AssertionError</failure></testcase>
<testcase classname="" name="tests.test_b" time="0"><error message="collection failure">ImportError: no module named solution</error></testcase>
</testsuite></testsuites>"""


def test_parse_junit_failures_and_errors():
    bad, broken = parse_junit(JUNIT)
    assert bad.rule == "tests.test_a::test_bad" and bad.summary == "test tests.test_a::test_bad failed: assert 1 == 2"
    assert (bad.file, bad.line) == ("tests/test_a.py", 5)
    assert broken.summary == "test tests.test_b errored: collection failure" and "ImportError" in broken.detail


def test_agent_loop_fixes_code_until_the_users_tests_pass(tmp_path, scripted_server):
    """The lead's graph with these verifiers: a wrong first reply, feedback naming the failing test, a fix."""
    from tfagent.agent.loop.graph import run_agent
    from tfagent.agent.loop.state import RunRequest
    from tfagent.agent.core.types import Endpoint

    from conftest import OLD_STRATEGY  # one request per attempt, Terraform-free raw feedback (before issue 19)

    tests = write(tmp_path / "tests", {"test_add.py": "from solution import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"})
    scripted_server.enqueue('```python title="solution.py"\ndef add(a, b):\n    return a - b\n```\n')
    scripted_server.enqueue('```python title="solution.py"\ndef add(a, b):\n    return a + b\n```\n')
    request = RunRequest(prompt="add two numbers", endpoint=Endpoint("s", scripted_server.base_url, "scripted"),
                         mode="code", lang="python", chain=code_lang.default_chain("python", True),
                         options=VerifyOptions(mode="code", lang="python", tests=tests), **OLD_STRATEGY)
    result = run_agent(request)
    assert result.ok and [a.ok for a in result.attempts] == [False, True]
    assert "tests.test_add::test_add failed" in result.attempts[0].feedback
    assert result.files == {"solution.py": "def add(a, b):\n    return a + b\n"}
    first_user_turn = scripted_server.chat_requests()[0]["messages"][1]["content"]
    assert "`tests/test_add.py`" in first_user_turn and "assert add(2, 3) == 5" in first_user_turn


def test_reply_cannot_rig_the_pytest_run(tmp_path):
    """A conftest.py that turns failures into passes, a pytest.ini that deselects everything and a
    pytest.py that shadows pytest: none of them changes the user's verdict."""
    tests = write(tmp_path / "tests", {"test_sol.py": "from solution import VALUE\n\ndef test_value():\n    assert VALUE == 42\n"})
    rigging = {
        "solution.py": "VALUE = 41\n",
        "conftest.py": "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
                       "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n",
        "pytest.ini": "[pytest]\naddopts = -k nothing_matches\n",
        "pytest.py": "import sys\nsys.exit(0)\n",
    }
    model = write(tmp_path / "model", rigging)
    verdict = RunTests().verify(ctx(model, "python", tests=tests))
    assert not verdict.ok
    assert any(d.rule == "tests.test_sol::test_value" for d in verdict.errors)
    assert any(d.file == "conftest.py" and d.severity == "warning" for d in verdict.diagnostics)


needs_go = pytest.mark.skipif(not code_lang.toolchain("go").ok, reason="go is not installed")


@needs_go
def test_go_build_error_in_the_sandbox(tmp_path):
    write(tmp_path, {"main.go": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(x)\n}\n'})
    verdict = Compile().verify(ctx(tmp_path, "go"))
    [diag] = verdict.errors
    assert (diag.file, diag.line, diag.column, diag.summary) == ("main.go", 6, 14, "undefined: x")
    assert (tmp_path / "go.mod").read_text().startswith("module solution\n\ngo 1.")


RUST_OUTPUT = """running 1 test
test adds ... FAILED

failures:

---- adds stdout ----

thread 'adds' (9106) panicked at tests/t.rs:3:13:
assertion `left == right` failed
  left: 0
 right: 4
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    adds
"""
GO_OUTPUT = "--- FAIL: TestAdd (0.00s)\n    add_test.go:7: Add(2, 2) = 0, want 4\nFAIL\nFAIL\tsolution\t0.002s\n"
TAP_OUTPUT = """TAP version 13
# Subtest: adds
not ok 1 - adds
  ---
  duration_ms: 2.43
  location: '/tmp/tfagent-sandbox-x1/work/add.test.js:3:1'
  failureType: 'testCodeFailure'
  error: |-
    Expected values to be strictly equal:

    2 !== 3

  code: 'ERR_ASSERTION'
  ...
1..1
"""


def test_runner_outputs_are_parsed():
    [rust] = parse_runner_output("rust", RUST_OUTPUT)
    assert (rust.rule, rust.file, rust.line, rust.column) == ("adds", "tests/t.rs", 3, 13)
    assert rust.summary == "test adds failed: assertion `left == right` failed left: 0 right: 4"
    [go] = parse_runner_output("go", GO_OUTPUT)
    assert (go.rule, go.file, go.line, go.summary) == ("TestAdd", "add_test.go", 7, "test TestAdd failed: Add(2, 2) = 0, want 4")
    [js] = parse_runner_output("javascript", TAP_OUTPUT)
    assert (js.rule, js.file, js.line, js.column) == ("adds", "add.test.js", 3, 1)
    assert "2 !== 3" in js.summary


@needs_cargo
def test_cargo_test_failure_is_named(tmp_path):
    model = write(tmp_path / "model", {"src/lib.rs": "pub fn add(a: i32, b: i32) -> i32 { a - b }\n"})
    tests = write(tmp_path / "tests", {"t.rs": "use solution::add;\n#[test]\nfn adds() { assert_eq!(add(2, 2), 4); }\n"})
    [diag] = RunTests().verify(ctx(model, "rust", tests=tests)).diagnostics
    assert (diag.rule, diag.file, diag.line) == ("adds", "tests/t.rs", 3)


@needs_node
def test_node_test_failure_is_named(tmp_path):
    model = write(tmp_path / "model", {"index.js": "exports.add = (a, b) => a - b;\n"})
    tests = write(tmp_path / "t", {"add.test.js": "const test = require('node:test');\nconst assert = require('node:assert');\n"
                                   "const { add } = require('../index.js');\ntest('adds', () => { assert.strictEqual(add(2, 2), 4); });\n"})
    verdict = RunTests().verify(ctx(model, "javascript", tests=tests))
    [diag] = verdict.diagnostics
    assert diag.rule == "adds" and diag.file == "t/add.test.js" and "0 !== 4" in diag.summary


@needs_go
def test_go_test_failure_is_named(tmp_path):
    model = write(tmp_path / "model", {"add.go": "package solution\n\nfunc Add(a, b int) int { return a - b }\n"})
    tests = write(tmp_path / "t", {"add_test.go": 'package solution\n\nimport "testing"\n\nfunc TestAdd(t *testing.T) {\n'
                                   '\tif got := Add(2, 2); got != 4 {\n\t\tt.Errorf("Add(2, 2) = %d, want 4", got)\n\t}\n}\n'})
    [diag] = RunTests().verify(ctx(model, "go", tests=tests / "add_test.go")).diagnostics  # same package: same folder
    assert (diag.rule, diag.file, diag.line) == ("TestAdd", "add_test.go", 7)
    in_other_folder = RunTests().verify(ctx(model, "go", tests=tests, test_cmd="go test ./t/"))
    [build_error] = in_other_folder.diagnostics
    assert (build_error.file, build_error.line, build_error.summary) == ("t/add_test.go", 6, "undefined: Add")
