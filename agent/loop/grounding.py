"""The provider's knowledge before the first token (``--grounding schema``).

Small models fail on knowledge they never had — invented arguments, invented types (the 0.5B A/B:
186 of 321 errors were unsupported arguments). Nekrasov et al. (arXiv 2512.14792) took GPT-4o on
IaC-Eval from 27 % to 58 % by putting each needed resource's required arguments in the prompt. Here:

1. ``retrieve`` — the resource (and data source) types a sentence needs, from the sentence alone and
   the provider schema index (the catalogue): type names whose every word the sentence holds ("Route 53
   record" -> aws_route53_record), how people name services (``service_names.py``: "load balancer",
   "private bucket", "Redis"), a service named alone ("Amazon Lightsail" -> its main type), then the
   types that required arguments point at (``zone_id`` -> aws_route53_zone, ``vpc_id`` -> aws_vpc).
   Never a task's tags, description, intent or reference: those are the eval's answer key.
2. ``cards`` — per type an HCL skeleton: the required arguments with plausible example values by type
   (a small model copies ``<string>`` literally), references to the other retrieved types where a
   required argument points at one, required nested blocks, then the names of the optional arguments
   and blocks — cut to a token budget derived from the context size.

The cards go in the first user turn (the system prompt never changes: the prefix cache); all of this is
pure over (sentence, index), so the same sentence always gets the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tfagent.prompts import render, render_line
from tfagent.verifiers.terraform.schema_index import Block, SchemaIndex

from .feedback import estimate_tokens
from .service_names import AMBIGUOUS_TYPES, JOINED, PHRASES, POLICY_ARGUMENTS, POLICY_DOCUMENT, SERVICE_MAIN

MAX_TYPES = 8  # cards per request: beyond this a small model's context goes to cards it will not use
CARD_SHARE = 4  # the cards may take at most 1/CARD_SHARE of the server's context
DEFAULT_CONTEXT = 4096  # when the server does not say (tfagent serve's default slot size)
OPTIONAL_NAMES = (24, 8, 0)  # optional names listed per card, tried in turn until the cards fit
_REF_SUFFIXES = ("_identifier", "_names", "_name", "_arns", "_arn", "_ids", "_id")
LABEL = "example"
NO_SCHEMA_NOTE = ("--grounding schema: no provider schema to read (no provider in the mirror, and the registry "
                  "cannot be reached without one: give --provider-mirror DIR); the first request carries the sentence alone")
_GENERIC_STEMS = frozenset({"name", "type", "key", "value", "id", "arn", "description", "version", "identifier"})


@dataclass(frozen=True)
class Retrieved:
    kind: str  # "resource" | "data"
    type: str
    why: str  # how it was found: "named", "phrase: load balancer", "service: lightsail", "zone_id of aws_route53_record"


# ---- words -------------------------------------------------------------------------------------
def singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def sentence_words(text: str) -> list[str]:
    """Lowercase words, singular, with service names written apart joined ("route 53" -> route53)."""
    raw = [singular(w) for w in re.findall(r"[a-z0-9]+", text.lower())]
    words: list[str] = []
    i = 0
    while i < len(raw):
        pair = (raw[i], raw[i + 1]) if i + 1 < len(raw) else None
        if pair in JOINED:
            words.append(JOINED[pair])
            i += 2
        else:
            words.append(raw[i])
            i += 1
    return words


def _vocabulary(text: str) -> set[str]:
    """Every word form the sentence holds: as written, singular, and joined service names."""
    written = re.findall(r"[a-z0-9]+", text.lower())
    return set(written) | {singular(w) for w in written} | set(sentence_words(text))


def _tokens(type_name: str) -> list[str]:
    return type_name.split("_")[1:]


def _contiguous(part: list[str], whole: list[str]) -> bool:
    """``part`` stands in ``whole`` word for word, in order, without gaps."""
    n = len(part)
    return any(whole[i:i + n] == part for i in range(len(whole) - n + 1))


def _has_phrase(words: list[str], phrase: str) -> bool:
    return _contiguous([singular(w) for w in phrase.split()], words)


def _is_part_of(small: list[str], big: list[str]) -> bool:
    return len(big) > len(small) and _contiguous(small, big)


# ---- retrieval ---------------------------------------------------------------------------------
def retrieve(index: SchemaIndex, sentence: str, limit: int = MAX_TYPES) -> list[Retrieved]:
    """The types ``sentence`` needs, most specific first, then those they reference; at most ``limit``."""
    words, vocab = sentence_words(sentence), _vocabulary(sentence)
    resources = index.types("resource")
    known = set(resources)
    found: list[Retrieved] = []

    def add(kind: str, name: str, why: str) -> None:
        if name not in {r.type for r in found} and (name in known or kind == "data"):
            found.append(Retrieved(kind, name, why))

    named = _named(resources, vocab, words)
    for t in named:
        add("resource", t, "named")
    services = [w for w in dict.fromkeys(words) if w in SERVICE_MAIN]
    for phrase, targets in sorted(PHRASES.items(), key=lambda kv: (-len(kv[0]), kv[0])):
        # "IAM user with an SSH key" names aws_iam_user_ssh_key: the phrase adds nothing then.
        if _has_phrase(words, phrase) and not any(set(sentence_words(phrase)) <= set(_tokens(t)) for t in named):
            for target in _phrase_targets(targets, services, known):
                add("resource", target, f"phrase: {phrase}")
    # "a mySQL instance and a snapshot of it": once the service is known (db), its types the sentence
    # names by their other words (aws_db_snapshot) count as named too.
    implied = {_tokens(r.type)[0] for r in found if _tokens(r.type)} - vocab
    for t in _named([t for t in resources if _tokens(t)[:1] and _tokens(t)[0] in implied], vocab | implied, words):
        add("resource", t, "named with its service")
    for service in services:  # "Lightsail with a static IP": the service's main type comes along
        add("resource", SERVICE_MAIN[service], f"service: {service}")
    # A static IP is attached to what it serves: the joining type comes along (an association only
    # when the sentence says so: a Route 53 zone is rarely associated with a VPC).
    joints = ("_attachment", "_association") if any(w.startswith("associat") for w in words) else ("_attachment",)
    for r in [r for r in found if r.why == "named"]:
        for joint in joints:
            add("resource", r.type + joint, f"joins {r.type}")
    _follow_references(index, found, vocab, add, limit)
    return found[:limit]


def _named(types: list[str], vocab: set[str], words: list[str]) -> list[str]:
    """Types whose every word the sentence holds, most specific first. A type written out inside a
    longer one the sentence names word for word is not named on its own: "egress-only internet
    gateway" names aws_egress_only_internet_gateway, not also aws_internet_gateway."""
    named = [t for t in types if t not in AMBIGUOUS_TYPES and _tokens(t) and set(_tokens(t)) <= vocab]
    spelled = [t for t in named if _contiguous(_tokens(t), words)]
    named = [t for t in named if not any(_is_part_of(_tokens(t), _tokens(o)) for o in spelled if o != t)]
    return sorted(named, key=lambda t: (-len(_tokens(t)), t))



def _phrase_targets(targets: tuple[str, ...], services: list[str], known: set[str]) -> list[str]:
    if not targets or not targets[0].startswith("*"):
        return list(targets)
    suffix = targets[0][1:]
    for service in services:
        for t in sorted(known):
            if t.endswith("_" + suffix) and _tokens(t)[:1] == [service]:
                return [t]
    return list(targets[1:])


def _follow_references(index: SchemaIndex, found: list[Retrieved], vocab: set[str], add, limit: int) -> None:
    """Bring along what required arguments point at, breadth first, two levels deep."""
    start = 0
    for _ in range(2):
        level = found[start:]
        start = len(found)
        for item in level:
            if len(found) >= limit or item.kind != "resource":
                continue
            block = index.block("resource", item.type)
            for attr in block.required_attributes() if block else []:
                if attr.name in POLICY_ARGUMENTS and attr.type == "string":
                    add("data", POLICY_DOCUMENT, f"{attr.name} of {item.type}")
                    continue
                target = reference_target(index, item.type, attr.name, vocab)
                if target:
                    add("resource", target, f"{attr.name} of {item.type}")


def _stems(argument: str) -> list[str]:
    stem = argument
    for suffix in _REF_SUFFIXES:
        if argument.endswith(suffix) and len(argument) > len(suffix):
            stem = argument[: -len(suffix)]
            break
    parts = stem.split("_")
    return ["_".join(parts[i:]) for i in range(len(parts))]  # peer_vpc, then vpc


def reference_target(index: SchemaIndex, source: str, argument: str, vocab: set[str] | None = None) -> str | None:
    """The resource type a required argument of ``source`` most likely refers to (None: none is
    likely). Same service first (``zone_id`` of aws_route53_record -> aws_route53_zone), then the
    provider's type of that name (``vpc_id`` -> aws_vpc), then one of a few types of another service
    ending in the name (``role_arn`` -> aws_iam_role), preferring services the sentence names."""
    resources = index.types("resource")
    provider, service = source.split("_", 1)[0], _tokens(source)[:1]
    # Only names built like references (zone_id, role_arn, table_name) may point across services; a
    # plain name (bucket, application) only at a type of the same service.
    reference_like = argument.endswith(_REF_SUFFIXES)
    for stem in _stems(argument):
        ending = [t for t in resources if t != source and (t == f"{provider}_{stem}" or t.endswith("_" + stem))]
        if not ending:
            continue
        same = [t for t in ending if _tokens(t)[:1] == service]
        if same:
            return min(same, key=lambda t: (-len(set(_tokens(t)) & set(_tokens(source))), len(t), t))
        if not reference_like or stem in _GENERIC_STEMS:
            return None
        if f"{provider}_{stem}" in ending:
            return f"{provider}_{stem}"
        named = [t for t in ending if vocab and _tokens(t)[:1] and _tokens(t)[0] in vocab]
        if named:
            return min(named, key=lambda t: (len(t), t))
        if len(ending) <= 3:
            return min(ending, key=lambda t: (len(t), t))
        return None
    return None


# ---- cards -------------------------------------------------------------------------------------
def example_value(name: str, type_expr: str) -> str:
    """A plausible HCL value for an argument of this name and type (never a ``<placeholder>``)."""
    t = type_expr.replace(" ", "")
    if t == "bool":
        return "true"
    if t == "number":
        return "1"
    if t.startswith(("list(", "set(")):
        inner = t[t.index("(") + 1:-1]
        return f"[{example_value(name, inner)}]" if inner in ("string", "number", "bool") else "[]"
    if t.startswith("map("):
        return '{ example = "example" }'
    if t != "string":
        return "{}"
    if name.endswith("cidr_block"):
        return '"10.0.0.0/16"'
    if name.endswith("availability_zone"):
        return '"us-east-1a"'
    if name == "region" or name.endswith("_region"):
        return '"us-east-1"'
    if name.endswith("_arn") or name == "arn":
        return '"arn:aws:iam::123456789012:role/example"' if "role" in name else \
            '"arn:aws:sns:us-east-1:123456789012:example"'
    return f'"{LABEL}"'


def _reference_value(index: SchemaIndex, target: str, argument: str) -> str:
    block = index.block("resource", target)
    exported = set(block.exported()) if block else set()
    if not argument.endswith(_REF_SUFFIXES):
        attr = "id"  # bucket = aws_s3_bucket.example.id: the idiomatic reference
    elif argument in exported:
        attr = argument
    elif argument.endswith("_arn") and "arn" in exported:
        attr = "arn"
    elif argument.endswith("_name") and "name" in exported:
        attr = "name"
    else:
        attr = "id"
    return f"{target}.{LABEL}.{attr}"


def _body(index: SchemaIndex, source: str, block: Block, chosen: set[str], indent: str) -> list[str]:
    lines: list[str] = []
    attrs = block.required_attributes()
    width = max((len(a.name) for a in attrs), default=0)
    for attr in attrs:
        target = reference_target(index, source, attr.name) if source else None
        value = _reference_value(index, target, attr.name) if target in chosen and attr.type == "string" \
            else example_value(attr.name, attr.type)
        lines.append(f"{indent}{attr.name.ljust(width)} = {value}")
    for nested in block.required_blocks():
        lines.append(f"{indent}{nested.name} {{")
        lines += _body(index, "", nested.block, chosen, indent + "  ")
        lines.append(f"{indent}}}")
    return lines


def _optional_names(block: Block) -> list[str]:
    attrs = [a for a in block.attributes.values() if a.optional and not a.required and not a.deprecated
             and a.name not in ("id", "tags_all")]
    blocks = [b for b in block.blocks.values() if not b.required]
    return sorted(a.name for a in attrs) + sorted(f"{b.name} {{ … }}" for b in blocks)


def card(index: SchemaIndex, item: Retrieved, chosen: set[str], optional_limit: int) -> str:
    block = index.block(item.kind, item.type)
    if block is None:
        return ""
    lines = [f'{item.kind} "{item.type}" "{LABEL}" {{']
    lines += _body(index, item.type if item.kind == "resource" else "", block, chosen, "  ")
    names = _optional_names(block)
    if optional_limit and names:
        shown = names[:optional_limit]
        more = len(names) - len(shown)
        text = ", ".join(shown) + (render_line("card_more", count=more) if more > 0 else "")
        lines.append(render_line("card_optional", names=text))
    lines.append("}")
    return "\n".join(lines)


def cards(index: SchemaIndex, retrieved: list[Retrieved], budget_tokens: int) -> str:
    """The cards of ``retrieved`` in order, within ``budget_tokens``: fewer optional names first,
    then fewer cards (the last retrieved go first); "" when nothing fits."""
    chosen = {r.type for r in retrieved}
    for limit in OPTIONAL_NAMES:
        texts = [c for c in (card(index, r, chosen, limit) for r in retrieved) if c]
        while texts and estimate_tokens("\n\n".join(texts)) > budget_tokens:
            if limit != OPTIONAL_NAMES[-1]:
                break
            texts.pop()
        if texts and estimate_tokens("\n\n".join(texts)) <= budget_tokens:
            return "\n\n".join(texts)
    return ""


def card_budget(context_size: int | None) -> int:
    return (context_size or DEFAULT_CONTEXT) // CARD_SHARE


@dataclass
class Grounding:
    retrieved: list[Retrieved]
    text: str  # the cards as they go into the request ("" when none)

    @property
    def types(self) -> list[str]:
        return [r.type for r in self.retrieved]


def ground(index: SchemaIndex, sentence: str, context_size: int | None = None) -> Grounding:
    retrieved = retrieve(index, sentence)
    return Grounding(retrieved, cards(index, retrieved, card_budget(context_size)))


def wants_grounding(request) -> bool:
    """The run asks for cards in its first request (``--grounding schema`` on a Terraform run)."""
    return request.grounding_mode == "schema" and request.mode == "terraform"


def grounding_for(request, index: SchemaIndex | None, context_size: int | None = None) -> tuple[Grounding | None, str | None]:
    """(the cards of the run's first request or None, a note when they were asked for but no provider
    schema can be read). One answer for the loop's first request and ``--dry-run``'s."""
    if not wants_grounding(request):
        return None, None
    if index is None:
        return None, NO_SCHEMA_NOTE
    return ground(index, request.prompt, context_size), None


def ground_types(index: SchemaIndex, names: list[str], context_size: int | None = None) -> tuple[Grounding, dict[str, list[str]]]:
    """Cards for types named by the caller (the MCP ``terraform_schema`` tool): a resource type, else a
    data source of that name. Returns the grounding and, for each unknown name, the closest real types."""
    from tfagent.verifiers.terraform.schema_index import closest

    found: list[Retrieved] = []
    unknown: dict[str, list[str]] = {}
    resources, data = index.types("resource"), index.types("data")
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        if name in resources:
            found.append(Retrieved("resource", name, "asked"))
        elif name in data:
            found.append(Retrieved("data", name, "asked"))
        else:
            unknown[name] = closest(name, resources, limit=5)
    return Grounding(found, cards(index, found, card_budget(context_size))), unknown


def grounded_request(user_turn: str, grounding: Grounding) -> str:
    """The first user turn with the cards after the task (unchanged when there are none)."""
    if not grounding.text:
        return user_turn
    return render("grounded_request", request=user_turn.strip(), cards=grounding.text).strip()
