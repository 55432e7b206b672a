"""The code-mode language table: file names, fence tags, toolchains, compile and test commands.

Everything language-specific lives here so ``compile.py`` and ``tests.py`` stay generic. Commands
are built for a folder (they list its source files) and run inside the sandbox, where HOME and /tmp
are private: every cache a toolchain writes is pointed there.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

LANGUAGES = ("python", "go", "rust", "c", "cpp", "javascript", "typescript")


class UnknownLanguage(ValueError):
    """A language name outside LANGUAGES."""


@dataclass(frozen=True)
class Toolchain:
    """Where a language's tools are on this machine, and what the sandbox must see to run them."""

    ok: bool
    reason: str  # why not, or the tool's path
    env: dict[str, str] = field(default_factory=dict)  # {HOME}/{WORK}/{TMP} are filled in by the sandbox
    ro_paths: tuple[Path, ...] = ()  # paths to bind read-only into the sandbox (under a hidden HOME)
    binary: str = ""  # the resolved tool
    version: str = ""  # where a project file needs it (go.mod's "go 1.19")


@dataclass(frozen=True)
class Language:
    name: str
    title: str  # how the prompt names it
    default_file: str  # path of an unlabeled fenced block in the reply
    fence_tags: tuple[str, ...]  # info-string words that mean this language
    extensions: tuple[str, ...]  # source files the compiler is given
    tool: str  # the binary whose absence makes the language unavailable
    compile_commands: Callable[[Path, Toolchain], list[list[str]]]
    test_command: Callable[[Toolchain], list[str] | None]  # default when the user gave no --test-cmd


def _sources(workdir: Path, extensions: tuple[str, ...]) -> list[str]:
    return sorted(
        p.relative_to(workdir).as_posix()
        for p in workdir.rglob("*")
        if p.is_file() and p.suffix in extensions and "target" not in p.relative_to(workdir).parts
        and "node_modules" not in p.relative_to(workdir).parts
    )


def _c_like(compiler: str, std: str, extensions: tuple[str, ...]) -> Callable[[Path, Toolchain], list[list[str]]]:
    def commands(workdir: Path, tc: Toolchain) -> list[list[str]]:
        sources = _sources(workdir, extensions)
        if not sources:
            return []
        # A full build (not -fsyntax-only) also catches link errors: missing main, undefined symbols.
        return [[tc.binary or compiler, f"-std={std}", "-Wall", "-fdiagnostics-color=never", "-o",
                 "{TMP}/a.out", *sources, "-lm"]]

    return commands


def _go_commands(workdir: Path, tc: Toolchain) -> list[list[str]]:
    return [[tc.binary, "build", "-o", "{TMP}/go-bin/", "./..."], [tc.binary, "vet", "./..."]]


def _rust_commands(workdir: Path, tc: Toolchain) -> list[list[str]]:
    return [[tc.binary, "check", "--offline", "--message-format=json", "--all-targets"]]


def _node_commands(workdir: Path, tc: Toolchain) -> list[list[str]]:
    return [[tc.binary, "--check", src] for src in _sources(workdir, (".js", ".mjs", ".cjs"))]


def _tsc_commands(workdir: Path, tc: Toolchain) -> list[list[str]]:
    sources = _sources(workdir, (".ts", ".tsx"))
    return [[tc.binary, "--noEmit", "--strict", "--pretty", "false", *sources]] if sources else []


def _python_compile(workdir: Path, tc: Toolchain) -> list[list[str]]:
    return []  # the "python" verifier checks Python in-process; nothing to compile


TABLE: dict[str, Language] = {
    "python": Language("python", "Python", "solution.py", ("python", "py", "python3"), (".py",), "python3",
                       _python_compile, lambda tc: None),
    "go": Language("go", "Go", "main.go", ("go", "golang"), (".go",), "go", _go_commands,
                   lambda tc: [tc.binary, "test", "./..."]),
    "rust": Language("rust", "Rust", "src/main.rs", ("rust", "rs"), (".rs",), "cargo", _rust_commands,
                     lambda tc: [tc.binary, "test", "--offline"]),
    "c": Language("c", "C", "main.c", ("c", "h"), (".c",), "gcc", _c_like("gcc", "c17", (".c",)), lambda tc: None),
    "cpp": Language("cpp", "C++", "main.cpp", ("cpp", "c++", "cxx", "cc", "hpp"), (".cpp", ".cc", ".cxx"), "g++",
                    _c_like("g++", "c++17", (".cpp", ".cc", ".cxx")), lambda tc: None),
    "javascript": Language("javascript", "JavaScript", "index.js", ("javascript", "js", "node", "mjs"), (".js", ".mjs", ".cjs"),
                           "node", _node_commands, lambda tc: [tc.binary, "--test"]),
    "typescript": Language("typescript", "TypeScript", "index.ts", ("typescript", "ts"), (".ts", ".tsx"), "tsc",
                           _tsc_commands, lambda tc: None),
}


def language(name: str | None) -> Language:
    if not name or name.lower() not in TABLE:
        raise UnknownLanguage(f"unknown code language {name!r} (known: {', '.join(LANGUAGES)})")
    return TABLE[name.lower()]


def default_file(lang: str) -> str:
    return language(lang).default_file


def fence_tags(lang: str) -> tuple[str, ...]:
    return language(lang).fence_tags


def default_chain(lang: str, has_tests: bool) -> list[str]:
    first = "python" if language(lang).name == "python" else "compile"
    return [first, "tests"] if has_tests else [first]


# ---------------------------------------------------------------- toolchains on this machine


def _rust_toolchain() -> Toolchain:
    # Call the toolchain's own cargo, not rustup's proxy: the proxy wants to write to RUSTUP_HOME,
    # which the sandbox keeps read-only.
    rustc = shutil.which("rustc")
    if rustc is None:
        return Toolchain(False, "rustc/cargo not found on PATH")
    try:
        sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, timeout=30,
                                 check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return Toolchain(False, f"rustc --print sysroot failed: {exc}")
    cargo = Path(sysroot) / "bin" / "cargo"
    if not cargo.exists():
        return Toolchain(False, f"no cargo in the rust toolchain at {sysroot}")
    env = {"RUSTC": str(Path(sysroot) / "bin" / "rustc"), "CARGO_HOME": "{HOME}/.cargo",
           "CARGO_NET_OFFLINE": "true", "RUST_BACKTRACE": "0", "CARGO_TARGET_DIR": "{TMP}/cargo-target", "CARGO_TERM_COLOR": "never"}
    return Toolchain(True, str(cargo), env, (Path(sysroot),), str(cargo))


def _go_toolchain() -> Toolchain:
    go = shutil.which("go")
    if go is None:
        return Toolchain(False, "go not found on PATH")
    try:
        goroot = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        full = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return Toolchain(False, f"go env failed: {exc}")
    version = ".".join(full.strip().removeprefix("go").split(".")[:2])  # go.mod wants "1.19", not "1.19.8"
    env = {"GOCACHE": "{TMP}/go-cache", "GOPATH": "{HOME}/go", "GOPROXY": "off", "GOFLAGS": "-mod=mod",
           "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOTELEMETRY": "off"}
    return Toolchain(True, go, env, (Path(go).resolve().parent, Path(goroot)), go, version)


def _plain_toolchain(tool: str) -> Toolchain:
    found = shutil.which(tool)
    if found is None:
        return Toolchain(False, f"{tool} not found on PATH")
    return Toolchain(True, found, {}, (Path(found).resolve().parent,), found)


@functools.lru_cache(maxsize=None)
def toolchain(lang: str) -> Toolchain:
    entry = language(lang)
    if entry.name == "python":  # this interpreter: the one whose packages (pytest) we know about
        return Toolchain(True, sys.executable, {}, (), sys.executable)
    if entry.name == "rust":
        return _rust_toolchain()
    if entry.name == "go":
        return _go_toolchain()
    return _plain_toolchain(entry.tool)


# ---------------------------------------------------------------- project scaffolding

CARGO_TOML = '[package]\nname = "solution"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n'
GO_MOD = "module solution\n\ngo {version}\n"


def scaffold(lang: str, workdir: Path) -> list[str]:
    """Write the project file a build needs when the model left it out; returns what was written."""
    name = language(lang).name
    written: list[str] = []
    if name == "rust" and not (workdir / "Cargo.toml").exists():
        (workdir / "Cargo.toml").write_text(CARGO_TOML)
        written.append("Cargo.toml")
    if name == "go" and not (workdir / "go.mod").exists():
        (workdir / "go.mod").write_text(GO_MOD.format(version=toolchain("go").version or "1.19"))
        written.append("go.mod")
    return written


# ---------------------------------------------------------------- the user's tests and the request


def user_test_files(tests: Path) -> dict[str, Path]:
    """The user's tests as they appear in the working copy: relative path → the user's file.
    A file keeps its name; a folder keeps its own name as the top folder (``tests/…``)."""
    if tests.is_file():
        return {tests.name: tests}
    if tests.is_dir():
        return {f"{tests.name}/{p.relative_to(tests).as_posix()}": p
                for p in sorted(tests.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}
    raise FileNotFoundError(f"--tests {tests}: no such file or directory")


def _fence_for(path: str) -> str:
    suffix = Path(path).suffix
    for entry in TABLE.values():
        if suffix in entry.extensions:
            return entry.fence_tags[0]
    return "text"


def code_request_vars(prompt: str, lang: str, options=None, *, show_tests: bool | None = None) -> dict[str, str]:
    """Values for ``code_request.md``. ``show_tests``: include the tests' content (the user's own
    ``--tests``: yes by default; an eval's hidden tests: the eval passes ``show_tests=False`` or sets
    ``options.show_tests = False``). Names are listed whenever tests are given."""
    from tfagent.prompts import render  # prompts import nothing from verifiers: no cycle

    entry = language(lang)
    tests_path = getattr(options, "tests", None)
    tests = ""
    if tests_path:
        files = user_test_files(Path(tests_path))
        if show_tests is None:
            show_tests = bool(getattr(options, "show_tests", True))
        contents = ""
        if show_tests:
            blocks = "\n\n".join(render("file_block", fence=_fence_for(rel), path=rel,
                                          body=src.read_text(errors="replace").rstrip())
                                   for rel, src in files.items())
            contents = render("code_tests_shown", blocks=blocks)
        tests = render("code_tests", test_files=", ".join(f"`{rel}`" for rel in files), test_contents=contents)
    return {"prompt": prompt.strip(), "lang": entry.title, "default_file": entry.default_file, "tests": tests}
