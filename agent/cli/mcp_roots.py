"""Confining an MCP client's paths to the roots it granted.

MCP roots are guidance in the protocol ("informational, not access control"), so the server enforces
them itself: every path a tool receives is resolved (symlinks followed, ``..`` collapsed) and must land
inside one granted root; a folder is copied for verification only if none of its links lead out.
Roots come from the client (``roots/list``) plus any ``--root`` the server was started with.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse


class OutsideRoots(ValueError):
    """A path resolves outside every granted root (or no root was granted)."""


def roots_from_uris(uris: list[str]) -> list[Path]:
    roots = []
    for uri in uris:
        parsed = urlparse(uri)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            continue  # only local folders can be roots of a file path
        roots.append(Path(unquote(parsed.path)).resolve())
    return roots


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def confine(raw: str, roots: list[Path], *, what: str = "path") -> Path:
    """``raw`` resolved; relative paths start at the first root. Raises OutsideRoots."""
    if not roots:
        raise OutsideRoots(f"{what} {raw!r}: the client granted no roots (and the server was started without --root)")
    if "\x00" in raw or not raw.strip():
        raise OutsideRoots(f"{what} {raw!r} is empty or contains a NUL byte")
    candidate = Path(raw).expanduser()
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    resolved = candidate.resolve()
    if not any(_inside(resolved, root) for root in roots):
        granted = ", ".join(str(r) for r in roots)
        raise OutsideRoots(f"{what} {raw!r} resolves to {resolved}, outside the granted roots ({granted})")
    return resolved


def copy_confined(folder: Path, dest: Path, roots: list[Path], ignore: tuple[str, ...] = (".terraform", ".git")) -> None:
    """Copy ``folder`` to ``dest`` for verification, refusing any link that leads outside the roots
    (a symlinked ``main.tf`` → ``/etc/shadow`` must not be read into a diagnostic)."""
    for current, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(current)
        dirnames[:] = [d for d in dirnames if d not in ignore]
        for name in [*dirnames, *filenames]:
            path = here / name
            if path.is_symlink():
                target = path.resolve()
                if not any(_inside(target, root) for root in roots):
                    raise OutsideRoots(f"{path} links to {target}, outside the granted roots")
        rel = here.relative_to(folder)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            shutil.copyfile(here / name, dest / rel / name)
