"""Path safety: the one rule for every path that comes from outside (model replies, suite files).

A path must name a file inside the output folder: relative, `/`-separated, no `..`, no drive letter,
no control characters, bounded length, never inside `.git/` or `.terraform/`. Why a path is rejected
is said in words the model reads (rejected replies) and the user reads alike: prompts/path_*.md.
"""

from __future__ import annotations

import posixpath
import re

from tfagent.prompts import render_line

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024
# Reserved folders a reply must never write into.
_RESERVED_TOP = {".git", ".terraform"}


def check_path(raw: str) -> tuple[str | None, str | None]:
    """(normalised safe path, None) or (None, why it is rejected)."""
    if "\x00" in raw:
        return None, render_line("path_nul")
    path = raw.strip().strip("`'\"")
    if not path:
        return None, render_line("path_empty")
    if any(ord(c) < 32 for c in path):
        return None, render_line("path_control")
    if "\\" in path:
        return None, render_line("path_backslash")
    if re.match(r"^[A-Za-z]:", path):
        return None, render_line("path_drive")
    if path.startswith("/") or path.startswith("~"):
        return None, render_line("path_absolute")
    if ".." in path.split("/"):
        return None, render_line("path_outside")
    norm = posixpath.normpath(path)
    if norm in (".", "") or norm.startswith("../"):
        return None, render_line("path_no_file")
    if len(norm.encode("utf-8")) > MAX_PATH_BYTES:
        return None, render_line("path_too_long", limit=MAX_PATH_BYTES)
    for part in norm.split("/"):
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            return None, render_line("path_name_too_long", limit=MAX_NAME_BYTES)
    if norm.split("/")[0] in _RESERVED_TOP:
        return None, render_line("path_reserved", folder=norm.split("/")[0])
    return norm, None
