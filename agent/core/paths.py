"""Path safety: the one rule for every path that comes from outside (model replies, suite files).

A path must name a file inside the output folder: relative, `/`-separated, no `..`, no drive letter,
no control characters, bounded length, never inside `.git/` or `.terraform/`.
"""

from __future__ import annotations

import posixpath
import re

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024
# Reserved folders a reply must never write into.
_RESERVED_TOP = {".git", ".terraform"}


def check_path(raw: str) -> tuple[str | None, str | None]:
    """(normalised safe path, None) or (None, why it is rejected)."""
    if "\x00" in raw:
        return None, "contains a NUL byte"
    path = raw.strip().strip("`'\"")
    if not path:
        return None, "is empty"
    if any(ord(c) < 32 for c in path):
        return None, "contains control characters"
    if "\\" in path:
        return None, "uses backslashes (use / separators)"
    if re.match(r"^[A-Za-z]:", path):
        return None, "has a drive letter"
    if path.startswith("/") or path.startswith("~"):
        return None, "is absolute"
    if ".." in path.split("/"):
        return None, "goes outside the output folder (..)"
    norm = posixpath.normpath(path)
    if norm in (".", "") or norm.startswith("../"):
        return None, "does not name a file inside the output folder"
    if len(norm.encode("utf-8")) > MAX_PATH_BYTES:
        return None, f"is longer than {MAX_PATH_BYTES} bytes"
    for part in norm.split("/"):
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            return None, f"has a name longer than {MAX_NAME_BYTES} bytes"
    if norm.split("/")[0] in _RESERVED_TOP:
        return None, f"writes into the reserved folder {norm.split('/')[0]}/"
    return norm, None
