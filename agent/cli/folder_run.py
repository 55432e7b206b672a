"""`tfagent "…" --in DIR`: the command-line side of changing an existing folder — reading it into the
request, what `--resume` keeps of it, and delivering the verified change as a unified diff written
back atomically (agent/core/change.py). The loop side is agent/loop/folder.py."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from tfagent.agent.core.change import Change, write_change
from tfagent.agent.core.config import ConfigError
from tfagent.agent.core.exits import EXIT_OK, EXIT_UNVERIFIED, EXIT_USAGE
from tfagent.agent.cli.console import fail
from tfagent.agent.core.output import OutputError
from tfagent.agent.core.secrets import redact, redact_obj
from tfagent.agent.core.types import RunResult
from tfagent.agent.cli.render import print_result
from tfagent.agent.loop.folder import Folder, FolderError


def folder_for(in_dir: Path, out: Path | None, mode: str) -> tuple[Folder, Path]:
    """The folder to change and where the result goes (``--out`` defaults to ``--in``)."""
    if mode != "terraform":
        raise ConfigError("--in works with Terraform runs only (not `tfagent code`)")
    try:
        folder = Folder.read(in_dir)
    except FolderError as exc:
        raise ConfigError(str(exc)) from None
    return folder, Path(out) if out else Path(in_dir)


def folder_record(request) -> dict[str, Any]:
    """What `--resume` needs to find the same folder again (no file contents: those stay on disk)."""
    folder = request.folder
    if folder is None:
        return {}
    return {"in": folder.root, "folder_digest": digest(folder)}


def resumed_folder(record: dict[str, Any]) -> Folder:
    """The folder of a stored run, refused when it changed since: the conversation quotes its files."""
    try:
        folder = Folder.read(Path(record["in"]))
    except FolderError as exc:
        raise ConfigError(f"--resume: {exc}") from None
    if digest(folder) != record.get("folder_digest"):
        raise ConfigError(f"--resume: {record['in']} changed since the run started; its conversation quotes the "
                          "files as they were. Start a new run instead.")
    return folder


def digest(folder: Folder) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.files):
        h.update(path.encode() + b"\0" + folder.files[path].encode() + b"\0")
    for path in sorted(folder.withheld):
        h.update(b"withheld\0" + path.encode() + b"\0")
    return h.hexdigest()


def deliver_change(folder: Folder, result: RunResult, out: Path, params: dict[str, Any], console: Console,
                   errc: Console) -> int:
    """Write the verified change (in place, or a changed copy into another --out), then report it
    as a diff. Nothing is written when it did not verify."""
    change = Change(folder.files, dict(result.files), list((result.change or {}).get("deleted") or []))
    written: list[str] = []
    if result.ok and not change.empty:
        try:
            written = [str(p) for p in _write(folder, change, out)]
        except OutputError as exc:
            raise fail(str(exc), EXIT_USAGE)
    if params.get("as_json"):
        doc = {"ok": result.ok, "out": str(out) if written else None, **result.to_dict()}
        click.echo(json.dumps(redact_obj(doc), indent=2))
        return EXIT_OK if result.ok else EXIT_UNVERIFIED
    print_result(console, result, [], str(out))
    print_change(console, result.change or {}, result.ok)
    if written:
        console.print(f"changed {len(change.status())} file(s) in {out}: "
                      + ", ".join(f"{kind} {path}" for kind, path in change.status()), highlight=False)
    elif result.ok:
        console.print(f"nothing to write: the change leaves {out} as it is", highlight=False)
    else:
        errc.print(f"nothing changed in {out}: the change did not verify (see `tfagent runs show {result.run_id}`)",
                   highlight=False)
    return EXIT_OK if result.ok else EXIT_UNVERIFIED


def print_change(console: Console, record: dict[str, Any], ok: bool) -> None:
    """The problems the folder had before, and the diff (colored on a terminal). ``record``:
    ``RunResult.change``; ``ok``: whether the run verified (its diff was written)."""
    before = record.get("preexisting") or []
    if record.get("baseline_ok") is False:
        console.print(Text(f"the folder already failed verification before the change ({len(before)} problem(s)); "
                           "they were not counted against the model:", style="yellow"))
        for d in before[:12]:
            where = f"{d.get('file')}:{d.get('line')}" if d.get("file") and d.get("line") else (d.get("file") or "")
            console.print(Text(f"  was already broken: {where} {d.get('summary', '')}".rstrip()))
    diff = redact(record.get("diff") or "")
    if not diff:
        return
    console.print(Text("the change:" if ok else "the last attempted change (not written):", style="bold"))
    console.print(diff_text(diff), soft_wrap=True)


def diff_text(diff: str) -> Text:
    text = Text()
    for line in diff.splitlines(keepends=True):
        style = ("bold" if line.startswith(("+++", "---")) else "green" if line.startswith("+")
                 else "red" if line.startswith("-") else "cyan" if line.startswith("@@") else None)
        text.append(line, style=style)
    return text


def _write(folder: Folder, change: Change, out: Path) -> list[Path]:
    if folder.root is not None and out.resolve() == Path(folder.root):
        return write_change(out, change)
    # Another --out: the whole changed folder goes there, as one rename (it must not hold files yet).
    out = out.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputError(f"--out {out} exists and is not empty; with --in, --out is a new folder for the changed "
                          "copy (leave --out out to change the --in folder in place)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tfagent-tmp", dir=out.parent))
    try:
        work = staging / "tree"
        work.mkdir()
        folder.lay_out(work, change.written(), change.removed())
        if out.exists():
            out.rmdir()  # empty (checked above): the rename needs the name free
        os.replace(work, out)
    except OSError as exc:
        raise OutputError(f"cannot write the changed copy into {out}: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / path for _, path in change.status()]
