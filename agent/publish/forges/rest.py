"""httpx calls to a forge's REST API with one-line errors (shared by the built-in forges)."""

from __future__ import annotations

from typing import Any

import httpx

from tfagent.agent.publish.forge import ForgeError


class RestApi:
    """httpx calls with one-line errors. ``label`` names the forge in messages."""

    def __init__(self, label: str, base: str, headers: dict[str, str], timeout: float):
        self.label = label
        self.base = base.rstrip("/")
        self.client = httpx.Client(headers=headers, timeout=timeout)
        self.timeout = timeout

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kw: Any) -> httpx.Response:
        url = f"{self.base}{path}"
        try:
            response = self.client.request(method, url, **kw)
        except httpx.TimeoutException:
            raise ForgeError(f"{self.label} API timed out after {self.timeout:g}s on {method} {url}") from None
        except httpx.HTTPError as exc:
            raise ForgeError(f"{self.label} API unreachable on {method} {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code not in ok:
            raise self.error(method, url, response)
        return response

    def error(self, method: str, url: str, response: httpx.Response) -> ForgeError:
        hint = {401: "the token was rejected", 403: "the token lacks permission",
                404: "not found (wrong repository, or the token cannot see it)"}.get(response.status_code, "")
        return ForgeError(f"{self.label} API {method} {url} failed: HTTP {response.status_code}"
                          f"{' — ' + hint if hint else ''}: {api_message(response)}")

    def close(self) -> None:
        self.client.close()


def api_message(response: httpx.Response) -> str:
    """The API's own explanation, on one line."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip().replace("\n", " ")[:300] or response.reason_phrase
    if isinstance(data, dict):
        parts = [str(data.get("message") or data.get("error") or "")]
        for err in data.get("errors") or []:
            parts.append(str(err.get("message", err)) if isinstance(err, dict) else str(err))
        return "; ".join(p for p in parts if p)[:500] or response.reason_phrase
    return str(data)[:300]


