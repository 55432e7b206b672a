"""Grammar-constrained replies (``--constrain format|schema``) for servers that take a GBNF grammar.

* ``format``: the reply contract — optional prose lines, then fenced blocks whose opening fence names a
  relative ``.tf`` path (```` ```hcl title="main.tf" ````), nothing after the last block.
* ``schema``: the same, and every unindented ``resource "<type>"`` / ``data "<type>"`` header must name
  a real type of the provider (from the schema index), narrowed to the types whose words appear in the
  prompt (plus the closest names), so the grammar stays small. Inside blocks the grammar is free text:
  HCL's own structure is left to the verifier, because a half-right grammar of HCL would force a small
  model into worse code than no grammar at all.

The grammar travels as a request parameter (llama.cpp's ``grammar`` field; vLLM's ``guided_grammar``),
so the conversation — and the server's prefix cache — is the same with or without it. A server that
rejects it gets the request again without the field and the run one note (see ``nodes``).
"""

from __future__ import annotations

import json
import re

from tfagent.verifiers.terraform.schema_index import SchemaIndex, closest

from .grounding import retrieve, sentence_words

MAX_TYPES = 60  # resource + data types listed in a schema grammar
GRAMMAR_FIELDS = {"llama.cpp": "grammar", "vllm": "guided_grammar"}
_REJECTION = re.compile(r"grammar|guided|unrecognized request argument|extra inputs are not permitted", re.IGNORECASE)

_CONTRACT = r'''root ::= prose* file+
prose ::= [^`\n] [^\n]* "\n" | "\n"
file ::= "```hcl title=\"" path "\"\n" body "```" "\n"?
path ::= [a-zA-Z0-9_] [a-zA-Z0-9_/.-]* ".tf"
'''
_FREE_BODY = r'''body ::= bodyline*
bodyline ::= ([^`\n] [^\n]*)? "\n"
'''
_SCHEMA_BODY = r'''body ::= bodyline*
bodyline ::= "\n" | indented | header | other
indented ::= [ \t}] [^\n]* "\n"
other ::= [^ \t\n`rd}] [^\n]* "\n"
header ::= "resource \"" rtype "\" \"" label "\" {" "\n" | "data \"" dtype "\" \"" label "\" {" "\n"
label ::= [a-zA-Z_] [a-zA-Z0-9_-]*
'''


def _alternatives(names: list[str]) -> str:
    return " | ".join(json.dumps(n) for n in names) if names else '"aws_" [a-z0-9_]+'


def relevant_types(index: SchemaIndex, kind: str, prompt: str, limit: int) -> list[str]:
    """The types the sentence needs (the retrieval of ``--grounding schema``: "Route 53" finds
    aws_route53_*), then types sharing a word with it, then the closest to each word: a grammar that
    forbids a needed type is worse than none, so it stays wider than the cards."""
    words = {w for w in re.findall(r"[a-z0-9]+", prompt.lower()) if len(w) > 1} | set(sentence_words(prompt))
    types = index.types(kind)
    chosen = [r.type for r in retrieve(index, prompt, limit) if r.kind == kind][:limit]
    scored = [t for t in types if words & set(t.split("_")[1:]) and t not in chosen]
    scored.sort(key=lambda t: (-len(words & set(t.split("_")[1:])), len(t), t))
    chosen += scored[:limit - len(chosen)]
    for word in sorted(words):
        if len(chosen) >= limit:
            break
        for t in closest(word, types, limit=2):
            if t not in chosen and len(chosen) < limit:
                chosen.append(t)
    return sorted(chosen)


def build_grammar(mode: str, index: SchemaIndex | None = None, prompt: str = "") -> str:
    """The GBNF text for ``mode`` ("format" | "schema"); ``schema`` without an index is ``format``."""
    if mode not in ("format", "schema"):
        raise ValueError(f"no grammar for constrain mode {mode!r}")
    if mode == "format" or index is None:
        return _CONTRACT + _FREE_BODY
    resources = relevant_types(index, "resource", prompt, MAX_TYPES * 2 // 3)
    data = relevant_types(index, "data", prompt, MAX_TYPES // 3)
    return (_CONTRACT + _SCHEMA_BODY + f"rtype ::= {_alternatives(resources)}\n"
            f"dtype ::= {_alternatives(data)}\n")


def grammar_params(field: str, grammar: str) -> dict[str, str]:
    return {field: grammar}


def is_grammar_rejection(status: int | None, message: str) -> bool:
    """A 4xx that names the grammar (or an unknown request field): the server does not take it."""
    return status is not None and 400 <= status < 500 and bool(_REJECTION.search(message or ""))
