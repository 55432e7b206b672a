"""The scripted model in-process: an httpx transport that answers like ``ScriptedServer``, no socket.

``ModelClient(endpoint, transport=ScriptedTransport())`` talks to the same queues, faults and usage
accounting as the real HTTP server (both play ``protocol.answer``), like httpx's
MockTransport. Faults become the errors httpx raises for them: "refuse" a ConnectError, "reset" a
ReadError mid-body, "cut" a body that ends early, and a delay longer than the request's read timeout
a ReadTimeout. Use the real server where the socket itself is under test (TCP resets, keep-alive).
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import httpx

from tfagent.agent.fake.protocol import Answer, answer, encode_events
from tfagent.agent.fake.server import ScriptedServer


class ScriptedTransport(httpx.BaseTransport):
    """An httpx transport over a (never started) ``ScriptedServer``; queue replies on either."""

    def __init__(self, scripted: ScriptedServer | None = None, **server_options: Any) -> None:
        if scripted is not None and server_options:
            raise TypeError("pass either a ScriptedServer or ScriptedServer options, not both")
        self.scripted = scripted or ScriptedServer(**server_options)
        self.scripted.start_loading_clock()

    @property
    def base_url(self) -> str:
        """A URL for ``Endpoint.base_url``; nothing listens there, the transport answers."""
        return "http://scripted.invalid/v1"

    def __getattr__(self, name: str) -> Any:  # enqueue, enqueue_fault, requests, pending …
        return getattr(self.scripted, name)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        played = answer(self.scripted, request.method, request.url.path, request.read())
        read_timeout = (request.extensions.get("timeout") or {}).get("read")
        if read_timeout is not None and played.delay > read_timeout:
            time.sleep(read_timeout)
            raise httpx.ReadTimeout(f"no answer within {read_timeout} s (scripted delay)", request=request)
        time.sleep(played.delay)
        if played.fault == "refuse":
            raise httpx.ConnectError("[Errno 111] Connection refused (scripted fault)", request=request)
        if played.events is None:
            data = json.dumps(played.document or {}).encode()
            headers = {"Content-Type": "application/json", **played.headers}
            if not played.fault:
                return httpx.Response(played.status, headers=headers, content=data, request=request)
            stream = _Body([data[: len(data) // 2]], played.fault, request)
            return httpx.Response(played.status, headers=headers, stream=stream, request=request)
        headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        return httpx.Response(200, headers=headers, stream=_EventStream(self.scripted, played, request), request=request)


class _Body(httpx.SyncByteStream):
    """Bytes, then the fault: "reset" raises as a dropped connection does, "cut" just ends."""

    def __init__(self, pieces: list[bytes], fault: str | None, request: httpx.Request) -> None:
        self.pieces, self.fault, self.request = pieces, fault, request

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces
        if self.fault == "reset":
            raise httpx.ReadError("connection reset by peer (scripted fault)", request=self.request)


class _EventStream(_Body):
    """SSE events produced lazily, so the throttle paces tokens as it does on the real server."""

    def __init__(self, scripted: ScriptedServer, played: Answer, request: httpx.Request) -> None:
        super().__init__([], played.fault, request)
        self.scripted, self.played = scripted, played

    def __iter__(self) -> Iterator[bytes]:
        events = self.played.events or []
        yield encode_events(events[:1])
        throttle = self.scripted.throttle
        if throttle is None:
            yield encode_events(events[1:])
        else:
            for event in events[1:]:
                throttle.wait_turn()
                yield encode_events([event])
        if self.played.fault:
            yield from super().__iter__()
            return
        yield encode_events(self.played.tail, done=True)
