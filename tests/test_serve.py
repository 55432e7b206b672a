"""tfagent serve / quantize: command lines, errors, and real llama-cpp-python servers with no orphans."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tfagent.agent.core.config import load_config
from tfagent.agent.serving.localmodel import MODELS
from tfagent.agent.serving.quantize import quantize_command
from tfagent.agent.serving.records import read_record, servers_dir
from tfagent.agent.serving.serve import ServeOptions, backend_notes, serve_command, server_argv

from test_gguf_info import write_gguf

# Captured before the autouse fixture points XDG_CACHE_HOME at an empty per-test folder.
_REAL_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tfagent"


def smoke_gguf() -> Path | None:
    """The SmolLM2 GGUF when already fetched (python -m tfagent.agent.serving.localmodel fetch smollm2)."""
    spec = MODELS["smollm2"]
    candidates = [os.environ.get("TFAGENT_SMOKE_GGUF"), _REAL_CACHE / "models" / spec.sha256 / spec.filename]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def _real_server_skip_reason() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install 'tfagent[local]', portable build)"
    if smoke_gguf() is None:
        return "SmolLM2 GGUF not fetched: run `python -m tfagent.agent.serving.localmodel fetch smollm2`"
    return None


needs_real_server = pytest.mark.skipif(_real_server_skip_reason() is not None,
                                       reason=_real_server_skip_reason() or "")


def free_port(count: int = 1) -> int:
    """A port p such that p … p+count-1 are all free right now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count < 65535 and all(_is_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no run of free ports found")


def _is_free(port: int) -> bool:
    """No listener on the port. TIME_WAIT leftovers of closed connections do not count (llama-server
    closes its side first, so they sit on its port for a minute), as in serve's own check."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return _not_zombie(pgid)


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------- pure command lines

def test_llama_server_argv_passes_gpu_and_cache_options():
    opts = ServeOptions(port=9001, ctx=8192, parallel=4, threads=8, gpu_layers=99, cache_type_k="q8_0",
                        cache_type_v="q4_0", tensor_split="3,1", jinja=True, spec="off")
    argv = server_argv("llama-server", Path("/m/glm.gguf"), "glm", opts)
    assert Path(argv[0]).name == "llama-server" and argv[1:3] == ["-m", "/m/glm.gguf"]
    joined = " ".join(argv)
    for fragment in ("--alias glm", "--host 127.0.0.1", "--port 9001", "-c 32768", "-np 4", "-t 8", "-ngl 99",
                     "-ctk q8_0", "-ctv q4_0", "-ts 3,1", "--jinja"):
        assert fragment in joined, fragment
    assert backend_notes("llama-server", opts) == []


def test_llama_cpp_python_argv_maps_types_to_ggml_enums():
    opts = ServeOptions(port=9002, ctx=2048, cache_type_k="q8_0", cache_type_v="q4_0", tensor_split="1,1",
                        parallel=2, jinja=True)
    argv = server_argv("llama-cpp-python", Path("/m/x.gguf"), "x", opts)
    assert argv[:3] == [sys.executable, "-m", "llama_cpp.server"]
    joined = " ".join(argv)
    # ggml_type: Q4_0 = 2, Q8_0 = 8; a quantized V cache needs flash attention.
    for fragment in ("--model /m/x.gguf", "--model_alias x", "--n_ctx 2048", "--type_k 8", "--type_v 2",
                     "--flash_attn true", "--tensor_split 1 1", "--port 9002", "--interrupt_requests false"):
        assert fragment in joined, fragment
    notes = backend_notes("llama-cpp-python", opts)
    assert any("--parallel 2" in n for n in notes) and any("--jinja" in n for n in notes)


# ---------------------------------------------------------------- errors and dry run

def test_port_in_use_is_a_clear_usage_error(tmp_path):
    model = write_gguf(tmp_path / "tiny.gguf")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = CliRunner().invoke(serve_command, [str(model), "--port", str(port), "--name", "t"])
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.output
    assert read_record("t") is None and "t" not in load_config().endpoints


def test_dry_run_prints_estimate_and_budget_verdict(tmp_path):
    model = write_gguf(tmp_path / "tiny.gguf")
    size = model.stat().st_size
    ok = CliRunner().invoke(serve_command, [str(model), "--dry-run", "--ctx", "128", "--parallel", "2",
                                            "--memory", "1MiB"])
    assert ok.exit_code == 0, ok.output
    assert "KV cache  64.00 KiB" in ok.output and "ctx 128 × 2 slot(s)" in ok.output and "fits in 1MiB" in ok.output
    tight = CliRunner().invoke(serve_command, [str(model), "--dry-run", "--ctx", "128", "--parallel", "2",
                                               "--memory", str(size + 65535)])
    assert tight.exit_code == 1 and "does NOT fit" in tight.output


@pytest.mark.parametrize("args, message", [
    ([], "give a MODEL.gguf"),
    (["--stop", "nosuch"], "no server named 'nosuch'"),
    (["MODEL", "--dry-run", "--memory", "lots"], "cannot read memory size 'lots'"),
    (["MODEL", "--parallel", "0"], "must be positive"),
    (["NOTGGUF"], "not a readable GGUF"),
])
def test_bad_input_exits_2_naming_the_problem(tmp_path, args, message):
    model = write_gguf(tmp_path / "tiny.gguf")
    (tmp_path / "bad.gguf").write_text("hello")
    args = [{"MODEL": str(model), "NOTGGUF": str(tmp_path / "bad.gguf")}.get(a, a) for a in args]
    result = CliRunner().invoke(serve_command, args)
    assert result.exit_code == 2, result.output
    assert message in result.output


# ---------------------------------------------------------------- real servers (llama-cpp-python + SmolLM2)

@needs_real_server
def test_detach_registers_endpoint_and_stop_leaves_no_process():
    port = free_port()
    started = CliRunner().invoke(serve_command, [str(smoke_gguf()), "--port", str(port), "--name", "smoke",
                                                 "--alias", "smol", "--ctx", "512", "--threads", "1", "--detach"])
    assert started.exit_code == 0, started.output
    record = read_record("smoke")
    try:
        assert f"http://127.0.0.1:{port}/v1" in started.output and "--stop smoke" in started.output
        endpoint = load_config().endpoints["smoke"]
        assert endpoint.base_url == f"http://127.0.0.1:{port}/v1" and endpoint.model == "smol"
        assert endpoint.bpw == pytest.approx(5.85, abs=0.01)  # 98,362,432 B × 8 / 134,515,008 weights
        assert endpoint.params["max_tokens"] == 256  # a quarter of --ctx 512, at least 256: retries still fit
        models = httpx.get(f"{endpoint.base_url}/models", timeout=5).json()
        assert [m["id"] for m in models["data"]] == ["smol"]
        assert group_alive(record["pgid"])
        again = CliRunner().invoke(serve_command, [str(smoke_gguf()), "--port", str(free_port()), "--name", "smoke"])
        assert again.exit_code == 2 and "already runs" in again.output
    finally:
        stopped = CliRunner().invoke(serve_command, ["--stop", "smoke"])
    assert stopped.exit_code == 0, stopped.output
    assert not group_alive(record["pgid"])
    assert "smoke" not in load_config().endpoints and read_record("smoke") is None


@needs_real_server
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_foreground_server_stops_on_signal_without_orphans(sig):
    port = free_port()
    code = "from tfagent.agent.serving.serve import serve_command; serve_command()"
    proc = subprocess.Popen([sys.executable, "-c", code, str(smoke_gguf()), "--port", str(port), "--name", "fg",
                             "--ctx", "512", "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        first_line = proc.stdout.readline()
        assert first_line.startswith(f"fg: http://127.0.0.1:{port}/v1"), first_line
        record = read_record("fg")
        assert record is not None and group_alive(record["pgid"])
        assert "fg" in load_config().endpoints
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "stopping" in proc.stdout.read()
    deadline = time.monotonic() + 5
    while group_alive(record["pgid"]) and time.monotonic() < deadline:
        time.sleep(0.1)  # the server was reparented to init when tfagent exited; let init reap it
    assert not group_alive(record["pgid"])
    assert read_record("fg") is None and "fg" not in load_config().endpoints
    assert _is_free(port)


@needs_real_server
@pytest.mark.slow  # quantizes twice and starts two servers: 15 s idle, ~60 s on a busy 2-core box
def test_quantize_then_serve_the_ladder(tmp_path):
    out = tmp_path / "quants"
    made = CliRunner().invoke(quantize_command, [str(smoke_gguf()), "--types", "Q8_0,Q4_0", "--out", str(out),
                                                 "--threads", "2"])
    assert made.exit_code == 0, made.output
    files = sorted(out.glob("*.gguf"))
    assert [f.name for f in files] == ["SmolLM2-135M-Instruct.Q4_1-Q4_0.gguf", "SmolLM2-135M-Instruct.Q4_1-Q8_0.gguf"]
    assert "already quantized" in made.output and "Q8_0" in made.output
    assert files[1].stat().st_size > files[0].stat().st_size  # 8-bit is bigger than 4-bit
    port = free_port(2)
    ladder = CliRunner().invoke(serve_command, ["--ladder", str(out), "--port", str(port), "--ctx", "256",
                                                "--threads", "1", "--detach"])
    try:
        assert ladder.exit_code == 0, ladder.output
        endpoints = load_config().endpoints
        q4, q8 = endpoints[files[0].stem], endpoints[files[1].stem]
        assert (q4.base_url, q8.base_url) == (f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port + 1}/v1")
        assert q4.bpw < q8.bpw
        for ep in (q4, q8):
            assert httpx.get(f"{ep.base_url}/models", timeout=5).status_code == 200
    finally:
        stopped = CliRunner().invoke(serve_command, ["--stop", "all"])
    assert stopped.exit_code == 0, stopped.output
    assert not list(servers_dir().glob("*.json")) and load_config().endpoints == {}


def test_quantize_unknown_type_is_rejected(tmp_path):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install 'tfagent[local]')")
    model = write_gguf(tmp_path / "tiny.gguf")
    result = CliRunner().invoke(quantize_command, [str(model), "--types", "Q9_X", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown quantization type 'Q9_X'" in result.output
