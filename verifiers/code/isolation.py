"""Which isolation level a sandboxed run gets, what each level lacks, and the refusal.

``auto`` takes the best level that works — bubblewrap, else Landlock — and refuses otherwise;
``none`` only when asked for by name (``--sandbox none``, ``$TFAGENT_SANDBOX``, config ``sandbox``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from typing import Sequence

from tfagent.verifiers.code import landlock

_isolation_cache: tuple[str, dict[str, str | None]] | None = None  # (PATH it was probed with, levels)
_warned: set[str] = set()  # which isolation gaps were already announced (once per process)


class SandboxError(RuntimeError):
    """The sandbox itself could not be set up (bad workdir, missing command, unknown level)."""


class SandboxUnavailable(SandboxError):
    """No isolation level works here and ``none`` was not asked for: generated code must not run."""


REFUSAL = ("refusing to run generated code: no sandbox works here (bubblewrap is not on PATH and the kernel "
           "has no Landlock); install bubblewrap (apt-get install bubblewrap) or pass --sandbox none to run it "
           "unisolated on purpose")


def _probe(cmd: list[str]) -> bool:
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


LEVELS = ("bwrap", "landlock", "none")
REQUESTS = ("auto", *LEVELS)
LEVEL_ENV = "TFAGENT_SANDBOX"  # the environment's say, below --sandbox and above the config key


def _bwrap_works() -> bool:
    bwrap = shutil.which("bwrap")
    probe = [bwrap or "bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--dev", "/dev", "--proc",
             "/proc", "--die-with-parent", "true"]
    return bool(bwrap) and (os.geteuid() != 0 or bool(shutil.which("setpriv"))) and _probe(probe)


def available_levels() -> dict[str, str | None]:
    """Each level -> None when it works here, else why not. Probed by really running bwrap (a kernel
    or LSM may forbid namespaces even when the binary exists); cached per PATH (bwrap may be hidden)."""
    global _isolation_cache
    key = os.environ.get("PATH", "")
    if _isolation_cache is None or _isolation_cache[0] != key:
        abi = landlock.abi_version()
        _isolation_cache = (key, {
            "bwrap": None if _bwrap_works() else "bubblewrap (bwrap) is not on PATH or cannot create namespaces",
            "landlock": None if abi >= 1 else "the kernel has no Landlock (Linux >= 5.13 with it enabled)",
            "none": None})
    return _isolation_cache[1]


def isolation_level(requested: str | None = None) -> str:
    """The level a run gets: ``requested`` (or ``$TFAGENT_SANDBOX``, else ``auto``: the best that
    works). Raises SandboxUnavailable when ``auto`` finds nothing, SandboxError for an unknown
    level or one this machine does not have."""
    wanted = (requested or os.environ.get(LEVEL_ENV, "") or "auto").strip().lower()
    if wanted not in REQUESTS:
        raise SandboxError(f"sandbox level {wanted!r} is not one of {', '.join(REQUESTS)}")
    levels = available_levels()
    if wanted == "auto":
        found = next((level for level in LEVELS[:-1] if levels[level] is None), None)
        if found is None:
            raise SandboxUnavailable(REFUSAL)
        return found
    if levels[wanted] is not None:
        raise SandboxError(f"sandbox level {wanted!r} is not available here: {levels[wanted]}")
    return wanted


def describe_isolation(requested: str | None = None) -> str:
    """One line for ``tfagent verifiers``: the level generated code will run at, or the refusal."""
    try:
        level = isolation_level(requested)
    except SandboxError as exc:
        return str(exc)
    what = {"bwrap": "bubblewrap: private /tmp and HOME, read-only system, no network, own pid namespace",
            "landlock": f"Landlock ABI {landlock.abi_version()}: writes only in the working copy, HOME and /tmp "
                        "unreadable, no TCP",
            "none": "NONE: rlimits and a timeout only (asked for with --sandbox none)"}[level]
    return f"{level} ({what})"


GAPS = {
    "network": "sandbox level 'none' (asked for): generated code runs with rlimits and a timeout only, "
               "WITHOUT file-system or network isolation.",
    "root": "running as root without bubblewrap or a pids cgroup: the kernel ignores RLIMIT_NPROC for root, "
            "so a fork bomb is stopped only by the timeout. Install the Debian package 'bubblewrap'.",
    "root-nproc": "Landlock level as root without a pids cgroup, and the toolchain is not readable by a "
                  "throwaway uid: a fork bomb is stopped only by the timeout. Install 'bubblewrap'.",
    "landlock-net": "this kernel's Landlock (ABI < 4) cannot deny TCP and we are not root: generated code "
                    "runs WITHOUT network isolation. Install 'bubblewrap'.",
    "udp": "Landlock level without root: TCP is denied, but UDP and unix sockets are not isolated. "
           "Install 'bubblewrap' for a private network namespace.",
}


def _warn_once_about_gaps(level: str, extra: Sequence[str] = ()) -> None:
    gaps = (["network"] if level == "none" else []) + (["root"] if level == "none" and os.geteuid() == 0 else [])
    for gap in [*gaps, *extra]:
        if gap not in _warned:
            _warned.add(gap)
            warnings.warn(GAPS[gap], RuntimeWarning, stacklevel=3)
