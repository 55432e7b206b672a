"""A pids cgroup per sandboxed run: the process cap root is not bound by, and a way to kill it all.

The kernel never applies RLIMIT_NPROC to uid 0, so when the Landlock level keeps root's uid (the
interpreter lives where a throwaway uid cannot read it, e.g. under a 0700 /root) a fork bomb would
only meet the timeout. A pids cgroup's ``pids.max`` holds for root too, and listing its members
after the run finds every process the generated code left behind, even ones that called setsid()
to leave the process group. Needs write access to the cgroup file system (root, usually); v1
(``/sys/fs/cgroup/pids``) and v2 (a unified hierarchy with the pids controller) both work.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

_counter = itertools.count()


def _hierarchy() -> tuple[Path, str] | None:
    """(mount point of the pids hierarchy, our cgroup's path inside it), or None."""
    try:
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
        memberships = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        left, _, right = line.partition(" - ")
        fields, (fstype, _source, options) = left.split(), (right.split() + ["", "", ""])[:3]
        mount_point = Path(fields[4])
        if fstype == "cgroup" and "pids" in options.split(","):
            own = next((m.split(":", 2)[2] for m in memberships if "pids" in m.split(":", 2)[1].split(",")), None)
            return (mount_point, own) if own is not None else None
        if fstype == "cgroup2" and "pids" in _read(mount_point / "cgroup.controllers").split():
            own = next((m.split(":", 2)[2] for m in memberships if m.startswith("0::")), None)
            return (mount_point, own) if own is not None else None
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@dataclass
class PidsCgroup:
    path: Path

    @property
    def procs_file(self) -> str:
        return str(self.path / "cgroup.procs")

    def members(self) -> list[int]:
        return [int(pid) for pid in _read(self.path / "cgroup.procs").split()]

    def peak(self) -> int | None:
        text = _read(self.path / "pids.peak").strip()
        return int(text) if text.isdigit() else None

    def kill_all(self, deadline_seconds: float = 5.0) -> int:
        """SIGKILL every member until none is left (a fork bomb refills between reads, but pids.max
        bounds it); returns how many were killed."""
        killed, end = 0, time.monotonic() + deadline_seconds
        if (self.path / "cgroup.kill").exists():  # v2, Linux >= 5.14: one atomic write
            (self.path / "cgroup.kill").write_text("1")
        while (members := self.members()) and time.monotonic() < end:
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:  # exited while we looked
                    continue
            time.sleep(0.02)
        return killed

    def remove(self) -> None:
        """Kill what is left and delete the group (rmdir waits for the last member to be reaped)."""
        self.kill_all()
        for _ in range(100):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:  # EBUSY: a killed member is not reaped yet
                time.sleep(0.02)
        raise OSError(f"could not remove the sandbox's pids cgroup {self.path}: members {self.members()} remain")


def create(max_processes: int) -> PidsCgroup | None:
    """A fresh pids cgroup limited to ``max_processes`` tasks below ours, or None where we may not
    create one (not root, no pids controller, a read-only cgroup file system)."""
    found = _hierarchy()
    if found is None:
        return None
    mount_point, own = found
    path = mount_point / own.lstrip("/") / f"tfagent-sandbox-{os.getpid()}-{next(_counter)}"
    try:
        path.mkdir()
    except OSError:
        return None
    group = PidsCgroup(path)
    try:
        (path / "pids.max").write_text(str(max_processes))
    except OSError:
        group.remove()
        return None
    return group


_available: bool | None = None


def available() -> bool:
    """Probed once by creating (and removing) a group."""
    global _available
    if _available is None:
        group = create(1)
        _available = group is not None
        if group is not None:
            group.remove()
    return _available
