"""Running generated code (and compilers, which run generated build scripts and macros) contained.

One call, ``run_sandboxed``: a working COPY of the files, a temporary HOME and /tmp, an environment
scrubbed of secrets, rlimits, its own process group killed on timeout, output capped, and no network
where the kernel allows it.

Isolation levels, best first (``isolation_level()`` says which one a run gets; ``--sandbox``,
``$TFAGENT_SANDBOX`` or the config key ``sandbox`` ask for one: auto | bwrap | landlock | none):
- ``bwrap``: bubblewrap — read-only root, private /tmp, the real HOME hidden, new net and pid
  namespaces (the whole pid namespace dies with its first process). When we run as root the child
  also drops to a throwaway uid (``setpriv``) because the kernel ignores RLIMIT_NPROC for root: that
  is what contains a fork bomb.
- ``landlock``: when bubblewrap is not on PATH — the kernel's Landlock (``landlock.py``): writes only
  in the run's folder, the real HOMEs and /tmp unreadable, no TCP; as root also a private network
  namespace, a pids cgroup and a throwaway uid or no capabilities.
- ``none``: rlimits + timeout only, and only when asked for by name: ``auto`` refuses to run
  generated code when neither of the above works (``SandboxUnavailable``, exit 2).
"""

from __future__ import annotations

import functools
import itertools
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from tfagent.agent.core import secrets
from tfagent.agent.core.secrets import is_secret_name  # noqa: F401  (re-exported: the sandbox's policy)
from tfagent.prompts import render_line
from tfagent.verifiers.base import Diagnostic, error, warning
from tfagent.verifiers.code import landlock
from tfagent.verifiers.code.isolation import (  # noqa: F401  (re-exported: the sandbox's public names)
    LEVEL_ENV, LEVELS, REFUSAL, REQUESTS, SandboxError, SandboxUnavailable, _warn_once_about_gaps, available_levels,
    describe_isolation, isolation_level,
)

TRUNCATED_MARK = "\n[output truncated]\n"

# Not secrets, but tfagent's own settings (server URL, sandbox level …): none of generated code's business.
OWN_SETTINGS_PREFIX = "TFAGENT_"
# Point at the real user's directories; replaced by the sandbox's own HOME.
USER_DIR_VARS = ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "TMPDIR")

# Throwaway uids for sandboxed children when we are root: one per run so concurrent sandboxes do not
# share (and exhaust) one RLIMIT_NPROC budget.
_UID_BASE, _UID_SPAN = 160_000, 60_000
_uid_counter = itertools.count()
_uid_lock = threading.Lock()


# Messages that show a resource limit was hit even though the process exited "normally".
FORK_FAILED = "Resource temporarily unavailable"
LIMIT_MARKERS = {FORK_FAILED: "process limit reached (fork failed)", "MemoryError": "memory limit reached",
                 "Cannot allocate memory": "memory limit reached", "std::bad_alloc": "memory limit reached",
                 "out of memory": "memory limit reached", "File too large": "file size limit reached"}


@dataclass
class SandboxResult:
    rc: int | None  # the command's exit code; negative = killed by that signal; None = never started
    stdout: str
    stderr: str
    timed_out: bool
    killed_reason: str | None  # "timeout after 5s", "cpu time limit (SIGXCPU)", "memory limit reached", …
    seconds: float
    network_isolated: bool
    isolation: str = "none"  # bwrap | landlock | none
    truncated: bool = False
    collected: dict[str, bytes] = field(default_factory=dict)  # files read back from the working copy

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out and self.killed_reason is None


# ---------------------------------------------------------------- environment and directories


def scrubbed_env(home: Path, tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment minus secrets and user directories, plus the sandbox's own HOME."""
    env = {k: v for k, v in secrets.scrubbed_env().items()  # the one secret policy (agent/core/secrets.py)
           if k not in USER_DIR_VARS and not k.upper().startswith(OWN_SETTINGS_PREFIX)}
    env.update(HOME=str(home), TMPDIR=str(tmp), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_CONFIG_HOME=str(home / ".config"), PYTHONDONTWRITEBYTECODE="1")
    env.update(extra or {})
    return env


def _sandbox_uid() -> int:
    with _uid_lock:
        return _UID_BASE + (os.getpid() * 131 + next(_uid_counter)) % _UID_SPAN


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


def _tasks_of_uid(uid: int) -> int:
    """How many tasks this uid already runs (RLIMIT_NPROC counts all of them, threads included)."""
    total = 0
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                total += len(os.listdir(os.path.join(entry.path, "task")))
        except OSError:  # the process ended while we looked
            continue
    return total


def _real_homes() -> list[Path]:
    """The user's home folders (passwd's and $HOME's, when they differ), never "/"."""
    homes = {Path(pwd.getpwuid(os.getuid()).pw_dir).resolve(), Path(os.environ.get("HOME", "/")).resolve()}
    return sorted(h for h in homes if h != Path("/") and h.is_dir())


REAL_TMP = Path("/tmp").resolve()  # what the private /tmp below hides


def _toolchain_binds(cmd: Sequence[str], env: dict[str, str], extra_ro_paths: Sequence[Path]) -> list[Path]:
    """Paths under the hidden folders (real HOMEs, the real /tmp) the command needs: its binary,
    this Python and its import path (a virtualenv or checkout may live in /tmp, as in CI), extras."""
    needed = [Path(p) for p in extra_ro_paths]
    exe = shutil.which(cmd[0], path=env.get("PATH"))
    if exe:
        needed += [Path(exe), Path(exe).resolve()]
    needed += [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve()]
    needed += [Path(p) for p in sys.path if p and Path(p).is_absolute() and Path(p).exists()]
    binds: list[Path] = []
    for resolved, home in ((p.resolve(), h) for p in needed for h in [*_real_homes(), REAL_TMP]):
        if resolved.is_relative_to(home) and resolved != home:
            top = home / resolved.relative_to(home).parts[0]
            if top.exists() and top not in binds:
                binds.append(top)
    return binds


# ---------------------------------------------------------------- building the command line


@dataclass
class _Layout:
    root: Path  # everything of this run: work (the working copy), home and tmp
    work: Path
    home: Path
    tmp: Path


def _make_layout(workdir: Path) -> _Layout:
    if not workdir.is_dir():
        raise SandboxError(f"sandbox workdir {workdir} is not a directory")
    root = Path(tempfile.mkdtemp(prefix="tfagent-sandbox-"))
    layout = _Layout(root, root / "work", root / "home", root / "tmp")
    shutil.copytree(workdir, layout.work, symlinks=True)
    layout.home.mkdir()
    layout.tmp.mkdir()
    return layout


def _bwrap_prefix(layout: _Layout, binds: list[Path], drop_to_uid: int | None, network: bool) -> list[str]:
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--bind", str(layout.tmp), "/tmp"]
    args += [arg for path in binds if path.is_relative_to(REAL_TMP) for arg in ("--ro-bind", str(path), str(path))]
    homes = _real_homes()
    for home in homes:  # hide ssh keys and cloud credentials, keep toolchains installed there
        args += ["--tmpfs", str(home)]
        args += [arg for path in binds if path.is_relative_to(home) for arg in ("--ro-bind", str(path), str(path))]
    args += ["--bind", str(layout.root), str(layout.root)]
    # Read-only, so a write to ~ fails loudly instead of vanishing — unless our run folder is inside.
    args += [arg for home in homes if not layout.root.is_relative_to(home) for arg in ("--remount-ro", str(home))]
    args += ["--chdir", str(layout.work), "--unshare-pid",
             "--unshare-ipc", "--unshare-uts", "--die-with-parent"] + ([] if network else ["--unshare-net"])
    if drop_to_uid is None:
        return args + ["--"]
    return args + ["setpriv", f"--reuid={drop_to_uid}", f"--regid={drop_to_uid}", "--clear-groups",
                   "--inh-caps=-all", "--bounding-set=-all", "--"]


def _limits_preexec(cpu_seconds: int, memory_bytes: int, file_size_bytes: int, nproc: int, open_files: int):
    limits = ((resource.RLIMIT_AS, memory_bytes), (resource.RLIMIT_FSIZE, file_size_bytes),
              (resource.RLIMIT_NPROC, nproc), (resource.RLIMIT_NOFILE, open_files), (resource.RLIMIT_CORE, 0))

    def apply() -> None:  # runs in the child between fork and exec: no allocation-heavy work here
        for which, value in limits:
            resource.setrlimit(which, (value, value))
        # soft < hard for CPU: SIGXCPU at the soft limit names the cause (equal limits mean a bare SIGKILL).
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))

    return apply


# ---------------------------------------------------------------- running


class _CappedReader(threading.Thread):
    """Drains a pipe so the child never blocks, keeping only the first ``cap`` bytes."""

    def __init__(self, stream, cap: int):
        super().__init__(daemon=True)
        self.stream, self.cap = stream, cap
        self.data = bytearray()
        self.truncated = False

    def run(self) -> None:
        while chunk := self.stream.read1(65536):
            room = self.cap - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > max(room, 0):
                self.truncated = True

    def text(self) -> str:
        out = self.data.decode("utf-8", errors="replace")
        return out + TRUNCATED_MARK if self.truncated else out


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # the group is already gone: nothing left to kill
        pass


def _signal_reason(rc: int | None, isolation: str) -> str | None:
    if rc is None:
        return None
    signo = -rc if rc < 0 else (rc - 128 if isolation == "bwrap" and 128 < rc < 160 else 0)
    if signo <= 0:
        return None
    name = signal.Signals(signo).name if signo in signal.Signals._value2member_map_ else f"signal {signo}"
    known = {"SIGXCPU": "cpu time limit", "SIGXFSZ": "file size limit", "SIGKILL": "killed",
             "SIGSEGV": "crashed (possibly the memory limit)", "SIGABRT": "aborted"}
    return f"{known.get(name, 'killed by signal')} ({name})"


def _limit_reason(stderr: str, rc: int | None) -> str | None:
    """A limit that shows only in stderr. After exit 0 only failed forks count: a fork bomb's parent
    may exit 0 while its children fail, but a program that merely prints "out of memory" is fine."""
    markers = LIMIT_MARKERS if rc else {FORK_FAILED: LIMIT_MARKERS[FORK_FAILED]}
    return next((reason for marker, reason in markers.items() if marker in stderr), None)


def _collect(work: Path, names: Sequence[str], cap: int) -> dict[str, bytes]:
    paths = {name: (work / name).resolve() for name in names}  # resolved: a symlink must not lead out
    return {name: path.read_bytes() for name, path in paths.items()
            if path.is_relative_to(work.resolve()) and path.is_file() and path.stat().st_size <= cap}


def run_sandboxed(
    cmd: list[str],
    workdir: Path,
    *,
    timeout: float = 30,
    cpu_seconds: int | None = None,
    memory_bytes: int = 2 * 1024**3,
    file_size_bytes: int = 64 * 1024**2,
    max_processes: int = 256,
    open_files: int = 512,
    output_cap_bytes: int = 256 * 1024,
    network: bool = False,
    extra_ro_paths: Sequence[Path] = (),
    env: dict[str, str] | None = None,
    collect: Sequence[str] = (),
    level: str | None = None,
) -> SandboxResult:
    """Run ``cmd`` in a copy of ``workdir``. The copy is deleted afterwards; files named in
    ``collect`` (relative paths) are read back first. ``env`` adds variables after scrubbing.
    ``{HOME}``, ``{WORK}`` and ``{TMP}`` in ``cmd`` and ``env`` become this run's private folders
    (use them rather than /tmp outside bubblewrap). ``level``: auto | bwrap | landlock | none
    (default ``$TFAGENT_SANDBOX``, else auto); raises SandboxUnavailable rather than run unisolated."""
    if not cmd:
        raise SandboxError("run_sandboxed: empty command")
    level = isolation_level(level)
    layout = _make_layout(Path(workdir))
    jail = None
    try:
        argv, child_env, drop_uid = _prepare(cmd, layout, level, network, env or {}, extra_ro_paths)

        def limits(nproc: int):
            return _limits_preexec(cpu_seconds or max(1, int(timeout) + 1), memory_bytes, file_size_bytes, nproc,
                                   open_files)

        if level == "landlock":
            jail = _landlock_jail(argv, child_env, layout, network, extra_ro_paths, limits, max_processes)
            preexec, gaps = jail.preexec, jail.gaps
        else:
            # RLIMIT_NPROC counts every task of the uid: a throwaway uid starts at 0, our own does not.
            preexec, gaps = limits(max_processes + (0 if drop_uid is not None else _tasks_of_uid(os.getuid()))), []
        _warn_once_about_gaps(level, gaps)
        result = _execute(argv, layout.work, child_env, preexec, timeout, output_cap_bytes, level,
                          after_exit=jail.cleanup if jail else None)
        result.network_isolated = (jail.network_isolated if jail else level == "bwrap") and not network
        result.collected = _collect(layout.work, collect, 16 * 1024**2)
        return result
    finally:
        if jail is not None:
            jail.cleanup()
        shutil.rmtree(layout.root, onerror=_force_remove)


def _landlock_jail(argv, env, layout: _Layout, network: bool, extra_ro_paths, limits, max_processes: int):
    """The Landlock level's preexec and cleanup; the uid it may drop to owns the run's folder."""
    binds = _toolchain_binds(argv, env, extra_ro_paths)
    exe = shutil.which(argv[0], path=env.get("PATH"))
    needed = [Path(p) for p in (exe, *extra_ro_paths) if p]
    jail = landlock.prepare(layout.root, hidden=[*_real_homes(), REAL_TMP], keep=binds, needed=needed,
                            network=network, limits=limits, max_processes=max_processes,
                            throwaway_uid=_sandbox_uid, own_tasks=lambda: _tasks_of_uid(os.getuid()))
    if jail.uid is not None:
        _chown_tree(layout.root, jail.uid)
    return jail


def _force_remove(func, path, exc_info) -> None:
    """rmtree helper: a sandboxed child may leave read-only dirs; make them writable and retry."""
    os.chmod(os.path.dirname(path), 0o700)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
        shutil.rmtree(path, onerror=_force_remove)
    else:
        os.unlink(path)


def _prepare(cmd, layout: _Layout, level: str, network: bool, env: dict[str, str], extra_ro_paths):
    """(argv with the isolation prefix, the child's environment, the uid it drops to or None)."""
    placeholders = {"{HOME}": str(layout.home), "{WORK}": str(layout.work), "{TMP}": str(layout.tmp)}
    cmd = [_fill(arg, placeholders) for arg in cmd]
    extra_env = {k: _fill(v, placeholders) for k, v in env.items()}
    child_env = scrubbed_env(layout.home, Path("/tmp") if level == "bwrap" else layout.tmp, extra_env)
    drop_uid = _sandbox_uid() if (level == "bwrap" and os.geteuid() == 0) else None
    if drop_uid is not None:
        _chown_tree(layout.root, drop_uid)
    if level == "bwrap":
        return _bwrap_prefix(layout, _toolchain_binds(cmd, child_env, extra_ro_paths), drop_uid, network) + cmd, \
            child_env, drop_uid
    return cmd, child_env, None


def _execute(argv, cwd: Path, env, preexec, timeout: float, cap: int, level: str, after_exit=None) -> SandboxResult:
    start = time.perf_counter()
    try:  # start_new_session: one process group, killed as a whole
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, preexec_fn=preexec)
    except (OSError, subprocess.SubprocessError) as exc:  # SubprocessError: the preexec step failed
        return SandboxResult(None, "", f"could not start {argv[0]}: {exc}", False, f"could not start: {exc}",
                             time.perf_counter() - start, False, level)
    readers = [_CappedReader(proc.stdout, cap), _CappedReader(proc.stderr, cap)]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_group(proc)  # also reaps stragglers left behind after a normal exit
    proc.wait()
    if after_exit is not None:  # Landlock level: kill what left the group (its cgroup or throwaway uid)
        after_exit()
    for reader in readers:
        reader.join(timeout=5)  # bounded: in the unisolated mode an escaped daemon may hold the pipe
        reader.stream.close()
    stdout, stderr = readers[0].text(), readers[1].text()
    reason = f"timeout after {timeout:g}s" if timed_out else (
        _signal_reason(proc.returncode, level) or _limit_reason(stderr, proc.returncode))
    return SandboxResult(proc.returncode, stdout, stderr, timed_out, reason, time.perf_counter() - start, False,
                         level, truncated=readers[0].truncated or readers[1].truncated)


def _fill(value: str, placeholders: dict[str, str]) -> str:
    return functools.reduce(lambda text, item: text.replace(*item), placeholders.items(), value)


def sandbox_diagnostics(result: SandboxResult, source: str, what: str) -> list[Diagnostic]:
    """Diagnostics (category "sandbox") for a run that was stopped or limited; [] when it was not."""
    found: list[Diagnostic] = []
    tail = (result.stderr or result.stdout)[-2000:]
    if result.timed_out:
        found.append(error(render_line("diag_sandbox_killed", what=what, reason=result.killed_reason),
                           render_line("diag_sandbox_killed_detail") + "\n" + tail,
                           source=source, category="sandbox"))
    elif result.killed_reason:
        found.append(error(render_line("diag_sandbox_stopped", what=what, reason=result.killed_reason), tail, source=source, category="sandbox"))
    if result.truncated:
        found.append(warning(render_line("diag_sandbox_truncated", what=what),
                             source=source, category="sandbox"))
    return found
