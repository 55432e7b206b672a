"""The transport retry policy: which failures are transient, how long to wait, and one-line reasons.

Used by ``ModelClient`` with tenacity: refused or reset connections, timeouts, 429, 5xx and a stream
cut short are retried; 400/401/403/404 are not.
"""

from __future__ import annotations

import httpx
import openai

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class StreamCut(Exception):
    """The stream ended without a finish_reason: the server died or a proxy cut it mid-reply."""


def is_transient(exc: BaseException) -> bool:
    # Before the response: openai's APIConnectionError (includes APITimeoutError); mid-stream: httpx's.
    if isinstance(exc, (openai.APIConnectionError, httpx.TransportError, StreamCut)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code in RETRYABLE_STATUS


def retry_after_seconds(exc: BaseException | None) -> float | None:
    if not isinstance(exc, openai.APIStatusError):
        return None
    value = exc.response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date instead of seconds: fall back to our own backoff
        return None


def api_message(exc: openai.APIStatusError) -> str:
    """The server's own error message, from the shapes OpenAI, vLLM and llama.cpp use."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return str(message)
    return exc.message


def body_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    inner = body.get("error", body) if isinstance(body, dict) else body
    return str(inner.get("message", inner) if isinstance(inner, dict) else inner)[:200]


def describe_transport_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "reset" in lowered:
        return "connection reset"
    if "disconnected" in lowered or "incomplete" in lowered or "peer closed" in lowered:
        return "the server closed the connection mid-reply"
    return text


def short_reason(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    return describe_transport_error(exc.__cause__ or exc)
