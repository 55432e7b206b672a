"""Token accounting of one reply: the server's own usage, else its tokenizer, else "not reported".

llama-server sends `usage` (with `prompt_tokens_details.cached_tokens`) and `timings` in the last
chunk of every stream; vLLM and SGLang send `usage` when asked (`stream_options.include_usage`);
llama-cpp-python's server sends none. A missing prompt count is then taken from the server's own
tokenizer — vLLM's `/tokenize` takes the messages and applies the chat template; llama.cpp's
`/tokenize` and llama-cpp-python's `/extras/tokenize/count` take text, so there the count is the
messages' text without the template's few role tokens — and when no endpoint answers, the attempt
says "not reported" instead of a made-up 0.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from tfagent.agent.core.types import Endpoint, Usage

log = logging.getLogger(__name__)


def usage_from(usage: dict[str, Any]) -> Usage:
    """An OpenAI-style `usage` object; a missing prompt count is marked, not zeroed."""
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    prompt = usage.get("prompt_tokens")
    source = "server" if isinstance(prompt, int) and not isinstance(prompt, bool) else "not reported"
    return Usage(int(prompt or 0), int(usage.get("completion_tokens") or 0), cached, source)


def token_count(document: Any) -> int | None:
    """{"count": n} (vLLM, llama-cpp-python) or {"tokens": [...]} (llama.cpp); None otherwise."""
    if not isinstance(document, dict):
        return None
    if isinstance(document.get("count"), int):
        return document["count"]
    tokens = document.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None


def count_prompt_tokens(http: httpx.Client, root_url: str, endpoint: Endpoint, messages: list[dict[str, Any]],
                        usage: Usage) -> None:
    """Fill `usage.prompt_tokens` from the server's tokenize endpoint (source "tokenize"), or leave
    it "not reported". One short request per probe; failures are logged, never raised."""
    text = "\n".join(str(m.get("content") or "") for m in messages)
    probes = ((f"{root_url}/tokenize", {"model": endpoint.model, "messages": messages, "content": text}),
              (f"{root_url}/extras/tokenize/count", {"model": endpoint.model, "input": text}))
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    for url, body in probes:
        try:
            response = http.post(url, json=body, headers=headers, timeout=10.0)
            document = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("prompt count via %s failed: %s", url, exc)
            continue
        count = token_count(document)
        if count:
            usage.prompt_tokens, usage.prompt_source = count, "tokenize"
            return
