"""A real OpenAI-compatible chat server with scripted replies, for our tests and our users' tests.

The one fake in the project, exactly at the model boundary: a real HTTP server (stdlib, background
thread) speaking chat completions the way llama.cpp / vLLM do — SSE streaming, ``reasoning_content``
deltas, ``usage.prompt_tokens_details.cached_tokens``, llama.cpp ``timings``, ``/health`` answering 503
while "loading". Replies and transport faults come from queues (a default one plus one per ``model``
name, so several "endpoints" can share a server) or from a ``responder`` function.

Shell use: ``python -m tfagent.agent.model.testing_cli --port 8099 --reply-file replies.json`` (a JSON list of
strings or reply objects) prints its base URL and serves until interrupted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

log = logging.getLogger(__name__)

# "delay" is served together with the reply queued after it; every other fault replaces a reply.
FAULT_KINDS = ("refuse", "reset", "cut", "delay", "400", "401", "403", "404", "429", "500", "503")
_STATUS_TEXT = {400: "bad request", 401: "invalid API key", 403: "forbidden", 404: "model not found",
                429: "too many requests", 500: "internal server error", 503: "service unavailable"}
_PARTIAL_TEXT = "this reply is interrupted before it finishes and must never be used as an answer"
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


Responder = Callable[[dict[str, Any]], "str | ScriptedReply"]


class ScriptedServer:
    """Real HTTP server on ``host`` speaking the OpenAI chat protocol with queued replies."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, model: str = "scripted", loading_seconds: float = 0.0,
                 responder: Responder | None = None, capacity_tokens_per_second: float | None = None,
                 tokenize: str | None = "llama.cpp") -> None:
        if capacity_tokens_per_second is not None and capacity_tokens_per_second <= 0:
            raise ValueError("capacity_tokens_per_second must be positive")
        self.host, self.port, self.model = host, port, model
        self.loading_seconds, self.responder = loading_seconds, responder
        if tokenize not in TOKENIZE_STYLES:
            raise ValueError(f"tokenize must be one of {TOKENIZE_STYLES}, got {tokenize!r}")
        # Which tokenize endpoint it offers, like the server it plays: llama.cpp's POST /tokenize
        # {"content"} → {"tokens"}, llama-cpp-python's POST /extras/tokenize/count {"input"} → {"count"}.
        self.tokenize = tokenize
        self.throttle = _Throttle(capacity_tokens_per_second) if capacity_tokens_per_second else None
        self._lock = threading.Lock()
        self._queues: dict[str | None, deque[ScriptedReply]] = {None: deque()}
        self._requests: list[dict[str, Any]] = []
        self._previous_prompt: dict[str, str] = {}  # per model: what its "KV cache" holds
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._started_at = 0.0

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "ScriptedServer":
        if self._httpd is not None:
            raise RuntimeError("ScriptedServer is already started")
        self._httpd = httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.scripted, self.port, self._started_at = self, httpd.server_address[1], time.monotonic()
        # A short poll interval keeps stop() fast; tests start and stop many servers.
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_open_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # ---- scripting -----------------------------------------------------------------------------
    def enqueue(self, content: str, *, finish_reason: str | None = "stop", reasoning: str | None = None,
                usage: dict[str, int] | None = None, delay: float = 0.0, model: str | None = None,
                chunk_size: int = 4, send_usage: bool = True) -> None:
        """Queue a reply for the next request (in ``model``'s own queue when given)."""
        reply = ScriptedReply(content, finish_reason, reasoning, usage, delay, chunk_size, send_usage)
        self.enqueue_reply(reply, model=model)

    def enqueue_fault(self, kind: str, *, seconds: float | None = None, model: str | None = None) -> None:
        """Queue a transport fault (FAULT_KINDS). ``delay`` sleeps, then serves the next queued reply."""
        text = _PARTIAL_TEXT if kind in ("reset", "cut") else ""
        self.enqueue_reply(ScriptedReply(text, fault=kind, seconds=seconds), model=model)

    def enqueue_reply(self, reply: ScriptedReply, *, model: str | None = None) -> None:
        with self._lock:
            self._queues.setdefault(model, deque()).append(reply)

    def pending(self, model: str | None = None) -> int:
        """How many items (replies and faults) are left in one queue."""
        with self._lock:
            return len(self._queues.get(model, ()))

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every chat request body received, in order (a copy; handler threads append)."""
        with self._lock:
            return list(self._requests)

    def chat_requests(self, model: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests if model is None or r.get("model") == model]

    def model_names(self) -> list[str]:
        with self._lock:
            return [self.model] + sorted(k for k in self._queues if k is not None and k != self.model)

    # ---- used by the handler -------------------------------------------------------------------
    def loading(self) -> bool:
        return time.monotonic() - self._started_at < self.loading_seconds

    def record(self, body: dict[str, Any]) -> int:
        with self._lock:
            self._requests.append(body)
            return len(self._requests)

    def next_reply(self, body: dict[str, Any]) -> ScriptedReply | None:
        """The model's own queue first, then the default queue, then the responder."""
        extra_delay = 0.0
        while True:
            reply = self._pop(body.get("model")) or self._respond(body)
            if reply is None or reply.fault != "delay":
                break
            extra_delay += reply.seconds or 0.0
        if reply is None:
            time.sleep(extra_delay)
            return None
        return replace(reply, delay=reply.delay + extra_delay) if extra_delay else reply

    def _pop(self, model: str | None) -> ScriptedReply | None:
        with self._lock:
            queue = self._queues.get(model) or self._queues[None]
            return queue.popleft() if queue else None

    def _respond(self, body: dict[str, Any]) -> ScriptedReply | None:
        answer = None if self.responder is None else self.responder(body)
        if answer is None or isinstance(answer, ScriptedReply):
            return answer
        if isinstance(answer, str):
            return ScriptedReply(answer)
        raise TypeError(f"responder must return str or ScriptedReply, got {type(answer).__name__}")

    def usage(self, body: dict[str, Any], reply: ScriptedReply, completion_tokens: int) -> dict[str, Any]:
        """Token counts ≈ chars/4; cached = the prefix shared with this model's previous prompt."""
        prompt = _prompt_text(body.get("messages"))
        with self._lock:
            previous = self._previous_prompt.get(str(body.get("model")), "")
            self._previous_prompt[str(body.get("model"))] = prompt
        prompt_tokens = (len(prompt) + 3) // 4
        cached = min(len(os.path.commonprefix([previous, prompt])) // 4, prompt_tokens)
        counts = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "cached_tokens": cached}
        counts.update(reply.usage or {})
        return {"prompt_tokens": counts["prompt_tokens"], "completion_tokens": counts["completion_tokens"],
                "total_tokens": counts["prompt_tokens"] + counts["completion_tokens"],
                "prompt_tokens_details": {"cached_tokens": counts["cached_tokens"]}}


class _Throttle:
    """One token slot every 1/rate seconds, shared by all streams: total throughput = rate."""

    def __init__(self, tokens_per_second: float) -> None:
        self._interval, self._next_slot, self._lock = 1.0 / tokens_per_second, 0.0, threading.Lock()

    def wait_turn(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


class _HTTPServer(ThreadingHTTPServer):
    """Tracks open connections: kept-alive clients would otherwise hold handler threads after stop()."""

    daemon_threads = True
    scripted: ScriptedServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client dropping its kept-alive connection is normal; anything else is logged in full."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            log.debug("scripted server: %s dropped the connection", client_address)
        else:
            log.exception("scripted server: error while serving %s", client_address)

    def close_open_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            # The handler may be closing the same socket right now; OSError then means "already gone".
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, like real servers
    server_version = "ScriptedServer/1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Streams are many small writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms stalls.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        log.debug("scripted server: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health" and self.server.scripted.loading():
            self._send_json(503, _error("Loading model", "unavailable_error"))
        elif path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/v1/models":
            data = [{"id": n, "object": "model", "owned_by": "scripted"} for n in self.server.scripted.model_names()]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_json(404, _error(f"scripted server: no route GET {path}", "not_found_error"))

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
        scripted, path = self.server.scripted, self.path.split("?", 1)[0].rstrip("/")
        tokenize_route = {"llama.cpp": "/tokenize", "llama-cpp-python": "/extras/tokenize/count"}.get(scripted.tokenize)
        if path == tokenize_route:
            self._tokenize(scripted.tokenize)
            return
        if path != "/v1/chat/completions":
            self.rfile.read(int(self.headers.get("Content-Length") or 0))  # keep the kept-alive connection in sync
            self._send_json(404, _error(f"scripted server: no route POST {path}", "not_found_error"))
            return
        body = self._read_json()
        if body is None:
            return
        reply_id = f"chatcmpl-scripted-{scripted.record(body)}"
        if scripted.loading():
            self._send_json(503, _error("Loading model", "unavailable_error"))
            return
        try:
            reply = scripted.next_reply(body)
        except Exception as exc:  # a broken responder is the test's bug: answer it visibly, keep serving
            log.exception("scripted server: responder failed")
            message = f"scripted server: responder failed: {type(exc).__name__}: {exc}"
            self._send_json(500, _error(message, "server_error"))
            return
        if reply is None:
            self._send_json(500, _error(NO_REPLY_MESSAGE, "server_error"))
            return
        try:
            self._serve(reply, body, reply_id)
        except (BrokenPipeError, ConnectionResetError) as exc:
            # The client gave up (e.g. its read timeout fired during a delay): nothing left to answer.
            log.debug("scripted server: client went away: %s", exc)
            self.close_connection = True

    def _tokenize(self, style: str) -> None:
        """Counts as the chat usage does (≈ chars/4), over the text the client sent."""
        body = self._read_json(chat=False)
        if body is None:
            return
        text = body.get("content" if style == "llama.cpp" else "input")
        if not isinstance(text, str):
            self._send_json(400, _error("scripted server: tokenize needs a text field", "invalid_request_error"))
            return
        count = (len(text) + 3) // 4
        self._send_json(200, {"tokens": list(range(count))} if style == "llama.cpp" else {"count": count})

    # ---- replies -------------------------------------------------------------------------------
    def _serve(self, reply: ScriptedReply, body: dict[str, Any], reply_id: str) -> None:
        time.sleep(reply.delay)
        if reply.fault == "refuse":
            self.close_connection = True  # returning without writing a byte closes the socket
        elif reply.fault is not None and reply.fault.isdigit():
            status = int(reply.fault)
            headers = {"Retry-After": str(int(reply.seconds or 0))} if status == 429 else {}
            kind = "rate_limit_error" if status == 429 else "server_error" if status >= 500 else "invalid_request_error"
            self._send_json(status, _error(f"{_STATUS_TEXT[status]} (scripted fault)", kind), headers)
        elif body.get("stream"):
            self._send_stream(reply, body, reply_id)
        else:
            self._send_whole(reply, body, reply_id)

    def _send_whole(self, reply: ScriptedReply, body: dict[str, Any], reply_id: str) -> None:
        message = {"role": "assistant", "content": reply.content}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        document = _envelope(reply_id, body, "chat.completion")
        document["choices"] = [{"index": 0, "message": message, "finish_reason": reply.finish_reason}]
        if reply.send_usage:
            usage = self.server.scripted.usage(body, reply, sum(map(len, reply.token_pieces())))
            document.update(usage=usage, timings=_timings(usage))
        if reply.fault not in ("reset", "cut"):
            self._send_json(200, document)
            return
        data = json.dumps(document).encode()
        self._start_response(200, "application/json", {"Content-Length": str(len(data))})
        self.wfile.write(data[: len(data) // 2])
        self._abort(reset=reply.fault == "reset", chunked=False)

    def _send_stream(self, reply: ScriptedReply, body: dict[str, Any], reply_id: str) -> None:
        base = _envelope(reply_id, body, "chat.completion.chunk")
        reasoning, content = reply.token_pieces()
        tokens = [_chunk(base, {"reasoning_content": p}) for p in reasoning]
        tokens += [_chunk(base, {"content": p}) for p in content]
        self._start_response(200, "text/event-stream", {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"})
        self._write_events([_chunk(base, {"role": "assistant"})])
        if reply.fault in ("reset", "cut"):
            self._write_tokens(tokens[: max(1, len(tokens) // 2)])
            self._abort(reset=reply.fault == "reset", chunked=True)
            return
        tail = [_chunk(base, {}, reply.finish_reason)]
        if reply.send_usage:
            usage = self.server.scripted.usage(body, reply, len(tokens))
            tail[0]["timings"] = _timings(usage)  # llama.cpp puts them on the last choice chunk
            if (body.get("stream_options") or {}).get("include_usage"):
                tail.append({**base, "choices": [], "usage": usage})
        self._write_tokens(tokens)
        self._write_events(tail, done=True)
        self.wfile.write(b"0\r\n\r\n")

    def _write_tokens(self, events: list[dict[str, Any]]) -> None:
        throttle = self.server.scripted.throttle
        if throttle is None:
            self._write_events(events)  # one write: keeps the fake's own cost out of overhead measurements
            return
        for event in events:
            throttle.wait_turn()
            self._write_events([event])

    def _write_events(self, events: list[dict[str, Any]], *, done: bool = False) -> None:
        data = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
        data += b"data: [DONE]\n\n" if done else b""
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _abort(self, *, reset: bool, chunked: bool) -> None:
        """End the reply early: a TCP reset (a crashed server), or (cut) a well-formed early end."""
        self.close_connection = True
        if reset:
            # SO_LINGER 0 makes close() send RST instead of FIN. Closing here (the socket really closes
            # when the handler's files do) gets the RST out before socketserver's shutdown() sends a FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        elif chunked:
            self.wfile.write(b"0\r\n\r\n")

    # ---- plumbing ------------------------------------------------------------------------------
    def _read_json(self, *, chat: bool = True) -> dict[str, Any] | None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"null")
        except ValueError as exc:
            self._send_json(400, _error(f"scripted server: request body is not JSON: {exc}", "invalid_request_error"))
            return None
        if not isinstance(body, dict) or (chat and not isinstance(body.get("messages"), list)):
            message = "scripted server: the body must be a JSON object with a 'messages' list"
            self._send_json(400, _error(message, "invalid_request_error"))
            return None
        return body

    def _start_response(self, status: int, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": content_type, **headers}.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_json(self, status: int, document: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(document).encode()
        self._start_response(status, "application/json", {"Content-Length": str(len(data)), **(headers or {})})
        self.wfile.write(data)


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


def _envelope(reply_id: str, body: dict[str, Any], obj: str) -> dict[str, Any]:
    return {"id": reply_id, "object": obj, "created": int(time.time()), "model": body.get("model") or "scripted"}


def _chunk(base: dict[str, Any], delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def _timings(usage: dict[str, Any]) -> dict[str, int]:
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    return {"cache_n": cached, "prompt_n": usage["prompt_tokens"] - cached, "predicted_n": usage["completion_tokens"]}


def _prompt_text(messages: list[Any]) -> str:
    """The messages as one string, in order, roughly as a chat template lays them out."""
    parts = []
    for message in messages:
        message = message if isinstance(message, dict) else {"content": message}
        content = message.get("content")
        parts.append(f"<|{message.get('role', '')}|>\n{content if isinstance(content, str) else json.dumps(content)}\n")
    return "".join(parts)

