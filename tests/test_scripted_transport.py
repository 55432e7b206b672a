"""The in-process scripted transport: the same protocol as the scripted HTTP server, no socket."""

from __future__ import annotations

import pytest

from tfagent.agent.core.types import Endpoint
from tfagent.agent.loop.graph import run_agent
from tfagent.agent.loop.state import RunRequest
from tfagent.agent.model.client import ModelClient, ModelError, ServerUnreachable
from tfagent.agent.model.pool import ClientPool
from tfagent.agent.fake.transport import ScriptedTransport

from conftest import OLD_STRATEGY  # one request per attempt (the loop before issue 19)

USER = [{"role": "user", "content": "a private S3 bucket"}]
GOOD = '```hcl\n# file: main.tf\nvariable "name" {\n  type = string\n}\n```'
BAD = '```hcl\n# file: main.tf\nvariable "name" {\n```'


def client_over(transport: ScriptedTransport, **kw) -> ModelClient:
    kw.setdefault("backoff_seconds", 0.01)
    return ModelClient(Endpoint("t", transport.base_url, "glm", api_key=kw.pop("api_key", None)), transport=transport, **kw)


def test_streamed_reply_with_reasoning_usage_and_cache_accounting():
    transport = ScriptedTransport()
    transport.enqueue('resource "aws_s3_bucket" "b" {}', reasoning="The user wants a bucket.")
    transport.enqueue("second")
    with client_over(transport) as client:
        first = client.complete(USER)
        second = client.complete(USER)
    assert first.text == 'resource "aws_s3_bucket" "b" {}' and first.reasoning == "The user wants a bucket."
    assert first.finish_reason == "stop" and first.usage.completion_tokens == 8 + 6
    assert first.usage.cached_tokens == 0 and 0 < second.usage.cached_tokens <= second.usage.prompt_tokens
    assert transport.requests[-1]["stream_options"] == {"include_usage": True}
    assert transport.pending() == 0


@pytest.mark.parametrize("kind", ["refuse", "reset", "cut", "429", "500", "503"])
def test_each_transport_fault_is_retried_then_succeeds(kind):
    transport = ScriptedTransport()
    transport.enqueue_fault(kind, seconds=0 if kind == "429" else None)
    transport.enqueue("recovered")
    with client_over(transport) as client:
        completion = client.complete(USER)
    assert completion.text == "recovered" and completion.transport_retries == 1
    assert len(transport.requests) == 2


def test_refusals_exhaust_the_retries_and_name_the_reason():
    transport = ScriptedTransport()
    for _ in range(3):
        transport.enqueue_fault("refuse")
    with client_over(transport, max_transport_retries=2) as client, pytest.raises(ServerUnreachable) as caught:
        client.complete(USER)
    assert "connection refused" in str(caught.value) and "gave up after 2 retries" in str(caught.value)


def test_a_delay_longer_than_the_read_timeout_times_out_then_retries():
    transport = ScriptedTransport()
    transport.enqueue_fault("delay", seconds=1.0)
    transport.enqueue("too late")
    transport.enqueue("in time")
    with client_over(transport, request_timeout=0.2) as client:
        completion = client.complete(USER)
    assert completion.text == "in time" and completion.transport_retries == 1


def test_a_rejected_key_is_a_model_error_at_once():
    transport = ScriptedTransport()
    transport.enqueue_fault("401")
    with client_over(transport) as client, pytest.raises(ModelError) as caught:
        client.complete(USER)
    assert caught.value.status == 401 and len(transport.requests) == 1


def test_loading_server_is_waited_for():
    transport = ScriptedTransport(loading_seconds=0.3)
    with client_over(transport) as client:
        client.wait_ready(timeout=5)
    with client_over(ScriptedTransport(loading_seconds=30)) as client, pytest.raises(ServerUnreachable, match="still loading"):
        client.wait_ready(timeout=0.3)


def test_the_loop_runs_to_a_verdict_in_process_through_a_pool():
    transport = ScriptedTransport()
    transport.enqueue(BAD)
    transport.enqueue(GOOD)
    endpoint = Endpoint("t", transport.base_url, "glm")
    with ClientPool(transport=transport) as pool:
        client = pool.get(endpoint)
        assert pool.get(endpoint) is client  # one client per endpoint for the pool's life
        result = run_agent(RunRequest(prompt="a variable", endpoint=endpoint, chain=["hcl"], max_attempts=3, **OLD_STRATEGY),
                           client=client)
    assert result.ok and len(result.attempts) == 2
    assert "main.tf" in result.files and client._http.is_closed  # closed with the pool
