"""The sandbox, for real: fork bombs, endless loops, huge allocations, escapes, network, secrets."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path

import pytest

from tfagent.verifiers.code import isolation, sandbox
from tfagent.verifiers.code.sandbox import (
    TRUNCATED_MARK,
    SandboxError,
    is_secret_name,
    isolation_level,
    run_sandboxed,
    sandbox_diagnostics,
)

PY = sys.executable
ISOLATED = isolation_level() in ("bwrap", "landlock")
needs_bwrap = pytest.mark.skipif(isolation_level() != "bwrap", reason="bubblewrap (bwrap) is not usable here")


def still_fine(work: Path) -> None:
    """After a contained disaster, the sandbox (and this process) still work normally."""
    after = run_sandboxed([PY, "-c", "print(open('data.txt').read().strip())"], work, timeout=20)
    assert after.ok, after.stderr
    assert after.stdout.strip() == "model file"


@needs_bwrap
def test_fork_bomb_is_stopped_by_the_process_limit_and_cleaned_up(work):
    marker = f"bomb-{uuid.uuid4().hex}"
    bomb = f"import os, time\n# {marker}\nwhile True:\n    try:\n        os.fork()\n    except OSError as exc:\n        print(exc, flush=True)\n        time.sleep(0.01)\n"
    (work / "bomb.py").write_text(bomb)
    start = time.perf_counter()
    result = run_sandboxed([PY, "bomb.py"], work, timeout=4, max_processes=32)
    assert time.perf_counter() - start < 15
    assert result.timed_out
    assert "Resource temporarily unavailable" in result.stdout  # fork failed: the limit held
    diagnostics = sandbox_diagnostics(result, "tests", "the program")
    assert diagnostics and diagnostics[0].category == "sandbox" and "timeout" in diagnostics[0].summary
    time.sleep(0.5)
    survivors = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, "bomb.py")]
    assert survivors == []
    still_fine(work)


def _cmdline_has(proc: Path, text: str) -> bool:
    try:
        return text in (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:  # the process ended while we looked
        return False


def test_shell_fork_bomb_reports_the_limit(work):
    if isolation_level() != "bwrap" and os.geteuid() == 0:
        pytest.skip("without bwrap, root is not bound by RLIMIT_NPROC: a fork bomb would hurt the machine")
    result = run_sandboxed(["bash", "-c", ":(){ :|:& };:; sleep 2"], work, timeout=6, max_processes=32)
    assert result.killed_reason == "process limit reached (fork failed)"
    assert "Resource temporarily unavailable" in result.stderr
    assert sandbox_diagnostics(result, "tests", "the program")
    still_fine(work)


def test_infinite_loop_is_killed_at_the_timeout(work):
    start = time.perf_counter()
    result = run_sandboxed([PY, "-c", "while True: pass"], work, timeout=1.5)
    elapsed = time.perf_counter() - start
    assert result.timed_out and result.killed_reason == "timeout after 1.5s"
    assert elapsed < 6
    [diag] = sandbox_diagnostics(result, "tests", "the program")
    assert diag.category == "sandbox" and diag.severity == "error"
    still_fine(work)


def test_children_left_running_are_killed_with_the_group(work):
    start = time.perf_counter()
    result = run_sandboxed(["sh", "-c", "sleep 60 & sleep 60"], work, timeout=1)
    assert result.timed_out
    assert time.perf_counter() - start < 6  # readers did not wait for the orphaned sleep


def test_cpu_limit_stops_a_busy_loop_before_the_wall_clock(work):
    result = run_sandboxed([PY, "-c", "while True: pass"], work, timeout=20, cpu_seconds=1)
    assert not result.timed_out and result.rc != 0 and result.seconds < 15
    assert "cpu time limit" in result.killed_reason
    still_fine(work)


def test_ten_gigabyte_allocation_fails_inside_the_sandbox(work):
    result = run_sandboxed([PY, "-c", "block = bytearray(10 * 1024**3)"], work, timeout=20,
                           memory_bytes=1024**3)
    assert result.rc != 0
    assert result.killed_reason == "memory limit reached"
    assert "MemoryError" in result.stderr
    [diag] = sandbox_diagnostics(result, "tests", "the program")
    assert diag.category == "sandbox" and "memory" in diag.summary
    still_fine(work)


@needs_bwrap
def test_writes_outside_the_working_copy_do_not_land(work, tmp_path):
    targets = [Path("/root") / f"owned-by-sandbox-{uuid.uuid4().hex}",
               Path.home() / f"owned-by-sandbox-{uuid.uuid4().hex}",
               tmp_path / "outside.txt",  # the real /tmp, where the working copy's parent lives
               work / "data.txt"]  # the ORIGINAL folder: only the copy may change
    script = "import sys\nfor t in sys.argv[1:]:\n    try:\n        open(t, 'w').write('pwned')\n        print('WROTE', t)\n    except OSError as e:\n        print('DENIED', t, e.strerror)\n"
    result = run_sandboxed([PY, "-c", script, *map(str, targets)], work, timeout=20)
    for target in targets[:3]:
        assert not target.exists(), f"sandbox wrote {target}"
    assert (work / "data.txt").read_text() == "model file\n"
    assert "DENIED /root/" in result.stdout
    still_fine(work)


def test_working_copy_changes_are_collected_not_written_back(work):
    result = run_sandboxed(["sh", "-c", "echo changed > data.txt; echo report > out.xml"], work, timeout=20,
                           collect=["out.xml", "missing.xml", "../escape"])
    assert result.ok
    assert result.collected == {"out.xml": b"report\n"}
    assert (work / "data.txt").read_text() == "model file\n"
    assert not (work / "out.xml").exists()


@pytest.mark.skipif(not ISOLATED, reason="no bwrap/Landlock: network isolation is not possible here")
def test_network_connection_to_a_local_listener_fails(work):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list[object] = []
    stop = threading.Event()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept())
            except socket.timeout:
                continue

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        client = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\nprint('CONNECTED')\n"
        result = run_sandboxed([PY, "-c", client], work, timeout=20)
        # The listener works: a connection from outside the sandbox is accepted.
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert result.network_isolated
    assert result.rc != 0 and "CONNECTED" not in result.stdout
    assert "ConnectionRefusedError" in result.stderr or "Network is unreachable" in result.stderr
    assert len(accepted) == 1  # only ours


def test_secrets_are_scrubbed_from_the_environment(work, monkeypatch):
    monkeypatch.setenv("FOO_TOKEN", "tok-123")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("db_password", "hunter2")
    monkeypatch.setenv("HARMLESS_SETTING", "kept")
    result = run_sandboxed([PY, "-c", "import os, json; print(json.dumps(dict(os.environ)))"], work, timeout=20)
    assert result.ok, result.stderr
    import json

    env = json.loads(result.stdout)
    for secret in ("tok-123", "AKIAEXAMPLE", "sk-secret", "hunter2"):
        assert secret not in result.stdout
    assert env["HARMLESS_SETTING"] == "kept" and env["PATH"] == os.environ["PATH"]
    assert env["HOME"] != str(Path.home()) and "tfagent-sandbox-" in env["HOME"]


@pytest.mark.parametrize("name, secret", [("FOO_TOKEN", True), ("github_pat", True), ("ARM_CLIENT_ID", True),
                                          ("MY_CREDENTIALS_FILE", True), ("PATH", False), ("LANG", False),
                                          ("TERM", False)])
def test_secret_name_patterns(name, secret):
    assert is_secret_name(name) is secret


def test_output_is_capped_with_a_mark(work):
    result = run_sandboxed([PY, "-c", "import sys\nfor _ in range(200): sys.stdout.write('x' * 100_000)"], work,
                           timeout=20, output_cap_bytes=4096)
    assert result.ok and result.truncated
    assert result.stdout.endswith(TRUNCATED_MARK)
    assert len(result.stdout) == 4096 + len(TRUNCATED_MARK)
    [diag] = sandbox_diagnostics(result, "tests", "the program")
    assert diag.severity == "warning"


def test_bad_input_is_named(tmp_path):
    with pytest.raises(SandboxError, match="is not a directory"):
        run_sandboxed(["true"], tmp_path / "missing")
    with pytest.raises(SandboxError, match="empty command"):
        run_sandboxed([], tmp_path)


def test_missing_command_is_a_result_not_a_crash(work):
    result = run_sandboxed(["definitely-not-a-command-xyz"], work, timeout=10)
    assert not result.ok and result.rc != 0


def test_level_none_on_purpose_says_so_once(work, monkeypatch):
    monkeypatch.delenv(sandbox.LEVEL_ENV, raising=False)
    monkeypatch.setattr(isolation, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = run_sandboxed([PY, "-c", "print('ran')"], work, timeout=20, level="none")
        second = run_sandboxed([PY, "-c", "print('ran')"], work, timeout=20, level="none")
    assert first.ok and second.ok and not first.network_isolated and first.isolation == "none"
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert sum("WITHOUT file-system or network isolation" in m for m in messages) == 1
    assert sum("RLIMIT_NPROC" in m for m in messages) == (1 if os.geteuid() == 0 else 0)
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]  # pipes are closed


@pytest.mark.skipif(not ISOLATED, reason="no bwrap/Landlock here")
def test_network_can_be_allowed_explicitly(work):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        result = run_sandboxed([PY, "-c", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)\nprint('CONNECTED')"],
                               work, timeout=20, network=True)
    finally:
        listener.close()
    assert result.ok and "CONNECTED" in result.stdout and not result.network_isolated


def test_forced_level_is_validated(work, monkeypatch):
    monkeypatch.setenv(sandbox.LEVEL_ENV, "docker")
    with pytest.raises(SandboxError, match="sandbox level 'docker' is not one of auto, bwrap, landlock, none"):
        run_sandboxed(["true"], work)
    monkeypatch.delenv(sandbox.LEVEL_ENV)
    monkeypatch.setattr(isolation, "available_levels", lambda: {"bwrap": "not installed", "landlock": None, "none": None})
    with pytest.raises(SandboxError, match="sandbox level 'bwrap' is not available here: not installed"):
        run_sandboxed(["true"], work, level="bwrap")


@needs_bwrap
def test_toolchains_under_the_real_tmp_stay_visible_read_only(work, tmp_path):
    # CI may clone the project (and its virtualenv) under /tmp, which the sandbox replaces with a
    # private /tmp: what the command needs from there is bound back, read-only. (World-readable,
    # like a checkout: the sandboxed program runs as a throwaway uid.)
    tool_dir = Path(tempfile.mkdtemp(prefix="tfagent-test-toolchain-", dir="/tmp"))
    tool_dir.chmod(0o755)
    (tool_dir / "lib.txt").write_text("from the real tmp\n")
    (tool_dir / "lib.txt").chmod(0o644)
    code = (f"print(open({str(tool_dir / 'lib.txt')!r}).read().strip())\n"
            f"try:\n    open({str(tool_dir / 'new.txt')!r}, 'w')\nexcept OSError as exc:\n    print('DENIED', type(exc).__name__)\n")
    result = run_sandboxed([PY, "-c", code], work, timeout=20, extra_ro_paths=[tool_dir])
    assert result.ok, result.stderr
    assert "from the real tmp" in result.stdout and "DENIED" in result.stdout
    assert not (tool_dir / "new.txt").exists()
    shutil.rmtree(tool_dir)
