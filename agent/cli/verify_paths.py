"""`tfagent verify PATH...`: the verifier chain (no model) on each folder named or holding a named
file — what the pre-commit hook passes (changed ``.tf`` files) — rendered as text, JSON, SARIF 2.1.0
or JUnit XML. Every folder is verified on a temporary copy, so the user's files are never rewritten."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from tfagent.agent.cli.console import make_console

from tfagent import __version__
from tfagent.agent.core.config import ConfigError
from tfagent.agent.cli.console import fail
from tfagent.agent.core.exits import EXIT_ENVIRONMENT, EXIT_OK, EXIT_UNVERIFIED, EXIT_USAGE
from tfagent.agent.core.output import OutputError, write_text_atomic
from tfagent.verifiers.base import Verdict
from tfagent.verifiers.formats.junit import Suite, to_junit_xml, verdict_cases
from tfagent.verifiers.formats.sarif import FolderVerdicts, to_sarif
from tfagent.verifiers.registry import UnknownVerifier, VerifierUnavailable, build_chain, parse_chain
from tfagent.verifiers.scratch import IGNORED, verify_files

FORMATS = ("text", "json", "sarif", "junit")


def folders_of(paths: list[Path]) -> list[Path]:
    """The folders to verify, each once, in the order first named: a folder as is, a file's parent."""
    seen: dict[Path, None] = {}
    for path in paths:
        folder = path if path.is_dir() else path.parent
        seen.setdefault(Path(os.path.normpath(folder)), None)
    return list(seen)


def _relative(folder: Path, root: Path) -> str:
    return Path(os.path.relpath(folder.resolve(), root.resolve())).as_posix()


def _files(folder: Path) -> list[str]:
    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(part in IGNORED for part in path.relative_to(folder).parts):
            out.append(path.relative_to(folder).as_posix())
    return out


def verify_paths(paths: list[Path], p: dict[str, Any]) -> int:
    from tfagent.agent.cli.runner import _print_verdicts
    from tfagent.agent.core.verify_options import VerifySettings, build_verify_options
    from tfagent.agent.loop.request import check_inputs

    fmt = "json" if p.get("as_json") else (p.get("output_format") or "text")
    if not paths:
        raise fail("tfagent verify: name at least one folder or file", EXIT_USAGE)
    try:
        names = parse_chain(p["verify_chain"])
        chain = build_chain(names, requested=set(names))
    except (UnknownVerifier, VerifierUnavailable) as exc:
        raise fail(str(exc), EXIT_USAGE)
    options = build_verify_options(p.get("prompt", ""), p.get("mode", "terraform"), p.get("lang"), VerifySettings.from_flags(p))
    try:
        check_inputs(names, options)
    except ConfigError as exc:
        raise fail(str(exc), EXIT_USAGE)
    root = Path.cwd()
    results: list[tuple[Path, list[Verdict], bool]] = []
    undecided: dict[Path, str | None] = {}
    for folder in folders_of(paths):
        checked = verify_files(chain, {}, options, source=folder, fail_fast=not p.get("run_all"), undecided=True)
        undecided[folder] = checked.undecided
        results.append((folder, checked.verdicts, checked.ok))
    document = _render(fmt, results, chain, root, undecided)
    if document is not None:
        if p.get("output"):
            try:
                write_text_atomic(Path(p["output"]), document)
            except OutputError as exc:
                raise fail(str(exc), EXIT_USAGE)
        else:
            click.echo(document, nl=False)
    if fmt == "text" or (document is not None and p.get("output")):
        console = make_console(stderr=document is not None and not p.get("output"))
        for folder, verdicts, ok in results:
            if len(results) > 1 or Path(folder).resolve() != Path.cwd().resolve():
                # the diagnostics name files relative to their folder: say which folder (pre-commit
                # passes one changed file, `tfagent verify infra` one folder)
                console.print(f"[bold]{folder}[/]", highlight=False)
            _print_verdicts(console, verdicts, ok)
            if undecided[folder]:
                console.print(f"undecided: {undecided[folder]}", highlight=False, markup=False, soft_wrap=True)
    return verify_exit_code(results, undecided)


def verify_exit_code(results: list[tuple[Path, list[Verdict], bool]], undecided: dict[Path, str | None]) -> int:
    """0 every folder verified · 1 some folder failed on its own files · 6 (EXIT_ENVIRONMENT) otherwise
    undecided: this machine could not decide (a provider it cannot install, a file outside the folder, a
    data source needing the cloud API offline, a Rego builtin regopy lacks)."""
    if any(not ok and not undecided.get(folder) for folder, _, ok in results):
        return EXIT_UNVERIFIED
    if any(undecided.get(folder) for folder, _, _ in results):
        return EXIT_ENVIRONMENT
    return EXIT_OK


def _render(fmt: str, results: list[tuple[Path, list[Verdict], bool]], chain, root: Path,
            undecided: dict[Path, str | None] | None = None) -> str | None:
    undecided = undecided or {}
    if fmt == "text":
        return None
    if fmt == "json":
        folders = [{"ok": ok, "directory": str(folder), "stages": [v.to_dict() for v in verdicts],
                    **({"undecided": undecided[folder]} if undecided.get(folder) else {})} for folder, verdicts, ok in results]
        # One folder keeps the shape `tfagent verify DIR --json` always had.
        doc = folders[0] if len(folders) == 1 else {"ok": all(f["ok"] for f in folders), "folders": folders}
        return json.dumps(doc, indent=2) + "\n"
    descriptions = {v.name: v.description for v in chain.verifiers}
    if fmt == "sarif":
        items = [FolderVerdicts(_relative(folder, root), verdicts, _files(folder), descriptions) for folder, verdicts, _ in results]
        return json.dumps(to_sarif(items, tool_version=__version__, srcroot=root, skipped=chain.skipped), indent=2) + "\n"
    suites = [Suite(f"tfagent verify {_relative(folder, root)}", verdict_cases(_relative(folder, root), chain.names, verdicts, chain.skipped))
              for folder, verdicts, _ in results]
    return to_junit_xml(suites)
