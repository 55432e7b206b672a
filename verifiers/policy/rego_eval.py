"""Evaluating Rego in-process with regopy (rego-cpp), and reading its verdicts.

Facts about regopy 1.5 this module works around (each was observed here):
- ``Interpreter.query`` parses the output string as JSON and crashes when the result is an error
  document ("Function not found: foo.bar" is returned as non-JSON text); we call the C API directly.
- ``set_input`` (from a Python object) loses the escaping of ``"`` inside strings, so the output JSON
  breaks; ``set_input_term(json.dumps(...))`` keeps it.
- Networking builtins (``net.cidr_*``) are not compiled in: a call is silently *undefined*, which would
  turn an intent rule false. We find such calls before evaluating and report them as unsupported,
  after replacing the ones we have a pure-Rego stand-in for (``net.cidr_is_valid``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from regopy import Interpreter, LogLevel, RegoError

# The C API: regopy's public wrappers do not expose an error-tolerant query (see module docstring).
from regopy.rego_shared import rego_free_output, rego_output_ok, rego_output_string, rego_query

STANDINS_FILE = Path(__file__).parent / "policies" / "lib" / "standins.rego"
# builtin name -> the stand-in the policy text is rewritten to call
STANDINS = {"net.cidr_is_valid": "data.tfagent.standins.cidr_is_valid"}

_COMMENT = re.compile(r"#[^\n]*")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`')
_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\(")
_FUNCTION_HEAD = re.compile(r"^\s*([A-Za-z_]\w*)\s*\([^()\n]*\)\s*(?::=|=|\{|if\b)", re.M)
_IMPORT = re.compile(r"^\s*import\s+([\w.]+)(?:\s+as\s+(\w+))?", re.M)
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.M)
_KEYWORDS = {"not", "some", "every", "if", "in", "contains", "with", "else", "default", "as", "import", "package"}
# Part of OPA but not reported by regopy's is_builtin; evaluated fine.
_ACCEPTED = {"print"}


class RegoEvalError(RuntimeError):
    """Rego did not compile or evaluate; the message is rego-cpp's, with the module name and line."""


@dataclass
class PolicyOutcome:
    """What one policy concluded about one input.

    ``ok``: no rule false and no deny message. ``failed_rules``: dotted names of the false leaves of the
    evaluated document (IaC-Eval's verdict) or ``deny`` for deny-style policies. ``error``: the policy
    did not compile/evaluate. ``unsupported_builtin``: it calls a builtin regopy lacks (its verdict is
    unknown — never count that as a model failure)."""

    ok: bool
    failed_rules: list[str] = field(default_factory=list)
    error: str | None = None
    unsupported_builtin: str | None = None
    messages: list[str] = field(default_factory=list)  # deny messages, when the policy has them
    document: Any = None  # the evaluated document, for reports


def package_of(policy_text: str) -> str:
    match = _PACKAGE.search(policy_text)
    if not match:
        raise RegoEvalError("the policy has no `package` line")
    return match.group(1)


def _code_only(text: str) -> str:
    """Policy text without comments and string literals (so words in them are not taken for calls)."""
    return _COMMENT.sub("", _STRING.sub('""', text))


def apply_standins(policy_text: str) -> tuple[str, bool]:
    """Rewrite calls of builtins we have a stand-in for. Returns (text, whether a stand-in is used)."""
    used = False
    for builtin, replacement in STANDINS.items():
        pattern = re.compile(r"(?<![\w.])" + re.escape(builtin) + r"(?=\s*\()")
        if pattern.search(policy_text):
            policy_text, used = pattern.sub(replacement, policy_text), True
    return policy_text, used


@lru_cache(maxsize=1)
def _builtin_checker() -> Interpreter:
    return Interpreter()


def unsupported_builtins(policy_texts: list[str]) -> list[str]:
    """Calls in the policies that are neither functions they define nor builtins regopy has."""
    code = [_code_only(t) for t in policy_texts]
    defined = {m.group(1) for c in code for m in _FUNCTION_HEAD.finditer(c)}
    aliases = {"data", "input"}
    for c in code:
        for m in _IMPORT.finditer(c):
            aliases.add(m.group(2) or m.group(1).rsplit(".", 1)[-1])
    checker = _builtin_checker()
    missing: list[str] = []
    for c in code:
        for m in _CALL.finditer(c):
            name = m.group(1)
            root = name.split(".", 1)[0]
            if name in _KEYWORDS or name in defined or name in _ACCEPTED or ("." in name and root in aliases):
                continue
            if not checker.is_builtin(name) and name not in missing:
                missing.append(name)
    return missing


def run_queries(modules: list[tuple[str, str]], input_obj: Any, queries: list[str]) -> dict[str, Any]:
    """Load the modules, set the input, run each query. Returns query → value (None when undefined).

    Raises RegoEvalError naming the module and line when a module does not compile or a query fails."""
    interpreter = Interpreter()
    interpreter.log_level = LogLevel.NONE  # rego-cpp would print parse errors to stdout; we raise them instead
    try:
        for name, text in modules:
            interpreter.add_module(name, text)
        interpreter.set_input_term(json.dumps(input_obj))
    except RegoError as exc:
        raise RegoEvalError(_rego_error_text(str(exc), dict(modules))) from exc
    return {q: _query(interpreter, q) for q in queries}


_ERROR_ENTRY = re.compile(r"\(error \d+:([^|]*)\|(\d+)\|\d+\s*\(errormsg \d+:([^)]*)\)")


def _rego_error_text(text: str, sources: dict[str, str]) -> str:
    """rego-cpp's error S-expression → "module.rego line 2: this is unclosed; ..."."""
    found = []
    for module, offset, message in _ERROR_ENTRY.findall(text):
        source = sources.get(module)
        where = f"{module} line {source[: int(offset)].count(chr(10)) + 1}" if source is not None else module
        entry = f"{where}: {message.strip()}"
        if entry not in found:
            found.append(entry)
    return "; ".join(found) if found else re.sub(r"\s+", " ", text.strip())[:2000]


def _query(interpreter: Interpreter, query: str) -> Any:
    handle = rego_query(interpreter._impl, query)
    try:
        ok = rego_output_ok(handle)
        text = rego_output_string(handle)
    finally:
        rego_free_output(handle)
    if not ok:
        raise RegoEvalError(f"query {query} failed: {text.strip() or 'no detail from rego-cpp'}")
    if text.strip() == "undefined":
        return None
    if text.lstrip().startswith("(error"):
        message = re.search(r"errormsg \d+:([^)\n]*)", text)
        raise RegoEvalError(f"query {query} failed: {message.group(1) if message else text.strip()}")
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise RegoEvalError(f"query {query}: rego-cpp returned output that is not JSON: {text[:300]!r}") from exc
    results = parsed if isinstance(parsed, list) else [parsed]
    expressions = results[0].get("expressions", []) if results and isinstance(results[0], dict) else []
    return expressions[0] if expressions else None


def false_leaves(document: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every ``false`` in the evaluated document (IaC-Eval: any false leaf fails)."""
    if document is False:
        return [prefix or "<document>"]
    found: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            found += false_leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(document, list):
        for i, value in enumerate(document):
            found += false_leaves(value, f"{prefix}[{i}]")
    return found


def deny_messages(value: Any) -> list[str]:
    """A deny set as regopy returns it: a list (``deny contains msg``) or, for the pre-v1
    ``deny[msg] { ... }`` form, an object whose keys are the messages."""
    if value is None:
        return []
    if isinstance(value, dict):
        return sorted(str(k) for k, v in value.items() if v is not False)
    if isinstance(value, list):
        return sorted(m if isinstance(m, str) else json.dumps(m, sort_keys=True) for m in value)
    return [json.dumps(value)] if value not in (False, True) else []


DENY_KEYS = ("deny", "violation")


def judge_document(document: Any) -> tuple[bool, list[str], list[str]]:
    """(ok, failed rule names, messages) for a package document: deny-style when it has a deny or
    violation set, else IaC-Eval style (false leaves)."""
    if isinstance(document, dict) and any(k in document for k in DENY_KEYS):
        messages = [m for k in DENY_KEYS for m in deny_messages(document.get(k))]
        failed = [k for k in DENY_KEYS if deny_messages(document.get(k))]
        return not messages, failed, messages
    failed = false_leaves(document)
    return not failed, failed, []


def prepare_modules(named_texts: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], str | None]:
    """Stand-ins applied, the stand-in library added when needed; plus the first unsupported builtin."""
    modules, needs_standins = [], False
    for name, text in named_texts:
        rewritten, used = apply_standins(text)
        modules.append((name, rewritten))
        needs_standins |= used
    missing = unsupported_builtins([t for _, t in modules])
    if needs_standins:
        modules.append(("tfagent_standins.rego", STANDINS_FILE.read_text(encoding="utf-8")))
    return modules, (missing[0] if missing else None)


DEFAULT_QUERY = "data.terraform.validation"


def evaluate_policy(policy_text: str, input_obj: dict, query: str = DEFAULT_QUERY) -> PolicyOutcome:
    """Evaluate one policy (IaC-Eval style or deny style) against a plan-shaped input. Never raises for
    a bad policy: the outcome's ``error`` / ``unsupported_builtin`` say what happened.

    With the default query, a policy declaring another package (IaC-Eval has ``package main``,
    ``package vpc_ipv6``, …) is evaluated as ``data.<its package>``, as IaC-Eval's judge does."""
    if query == DEFAULT_QUERY:
        declared = _PACKAGE.search(policy_text)
        if declared:
            query = f"data.{declared.group(1)}"
    modules, missing = prepare_modules([("policy.rego", policy_text)])
    if missing:
        return PolicyOutcome(ok=False, unsupported_builtin=missing)
    try:
        document = run_queries(modules, input_obj, [query])[query]
    except RegoEvalError as exc:
        return PolicyOutcome(ok=False, error=str(exc))
    if document is None:
        return PolicyOutcome(ok=False, error=f"{query} is undefined (does the policy's package match the query?)")
    ok, failed, messages = judge_document(document)
    return PolicyOutcome(ok=ok, failed_rules=failed, messages=messages, document=document)
