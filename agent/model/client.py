"""The model boundary: one OpenAI-compatible chat server, streamed, with bounded transport retries.

Any server that speaks ``/v1/chat/completions`` works (llama.cpp's llama-server, llama-cpp-python,
vLLM, SGLang, hosted APIs). The openai client's own retries are off (``max_retries=0``): ours use
tenacity so that every transport failure — refused or reset connections, timeouts, 429, 5xx, and a
stream that ends without a ``finish_reason`` — is retried with exponential backoff and jitter, bounded
in count and in total time, and counted in ``Completion.transport_retries`` (never as a verify attempt).
Errors that retrying cannot fix (400/401/403/404) raise ``ModelError`` at once.

One ``ModelClient`` holds one openai client (one connection pool): create it once per run and reuse
it for every attempt, so a retry costs no new TCP handshake.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from typing import Any, Callable

import httpx
import openai
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_before_delay

from tfagent.agent.core.defaults import READY_TIMEOUT
from tfagent.agent.core.secrets import redact_obj
from tfagent.agent.core.types import Completion, Endpoint
from tfagent.agent.model.context import overflow_from_error, server_context_size
from tfagent.agent.model.errors import ModelError, ServerUnreachable
from tfagent.agent.model.accounting import count_prompt_tokens
from tfagent.agent.model.retry import (RETRYABLE_STATUS, StreamCut, api_message, body_message, describe_transport_error,
                                       is_transient, retry_after_seconds, short_reason)
from tfagent.agent.model.sse import ProgressCallback, StreamCollector, sse_data

log = logging.getLogger(__name__)

# Parameters the OpenAI schema knows; anything else an endpoint sets (chat_template_kwargs, top_k,
# min_p, repeat_penalty …) is a server extension and travels in the request body via extra_body.
_SCHEMA_PARAMS = ("temperature", "top_p", "seed", "max_tokens", "stop", "presence_penalty", "frequency_penalty")
_PROBE_INTERVAL = 0.1  # seconds between readiness probes
_MAX_BACKOFF = 30.0  # seconds: the longest single wait between transport retries


class ModelClient:
    """Chat completions against one ``Endpoint``; see the module docstring for the retry policy."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        request_timeout: float = 600.0,
        max_transport_retries: int = 5,
        max_retry_seconds: float = 120.0,
        backoff_seconds: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport``: an httpx transport to send requests through instead of the network, e.g.
        ``ScriptedTransport`` (the scripted server in-process) in tests."""
        if not endpoint.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"endpoint {endpoint.name!r}: base_url must start with http:// or https://, got {endpoint.base_url!r}"
            )
        if max_transport_retries < 0 or max_retry_seconds < 0 or request_timeout <= 0:
            raise ValueError("request_timeout must be positive; max_transport_retries and max_retry_seconds >= 0")
        self.endpoint = endpoint
        self.base_url = endpoint.base_url.rstrip("/")
        self.request_timeout = request_timeout
        self.max_transport_retries = max_transport_retries
        self.max_retry_seconds = max_retry_seconds
        self.backoff_seconds = backoff_seconds
        # A short connect timeout: a dead host should not cost the full request timeout. An httpx
        # client of our own makes mid-stream transport errors httpx's, whatever openai uses inside.
        timeout = httpx.Timeout(request_timeout, connect=min(10.0, request_timeout))
        self._http = httpx.Client(timeout=timeout, verify=_shared_tls_context(), transport=transport)
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=endpoint.api_key or "not-needed",
            max_retries=0,
            timeout=timeout,
            http_client=self._http,
        )

    @property
    def root_url(self) -> str:
        """The server root (llama.cpp's /health lives there, not under /v1)."""
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    def close(self) -> None:
        self._client.close()
        self._http.close()

    def __enter__(self) -> "ModelClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- readiness ---------------------------------------------------------------------------
    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Return once the server can answer; a loading llama.cpp (503 on /health) is waited for.

        Raises ``ServerUnreachable`` naming the URL after about ``timeout`` seconds, or ``ModelError``
        at once when the server rejects the API key."""
        deadline = time.monotonic() + timeout
        while True:
            ready, reason = self._probe(max(0.05, min(2.0, deadline - time.monotonic())))
            if ready:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerUnreachable(self.base_url, reason, waited=timeout)
            time.sleep(min(_PROBE_INTERVAL, remaining))

    def _probe(self, timeout: float) -> tuple[bool, str]:
        """One readiness check: /health, or /models for servers without it. (ready, why not)."""
        headers = {"Authorization": f"Bearer {self.endpoint.api_key}"} if self.endpoint.api_key else {}
        try:
            health = self._http.get(f"{self.root_url}/health", headers=headers, timeout=timeout)
            if health.status_code == 200:
                return True, ""
            if health.status_code == 503:
                return False, f"still loading ({body_message(health) or 'HTTP 503 on /health'})"
            models = self._http.get(f"{self.base_url}/models", headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return False, f"no answer within {timeout:.1f} s"
        except httpx.HTTPError as exc:
            return False, describe_transport_error(exc)
        if models.status_code == 200:
            return True, ""
        if models.status_code in (401, 403):
            status = models.status_code
            message = f"model server {self.base_url} rejected the API key (HTTP {status}): {body_message(models)}"
            raise ModelError(message, url=self.base_url, status=status)
        return False, f"GET {self.base_url}/models answered HTTP {models.status_code}"

    # ---- requests ----------------------------------------------------------------------------
    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        on_progress: ProgressCallback | None = None,
        params: dict[str, Any] | None = None,
    ) -> Completion:
        """One streamed chat completion. ``ttft`` is measured within the attempt that succeeded;
        ``seconds`` covers everything, transport retries included."""
        started = time.perf_counter()
        request = self._request_kwargs(messages, params)
        retries = 0

        def count_retry(state: RetryCallState) -> None:
            nonlocal retries
            retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.info("model request failed (%s); retry %d of %d", short_reason(exc), retries, self.max_transport_retries)

        try:
            for attempt in self._retrying(count_retry):
                with attempt:
                    completion = self._stream_once(request, on_progress)
        except openai.APIStatusError as exc:
            raise self._status_error(exc, retries, time.perf_counter() - started) from None
        except (openai.APIConnectionError, httpx.TransportError, StreamCut) as exc:
            raise self._unreachable(exc, retries, time.perf_counter() - started) from None
        completion.transport_retries = retries
        completion.seconds = time.perf_counter() - started
        if not completion.usage.prompt_reported:
            count_prompt_tokens(self._http, self.root_url, self.endpoint, messages, completion.usage)
        return completion

    def list_models(self) -> list[str]:
        """The model ids the server offers (one request, no retries)."""
        try:
            return [model.id for model in self._client.models.list()]
        except openai.APIStatusError as exc:
            raise self._status_error(exc, 0, 0.0) from None
        except openai.APIConnectionError as exc:
            raise self._unreachable(exc, 0, 0.0) from None

    def _request_kwargs(self, messages: list[dict[str, Any]], params: dict[str, Any] | None) -> dict[str, Any]:
        if not messages:
            raise ValueError("complete() needs at least one message")
        merged = {**self.endpoint.params, **(params or {})}
        kwargs = {k: merged.pop(k) for k in _SCHEMA_PARAMS if k in merged}
        kwargs.update(
            model=self.endpoint.model,
            messages=redact_obj(messages),  # last line of defence: no secret value ever leaves in a request
            stream=True,
            stream_options={"include_usage": True},
        )
        if merged:
            kwargs["extra_body"] = merged
        return kwargs

    def _retrying(self, count_retry: Callable[[RetryCallState], None]) -> Retrying:
        return Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self.max_transport_retries + 1) | stop_before_delay(self.max_retry_seconds),
            wait=self._wait,
            before_sleep=count_retry,
            reraise=True,
        )

    def _wait(self, state: RetryCallState) -> float:
        """The server's Retry-After when it sent one (capped), else exponential backoff with jitter."""
        exc = state.outcome.exception() if state.outcome else None
        retry_after = retry_after_seconds(exc)
        if retry_after is not None:
            return min(retry_after, self.max_retry_seconds)
        # Exponential with full jitter on top, so clients that failed together do not retry together.
        exponential = min(_MAX_BACKOFF, self.backoff_seconds * 2 ** (state.attempt_number - 1))
        return exponential + random.uniform(0, self.backoff_seconds)

    def _stream_once(self, request: dict[str, Any], on_progress: ProgressCallback | None) -> Completion:
        # Raw SSE lines, parsed by sse.py (cheaper than the openai client's typed chunks).
        collector = StreamCollector(time.perf_counter(), on_progress)
        events = 0
        with self._client.chat.completions.with_streaming_response.create(**request) as response:
            for event in sse_data(response.iter_lines()):
                if event == "[DONE]":
                    break
                events += 1
                collector.add(self._parse_event(event))
        if events == 0:
            self._raise_if_overflow(request)  # llama-cpp-python's way of saying "too long": see context.py
        if collector.finish_reason is None:
            raise StreamCut(f"the reply stream ended after {collector.tokens} tokens without a finish_reason")
        return collector.completion()

    def _parse_event(self, event: str) -> dict[str, Any]:
        """One SSE data payload as a dict; a malformed chunk or an in-stream error is a ModelError."""
        try:
            chunk = json.loads(event)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict):
            what = f"a chunk that is not a JSON object: {event[:120]!r}"
            raise ModelError(f"model server {self.base_url} streamed {what}", url=self.base_url)
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise ModelError(f"model server {self.base_url} reported an error mid-reply: {message}", url=self.base_url)
        return chunk

    # ---- error translation -------------------------------------------------------------------
    def _raise_if_overflow(self, request: dict[str, Any]) -> None:
        """After an empty stream: the same request unstreamed, one token, answers the overflow as a 400."""
        probe = {k: v for k, v in request.items() if k not in ("stream", "stream_options")}
        # Twice at most: llama-cpp-python closes the connection the broken stream came on, and the
        # pool may hand that dead kept-alive connection to the first probe (measured: a reset).
        for _ in range(2):
            try:
                self._client.chat.completions.create(**{**probe, "max_tokens": 1})
                return
            except openai.APIStatusError as exc:
                overflow = overflow_from_error(self.base_url, exc.status_code, api_message(exc), exc.body)
                if overflow is not None:
                    raise overflow from None
                return
            except (openai.APIConnectionError, httpx.TransportError) as exc:
                log.info("overflow probe after an empty stream failed (%s)", describe_transport_error(exc.__cause__ or exc))

    def context_size(self) -> int | None:
        """The context window the server reports (llama-server /props, vLLM max_model_len), cached."""
        if not hasattr(self, "_context_size"):
            headers = {"Authorization": f"Bearer {self.endpoint.api_key}"} if self.endpoint.api_key else {}
            self._context_size = server_context_size(self._http, self.root_url, self.base_url, self.endpoint.model, headers)
        return self._context_size

    def _status_error(self, exc: openai.APIStatusError, retries: int, seconds: float) -> ModelError:
        status, message = exc.status_code, api_message(exc)
        overflow = overflow_from_error(self.base_url, status, message, exc.body)
        if overflow is not None:
            return overflow
        if status in RETRYABLE_STATUS:
            text = (
                f"model server {self.base_url} kept failing (HTTP {status}: {message}); "
                f"gave up after {retries} retries in {seconds:.1f} s"
            )
        elif status == 404:
            text = f"model server {self.base_url} answered HTTP 404 for model {self.endpoint.model!r}: {message}"
        elif status in (401, 403):
            text = f"model server {self.base_url} rejected the API key (HTTP {status}): {message}"
        else:
            text = f"model server {self.base_url} rejected the request (HTTP {status}): {message}"
        return ModelError(text, url=self.base_url, status=status)

    def _unreachable(self, exc: Exception, retries: int, seconds: float) -> ServerUnreachable:
        if isinstance(exc, StreamCut):
            reason = str(exc)
        elif isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
            reason = f"no answer within {self.request_timeout:.1f} s"
        else:
            reason = describe_transport_error(exc.__cause__ or exc)
        if retries:
            reason += f"; gave up after {retries} retries"
        return ServerUnreachable(self.base_url, reason, waited=seconds if retries else None)


@functools.lru_cache(maxsize=1)
def _shared_tls_context() -> Any:
    """Loading the CA bundle costs 50-100 ms per httpx client; the eval makes a client per run."""
    return httpx.create_ssl_context() if hasattr(httpx, "create_ssl_context") else True


