"""Landlock: the kernel's unprivileged file-system and TCP sandbox, through a few raw syscalls.

The isolation level used when bubblewrap is not on PATH (what OpenAI's Codex CLI does on Linux).
A ruleset is built in the parent (``build_ruleset``: read almost everywhere, write only inside the
run's own folder, no TCP bind/connect at ABI >= 4, no signals or abstract sockets to the outside at
ABI >= 6) and the child applies it between fork and exec (``ChildJail``), after its other limits:
rlimits, a pids cgroup, a private network namespace, and either a throwaway uid or — as root when the
toolchain is not reachable by another uid — no capabilities at all. Landlock domains are inherited by
every descendant and can never be lifted, so what the generated code forks stays inside too.

Reads are allowed everywhere EXCEPT the real home folders and the real /tmp (where ssh keys, cloud
credentials and other runs' files live); what the command itself needs from there (its interpreter,
a virtualenv in /tmp) is allowed back read-only, like bubblewrap's binds.

Syscall numbers are the same on every Linux architecture (444/445/446): they were added after the
syscall tables were unified.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_CAP_AMBIENT = 38, 24, 28, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECBIT_NOROOT, SECBIT_NOROOT_LOCKED = 1 << 0, 1 << 1
SECBIT_NO_SETUID_FIXUP, SECBIT_NO_SETUID_FIXUP_LOCKED = 1 << 2, 1 << 3
CLONE_NEWNET = 0x40000000
CAP_LAST_GUESS = 63  # PR_CAPBSET_DROP answers EINVAL past the kernel's last capability

# File-system access rights, by the ABI that introduced them.
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_ABI1 = (1 << 13) - 1  # EXECUTE … MAKE_SYM
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

READ_DIR_RIGHTS = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
READ_FILE_RIGHTS = FS_EXECUTE | FS_READ_FILE
# Devices every program opens for writing (``> /dev/null`` truncates; isatty() is an ioctl).
WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class LandlockError(OSError):
    """Landlock is missing or refused a rule (the message names the call and the path)."""


class _PathBeneath(ctypes.Structure):
    _pack_ = 1  # the kernel's struct landlock_path_beneath_attr is packed: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


def _syscall(number: int, *args) -> int:
    result = _libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        code = ctypes.get_errno()
        raise LandlockError(code, f"syscall {number}: {os.strerror(code)}")
    return result


@functools.lru_cache(maxsize=1)
def abi_version() -> int:
    """The kernel's Landlock ABI (0 when the kernel lacks it or it is disabled at boot)."""
    try:
        return _syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    except LandlockError as exc:
        if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        raise


def handled_fs(abi: int) -> int:
    rights = FS_ABI1
    rights |= FS_REFER if abi >= 2 else 0
    rights |= FS_TRUNCATE if abi >= 3 else 0
    rights |= FS_IOCTL_DEV if abi >= 5 else 0
    return rights


def _file_rights(abi: int) -> int:
    """The rights a rule on a non-directory may carry (others are EINVAL there)."""
    return (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | (FS_TRUNCATE if abi >= 3 else 0)
            | (FS_IOCTL_DEV if abi >= 5 else 0))


# ---------------------------------------------------------------- which paths get which rights


def readable_roots(hidden: Sequence[Path], keep: Sequence[Path] = ()) -> list[Path]:
    """Subtrees (or files) to allow reading so that everything is readable except the ``hidden``
    trees, with the ``keep`` paths inside them allowed back. Landlock only allows, so "all but X"
    is every sibling along the way from / down to X. The folders on that way get no rule at all:
    a rule covers the whole subtree, and opening a path beneath needs no right on its parents
    (so ``ls /`` fails, ``open('/usr/bin/python3')`` works). Symlinks are skipped: access is
    checked where the target lies, which has its own rule (or is hidden)."""
    hidden = [Path(os.path.realpath(h)) for h in hidden]
    roots: list[Path] = []

    def visit(folder: Path) -> None:
        if folder in hidden:
            return
        if not any(h.is_relative_to(folder) for h in hidden):
            roots.append(folder)
            return
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:  # unreadable folder: nothing to allow below it
            return
        for entry in entries:
            if not entry.is_symlink():
                visit(Path(entry.path))

    visit(Path("/"))
    return roots + [Path(os.path.realpath(p)) for p in keep if Path(p).exists()]


@dataclass
class Rules:
    readable: list[Path]  # subtrees (or files) readable and executable
    writable: list[Path] = field(default_factory=list)  # subtrees with every right
    network: bool = False  # True: TCP bind/connect stay allowed


def rules_for(run_root: Path, hidden: Sequence[Path], keep: Sequence[Path], network: bool) -> Rules:
    """The policy of one sandboxed run: ``run_root`` (working copy, private HOME and TMP) writable,
    everything but ``hidden`` (minus ``keep``) readable."""
    return Rules(readable=readable_roots(hidden, keep), writable=[Path(run_root)], network=network)


# ---------------------------------------------------------------- building the ruleset (parent)


def _add_path_rule(ruleset_fd: int, path: Path, rights: int, abi: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:  # vanished or unreadable since we listed it: it simply stays denied
        return
    try:
        if not os.path.isdir(path):
            rights &= _file_rights(abi)
        if not rights:
            return
        attr = _PathBeneath(allowed_access=rights, parent_fd=fd)
        try:
            _syscall(SYS_ADD_RULE, ctypes.c_int(ruleset_fd), ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(attr),
                     ctypes.c_uint32(0))
        except LandlockError as exc:
            raise LandlockError(exc.errno, f"landlock_add_rule({path}): {os.strerror(exc.errno)}") from None
    finally:
        os.close(fd)


def build_ruleset(rules: Rules, abi: int | None = None) -> int:
    """A Landlock ruleset fd (close-on-exec) holding ``rules``; the caller closes it after the
    child started. Raises LandlockError when the kernel has no Landlock."""
    abi = abi_version() if abi is None else abi
    if abi < 1:
        raise LandlockError(errno.EOPNOTSUPP, "this kernel has no Landlock (needs Linux >= 5.13 with it enabled)")
    fs = handled_fs(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 and not rules.network else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = _RulesetAttr(handled_access_fs=fs, handled_access_net=net, scoped=scoped)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)  # older kernels reject fields they do not know
    ruleset_fd = _syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        for path in rules.readable:
            _add_path_rule(ruleset_fd, path, READ_DIR_RIGHTS, abi)
        for path in rules.writable:
            _add_path_rule(ruleset_fd, path, fs, abi)
        for device in WRITABLE_DEVICES:
            _add_path_rule(ruleset_fd, Path(device), fs, abi)
    except BaseException:
        os.close(ruleset_fd)
        raise
    return ruleset_fd


# ---------------------------------------------------------------- applying it (child, after fork)


def restrict_self(ruleset_fd: int) -> None:
    """Enter the ruleset's domain for good. NO_NEW_PRIVS first: the kernel demands it of callers
    without CAP_SYS_ADMIN, and it makes setuid binaries useless for getting out."""
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise LandlockError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    _syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(os.uname().machine)
CAP_VERSION_3 = 0x20080522


def drop_all_capabilities() -> None:
    """For root that keeps uid 0: lock root's automatic capabilities off (securebits), empty the
    bounding and ambient sets, then clear our own — an exec can never give them back."""
    bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED
    if _libc.prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0:
        raise LandlockError(ctypes.get_errno(), "prctl(PR_SET_SECUREBITS)")
    for cap in range(CAP_LAST_GUESS + 1):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            raise LandlockError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {cap})")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if SYS_CAPSET is None:
        raise LandlockError(errno.ENOSYS, f"capset: unknown syscall number on {os.uname().machine}")
    header, data = _CapHeader(CAP_VERSION_3, 0), (_CapData * 2)()
    _syscall(SYS_CAPSET, ctypes.byref(header), ctypes.byref(data))


@dataclass
class ChildJail:
    """The ``preexec_fn`` of the Landlock level: runs in the child between fork and exec, in this
    order because each step needs the privilege the next one gives up."""

    ruleset_fd: int
    limits: Callable[[], None]  # rlimits (the sandbox's _limits_preexec)
    cgroup_procs: str | None = None  # join this pids cgroup (root: RLIMIT_NPROC does not bind uid 0)
    new_netns: bool = False  # root: a private network namespace (UDP and unix sockets too)
    uid: int | None = None  # drop to this throwaway uid; None as root = drop every capability instead
    drop_caps: bool = False

    def __call__(self) -> None:
        self.limits()
        if self.cgroup_procs:
            with open(self.cgroup_procs, "w") as procs:
                procs.write(str(os.getpid()))
        if self.new_netns and _libc.unshare(CLONE_NEWNET) != 0:
            raise LandlockError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
        if self.uid is not None:
            os.setgroups([])
            os.setresgid(self.uid, self.uid, self.uid)
            os.setresuid(self.uid, self.uid, self.uid)
        elif self.drop_caps:
            drop_all_capabilities()
        restrict_self(self.ruleset_fd)


def reachable_by_others(paths: Sequence[Path]) -> bool:
    """Can a throwaway uid (no groups) open these? Every folder on the way needs o+x, the target o+r."""
    for path in paths:
        resolved = Path(os.path.realpath(path))
        try:
            for parent in resolved.parents:
                if not os.stat(parent).st_mode & 0o001:
                    return False
            if not os.stat(resolved).st_mode & 0o004:
                return False
        except OSError:
            return False
    return True


# ---------------------------------------------------------------- one run at the Landlock level


@dataclass
class PreparedJail:
    """What the sandbox needs to start one child at this level, and to clean up after it."""

    preexec: ChildJail
    uid: int | None  # the throwaway uid, or None (own uid; as root: uid 0 without capabilities)
    cgroup: object | None  # pids_cgroup.PidsCgroup
    network_isolated: bool  # TCP denied (ABI >= 4) and/or a private network namespace
    gaps: list[str]  # what this run is NOT protected against, for a once-per-process warning

    def cleanup(self) -> None:
        """Close the ruleset and kill whatever the generated code left running."""
        try:
            os.close(self.preexec.ruleset_fd)
        except OSError:  # already closed by an earlier cleanup
            pass
        if self.cgroup is not None:
            self.cgroup.remove()
        elif self.uid is not None:
            kill_uid(self.uid)


def kill_uid(uid: int) -> None:
    """SIGKILL every process of a throwaway uid (daemons that left the process group)."""
    for _ in range(50):
        pids = [int(e.name) for e in os.scandir("/proc") if e.name.isdigit() and _owner(e.path) == uid]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:  # exited meanwhile
                continue


def _owner(proc_dir: str) -> int | None:
    try:
        return os.stat(proc_dir).st_uid
    except OSError:
        return None


def prepare(run_root: Path, *, hidden: Sequence[Path], keep: Sequence[Path], needed: Sequence[Path],
            network: bool, limits: Callable[[int], Callable[[], None]], max_processes: int,
            throwaway_uid: Callable[[], int], own_tasks: Callable[[], int]) -> PreparedJail:
    """Build the ruleset and decide how the child gives up root. ``limits(nproc)`` makes the
    rlimit step; ``needed`` are the files the command must open (interpreter, toolchain): a
    throwaway uid is used only when it can open them all."""
    from tfagent.verifiers.code import pids_cgroup

    abi = abi_version()
    gaps: list[str] = []
    root = os.geteuid() == 0
    uid = throwaway_uid() if root and reachable_by_others([run_root.parent, *needed]) else None
    cgroup = pids_cgroup.create(max_processes) if root else None
    if uid is None:
        nproc = max_processes + own_tasks() if not root else max_processes  # RLIMIT_NPROC: ignored for root
        if root and cgroup is None:
            gaps.append("root-nproc")
    else:
        nproc = max_processes
    if not network and abi < 4 and not root:
        gaps.append("landlock-net")
    if not network and not root and abi >= 4:
        gaps.append("udp")
    fd = build_ruleset(rules_for(run_root, hidden, keep, network), abi)
    jail = ChildJail(fd, limits(nproc), cgroup.procs_file if cgroup else None, new_netns=root and not network,
                     uid=uid, drop_caps=root and uid is None)
    return PreparedJail(jail, uid, cgroup, network_isolated=not network and (root or abi >= 4), gaps=gaps)
