"""Context overflow: a request that does not fit the server's context window, recognised as its own fault.

Real servers say it three ways (all observed or read from their source):
- llama.cpp's llama-server: HTTP 400 ``the request exceeds the available context size, try increasing
  it`` (type ``exceed_context_size_error``, with ``n_prompt_tokens`` and ``n_ctx`` in the error object);
- vLLM (and the OpenAI API): HTTP 400 ``This model's maximum context length is 4096 tokens. However,
  you requested 5000 tokens …`` (newer vLLM: ``… and your request has 4100 input tokens``);
- llama-cpp-python's server: a *streamed* request gets HTTP 200 and a stream that ends without a single
  event (the check raises inside its generator); the same request unstreamed gets the OpenAI-style 400
  above (measured with llama-cpp-python 0.3.36, n_ctx 256). So an empty stream is probed once, unstreamed
  with ``max_tokens=1``, to tell an overflow from a dying server.

Retrying any of these is pointless: the same request fails the same way. ``ContextOverflow`` is a
``ModelError`` that the transport retries never catch; the loop drops the least useful content and
tries again (``agent.loop.context_fit``), or the run ends with its own outcome and exit code.

Context sizes are read from the server where it says: llama-server ``GET /props``
(``default_generation_settings.n_ctx``), vLLM ``GET /v1/models`` (``max_model_len``). llama-cpp-python
exposes neither; there the server's own 400 (probed as above) carries the maximum.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tfagent.agent.model.errors import ModelError

_LLAMA_SERVER = re.compile(r"exceeds? the available context size", re.I)
_MAXIMUM = re.compile(r"maximum context length is (\d+) tokens", re.I)
_REQUESTED = re.compile(r"(?:you requested|your request has|requested) (\d+)(?: input)? tokens", re.I)


class ContextOverflow(ModelError):
    """The request is larger than the server's context window; retrying it unchanged cannot help."""

    def __init__(self, message: str, *, url: str, context_size: int | None = None, requested: int | None = None,
                 status: int | None = 400) -> None:
        self.context_size, self.requested = context_size, requested
        super().__init__(message, url=url, status=status)


def overflow_from_error(url: str, status: int | None, message: str, body: Any = None) -> ContextOverflow | None:
    """A ContextOverflow when (status, message, error body) is one of the servers' overflow answers."""
    if status not in (400, 413, None):
        return None
    inner = body.get("error", body) if isinstance(body, dict) else None
    inner = inner if isinstance(inner, dict) else {}
    if _LLAMA_SERVER.search(message) or inner.get("type") == "exceed_context_size_error":
        size, requested = _int(inner.get("n_ctx")), _int(inner.get("n_prompt_tokens"))
    elif _MAXIMUM.search(message) or inner.get("code") == "context_length_exceeded":
        size = _int(_group(_MAXIMUM, message))
        requested = _int(_group(_REQUESTED, message))
    else:
        return None
    return ContextOverflow(describe(url, size, requested, message), url=url, context_size=size,
                           requested=requested, status=status)


def describe(url: str, size: int | None, requested: int | None, server_said: str) -> str:
    window = f"its context of {size} tokens" if size else "its context window"
    need = f" (the request needs {requested} tokens)" if requested else ""
    return f"the conversation does not fit model server {url}: {window}{need}; the server said: {server_said[:300]}"


def server_context_size(http: httpx.Client, root_url: str, base_url: str, model: str,
                        headers: dict[str, str] | None = None, timeout: float = 2.0) -> int | None:
    """The context window the server reports (llama-server /props, vLLM /v1/models), or None."""
    for url, pick in ((f"{root_url}/props", _from_props), (f"{base_url}/models", lambda doc: _from_models(doc, model))):
        try:
            response = http.get(url, headers=headers or {}, timeout=timeout)
        except httpx.HTTPError:
            continue  # not every server has both routes; the other one (or None) answers
        if response.status_code != 200:
            continue
        try:
            size = pick(response.json())
        except ValueError:
            continue
        if size:
            return size
    return None


def _from_props(doc: Any) -> int | None:
    if not isinstance(doc, dict):
        return None
    settings = doc.get("default_generation_settings")
    size = settings.get("n_ctx") if isinstance(settings, dict) else None
    return _int(size if size is not None else doc.get("n_ctx"))


def _from_models(doc: Any, model: str) -> int | None:
    data = doc.get("data") if isinstance(doc, dict) else None
    entries = [e for e in data or () if isinstance(e, dict)]
    chosen = [e for e in entries if e.get("id") == model] or entries[:1]
    return _int(chosen[0].get("max_model_len")) if chosen else None


def _group(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(1) if match else None


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
