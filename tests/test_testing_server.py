"""The ScriptedServer on the wire: real HTTP requests (httpx, the openai client, a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest

from tfagent.agent.fake.server import NO_REPLY_MESSAGE, ScriptedReply, ScriptedServer
from tfagent.agent.fake.cli import load_reply_file

USER = [{"role": "user", "content": "a private S3 bucket"}]
HTTP = httpx.Client(timeout=10)  # one pool for the module: a new client per call costs ~50 ms (TLS setup)


@pytest.fixture(scope="module", autouse=True)
def _close_http_pool():
    yield
    HTTP.close()


def chat(server: ScriptedServer, *, stream: bool = True, messages=USER, model: str = "m", include_usage: bool = True, **kw):
    body = {"model": model, "messages": messages, "stream": stream, **kw}
    if stream and include_usage:
        body["stream_options"] = {"include_usage": True}
    return HTTP.post(f"{server.base_url}/chat/completions", json=body)


def events(response: httpx.Response) -> list:
    """The SSE data payloads, parsed (the final "[DONE]" kept as a string)."""
    out = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def content_of(sse: list) -> str:
    return "".join(e["choices"][0]["delta"].get("content", "") for e in sse if isinstance(e, dict) and e["choices"])


def test_stream_sends_role_reasoning_content_finish_usage_and_done(scripted_server):
    scripted_server.enqueue("resource {}", reasoning="think", chunk_size=4)
    response = chat(scripted_server)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    sse = events(response)
    assert sse[0]["choices"][0]["delta"] == {"role": "assistant"}
    deltas = [e["choices"][0]["delta"] for e in sse[1:-3]]
    assert deltas == [{"reasoning_content": "thin"}, {"reasoning_content": "k"},
                      {"content": "reso"}, {"content": "urce"}, {"content": " {}"}]
    finish = sse[-3]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["timings"]["predicted_n"] == 5
    usage_chunk = sse[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 5
    assert usage_chunk["usage"]["prompt_tokens"] > 0
    assert usage_chunk["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    assert sse[-1] == "[DONE]"


def test_stream_without_include_usage_has_no_usage_chunk(scripted_server):
    scripted_server.enqueue("abc")
    sse = events(chat(scripted_server, include_usage=False))
    assert not any(isinstance(e, dict) and "usage" in e for e in sse)
    assert sse[-2]["choices"][0]["finish_reason"] == "stop"


def test_send_usage_false_omits_usage_and_timings(scripted_server):
    scripted_server.enqueue("abc", send_usage=False)
    sse = events(chat(scripted_server))
    assert all("usage" not in e and "timings" not in e for e in sse if isinstance(e, dict))


def test_non_streaming_reply_parses_with_the_openai_client(scripted_server):
    scripted_server.enqueue("the answer", reasoning="because", finish_reason="length")
    client = openai.OpenAI(base_url=scripted_server.base_url, api_key="x", max_retries=0)
    reply = client.chat.completions.create(model="m", messages=USER)
    client.close()
    choice = reply.choices[0]
    assert choice.message.content == "the answer"
    assert choice.message.model_extra["reasoning_content"] == "because"
    assert choice.finish_reason == "length"
    assert reply.usage.completion_tokens == 5  # "because" = 2 pieces of 4 chars, "the answer" = 3
    assert reply.model_extra["timings"]["predicted_n"] == 5


def test_cached_tokens_are_the_prefix_shared_with_the_previous_prompt(scripted_server):
    first = [{"role": "system", "content": "S" * 400}, {"role": "user", "content": "U" * 200}]
    second = first + [{"role": "assistant", "content": "A" * 100}, {"role": "user", "content": "fix it"}]
    changed = [{"role": "system", "content": "X" + "S" * 399}] + second[1:]
    for _ in range(3):
        scripted_server.enqueue("ok")
    usages = [events(chat(scripted_server, messages=m))[-2]["usage"] for m in (first, second, changed)]
    assert usages[0]["prompt_tokens_details"]["cached_tokens"] == 0
    # The whole first prompt (≈ 620 chars) is reused by the extended conversation…
    assert 150 <= usages[1]["prompt_tokens_details"]["cached_tokens"] <= usages[0]["prompt_tokens"]
    assert usages[1]["prompt_tokens"] > usages[0]["prompt_tokens"]
    # …and nothing is when the first line changes (why the system prompt must never change).
    assert usages[2]["prompt_tokens_details"]["cached_tokens"] <= 3


def test_usage_overrides(scripted_server):
    scripted_server.enqueue("x", usage={"prompt_tokens": 1000, "completion_tokens": 7, "cached_tokens": 900})
    usage = events(chat(scripted_server))[-2]["usage"]
    assert usage == {"prompt_tokens": 1000, "completion_tokens": 7, "total_tokens": 1007,
                     "prompt_tokens_details": {"cached_tokens": 900}}


def test_empty_queue_answers_500_with_a_clear_message(scripted_server):
    response = chat(scripted_server)
    assert response.status_code == 500
    assert response.json()["error"]["message"] == NO_REPLY_MESSAGE


def test_per_model_queues_fall_back_to_the_default_queue(scripted_server):
    scripted_server.enqueue("for a", model="a")
    scripted_server.enqueue("for b", model="b")
    scripted_server.enqueue("for anyone")
    assert content_of(events(chat(scripted_server, model="b"))) == "for b"
    assert content_of(events(chat(scripted_server, model="a"))) == "for a"
    assert content_of(events(chat(scripted_server, model="a"))) == "for anyone"
    assert [r["model"] for r in scripted_server.chat_requests(model="a")] == ["a", "a"]
    models = HTTP.get(f"{scripted_server.base_url}/models").json()
    assert [m["id"] for m in models["data"]] == ["scripted", "a", "b"]


def test_responder_answers_when_the_queue_is_empty():
    def responder(body):
        last = body["messages"][-1]["content"]
        return ScriptedReply(f"echo {last}", finish_reason="length") if "cut" in last else f"echo {last}"

    with ScriptedServer(responder=responder) as server:
        server.enqueue("queued first")
        contents = []
        for text in ("one", "two", "cut me"):
            sse = events(chat(server, messages=[{"role": "user", "content": text}], include_usage=False))
            contents.append((content_of(sse), sse[-2]["choices"][0]["finish_reason"]))
    assert contents == [("queued first", "stop"), ("echo two", "stop"), ("echo cut me", "length")]


def test_a_failing_responder_is_reported_as_500_and_the_server_keeps_serving():
    def responder(body):
        raise KeyError("no task named 'x'")

    with ScriptedServer(responder=responder) as server:
        response = chat(server)
        assert response.status_code == 500
        assert "responder failed: KeyError" in response.json()["error"]["message"]
        server.responder = lambda body: "fine"
        assert chat(server).status_code == 200


def test_health_is_503_while_loading_then_200():
    with ScriptedServer(loading_seconds=0.6) as server:
        health = HTTP.get(f"{server.url}/health")
        assert health.status_code == 503
        assert health.json() == {"error": {"message": "Loading model", "type": "unavailable_error"}}
        assert chat(server).status_code == 503  # like llama-server: no completions while loading
        time.sleep(0.7)
        assert HTTP.get(f"{server.url}/health").json() == {"status": "ok"}


def test_refuse_closes_the_socket_without_a_response(scripted_server):
    scripted_server.enqueue_fault("refuse")
    with pytest.raises(httpx.RemoteProtocolError):
        chat(scripted_server)
    assert len(scripted_server.requests) == 1


def test_reset_aborts_the_connection_mid_stream(scripted_server):
    scripted_server.enqueue_fault("reset")
    with httpx.Client() as client, pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        with client.stream("POST", f"{scripted_server.base_url}/chat/completions",
                           json={"model": "m", "messages": USER, "stream": True}) as response:
            assert response.status_code == 200
            for _ in response.iter_lines():
                pass


def test_cut_ends_the_stream_without_finish_reason_or_done(scripted_server):
    scripted_server.enqueue_fault("cut")
    sse = events(chat(scripted_server))
    assert len(sse) >= 2
    assert "[DONE]" not in sse
    assert all(e["choices"][0]["finish_reason"] is None for e in sse)


@pytest.mark.parametrize("kind", ["400", "401", "404", "429", "500", "503"])
def test_status_faults(scripted_server, kind):
    scripted_server.enqueue_fault(kind, seconds=3)
    response = chat(scripted_server)
    assert response.status_code == int(kind)
    assert "scripted fault" in response.json()["error"]["message"]
    assert response.headers.get("retry-after") == ("3" if kind == "429" else None)


def test_delay_is_served_with_the_next_reply(scripted_server):
    scripted_server.enqueue_fault("delay", seconds=0.4)
    scripted_server.enqueue("slow")
    start = time.perf_counter()
    response = chat(scripted_server, stream=False)
    assert time.perf_counter() - start >= 0.4
    assert response.json()["choices"][0]["message"]["content"] == "slow"
    assert scripted_server.pending() == 0


def test_unknown_fault_kinds_and_bad_bodies_are_rejected(scripted_server):
    with pytest.raises(ValueError, match="unknown fault kind 'boom'"):
        scripted_server.enqueue_fault("boom")
    response = HTTP.post(f"{scripted_server.base_url}/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]["message"]
    response = HTTP.post(f"{scripted_server.base_url}/chat/completions", json={"model": "m"})
    assert "'messages' list" in response.json()["error"]["message"]


def test_requests_are_recorded_in_order_from_concurrent_clients(scripted_server):
    scripted_server.responder = lambda body: "ok"
    threads = [threading.Thread(target=chat, args=(scripted_server,), kwargs={"model": f"m{i}"}) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["model"] for r in scripted_server.requests) == [f"m{i}" for i in range(8)]
    assert scripted_server.chat_requests(model="m3")[0]["messages"] == USER


def test_capacity_is_a_total_throughput_shared_by_all_streams():
    reply = ScriptedReply("x" * 50, chunk_size=1)  # 50 tokens
    with ScriptedServer(capacity_tokens_per_second=400, responder=lambda body: reply) as server:
        start = time.perf_counter()
        threads = [threading.Thread(target=chat, args=(server,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    # 4 streams × 50 tokens = 200 tokens at 400 tok/s (total, not per stream) ≈ 0.5 s.
    # Loose upper bound: the machine is shared.
    assert 0.45 <= wall <= 2.0


def test_stop_closes_kept_alive_connections():
    server = ScriptedServer().start()
    server.enqueue("one")
    with httpx.Client() as client:
        assert client.post(f"{server.base_url}/chat/completions", json={"model": "m", "messages": USER}).status_code == 200
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.post(f"{server.base_url}/chat/completions", json={"model": "m", "messages": USER})


def test_reply_file_loading_and_errors(tmp_path):
    path = tmp_path / "replies.json"
    path.write_text(json.dumps(["plain", {"content": "for b", "model": "b", "finish_reason": "length"}, {"fault": "503"}]))
    items = load_reply_file(path)
    assert [(m, r.content, r.finish_reason, r.fault) for m, r in items] == [
        (None, "plain", "stop", None), ("b", "for b", "length", None), (None, "", "stop", "503")]
    path.write_text(json.dumps(["ok", {"contnet": "typo"}]))
    with pytest.raises(ValueError, match=r"item 2 must be a string or an object"):
        load_reply_file(path)
    path.write_text(json.dumps([{"fault": "nope"}]))
    with pytest.raises(ValueError, match=r"item 1: unknown fault kind 'nope'"):
        load_reply_file(path)


def test_command_line_serves_a_reply_file(tmp_path):
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(["hello from the file"]))
    command = [sys.executable, "-m", "tfagent.agent.fake.cli", "--reply-file", str(replies)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            base_url = proc.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            response = HTTP.post(f"{base_url}/chat/completions", json={"model": "m", "messages": USER})
            assert response.json()["choices"][0]["message"]["content"] == "hello from the file"
        finally:
            proc.terminate()
            _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr


def test_command_line_rejects_a_bad_reply_file(tmp_path):
    replies = tmp_path / "replies.json"
    replies.write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "tfagent.agent.fake.cli", "--reply-file", str(replies)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert f"reply file {replies}: must hold a JSON list" in proc.stderr
