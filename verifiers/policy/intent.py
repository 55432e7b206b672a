"""Which built-in rule sets a request asks for: prompt words × resource types → rule references.

The vocabulary (trigger/exclude patterns, resource types) lives in ``policies/pack.json`` next to the
Rego files, so adding a rule set needs no code change here. Pure: no I/O beyond reading that index.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

POLICY_DIR = Path(__file__).parent / "policies"
PACK_INDEX = POLICY_DIR / "pack.json"


@dataclass(frozen=True)
class RuleRef:
    """One built-in rule set: a Rego package whose ``deny`` set holds actionable messages."""

    name: str  # e.g. "no_public_access" — the rule name shown in diagnostics and notes
    package: str  # e.g. "tfagent.rules.no_public_access"
    path: Path  # the .rego file
    title: str
    triggers: tuple[str, ...]
    exclude: tuple[str, ...]
    resource_types: frozenset[str]
    always_for: frozenset[str]


@lru_cache(maxsize=1)
def load_pack() -> tuple[tuple[RuleRef, ...], tuple[Path, ...]]:
    """The rule sets and the library modules they import, from ``pack.json``."""
    try:
        index = json.loads(PACK_INDEX.read_text(encoding="utf-8"))
        rules = tuple(
            RuleRef(
                name=r["name"],
                package=r["package"],
                path=POLICY_DIR / r["file"],
                title=r["title"],
                triggers=tuple(r["triggers"]),
                exclude=tuple(r.get("exclude", ())),
                resource_types=frozenset(r["resource_types"]),
                always_for=frozenset(r.get("always_for", ())),
            )
            for r in index["rules"]
        )
        library = tuple(POLICY_DIR / p for p in index["library"])
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(f"the built-in policy index {PACK_INDEX} is broken: {exc}") from exc
    return rules, library


def all_rules() -> list[RuleRef]:
    return list(load_pack()[0])


def _mentions(prompt: str, patterns: tuple[str, ...]) -> bool:
    return any(re.search(p, prompt, re.IGNORECASE) for p in patterns)


def prompt_asks_for(rule: RuleRef, prompt: str) -> bool:
    """The prompt asks for what the rule checks (and does not ask for its opposite)."""
    return _mentions(prompt, rule.triggers) and not _mentions(prompt, rule.exclude)


def select_rules(prompt: str, resource_types: set[str]) -> list[RuleRef]:
    """Rule sets that apply to this request, in pack order.

    A rule set applies when the prompt asks for it and the configuration has a resource it checks
    (a rule about buckets says nothing about a VPC), or always when the configuration has one of its
    ``always_for`` types (firewalls: admin ports must never be open to the internet)."""
    selected = []
    for rule in all_rules():
        always = bool(rule.always_for & resource_types)
        asked = prompt_asks_for(rule, prompt) and bool(rule.resource_types & resource_types)
        if always or asked:
            selected.append(rule)
    return selected
