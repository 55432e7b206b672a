"""What the scripted model answers, independent of how the bytes travel.

``answer()`` turns one request into an ``Answer`` (status, JSON document or SSE events, delay, fault);
the real HTTP server (``server.py``) writes it to a socket and the in-process transport
(``transport.py``) hands it to httpx, so both speak exactly the same protocol.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from tfagent.agent.fake.context import EMPTY_STREAM, model_fields, overflow_answer, props

# ``scripted`` below is a ``server.ScriptedServer`` (it holds the queues; this module only reads
# them). Not imported, so the protocol does not depend on the server that uses it.
ScriptedServer = Any

log = logging.getLogger(__name__)

# "delay" is served together with the reply queued after it; every other fault replaces a reply.
FAULT_KINDS = ("refuse", "reset", "cut", "delay", "400", "401", "403", "404", "429", "500", "503")
_STATUS_TEXT = {400: "bad request", 401: "invalid API key", 403: "forbidden", 404: "model not found",
                429: "too many requests", 500: "internal server error", 503: "service unavailable"}
PARTIAL_TEXT = "this reply is interrupted before it finishes and must never be used as an answer"
NO_REPLY_MESSAGE = "scripted server: no reply queued"
TOKENIZE_STYLES = ("llama.cpp", "llama-cpp-python", None)


@dataclass
class ScriptedReply:
    """One scripted answer (or fault) to one chat request."""

    content: str = ""
    finish_reason: str | None = "stop"
    reasoning: str | None = None  # streamed as reasoning_content deltas before the content
    usage: dict[str, int] | None = None  # overrides prompt_tokens / completion_tokens / cached_tokens
    delay: float = 0.0  # seconds to wait before the response starts
    chunk_size: int = 4  # characters per streamed chunk; each chunk counts as one token
    send_usage: bool = True  # False: no usage, no timings (a server that ignores include_usage)
    fault: str | None = None  # one of FAULT_KINDS
    seconds: float | None = None  # fault parameter: Retry-After for 429, the sleep of "delay"

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.fault!r}; known: {', '.join(FAULT_KINDS)}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {self.chunk_size}")
        if self.fault == "delay" and (self.seconds is None or self.seconds < 0):
            raise ValueError("a 'delay' fault needs seconds >= 0")

    def token_pieces(self) -> tuple[list[str], list[str]]:
        """(reasoning pieces, content pieces): what the stream sends, one token each."""
        size = self.chunk_size
        return ([self.reasoning[i : i + size] for i in range(0, len(self.reasoning or ""), size)],
                [self.content[i : i + size] for i in range(0, len(self.content), size)])


@dataclass
class Answer:
    """One response to play. ``events is None``: a JSON ``document``; else an SSE stream of ``events``
    followed (unless cut short by ``fault``) by ``tail`` and ``[DONE]``."""

    status: int
    document: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] | None = None
    tail: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0
    fault: str | None = None  # "refuse", "reset" or "cut": played by the transport, not in the data


def answer(scripted: ScriptedServer, method: str, path: str, raw_body: bytes) -> Answer:
    """The scripted model's answer to one HTTP request."""
    path = path.split("?", 1)[0].rstrip("/")
    if method == "GET":
        return _answer_get(scripted, path)
    tokenize_route = {"llama.cpp": "/tokenize", "llama-cpp-python": "/extras/tokenize/count"}.get(scripted.tokenize)
    if method == "POST" and path == tokenize_route:
        return _tokenize(scripted.tokenize, raw_body)
    if method != "POST" or path != "/v1/chat/completions":
        return Answer(404, error_document(f"scripted server: no route {method} {path}", "not_found_error"))
    body = _read_json(raw_body, chat=True)
    if isinstance(body, Answer):
        return body
    reply_id = f"chatcmpl-scripted-{scripted.record(body)}"
    if scripted.loading():
        return Answer(503, error_document("Loading model", "unavailable_error"))
    overflow = _overflow(scripted, body)
    if overflow is not None:
        return overflow
    try:
        reply = scripted.next_reply(body)
    except Exception as exc:  # a broken responder is the test's bug: answer it visibly, keep serving
        log.exception("scripted server: responder failed")
        return Answer(500, error_document(f"scripted server: responder failed: {type(exc).__name__}: {exc}", "server_error"))
    if reply is None:
        return Answer(500, error_document(NO_REPLY_MESSAGE, "server_error"))
    return _answer_reply(scripted, reply, body, reply_id)


def _answer_get(scripted: ScriptedServer, path: str) -> Answer:
    if path == "/health" and scripted.loading():
        return Answer(503, error_document("Loading model", "unavailable_error"))
    if path == "/health":
        return Answer(200, {"status": "ok"})
    style, size = getattr(scripted, "context_style", None), getattr(scripted, "context_size", None)
    if path == "/props" and props(style, size) is not None:
        return Answer(200, props(style, size))
    if path == "/v1/models":
        extra = model_fields(style, size)
        data = [{"id": n, "object": "model", "owned_by": "scripted", **extra} for n in scripted.model_names()]
        return Answer(200, {"object": "list", "data": data})
    return Answer(404, error_document(f"scripted server: no route GET {path}", "not_found_error"))


def _overflow(scripted: ScriptedServer, body: dict[str, Any]) -> Answer | None:
    """A request too large for the context, answered as the played server answers it (context.py)."""
    size = getattr(scripted, "context_size", None)
    if not size:
        return None
    played = overflow_answer(scripted.context_style, size, (len(prompt_text(body["messages"])) + 3) // 4, body)
    if played is None:
        return None
    if played == EMPTY_STREAM:
        return Answer(200, events=[], fault="cut")  # HTTP 200, then the stream ends without one event
    return Answer(played[0], played[1])


def _tokenize(style: str | None, raw_body: bytes) -> Answer:
    """Counts as the chat usage does (≈ chars/4), over the text the client sent."""
    body = _read_json(raw_body, chat=False)
    if isinstance(body, Answer):
        return body
    text = body.get("content" if style == "llama.cpp" else "input")
    if not isinstance(text, str):
        return Answer(400, error_document("scripted server: tokenize needs a text field", "invalid_request_error"))
    count = (len(text) + 3) // 4
    return Answer(200, {"tokens": list(range(count))} if style == "llama.cpp" else {"count": count})


def _answer_reply(scripted: ScriptedServer, reply: ScriptedReply, body: dict[str, Any], reply_id: str) -> Answer:
    if reply.fault == "refuse":
        return Answer(0, delay=reply.delay, fault="refuse")
    if reply.fault is not None and reply.fault.isdigit():
        status = int(reply.fault)
        headers = {"Retry-After": str(int(reply.seconds or 0))} if status == 429 else {}
        kind = "rate_limit_error" if status == 429 else "server_error" if status >= 500 else "invalid_request_error"
        return Answer(status, error_document(reply.content or f"{_STATUS_TEXT[status]} (scripted fault)", kind), headers, delay=reply.delay)
    cut = reply.fault if reply.fault in ("reset", "cut") else None
    if not body.get("stream"):
        message = {"role": "assistant", "content": reply.content}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        document = _envelope(reply_id, body, "chat.completion")
        document["choices"] = [{"index": 0, "message": message, "finish_reason": reply.finish_reason}]
        if reply.send_usage:
            usage = scripted.usage(body, reply, sum(map(len, reply.token_pieces())))
            document.update(usage=usage, timings=_timings(usage))
        return Answer(200, document, delay=reply.delay, fault=cut)
    base = _envelope(reply_id, body, "chat.completion.chunk")
    reasoning, content = reply.token_pieces()
    tokens = [_chunk(base, {"reasoning_content": p}) for p in reasoning]
    tokens += [_chunk(base, {"content": p}) for p in content]
    events = [_chunk(base, {"role": "assistant"})]
    if cut:
        return Answer(200, events=events + tokens[: max(1, len(tokens) // 2)], delay=reply.delay, fault=cut)
    tail = [_chunk(base, {}, reply.finish_reason)]
    if reply.send_usage:
        usage = scripted.usage(body, reply, len(tokens))
        tail[0]["timings"] = _timings(usage)  # llama.cpp puts them on the last choice chunk
        if (body.get("stream_options") or {}).get("include_usage"):
            tail.append({**base, "choices": [], "usage": usage})
    return Answer(200, events=events + tokens, tail=tail, delay=reply.delay)


def encode_events(events: list[dict[str, Any]], *, done: bool = False) -> bytes:
    """SSE framing: one ``data:`` line per event, then ``data: [DONE]`` at the end of the stream."""
    data = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    return data + (b"data: [DONE]\n\n" if done else b"")


def _read_json(raw: bytes, *, chat: bool) -> dict[str, Any] | Answer:
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        return Answer(400, error_document(f"scripted server: request body is not JSON: {exc}", "invalid_request_error"))
    if not isinstance(body, dict) or (chat and not isinstance(body.get("messages"), list)):
        message = "scripted server: the body must be a JSON object with a 'messages' list"
        return Answer(400, error_document(message, "invalid_request_error"))
    return body


def error_document(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


def _envelope(reply_id: str, body: dict[str, Any], obj: str) -> dict[str, Any]:
    return {"id": reply_id, "object": obj, "created": int(time.time()), "model": body.get("model") or "scripted"}


def _chunk(base: dict[str, Any], delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def _timings(usage: dict[str, Any]) -> dict[str, int]:
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    return {"cache_n": cached, "prompt_n": usage["prompt_tokens"] - cached, "predicted_n": usage["completion_tokens"]}


def prompt_text(messages: list[Any]) -> str:
    """The messages as one string, in order, roughly as a chat template lays them out."""
    parts = []
    for message in messages:
        message = message if isinstance(message, dict) else {"content": message}
        content = message.get("content")
        parts.append(f"<|{message.get('role', '')}|>\n{content if isinstance(content, str) else json.dumps(content)}\n")
    return "".join(parts)
