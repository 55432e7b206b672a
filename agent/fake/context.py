"""The scripted server's context window: overflow answered the way each real server answers it.

``ScriptedServer(context_size=N, context_style=…)`` plays one of (see agent/model/context.py for the
sources): ``llama-server`` (``GET /props`` reports n_ctx; a prompt of n_ctx tokens or more gets
HTTP 400 ``exceed_context_size_error``), ``vllm`` (``/v1/models`` reports ``max_model_len``; prompt +
max_tokens over it gets HTTP 400 "This model's maximum context length is …"), ``llama-cpp-python``
(reports nothing; a streamed request gets HTTP 200 and a stream with no event at all, an unstreamed
one the OpenAI-style 400). Tokens are counted as the scripted usage counts them (≈ chars/4).
"""

from __future__ import annotations

from typing import Any

CONTEXT_STYLES = ("llama-server", "vllm", "llama-cpp-python")
EMPTY_STREAM = "empty-stream"


def check_style(style: str) -> None:
    if style not in CONTEXT_STYLES:
        raise ValueError(f"context_style must be one of {CONTEXT_STYLES}, got {style!r}")


def props(style: str, context_size: int | None) -> dict[str, Any] | None:
    """llama-server's GET /props document (None: the server has no such route)."""
    if style != "llama-server":
        return None
    return {"default_generation_settings": {"n_ctx": context_size or 4096}, "total_slots": 1}


def model_fields(style: str, context_size: int | None) -> dict[str, Any]:
    """Extra fields of each /v1/models entry (vLLM reports the window there)."""
    return {"max_model_len": context_size} if style == "vllm" and context_size else {}


def overflow_answer(style: str, context_size: int, prompt_tokens: int,
                    body: dict[str, Any]) -> tuple[int, dict[str, Any]] | str | None:
    """None when the request fits; else (status, JSON document) or EMPTY_STREAM."""
    max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 0)
    if style == "vllm":
        if prompt_tokens + max_tokens <= context_size:
            return None
        message = (f"This model's maximum context length is {context_size} tokens. However, you requested "
                   f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, {max_tokens} in the "
                   "completion). Please reduce the length of the messages or completion.")
        return 400, {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": 400}
    if prompt_tokens < context_size:
        return None
    if style == "llama-server":
        return 400, {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it",
                               "type": "exceed_context_size_error", "n_prompt_tokens": prompt_tokens, "n_ctx": context_size}}
    if body.get("stream"):
        return EMPTY_STREAM
    message = (f"This model's maximum context length is {context_size} tokens. However, you requested "
               f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, {max_tokens} in the completion). "
               "Please reduce the length of the messages or completion.")
    return 400, {"error": {"message": message, "type": "invalid_request_error", "param": "messages",
                           "code": "context_length_exceeded"}}
