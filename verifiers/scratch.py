"""Verify files in a scratch folder: the one way tfagent runs a verifier chain on files — the loop's
attempts (and ``--in``'s baseline), `tfagent verify`, the MCP tool ``verify`` and the eval's rescoring.
Nothing is verified in place: verifiers may rewrite files (fmt) and write beside them."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from tfagent.agent.core.output import materialize, read_back, remove_files
from tfagent.verifiers.base import Verdict, VerifyContext, VerifyOptions
from tfagent.verifiers.registry import Chain
from tfagent.verifiers.undecided import folder_undecided

IGNORED = (".terraform", ".git")  # never copied from a folder (its .terraform.lock.hcl is: init honours it)


@dataclass
class Checked:
    """What a chain concluded about the files of one scratch folder."""

    verdicts: list[Verdict]
    files: dict[str, str]  # the files given, as verified (fmt may have rewritten them)
    undecided: str | None = None  # why the machine, not the files, left the result open (``undecided=True``)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)


def verify_files(chain: Chain, files: dict[str, str], options: VerifyOptions, *,
                 source: Path | Callable[[Path], None] | None = None, deleted: list[str] | tuple = (),
                 fail_fast: bool = True, undecided: bool = False) -> Checked:
    """Run ``chain`` on a scratch folder that holds ``source`` (a folder, copied without .terraform/ and
    .git/; or a function that fills the empty folder), then ``files`` (name → text) written over it and
    ``deleted`` removed. Artifacts (plan.json) go to ``options.artifacts_dir`` when it is set (the loop
    keeps each attempt's), else into the scratch folder, removed with it. ``undecided``: also read why the
    machine, not the files, left the result open (``verifiers/undecided.py``: `tfagent verify`'s exit 6),
    while the folder is there. A file name outside the folder raises ``OutputError``."""
    with tempfile.TemporaryDirectory(prefix="tfagent-verify-") as tmp:
        workdir = Path(tmp) / "work"
        if isinstance(source, Path):
            shutil.copytree(source, workdir, ignore=shutil.ignore_patterns(*IGNORED))
        else:
            workdir.mkdir()
            if source is not None:
                source(workdir)
        materialize(workdir, files)
        remove_files(workdir, deleted)
        if options.artifacts_dir is None:
            options = replace(options, artifacts_dir=Path(tmp) / "artifacts")
            options.artifacts_dir.mkdir()
        verdicts = chain.run(VerifyContext(workdir=workdir, options=options), fail_fast=fail_fast)
        return Checked(verdicts, read_back(workdir, list(files)), folder_undecided(verdicts, workdir) if undecided else None)
