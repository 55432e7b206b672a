"""Make a retry's conversation fit the model's context window, dropping the least useful text first.

The conversation is system, first user turn, then (reply, feedback) pairs. A retry normally sends
exactly the previous request + the reply + one feedback turn (the server's prefix cache depends on
it); only when that no longer fits do we give the prefix up, one step at a time, least harmful first:

1. drop the older (reply, feedback) pairs, keeping the newest one (the feedback the model must act on);
2. replace the newest reply by a one-line note saying it was left out (a cut-off or rambling reply is
   usually what filled the window, and the feedback still names what to fix).

The system prompt, the task and the newest feedback are never dropped: without them a retry is not a
retry. When even that does not fit, there is nothing left to drop and the run ends (``ContextOverflow``).
"""

from __future__ import annotations

from tfagent.prompts import render

Messages = list[dict[str, str]]


def shrink(messages: Messages) -> tuple[Messages, str] | None:
    """The next smaller conversation and a note saying what was dropped, or None when nothing can go."""
    head, pairs = messages[:2], messages[2:]
    if len(pairs) > 2:
        dropped = len(pairs) // 2 - 1
        return head + pairs[-2:], f"dropped the {dropped} oldest reply/feedback pair(s) to fit the model's context"
    if len(pairs) == 2 and not _is_note(pairs[0]["content"]):
        reply = pairs[0]["content"]
        note = render("omitted_reply", chars=len(reply)).strip()
        return head + [{"role": "assistant", "content": note}, pairs[1]], (
            f"left the previous reply ({len(reply)} characters) out to fit the model's context")
    return None


def estimated_tokens(previous_prompt_tokens: int, previous_completion_tokens: int, feedback: str) -> int:
    """The next request's size from the server's own count of the previous one (+ feedback ≈ chars/4,
    + a few tokens of chat-template framing per added turn)."""
    return previous_prompt_tokens + previous_completion_tokens + len(feedback) // 4 + 16


def _is_note(text: str) -> bool:
    prefix = render("omitted_reply", chars="\0").split("\0")[0]
    return text.startswith(prefix)
