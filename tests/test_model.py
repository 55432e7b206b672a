"""ModelClient against real HTTP servers: the ScriptedServer, a bare stdlib server, a dead port."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tfagent.agent.model.client import ModelClient, ModelError, ServerUnreachable
from tfagent.agent.model.sse import StreamCollector as _StreamCollector
from tfagent.agent.fake.server import ScriptedReply, ScriptedServer
from tfagent.agent.core.types import Endpoint

USER = [{"role": "system", "content": "You write Terraform."}, {"role": "user", "content": "a private S3 bucket"}]


def client_for(server: ScriptedServer, model: str = "glm", **kw) -> ModelClient:
    kw.setdefault("backoff_seconds", 0.01)  # keep retry tests fast; the policy is the same
    params = kw.pop("params", {})
    return ModelClient(Endpoint("test", server.base_url, model, params=params, api_key=kw.pop("api_key", None)), **kw)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_streamed_reply_with_reasoning_usage_and_timing(scripted_server):
    scripted_server.enqueue('resource "aws_s3_bucket" "b" {}', reasoning="The user wants a bucket.")
    progress = []
    with client_for(scripted_server) as client:
        completion = client.complete(USER, on_progress=lambda tokens, elapsed: progress.append((tokens, elapsed)))
    assert completion.text == 'resource "aws_s3_bucket" "b" {}'
    assert completion.reasoning == "The user wants a bucket."
    assert completion.finish_reason == "stop"
    assert completion.usage.completion_tokens == 8 + 6  # 32 chars + 24 chars of reasoning, 4 per chunk
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.cached_tokens == 0
    assert completion.transport_retries == 0
    assert 0 < completion.ttft <= completion.seconds
    assert [t for t, _ in progress] == list(range(1, 15))
    assert all(a[1] <= b[1] for a, b in zip(progress, progress[1:]))
    request = scripted_server.requests[-1]
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert request["model"] == "glm" and request["messages"] == USER


def test_endpoint_params_and_call_params_reach_the_server(scripted_server):
    params = {"temperature": 0.2, "top_p": 0.9, "seed": 7, "max_tokens": 512,
              "chat_template_kwargs": {"enable_thinking": False}, "top_k": 20}
    scripted_server.enqueue("ok")
    with client_for(scripted_server, params=params) as client:
        client.complete(USER, params={"temperature": 0.0})
    body = scripted_server.requests[-1]
    assert body["temperature"] == 0.0  # the call's params win over the endpoint's
    assert (body["top_p"], body["seed"], body["max_tokens"]) == (0.9, 7, 512)
    assert body["chat_template_kwargs"] == {"enable_thinking": False}  # extra_body, not an OpenAI field
    assert body["top_k"] == 20


def test_retry_extends_the_conversation_and_reuses_the_prefix_cache(scripted_server):
    scripted_server.enqueue("first try")
    scripted_server.enqueue("second try")
    with client_for(scripted_server) as client:
        first = client.complete(USER)
        second = client.complete(USER + [{"role": "assistant", "content": "first try"}, {"role": "user", "content": "fix"}])
    assert first.usage.cached_tokens == 0
    assert second.usage.cached_tokens >= first.usage.prompt_tokens - 2
    assert second.usage.prompt_tokens > first.usage.prompt_tokens


def test_cutoff_reply_keeps_finish_reason_length(scripted_server):
    scripted_server.enqueue("resource {", finish_reason="length")
    with client_for(scripted_server) as client:
        completion = client.complete(USER)
    assert (completion.text, completion.finish_reason) == ("resource {", "length")


def test_without_usage_the_streamed_chunks_are_counted_and_the_prompt_via_tokenize(scripted_server):
    scripted_server.enqueue("abcdefghij", send_usage=False, chunk_size=2)
    with client_for(scripted_server) as client:
        completion = client.complete(USER)
    assert completion.usage.completion_tokens == 5
    # The scripted server plays llama.cpp's POST /tokenize: ≈ chars/4 of the messages' text.
    text = "\n".join(m["content"] for m in USER)
    assert (completion.usage.prompt_tokens, completion.usage.prompt_source) == ((len(text) + 3) // 4, "tokenize")
    assert completion.usage.cached_tokens is None
    assert completion.usage.to_dict()["prompt_tokens"] == (len(text) + 3) // 4


@pytest.mark.parametrize("style, source", [("llama-cpp-python", "tokenize"), (None, "not reported")])
def test_prompt_count_falls_back_to_extras_tokenize_then_says_not_reported(style, source):
    from tfagent.agent.cli.render import prompt_tokens_text

    with ScriptedServer(tokenize=style) as server:
        server.enqueue("abcdefgh", send_usage=False)
        with client_for(server) as client:
            usage = client.complete(USER).usage
    assert usage.prompt_source == source
    if source == "not reported":
        assert usage.to_dict()["prompt_tokens"] is None and prompt_tokens_text(usage) == "not reported"
    else:
        assert usage.prompt_tokens > 0 and prompt_tokens_text(usage) == f"~{usage.prompt_tokens}"
    with ScriptedServer(tokenize=style) as server:  # a server that reports usage is never re-counted
        server.enqueue("abcdefgh")
        with client_for(server) as client:
            assert client.complete(USER).usage.prompt_source == "server"


def test_llama_cpp_timings_supply_cached_tokens_when_usage_has_no_details():
    # The last two chunks of a llama-server stream (shape as it sends them; numbers illustrative).
    collector = _StreamCollector(time.perf_counter(), None)
    collector.add({"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": None}]})
    collector.add({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "timings": {"cache_n": 236, "prompt_n": 12, "predicted_n": 1},
                   "usage": {"prompt_tokens": 248, "completion_tokens": 1, "total_tokens": 249}})
    completion = collector.completion()
    assert (completion.text, completion.finish_reason) == ("ok", "stop")
    assert (completion.usage.prompt_tokens, completion.usage.cached_tokens) == (248, 236)
    assert completion.usage.timings == {"cache_n": 236, "prompt_n": 12, "predicted_n": 1}
    assert completion.usage.draft_acceptance is None


def test_reasoning_field_of_newer_vllm_is_captured():
    collector = _StreamCollector(time.perf_counter(), None)
    collector.add({"choices": [{"index": 0, "delta": {"reasoning": "hmm"}, "finish_reason": None}]})
    collector.add({"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]})
    assert collector.completion().reasoning == "hmm"


@pytest.mark.parametrize("kind", ["refuse", "reset", "cut", "429", "500", "503"])
def test_each_transport_fault_is_retried_then_succeeds(scripted_server, kind):
    scripted_server.enqueue_fault(kind)
    scripted_server.enqueue("recovered")
    with client_for(scripted_server) as client:
        completion = client.complete(USER)
    assert completion.text == "recovered"
    assert completion.finish_reason == "stop"
    assert completion.transport_retries == 1
    assert len(scripted_server.requests) == 2


def test_a_delay_longer_than_the_request_timeout_is_retried(scripted_server):
    scripted_server.enqueue_fault("delay", seconds=1.0)
    scripted_server.enqueue("too late: served to the request that timed out")
    scripted_server.enqueue("in time")
    with client_for(scripted_server, request_timeout=0.3) as client:
        completion = client.complete(USER)
    assert completion.text == "in time"
    assert completion.transport_retries == 1


def test_several_faults_in_a_row_are_all_counted(scripted_server):
    for kind in ("refuse", "503", "cut"):
        scripted_server.enqueue_fault(kind)
    scripted_server.enqueue("finally")
    with client_for(scripted_server) as client:
        completion = client.complete(USER)
    assert (completion.text, completion.transport_retries) == ("finally", 3)


def test_retry_after_is_honoured(scripted_server):
    scripted_server.enqueue_fault("429", seconds=1)
    scripted_server.enqueue("ok")
    with client_for(scripted_server) as client:
        completion = client.complete(USER)
    assert completion.transport_retries == 1
    assert completion.seconds >= 1.0


def test_retries_are_bounded_in_count(scripted_server):
    for _ in range(10):
        scripted_server.enqueue_fault("500")
    with client_for(scripted_server, max_transport_retries=3) as client, pytest.raises(ModelError) as caught:
        client.complete(USER)
    assert len(scripted_server.requests) == 4
    assert caught.value.status == 500
    assert "gave up after 3 retries" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_retries_are_bounded_in_time(scripted_server):
    scripted_server.responder = lambda body: ScriptedReply(fault="503")
    start = time.perf_counter()
    with client_for(scripted_server, max_transport_retries=100, max_retry_seconds=0.5, backoff_seconds=0.1) as client:
        with pytest.raises(ModelError, match="HTTP 503"):
            client.complete(USER)
    assert time.perf_counter() - start < 3.0
    assert 2 <= len(scripted_server.requests) < 20


def test_connection_faults_that_never_stop_raise_server_unreachable(scripted_server):
    for _ in range(4):
        scripted_server.enqueue_fault("reset")
    with client_for(scripted_server, max_transport_retries=3) as client, pytest.raises(ServerUnreachable) as caught:
        client.complete(USER)
    assert caught.value.url == scripted_server.base_url
    assert "gave up after 3 retries" in caught.value.reason


def test_a_stream_cut_on_every_try_is_reported_as_cut(scripted_server):
    scripted_server.responder = lambda body: ScriptedReply("partial", fault="cut")
    with client_for(scripted_server, max_transport_retries=1) as client, pytest.raises(ServerUnreachable) as caught:
        client.complete(USER)
    assert "without a finish_reason" in str(caught.value)


def test_model_not_found_is_not_retried(scripted_server):
    scripted_server.enqueue_fault("404")
    scripted_server.enqueue("never used")
    with client_for(scripted_server, model="glm-4.5-air-q1") as client, pytest.raises(ModelError) as caught:
        client.complete(USER)
    assert caught.value.status == 404
    assert str(caught.value) == (f"model server {scripted_server.base_url} answered HTTP 404 for model "
                                 "'glm-4.5-air-q1': model not found (scripted fault)")
    assert len(scripted_server.requests) == 1


def test_a_rejected_key_is_named_without_leaking_it(scripted_server):
    scripted_server.enqueue_fault("401")
    with client_for(scripted_server, api_key="sk-very-secret-123") as client, pytest.raises(ModelError) as caught:
        client.complete(USER)
    assert "rejected the API key (HTTP 401)" in str(caught.value)
    assert "sk-very-secret-123" not in str(caught.value)


def test_unreachable_port_fails_fast_with_a_one_line_error():
    url = f"http://127.0.0.1:{free_port()}/v1"
    client = ModelClient(Endpoint("dead", url, "m"), max_transport_retries=2, backoff_seconds=0.01)
    with client, pytest.raises(ServerUnreachable) as caught:
        client.complete(USER)
    assert str(caught.value).startswith(f"model server {url} is unreachable: connection refused; gave up after 2 retries")


def test_wait_ready_waits_for_a_loading_server():
    with ScriptedServer(loading_seconds=1.5) as server, client_for(server) as client:
        start = time.perf_counter()
        client.wait_ready(timeout=10.0)
        waited = time.perf_counter() - start
    assert 1.2 <= waited < 5.0


def test_wait_ready_gives_up_on_a_loading_server_and_says_so():
    with ScriptedServer(loading_seconds=30) as server, client_for(server) as client:
        with pytest.raises(ServerUnreachable, match=r"still loading \(Loading model\) \(waited 0.5 s\)"):
            client.wait_ready(timeout=0.5)


def test_wait_ready_on_an_unreachable_port_raises_within_the_timeout():
    url = f"http://127.0.0.1:{free_port()}/v1"
    start = time.perf_counter()
    with ModelClient(Endpoint("dead", url, "m")) as client, pytest.raises(ServerUnreachable) as caught:
        client.wait_ready(timeout=1.0)
    assert time.perf_counter() - start < 2.0
    assert str(caught.value) == f"model server {url} is unreachable: connection refused (waited 1.0 s)"
    assert (caught.value.url, caught.value.reason) == (url, "connection refused")


class _ModelsOnly(BaseHTTPRequestHandler):
    """A server without /health (like llama-cpp-python's): only /v1/models, behind an API key; its
    chat endpoint streams whatever SSE body the test put in ``STREAM_BODY``."""

    STREAM_BODY = b""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(self.STREAM_BODY)))
        self.end_headers()
        self.wfile.write(self.STREAM_BODY)

    def do_GET(self) -> None:  # noqa: N802
        authorized = self.headers.get("Authorization") == "Bearer good-key"
        if self.path == "/v1/models" and authorized:
            status, body = 200, {"object": "list", "data": [{"id": "only-model", "object": "model"}]}
        elif self.path == "/v1/models":
            status, body = 401, {"error": {"message": "invalid api key"}}
        else:
            status, body = 404, {"detail": "Not Found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 - keep test output clean
        return


@pytest.fixture
def models_only_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ModelsOnly)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_wait_ready_falls_back_to_models_when_there_is_no_health(models_only_server):
    with ModelClient(Endpoint("x", models_only_server, "only-model", api_key="good-key")) as client:
        client.wait_ready(timeout=2.0)
        assert client.list_models() == ["only-model"]


def test_wait_ready_reports_a_rejected_key_at_once(models_only_server):
    start = time.perf_counter()
    with ModelClient(Endpoint("x", models_only_server, "m", api_key="bad-key")) as client:
        with pytest.raises(ModelError, match=r"rejected the API key \(HTTP 401\): invalid api key"):
            client.wait_ready(timeout=5.0)
    assert time.perf_counter() - start < 2.0


def test_per_model_queues_serve_several_endpoints_on_one_server(scripted_server):
    scripted_server.enqueue("from q1", model="q1")
    scripted_server.enqueue("from q2", model="q2")
    with client_for(scripted_server, model="q2") as q2, client_for(scripted_server, model="q1") as q1:
        assert q2.complete(USER).text == "from q2"
        assert q1.complete(USER).text == "from q1"
    assert [r["model"] for r in scripted_server.requests] == ["q2", "q1"]
    assert [r["model"] for r in scripted_server.chat_requests(model="q1")] == ["q1"]


def test_responder_scripts_replies_per_request(scripted_server):
    scripted_server.responder = lambda body: f"answer to: {body['messages'][-1]['content']}"
    with client_for(scripted_server) as client:
        assert client.complete(USER).text == "answer to: a private S3 bucket"
        assert client.list_models() == ["scripted"]


def test_bad_endpoint_and_messages_are_rejected_clearly(scripted_server):
    with pytest.raises(ValueError, match=r"endpoint 'x': base_url must start with http"):
        ModelClient(Endpoint("x", "127.0.0.1:8080/v1", "m"))
    with client_for(scripted_server) as client, pytest.raises(ValueError, match="at least one message"):
        client.complete([])


def test_per_request_overhead_is_small(scripted_server):
    reply = "x" * 3000  # 750 streamed chunks, a long Terraform reply
    with client_for(scripted_server) as client:
        scripted_server.enqueue("warm up")
        client.complete(USER)
        timings = []
        for _ in range(5):
            scripted_server.enqueue(reply)
            start = time.perf_counter()
            assert len(client.complete(USER).text) == 3000
            timings.append(time.perf_counter() - start)
    # Measured ~10 ms here (client parsing + the fake's own serialisation); loose for a shared 2-core box.
    assert sorted(timings)[2] < 0.1


def test_an_error_sent_inside_the_stream_is_a_model_error(models_only_server, monkeypatch):
    error = {"error": {"message": "the request exceeds the available context size", "type": "exceed_context_size_error"}}
    monkeypatch.setattr(_ModelsOnly, "STREAM_BODY", f"data: {json.dumps(error)}\n\n".encode())
    with ModelClient(Endpoint("x", models_only_server, "m"), backoff_seconds=0.01) as client:
        with pytest.raises(ModelError, match="reported an error mid-reply: the request exceeds the available context"):
            client.complete(USER)


def test_a_chunk_that_is_not_json_is_a_model_error(models_only_server, monkeypatch):
    monkeypatch.setattr(_ModelsOnly, "STREAM_BODY", b"data: <html>bad gateway</html>\n\n")
    with ModelClient(Endpoint("x", models_only_server, "m"), backoff_seconds=0.01) as client:
        with pytest.raises(ModelError, match="streamed a chunk that is not a JSON object: '<html>"):
            client.complete(USER)


def test_multi_line_sse_data_and_comments_are_handled(models_only_server, monkeypatch):
    chunk = {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}
    text = json.dumps(chunk, indent=1)  # SSE allows one event's data over several "data:" lines
    body = ": keep-alive comment\n\n" + "".join(f"data: {line}\n" for line in text.splitlines()) + "\ndata: [DONE]\n\n"
    monkeypatch.setattr(_ModelsOnly, "STREAM_BODY", body.encode())
    with ModelClient(Endpoint("x", models_only_server, "m")) as client:
        completion = client.complete(USER)
    assert (completion.text, completion.finish_reason, completion.usage.completion_tokens) == ("hi", "stop", 1)
