"""A change to an existing folder: the files it writes, the files it deletes, the unified diff that
shows it, and writing it back atomically. Pure except ``write_change`` (the one place that edits a
user's folder in place).

``original`` is what was read from the folder (path → text); ``files`` are the files the change
names (changed or added, path → new text); ``deleted`` the paths it removes. A file the change does
not name is never written, even when verification reformatted it in its scratch copy.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfagent.agent.core.output import OutputError, _target, replace_all

ADDED, MODIFIED, DELETED = "added", "modified", "deleted"


@dataclass
class Change:
    original: dict[str, str]
    files: dict[str, str] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)

    def status(self) -> list[tuple[str, str]]:
        """[(added|modified|deleted, path)] of the files the change really alters, sorted by path.
        A file sent back byte for byte unchanged is not part of it."""
        out: list[tuple[str, str]] = []
        for path in sorted(set(self.files) | set(self.deleted)):
            if path in self.deleted:
                if path in self.original:
                    out.append((DELETED, path))
            elif path not in self.original:
                out.append((ADDED, path))
            elif self.original[path] != self.files[path]:
                out.append((MODIFIED, path))
        return out

    @property
    def empty(self) -> bool:
        return not self.status()

    def written(self) -> dict[str, str]:
        """The files to write: added and modified ones only."""
        return {path: self.files[path] for kind, path in self.status() if kind != DELETED}

    def removed(self) -> list[str]:
        return [path for kind, path in self.status() if kind == DELETED]

    def result(self) -> dict[str, str]:
        """The folder's files after the change."""
        merged = {**self.original, **self.files}
        for path in self.deleted:
            merged.pop(path, None)
        return merged

    def diff(self, context: int = 3) -> str:
        return unified_diff(self.original, self.files, self.deleted, context=context)

    def summary(self) -> dict[str, Any]:
        status = self.status()
        return {kind: [p for k, p in status if k == kind] for kind in (ADDED, MODIFIED, DELETED)}


def unified_diff(original: dict[str, str], files: dict[str, str], deleted: list[str] = (), *, context: int = 3) -> str:
    """One unified diff (``git apply``-able: ``a/`` and ``b/`` prefixes, ``/dev/null`` for added and
    deleted files) of every file that changes, in path order. Empty when nothing changes."""
    parts: list[str] = []
    for path in sorted(set(files) | set(deleted)):
        if path in deleted:
            if path not in original:
                continue
            old, new, a, b = original[path], "", f"a/{path}", "/dev/null"
        else:
            old, new = original.get(path), files[path]
            if old == new:
                continue
            a, b = (f"a/{path}" if old is not None else "/dev/null"), f"b/{path}"
            old = old or ""
        lines = list(difflib.unified_diff(_lines(old), _lines(new), fromfile=a, tofile=b, n=context))
        parts.append("".join(lines))
    return "".join(parts)


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:  # as Folder.read reads it
        return fh.read()


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def write_change(folder: Path, change: Change) -> list[Path]:
    """Apply ``change`` to ``folder``: all of it or nothing of it, each file replaced atomically.

    Before anything is written, every file the change touches must still hold what was read (a file
    edited meanwhile, or one added at a path the change adds, is a conflict: nothing is written). The
    new contents are staged as temporary files beside their targets, then renamed into place; the
    deletions come last. Returns the paths written or deleted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise OutputError(f"{folder} is not a folder")
    targets = {path: _target(folder, path) for _, path in change.status()}
    conflicts = []
    for kind, path in change.status():
        target = targets[path]
        if kind == ADDED:
            if target.exists():
                conflicts.append(f"{path} (now exists)")
        elif not target.is_file():
            conflicts.append(f"{path} (no longer exists)")
        elif _read(target) != change.original[path]:
            conflicts.append(f"{path} (edited since it was read)")
    if conflicts:
        raise OutputError(f"{folder}: nothing written, the folder changed while tfagent worked: {', '.join(conflicts)}")
    replace_all(folder, {targets[path]: text for path, text in change.written().items()}, durable=True,
                remove=tuple(targets[path] for path in change.removed()))
    return [targets[path] for _, path in change.status()]
