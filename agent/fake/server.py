"""A real OpenAI-compatible chat server with scripted replies, for our tests and our users' tests.

The one fake in the project, exactly at the model boundary: a real HTTP server (stdlib, background
thread) speaking chat completions the way llama.cpp / vLLM do — SSE streaming, ``reasoning_content``
deltas, ``usage.prompt_tokens_details.cached_tokens``, llama.cpp ``timings``, ``/health`` answering 503
while "loading". Replies and transport faults come from queues (a default one plus one per ``model``
name, so several "endpoints" can share a server) or from a ``responder`` function.

Shell use: ``python -m tfagent.agent.fake.cli --port 8099 --reply-file replies.json`` (a JSON list of
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
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from tfagent.agent.fake.protocol import (FAULT_KINDS, NO_REPLY_MESSAGE, PARTIAL_TEXT, TOKENIZE_STYLES, Answer,
                                                   ScriptedReply, answer, encode_events, prompt_text)

__all__ = ["FAULT_KINDS", "NO_REPLY_MESSAGE", "ScriptedReply", "ScriptedServer"]
from tfagent.agent.fake.context import check_style

log = logging.getLogger(__name__)

Responder = Callable[[dict[str, Any]], "str | ScriptedReply"]


class ScriptedServer:
    """Real HTTP server on ``host`` speaking the OpenAI chat protocol with queued replies."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, model: str = "scripted", loading_seconds: float = 0.0,
                 responder: Responder | None = None, capacity_tokens_per_second: float | None = None,
                 tokenize: str | None = "llama.cpp", context_size: int | None = None,
                 context_style: str = "llama-server") -> None:
        if capacity_tokens_per_second is not None and capacity_tokens_per_second <= 0:
            raise ValueError("capacity_tokens_per_second must be positive")
        self.host, self.port, self.model = host, port, model
        self.loading_seconds, self.responder = loading_seconds, responder
        if tokenize not in TOKENIZE_STYLES:
            raise ValueError(f"tokenize must be one of {TOKENIZE_STYLES}, got {tokenize!r}")
        # Which tokenize endpoint it offers, like the server it plays: llama.cpp's POST /tokenize
        # {"content"} → {"tokens"}, llama-cpp-python's POST /extras/tokenize/count {"input"} → {"count"}.
        self.tokenize = tokenize
        check_style(context_style)
        self.context_size, self.context_style = context_size, context_style  # see context.py
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
        httpd.scripted, self.port = self, httpd.server_address[1]
        self.start_loading_clock()
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
        text = PARTIAL_TEXT if kind in ("reset", "cut") else ""
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
    def start_loading_clock(self) -> None:
        """``loading_seconds`` count from now (the server's start, or the in-process transport's)."""
        self._started_at = time.monotonic()

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
        prompt = prompt_text(body.get("messages"))
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
        self._play(answer(self.server.scripted, "GET", self.path, b""))

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # read even for a 404: keep-alive stays in sync
        self._play(answer(self.server.scripted, "POST", self.path, raw))

    def _play(self, reply: Answer) -> None:
        try:
            time.sleep(reply.delay)
            if reply.fault == "refuse":
                self.close_connection = True  # returning without writing a byte closes the socket
            elif reply.events is None:
                self._send_json(reply.status, reply.document or {}, reply.headers, cut=reply.fault)
            else:
                self._send_stream(reply)
        except (BrokenPipeError, ConnectionResetError) as exc:
            # The client gave up (e.g. its read timeout fired during a delay): nothing left to answer.
            log.debug("scripted server: client went away: %s", exc)
            self.close_connection = True

    def _send_stream(self, reply: Answer) -> None:
        self._start_response(200, "text/event-stream", {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"})
        events = reply.events or []
        self._write_chunk(encode_events(events[:1]))
        self._write_tokens(events[1:])
        if reply.fault:
            self._abort(reset=reply.fault == "reset", chunked=True)
            return
        self._write_chunk(encode_events(reply.tail, done=True))
        self.wfile.write(b"0\r\n\r\n")

    def _write_tokens(self, events: list[dict[str, Any]]) -> None:
        throttle = self.server.scripted.throttle
        if throttle is None:
            self._write_chunk(encode_events(events))  # one write: keeps the fake's own cost out of overhead measurements
            return
        for event in events:
            throttle.wait_turn()
            self._write_chunk(encode_events([event]))

    def _write_chunk(self, data: bytes) -> None:
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

    def _start_response(self, status: int, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": content_type, **headers}.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_json(self, status: int, document: dict[str, Any], headers: dict[str, str] | None = None,
                   *, cut: str | None = None) -> None:
        data = json.dumps(document).encode()
        self._start_response(status, "application/json", {"Content-Length": str(len(data)), **(headers or {})})
        if not cut:
            self.wfile.write(data)
            return
        self.wfile.write(data[: len(data) // 2])
        self._abort(reset=cut == "reset", chunked=False)
