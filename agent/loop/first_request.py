"""The exact first request of a run, built without a model server (``tfagent "…" --dry-run``): what
the model is told — the messages, the schema cards of ``--grounding schema`` and the grammar of
``--constrain`` — so a user can read it before spending a token. Needs the provider (the schema index)
when grounding or a schema grammar asks for it, never a server."""

from __future__ import annotations

from typing import Any

from tfagent.verifiers.terraform.schema_index import SchemaIndex, provider_index

from tfagent.agent.loop.candidates import candidate_count, candidate_sampling
from tfagent.agent.loop.grammar import build_grammar
from tfagent.agent.loop.grounding import grounding_for, wants_grounding
from tfagent.agent.loop.nodes import first_messages
from tfagent.agent.loop.state import RunRequest


def needs_index(request: RunRequest) -> bool:
    return wants_grounding(request) or (request.mode == "terraform" and request.constrain_mode == "schema")


def first_request(request: RunRequest, context_size: int | None = None,
                  index: SchemaIndex | None = None) -> dict[str, Any]:
    """``{"messages", "grammar", "grounding", "endpoint", "notes", "candidates"}`` of the run's first request.
    ``context_size``: the server's, when known (the cards' budget); else the default slot size."""
    if index is None and needs_index(request):
        index = provider_index(request.options)
    grounding, note = grounding_for(request, index, context_size)
    notes = [note] if note else []
    grammar = None
    if request.mode == "terraform" and request.constrain_mode != "off":
        grammar = build_grammar(request.constrain_mode, index, request.prompt)
    return {
        "endpoint": request.endpoint.public_dict(),
        "messages": first_messages(request, grounding),
        "grammar": grammar,
        "grounding": [{"kind": r.kind, "type": r.type, "why": r.why} for r in grounding.retrieved] if grounding else None,
        "notes": notes,
        # How many times this request goes out (--candidates): candidate 1 as shown, the others sampled.
        "candidates": [{"candidate": i + 1, **candidate_sampling(request, i)} for i in range(candidate_count(request, []))],
    }
