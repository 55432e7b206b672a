"""One ``ModelClient`` per distinct endpoint, owned by whoever runs many requests and closed with it.

The eval starts thousands of runs, and building an HTTP client costs more than a whole zero-latency
attempt; reusing one client per endpoint also reuses its connections. The pool is the caller's (an
eval run), never a process global, so every client is closed when the run ends.
"""

from __future__ import annotations

import json
import threading

import httpx

from tfagent.agent.core.types import Endpoint
from tfagent.agent.model.client import ModelClient


class ClientPool:
    def __init__(self, *, transport: httpx.BaseTransport | None = None) -> None:
        self.transport = transport
        self._clients: dict[str, ModelClient] = {}
        self._lock = threading.Lock()

    def get(self, endpoint: Endpoint) -> ModelClient:
        # Everything a client sends depends on: two samples with different seeds need two clients.
        key = json.dumps([endpoint.base_url, endpoint.model, endpoint.api_key, endpoint.params], sort_keys=True, default=str)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = ModelClient(endpoint, transport=self.transport)
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> "ClientPool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
