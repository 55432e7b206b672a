"""Writing the final files: atomically, only inside ``--out``, never overwriting without ``force``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tfagent.agent.core.paths import check_path


def atomic_write(path: Path, data: str | bytes) -> Path:
    """Write one file so that readers see the old content or the new, never half of it: a temporary
    file in the same folder, flushed, then renamed over the target. The one atomic write of tfagent."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tfagent-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


class OutputError(Exception):
    """The files cannot be written as asked (exists without --force, unsafe path, I/O error)."""


def _target(out_dir: Path, rel: str) -> Path:
    safe, why = check_path(rel)
    if why or safe is None:
        raise OutputError(f"refusing to write {rel!r}: it {why}")
    target = (out_dir / safe).resolve()
    if out_dir.resolve() not in target.parents:
        raise OutputError(f"refusing to write {rel!r}: it resolves outside {out_dir}")
    return target


def write_files(out_dir: Path, files: dict[str, str], *, force: bool = False) -> list[Path]:
    """Write ``files`` under ``out_dir``; all or nothing.

    Every file is first written to a temporary file in the same folder, then all are renamed into
    place; a conflict or an error before the renames leaves the folder as it was."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = {rel: _target(out_dir, rel) for rel in files}
    existing = [str(t.relative_to(out_dir.resolve())) for t in targets.values() if t.exists()]
    if existing and not force:
        raise OutputError(
            f"{out_dir}: would overwrite existing file(s) {', '.join(sorted(existing))}; use --force or another --out"
        )
    replace_all(out_dir, {targets[rel]: files[rel] for rel in files})
    return [targets[rel] for rel in files]


def replace_all(folder: Path, contents: dict[Path, str], *, durable: bool = False, remove: tuple[Path, ...] = ()) -> None:
    """Stage every file as a temporary file beside its target, then rename each into place and remove
    ``remove``: an error before the renames leaves the folder as it was. ``durable``: fsync each file."""
    staged: list[tuple[str, Path]] = []
    try:
        for target, text in contents.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                raise OutputError(f"{target} is a folder; cannot write a file there")
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tfagent-tmp", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
            staged.append((tmp, target))
        for tmp, target in staged:
            os.replace(tmp, target)
        for target in remove:
            target.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write into {folder}: {exc}") from None
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def materialize(workdir: Path, files: dict[str, str]) -> None:
    """Lay files into a scratch folder for verification (paths were already checked)."""
    for rel, body in files.items():
        target = _target(workdir, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")


def remove_files(workdir: Path, names: list[str] | tuple = ()) -> None:
    """Remove ``names`` (a change's deleted files) from a scratch folder; a name that is unsafe or not
    a file there is left alone."""
    for rel in names:
        safe, why = check_path(rel)
        target = workdir / safe if safe and not why else None
        if target is not None and target.is_file():
            target.unlink()


def read_back(workdir: Path, names: list[str]) -> dict[str, str]:
    """The verified content of ``names`` (``fmt`` may have rewritten them)."""
    out: dict[str, str] = {}
    for rel in names:
        path = workdir / rel
        if path.is_file():
            out[rel] = path.read_text(encoding="utf-8")
    return out


def write_text_atomic(path: Path, text: str) -> Path:
    """Write one report file (SARIF, JUnit) all or nothing: a temporary file in the same folder,
    then a rename, so a reader (code scanning upload, a CI dashboard) never sees half a document."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tfagent-tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from None
    return path
