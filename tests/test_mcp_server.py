"""`tfagent mcp` driven by the official MCP SDK's own client over stdio (a real subprocess).

Roots come from the client's ``list_roots_callback``; hostile paths (``..``, absolute paths, a symlink
leading out) are refused and nothing is written outside the roots; the model is the scripted
OpenAI-compatible server (a real HTTP server on 127.0.0.1), or a port nobody listens on.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.types import ListRootsResult, Root

from tfagent.agent.fake.server import ScriptedServer

from conftest import OLD_STRATEGY_TOML

GOOD = '```hcl title="main.tf"\nresource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n```\n'
BROKEN = '```hcl title="main.tf"\nresource "aws_s3_bucket" "logs" {\n  bucket = \n}\n```\n'


def server_params(*extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "tfagent.agent.cli", "mcp", *extra], env=dict(os.environ))


def call(root: Path, name: str, arguments: dict, *, progress=None, extra: tuple[str, ...] = ()):
    async def roots(context) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=root.resolve().as_uri(), name="workspace")])

    async def main():
        with anyio.fail_after(120):
            async with Client(server_params(*extra), list_roots_callback=roots) as client:
                return await client.call_tool(name, arguments, progress_callback=progress)

    return anyio.run(main)


def text(result) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


@pytest.fixture
def workspace(tmp_path) -> Path:
    # The MCP tool takes its loop strategy from the configuration: the one before issue 19 (one request per
    # attempt, no cards, raw feedback), so these tests count attempts and progress as they are about.
    from tfagent.agent.core.config import user_config_path

    config = user_config_path()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[defaults]\n" + OLD_STRATEGY_TOML, encoding="utf-8")
    root = tmp_path / "workspace"
    (root / "infra").mkdir(parents=True)
    (root / "infra" / "main.tf").write_text('resource "aws_s3_bucket" "x" {\n  bucket = \n}\n')
    return root


def test_list_verifiers_and_verify_a_folder_inside_the_roots(workspace):
    listed = call(workspace, "list_verifiers", {})
    names = {v["name"]: v for v in listed.structured_content["verifiers"]}
    assert {"hcl", "fmt", "validate", "plan", "rego"} <= set(names) and names["hcl"]["available"]
    result = call(workspace, "verify", {"path": "infra", "verify": "hcl"})
    assert not result.is_error, text(result)
    doc = result.structured_content
    assert doc["ok"] is False and doc["stages"][0]["verifier"] == "hcl"
    diag = doc["stages"][0]["diagnostics"][0]
    assert diag["file"] == "main.tf" and diag["line"] >= 2 and diag["category"] == "syntax"
    given = call(workspace, "verify", {"files": {"main.tf": 'resource "aws_s3_bucket" "y" {\n  bucket = "y"\n}\n'}, "verify": "hcl"})
    assert given.structured_content["ok"] is True


def test_hostile_paths_are_refused(workspace, tmp_path):
    secret = tmp_path / "outside" / "secret.tf"
    secret.parent.mkdir()
    secret.write_text('variable "password" { default = "hunter2" }\n')
    (workspace / "leak").mkdir()
    (workspace / "leak" / "main.tf").symlink_to(secret)
    for path in ("../outside", str(secret.parent), "infra/../../outside", "leak"):
        result = call(workspace, "verify", {"path": path, "verify": "hcl"})
        assert result.is_error, path
        assert "outside the granted roots" in text(result) and "hunter2" not in text(result)
    # A write target outside the roots is refused before any model call (none is reachable here).
    out = call(workspace, "generate_terraform", {"prompt": "a bucket", "base_url": "http://127.0.0.1:9/v1",
                                                 "model": "m", "out": "../escaped"})
    assert out.is_error and "outside the granted roots" in text(out)
    assert not (tmp_path / "escaped").exists()


def test_hostile_file_names_from_the_client_or_the_model_write_nothing_outside(workspace, tmp_path):
    def everything() -> set[Path]:
        return set(tmp_path.rglob("*"))

    before = everything()
    given = call(workspace, "verify", {"files": {"../escape.tf": 'variable "x" {}\n'}, "verify": "hcl"})
    assert given.is_error and "refusing to write '../escape.tf'" in text(given)
    with ScriptedServer() as srv:
        for _ in range(2):  # the model names a file outside the output folder on every attempt
            srv.enqueue('```hcl title="../../outside.tf"\nresource "aws_s3_bucket" "a" {\n  bucket = "a"\n}\n```\n')
        result = call(workspace, "generate_terraform", {"prompt": "a bucket", "base_url": srv.base_url, "model": "m",
                                                        "verify": "hcl", "max_attempts": 2, "out": "generated"})
    doc = result.structured_content
    assert not result.is_error and doc["verdict"] == "not verified" and doc["written"] == [] and doc["files"] == {}
    assert [d["category"] for a in doc["attempts"] for d in a["reply_diagnostics"]] == ["unsafe_path", "unsafe_path"]
    # Nothing new anywhere under the test's folder: not beside the roots, not in tfagent's own state
    # (XDG_STATE_HOME points here: the server records no run), not even the output folder.
    assert everything() == before, sorted(map(str, everything() - before))


def test_generate_terraform_retries_reports_progress_and_writes_inside_the_roots(workspace):
    with ScriptedServer() as srv:
        srv.enqueue(BROKEN)
        srv.enqueue(GOOD)
        progress: list[tuple[float, float | None, str | None]] = []

        async def on_progress(value, total, message):
            progress.append((value, total, message))

        result = call(workspace, "generate_terraform",
                      {"prompt": "a private S3 bucket", "base_url": srv.base_url, "model": "scripted",
                       "verify": "hcl", "max_attempts": 3, "out": "generated"}, progress=on_progress)
    assert not result.is_error, text(result)
    doc = result.structured_content
    assert doc["verdict"] == "verified" and [a["ok"] for a in doc["attempts"]] == [False, True]
    assert doc["attempts"][0]["stages"][0]["diagnostics"][0]["category"] == "syntax"
    assert 'bucket = "logs"' in doc["files"]["main.tf"]
    assert (workspace / "generated" / "main.tf").read_text() == doc["files"]["main.tf"]
    assert [(v, t) for v, t, _ in progress] == [(1.0, 3.0), (2.0, 3.0)]
    assert progress[0][2] == "attempt 1: failed" and progress[1][2] == "attempt 2: verified"


def test_a_model_server_that_cannot_be_reached_is_a_tool_error(workspace):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nobody listens there
    result = call(workspace, "generate_terraform", {"prompt": "a bucket", "base_url": f"http://127.0.0.1:{port}/v1",
                                                    "model": "m", "verify": "hcl", "ready_timeout": 1})
    assert result.is_error and "unreachable" in text(result)


def test_eval_report_refuses_databases_outside_the_roots(workspace, tmp_path):
    outside = tmp_path / "evals.db"
    outside.write_bytes(b"")
    result = call(workspace, "eval_report", {"run_id": "x", "db": str(outside)})
    assert result.is_error and "outside the granted roots" in text(result)
    missing = call(workspace, "eval_report", {"run_id": "x", "db": "nope.db"})
    assert missing.is_error and "no eval database" in text(missing)


def test_eval_report_returns_a_stored_runs_summary(workspace):
    from tfagent.agent.core.config import load_config, user_config_path
    from tfagent.evals.running.runner import EvalPlan, EvalRunner
    from tfagent.evals.running.store import Store
    from tfagent.evals.tasks.suite import load_suite

    suite_path = workspace / "mini.yaml"
    suite_path.write_text(
        "name: mini\ndescription: two buckets\nattribution: test data\n"
        "defaults:\n  mode: terraform\n  verify: [hcl]\n  judge:\n    hcl:\n      resources: [aws_s3_bucket]\n"
        "tasks:\n  - id: t1\n    prompt: Create an S3 bucket for task t1.\n  - id: t2\n    prompt: Create an S3 bucket for task t2.\n",
        encoding="utf-8")
    with ScriptedServer(responder=lambda body: GOOD) as srv:
        config = user_config_path()
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f'[endpoints.q4]\nbase_url = "{srv.base_url}"\nmodel = "quant-b"\nbpw = 4.5\n{OLD_STRATEGY_TOML}',
                          encoding="utf-8")
        suite = load_suite(suite_path)
        plan = EvalPlan(suite=suite, tasks=suite.tasks, endpoints=[load_config().endpoints["q4"]], samples=1,
                        max_attempts=2, concurrency=2, reference=None)
        with Store(workspace / "evals.db") as store:
            run_id = EvalRunner(plan, store).run().run_id
    result = call(workspace, "eval_report", {"run_id": run_id, "db": "evals.db"})
    assert not result.is_error, text(result)
    doc = result.structured_content
    assert doc["meta"]["run_id"] == run_id and doc["meta"]["complete"] == doc["meta"]["cells"] == 2
    (endpoint,) = doc["summary"]["endpoints"]
    assert [e["passed"] for e in endpoint["pass_at_k"]] == [2, 2]


def test_streamable_http_on_loopback(workspace):
    import subprocess
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tfagent.agent.cli", "mcp", "--http", "--port", str(port),
                             "--root", str(workspace)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)

        async def main():
            with anyio.fail_after(60):
                async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                    tools = {t.name for t in (await client.list_tools()).tools}
                    verified = await client.call_tool("verify", {"path": "infra", "verify": "hcl"})
                    escaped = await client.call_tool("verify", {"path": "/etc", "verify": "hcl"})
                    return tools, verified, escaped

        tools, verified, escaped = anyio.run(main)
        if shutil.which("ss"):  # the one listening socket of the server: loopback
            listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
            mine = [line.split()[3] for line in listening.splitlines() if f"pid={proc.pid}," in line]
            assert mine == [f"127.0.0.1:{port}"], mine
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert tools == {"generate_terraform", "verify", "list_verifiers", "eval_report", "terraform_schema"}
    # No roots capability over this client: the server's --root is what is granted.
    assert not verified.is_error and verified.structured_content["ok"] is False
    assert escaped.is_error and "outside the granted roots" in text(escaped)


def test_terraform_schema_gives_cards_for_a_sentence_or_named_types(workspace, aws_mirror):
    """hashicorp/terraform-mcp-server#148: per-resource schema instead of markdown docs."""
    extra = ("--provider-mirror", str(aws_mirror))
    result = call(workspace, "terraform_schema", {"sentence": "a DNS record in Route 53"}, extra=extra)
    assert not result.is_error, text(result)
    doc = result.structured_content
    assert {"aws_route53_record", "aws_route53_zone"} <= {t["type"] for t in doc["types"]}
    assert "zone_id = aws_route53_zone.example.zone_id" in doc["cards"]
    named = call(workspace, "terraform_schema", {"types": ["aws_vpc", "aws_iam_policy_document", "aws_route_53_zone"]},
                 extra=extra).structured_content
    assert [t["type"] for t in named["types"]] == ["aws_vpc", "aws_iam_policy_document"]
    assert 'data "aws_iam_policy_document" "example" {' in named["cards"]
    assert named["unknown"][0]["type"] == "aws_route_53_zone" and "aws_route53_zone" in named["unknown"][0]["closest"]
    both = call(workspace, "terraform_schema", {"sentence": "x", "types": ["aws_vpc"]}, extra=extra)
    assert both.is_error and "exactly one" in text(both)
