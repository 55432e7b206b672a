"""Escape attempts at every isolation level this machine has, with bubblewrap hidden from PATH,
and the refusal when no level works. Each attempt is real: a real listener on 127.0.0.1, a real
fork bomb, real files outside the working copy, a real (fake-HOME) ssh key readable on disk."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from tfagent.verifiers.code import isolation, landlock, sandbox
from tfagent.verifiers.code.sandbox import REFUSAL, SandboxUnavailable, available_levels, run_sandboxed

PY = sys.executable
SYSTEM_PY = "/usr/bin/python3"  # readable by a throwaway uid: as root, the Landlock level drops to one
LEVELS = [level for level in ("bwrap", "landlock") if available_levels()[level] is None]
# (level, interpreter): as root, Landlock keeps uid 0 without capabilities when the interpreter lives
# where no other uid can read it (this venv's python under a 0700 /root), and drops uid otherwise.
CASES = [(level, PY) for level in LEVELS]
if "landlock" in LEVELS and os.geteuid() == 0 and Path(SYSTEM_PY).exists():
    CASES.append(("landlock", SYSTEM_PY))
IDS = [f"{level}-{'venv' if py == PY else 'system'}-python" for level, py in CASES]

pytestmark = pytest.mark.skipif(not LEVELS, reason="neither bubblewrap nor Landlock works on this machine")


@pytest.fixture
def path_without_bwrap(tmp_path, monkeypatch) -> str:
    """PATH as on a machine without bubblewrap: every command of PATH but bwrap, through symlinks."""
    shadow = tmp_path / "bin-without-bwrap"
    shadow.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            if entry.name != "bwrap" and not (shadow / entry.name).exists():
                (shadow / entry.name).symlink_to(entry.path)
    monkeypatch.setenv("PATH", str(shadow))
    monkeypatch.delenv(sandbox.LEVEL_ENV, raising=False)
    assert shutil.which("bwrap") is None
    return str(shadow)


WRITER = ("import sys\nfor t in sys.argv[1:]:\n    try:\n        open(t, 'w').write('pwned')\n        print('WROTE', t)\n"
          "    except OSError as e:\n        print('DENIED', t, e.strerror)\n")


def _write_outside(level: str, py: str, work: Path, tmp_path: Path) -> None:
    targets = [Path("/tmp") / f"owned-by-sandbox-{uuid.uuid4().hex}", Path.home() / f"owned-{uuid.uuid4().hex}",
               tmp_path / "outside.txt", work / "data.txt", Path("/work") / f"owned-{uuid.uuid4().hex}"]
    result = run_sandboxed([py, "-c", WRITER, *map(str, targets), "inside.txt"], work, timeout=20, level=level,
                           collect=["inside.txt"])
    assert result.isolation == level
    for target in targets[:3] + targets[4:]:
        assert not target.exists(), f"{level}: sandbox wrote {target}\n{result.stdout}"
    assert (work / "data.txt").read_text() == "model file\n"  # only the copy may change
    assert result.collected == {"inside.txt": b"pwned"}, result.stderr  # the working copy is writable
    assert result.stdout.count("DENIED") >= 3, result.stdout


@pytest.mark.parametrize("level, py", CASES, ids=IDS)
def test_writes_outside_the_working_copy_do_not_land(level, py, work, tmp_path):
    _write_outside(level, py, work, tmp_path)


def test_with_bwrap_hidden_auto_picks_landlock_and_still_contains_writes(path_without_bwrap, work, tmp_path):
    if available_levels()["landlock"] is not None:
        pytest.skip("no Landlock on this kernel")
    assert sandbox.isolation_level() == "landlock"
    _write_outside("landlock", PY, work, tmp_path)
    result = run_sandboxed([PY, "-c", "print('hello')"], work, timeout=20)  # auto
    assert result.ok and result.isolation == "landlock" and result.stdout == "hello\n"


def test_tfagent_verifiers_names_the_level_with_and_without_bwrap(path_without_bwrap):
    # A real subprocess so the PATH change is what the CLI sees.
    exe = Path(sys.executable).parent / "tfagent"
    env = {**os.environ, "COLUMNS": "60"}
    hidden = subprocess.run([str(exe), "verifiers"], capture_output=True, text=True, env=env, timeout=120)
    assert hidden.returncode == 0, hidden.stderr
    [line] = [x for x in hidden.stdout.splitlines() if x.startswith("sandbox for generated code:")]
    expected = "landlock" if available_levels()["landlock"] is None else "refusing"
    assert line.startswith(f"sandbox for generated code: {expected}"), line
    none = subprocess.run([str(exe), "verifiers", "--sandbox", "none"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert "sandbox for generated code: none (NONE: rlimits and a timeout only" in none.stdout


class _Listener:
    """A real TCP listener on 127.0.0.1 counting who got through."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[object] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.accepted.append(self.sock.accept())
            except socket.timeout:
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.mark.parametrize("level, py", CASES, ids=IDS)
def test_network_to_a_real_local_listener_fails(level, py, work):
    listener = _Listener()
    code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {listener.port}), timeout=3)\n"
            "    print('CONNECTED')\nexcept OSError as e:\n    print('CONNECT DENIED', e)\n"
            "try:\n    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1); print('LISTENING')\n"
            "except OSError as e:\n    print('BIND DENIED', e)\n")
    try:
        result = run_sandboxed([py, "-c", code], work, timeout=20, level=level)
        socket.create_connection(("127.0.0.1", listener.port), timeout=3).close()  # the listener works
        time.sleep(0.5)
    finally:
        listener.close()
    assert result.ok, result.stderr
    assert result.network_isolated and "CONNECTED" not in result.stdout and "CONNECT DENIED" in result.stdout
    assert len(listener.accepted) == 1  # only ours
    if level == "landlock" and landlock.abi_version() >= 4:
        assert "BIND DENIED" in result.stdout  # Landlock's TCP bind rule (bwrap's netns allows a private bind)


def _cmdline_has(proc: Path, text: str) -> bool:
    try:
        return text in (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:  # the process ended while we looked
        return False


@pytest.mark.parametrize("level, py", CASES, ids=IDS)
def test_fork_bomb_is_contained_and_nothing_survives(level, py, work):
    marker = f"bomb-{uuid.uuid4().hex}"
    (work / "bomb.py").write_text(f"import os, time\n# {marker}\nwhile True:\n    try:\n        os.fork()\n"
                                  "    except OSError as exc:\n        print(exc, flush=True)\n        time.sleep(0.01)\n")
    start = time.perf_counter()
    result = run_sandboxed([py, "bomb.py"], work, timeout=4, max_processes=32, level=level)
    assert time.perf_counter() - start < 20
    assert result.timed_out
    assert "Resource temporarily unavailable" in result.stdout  # fork failed: the process cap held
    time.sleep(0.5)
    assert [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, marker)] == []
    after = run_sandboxed([py, "-c", "print(open('data.txt').read().strip())"], work, timeout=20, level=level)
    assert after.ok and after.stdout.strip() == "model file", after.stderr


@pytest.mark.parametrize("level, py", CASES, ids=IDS)
def test_a_daemon_that_leaves_the_process_group_is_killed(level, py, work):
    marker = f"daemon-{uuid.uuid4().hex}"
    code = (f"import os, time\n# {marker}\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        time.sleep(60)\n    os._exit(0)\nprint('parent done')\n")
    (work / "daemon.py").write_text(code)
    result = run_sandboxed([py, "daemon.py"], work, timeout=10, level=level)
    assert result.ok and "parent done" in result.stdout
    time.sleep(0.3)
    assert [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, marker)] == []


@pytest.mark.parametrize("level, py", CASES, ids=IDS)
def test_infinite_loop_is_killed_at_the_timeout(level, py, work):
    start = time.perf_counter()
    result = run_sandboxed([py, "-c", "while True: pass"], work, timeout=1.5, level=level)
    assert result.timed_out and result.killed_reason == "timeout after 1.5s"
    assert time.perf_counter() - start < 8


@pytest.mark.parametrize("level, py", CASES, ids=IDS)
def test_ssh_key_in_the_home_is_unreadable(level, py, work, tmp_path, monkeypatch):
    home = tmp_path / "fake-home"
    (home / ".ssh").mkdir(parents=True)
    key = home / ".ssh" / "id_rsa"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY----- sandbox-test-key-material\n")
    # World-readable on disk, so only the sandbox can be what stops the read (not file modes).
    for folder in (tmp_path, home, home / ".ssh"):
        folder.chmod(0o755)
    key.chmod(0o644)
    monkeypatch.setenv("HOME", str(home))
    code = (f"import os\nprint('HOME is', os.environ['HOME'])\ntry:\n    print(open({str(key)!r}).read())\n"
            "except OSError as e:\n    print('DENIED', e.strerror)\n"
            "print(open(os.path.expanduser('~/probe'), 'w').write('x') and 'home writable')\n")
    result = run_sandboxed([py, "-c", code], work, timeout=20, level=level)
    assert result.ok, result.stderr
    assert "sandbox-test-key-material" not in result.stdout and "DENIED" in result.stdout
    assert f"HOME is {home}" not in result.stdout and "home writable" in result.stdout  # its own HOME
    assert "sandbox-test-key-material" in key.read_text()  # the key is there and readable outside


@pytest.mark.parametrize("level, py", CASES, ids=IDS)
def test_secrets_are_scrubbed_at_every_level(level, py, work, monkeypatch):
    monkeypatch.setenv("GITLAB_PAT", "glpat-sandbox-secret-value")
    result = run_sandboxed([py, "-c", "import os; print(sorted(os.environ))"], work, timeout=20, level=level)
    assert result.ok and "GITLAB_PAT" not in result.stdout


# ---------------------------------------------------------------- nothing works: refuse


@pytest.fixture
def no_sandbox_at_all(path_without_bwrap, monkeypatch):
    """A machine without bubblewrap and with a kernel older than Landlock (5.13): the ABI probe
    answers 0 there, which is the one thing simulated here."""
    monkeypatch.setattr(landlock, "abi_version", lambda: 0)
    monkeypatch.setattr(isolation, "_isolation_cache", None)
    yield
    isolation._isolation_cache = None  # re-probe with the real PATH and kernel afterwards


def test_without_any_level_generated_code_is_refused_unless_none_is_asked_for(no_sandbox_at_all, work):
    marker = work / "ran.txt"
    with pytest.raises(SandboxUnavailable) as refused:
        run_sandboxed(["sh", "-c", f"echo ran > {marker}"], work, timeout=10)
    assert str(refused.value) == REFUSAL and "apt-get install bubblewrap" in REFUSAL and "--sandbox none" in REFUSAL
    assert not marker.exists()
    allowed = run_sandboxed([PY, "-c", "print('unisolated on purpose')"], work, timeout=10, level="none")
    assert allowed.ok and allowed.isolation == "none" and not allowed.network_isolated


def test_code_mode_refuses_with_exit_2_and_one_line_before_any_model_call(no_sandbox_at_all, tmp_path,
                                                                          scripted_server, monkeypatch):
    from tfagent.agent.cli.main import main

    monkeypatch.chdir(tmp_path)
    tests = tmp_path / "test_add.py"
    tests.write_text("from add import add\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    result = CliRunner().invoke(main, ["code", "write add(a, b)", "--tests", str(tests), "--base-url",
                                       scripted_server.base_url, "--model", "scripted"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"error: {REFUSAL}"]
    assert scripted_server.requests == []  # refused before the model was asked anything
