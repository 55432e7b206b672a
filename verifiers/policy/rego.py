"""The ``rego`` verifier: intent and policy checks in Rego, evaluated in-process (regopy).

Input: the plan JSON an earlier ``plan`` stage saved (``ctx.artifacts["plan_json"]``), else the static
plan-shaped view of the HCL (``hcl_plan_shape``), so policies written for ``terraform show -json``
(IaC-Eval's, ours) run unchanged either way.

Policies:
- the built-in pack (``policies/``), rule sets picked from the prompt by ``intent.select_rules``;
  each ``deny`` message becomes one error naming the resource and the fix;
- the user's ``--policy FILE|DIR`` (``*.rego``): deny-style packages report their messages;
  IaC-Eval-style packages (boolean rules) fail when some rule is false, reported by name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfagent.prompts import render_line
from tfagent.verifiers.base import Diagnostic, Verdict, Verifier, VerifyContext, error, warning
from tfagent.verifiers.policy.hcl_plan_shape import HclParseError, parse_workdir, plan_shape, resource_types
from tfagent.verifiers.terraform.hcl import parsed_config
from tfagent.verifiers.policy.intent import RuleRef, load_pack, select_rules
from tfagent.verifiers.policy.rego_eval import (
    PolicyOutcome,
    RegoEvalError,
    deny_messages,
    evaluate_policy,
    judge_document,
    package_of,
    prepare_modules,
    run_queries,
)

__all__ = ["RegoPolicy", "PolicyOutcome", "PolicyError", "evaluate_policy", "load_input", "collect_policy_files",
           "check_policies"]

SOURCE = "rego"
_ADDRESS = re.compile(r"^(?:module\.[\w-]+(?:\[[^\]]*\])?\.)*(?:data\.)?([\w-]+)\.([\w-]+)")


class PolicyError(ValueError):
    """A --policy path is missing, holds no .rego file, or a policy does not compile."""


def load_input(workdir: Path | str, plan_json_path: Path | str | None = None, config=None) -> dict[str, Any]:
    """The document policies see: a real plan's ``show -json`` when given, else the HCL's static view.

    Raises HclParseError (file, line) when a .tf file does not parse, ValueError for unreadable JSON."""
    if plan_json_path:
        path = Path(plan_json_path)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read plan JSON {path}: {exc}") from exc
    return plan_shape(parse_workdir(Path(workdir), config))


def collect_policy_files(paths: list[Path]) -> list[Path]:
    """``--policy`` arguments → the .rego files they name (directories: recursively, sorted)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.rego") if p.is_file())
            if not found:
                raise PolicyError(f"--policy {path}: the directory holds no .rego file")
            files.extend(found)
        elif path.is_file():
            if path.suffix != ".rego":
                raise PolicyError(f"--policy {path}: not a .rego file")
            files.append(path)
        else:
            raise PolicyError(f"--policy {path}: no such file or directory")
    return files


@dataclass
class UserPolicies:
    """The user's policy files, grouped by package (one package may span files)."""

    files: list[Path]
    texts: list[tuple[str, str]]  # (file name shown in errors, text)
    packages: dict[str, list[Path]]  # package -> files declaring it


def read_user_policies(paths: list[Path]) -> UserPolicies:
    files = collect_policy_files(paths)
    texts, packages = [], {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            package = package_of(text)
        except (OSError, UnicodeDecodeError, RegoEvalError) as exc:
            raise PolicyError(f"--policy {path}: {exc}") from exc
        texts.append((str(path), text))
        packages.setdefault(package, []).append(path)
    return UserPolicies(files, texts, packages)


def check_policies(paths: list[Path]) -> None:
    """Fail early (exit 2 in the CLI) when a user policy is missing or does not compile."""
    policies = read_user_policies(paths)
    modules, _missing = prepare_modules(policies.texts)
    try:
        run_queries(modules, {}, ["data"])  # compiles every module; evaluation errors on real input come later
    except RegoEvalError as exc:
        raise PolicyError(f"--policy: {exc}") from exc


class RegoPolicy(Verifier):
    name = "rego"
    description = "intent and policy checks in Rego (built-in pack + --policy), on the plan or the parsed HCL"
    modes = ("terraform",)

    def available(self) -> tuple[bool, str]:
        try:
            load_pack()
        except RuntimeError as exc:
            return False, str(exc)
        return True, "ok (regopy, in-process)"

    def check(self, ctx: VerifyContext) -> Verdict:
        options = ctx.options
        plan_json = ctx.artifacts.get("plan_json")
        try:
            input_obj = load_input(ctx.workdir, plan_json, None if plan_json else parsed_config(ctx))
        except HclParseError as exc:
            diag = error(render_line("diag_rego_unreadable", message=exc.message), file=exc.file, line=exc.line,
                         column=exc.column, source=SOURCE, category="syntax")
            return Verdict(self.name, ok=False, diagnostics=[diag], note="not evaluated: the HCL does not parse")
        locator = ResourceLocator(Path(ctx.workdir))
        diagnostics: list[Diagnostic] = []
        notes: list[str] = []
        if options.builtin_policies:
            rules = select_rules(options.prompt, resource_types(input_obj))
            diagnostics += self._run_pack(rules, input_obj, locator)
            notes.append("rules applied: " + (", ".join(r.name for r in rules) or "none"))
        if options.policies:
            user_diags, user_note = self._run_user_policies(options.policies, input_obj)
            diagnostics += user_diags
            notes.append(user_note)
        notes.append("input: " + ("plan JSON" if plan_json else "parsed HCL (no plan)"))
        ok = not any(d.severity == "error" for d in diagnostics)
        return Verdict(self.name, ok=ok, diagnostics=sorted(diagnostics, key=Diagnostic.sort_key), note="; ".join(notes))

    def _run_pack(self, rules: list[RuleRef], input_obj: dict, locator: "ResourceLocator") -> list[Diagnostic]:
        if not rules:
            return []
        _rule_sets, library = load_pack()
        modules = [(p.name, p.read_text(encoding="utf-8")) for p in library]
        modules += [(r.path.name, r.path.read_text(encoding="utf-8")) for r in rules]
        # One query for everything: rego-cpp recompiles all modules on every query (6 queries: 0.5 s; one: 0.07 s).
        data = run_queries(modules, input_obj, ["data"])["data"]  # a broken pack is a bug: let it raise
        diagnostics = []
        for rule in rules:
            for message in deny_messages(document_at(data, rule.package).get("deny")):
                file, line = locator.locate(message)
                diagnostics.append(error(message, render_line("diag_rego_builtin_rule", name=rule.name, title=rule.title), file=file, line=line,
                                         source=SOURCE, rule=rule.name, category="intent"))
        return diagnostics

    def _run_user_policies(self, paths: list[Path], input_obj: dict) -> tuple[list[Diagnostic], str]:
        try:
            policies = read_user_policies(paths)
        except PolicyError as exc:
            return [error(str(exc), source=SOURCE, category="other")], "policies: unreadable"
        modules, missing = prepare_modules(policies.texts)
        names = ", ".join(p.name for p in policies.files)
        if missing:
            diag = warning(render_line("diag_rego_unsupported_builtin", builtin=missing),
                           render_line("diag_rego_unsupported_builtin_detail", names=names),
                           source=SOURCE, rule=missing, category="other")
            return [diag], f"policies skipped (unsupported builtin {missing}): {names}"
        try:
            data = run_queries(modules, input_obj, ["data"])["data"]  # one query: see _run_pack
        except RegoEvalError as exc:
            return [error(render_line("diag_rego_eval_failed", error=exc), render_line("diag_rego_policies", names=names), source=SOURCE,
                          category="other")], f"policies failed to evaluate: {names}"
        diagnostics = []
        for package, files in policies.packages.items():
            document = document_at(data, package)
            if not document and not _declares_rules([dict(policies.texts)[str(f)] for f in files]):
                continue  # a library package (functions only): nothing to judge
            diagnostics += _package_diagnostics(package, files, document, policies)
        return diagnostics, f"policies: {names}"


def document_at(data: Any, package: str) -> dict[str, Any]:
    """The evaluated document of a package inside the ``data`` document ({} when absent)."""
    node = data if isinstance(data, dict) else {}
    for part in package.split("."):
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return {}
    return node if isinstance(node, dict) else {}


def _package_diagnostics(package: str, files: list[Path], document: Any, policies: UserPolicies) -> list[Diagnostic]:
    where = ", ".join(p.name for p in files)
    if not document:
        return [error(render_line("diag_rego_all_undefined", package=package, where=where),
                      source=SOURCE, rule=package, category="intent")]
    ok, failed, messages = judge_document(document)
    if messages:
        return [error(m, render_line("diag_rego_policy", package=package, where=where), source=SOURCE, rule=package, category="intent") for m in messages]
    texts = dict(policies.texts)
    diagnostics = []
    for rule in failed:
        body = _rule_source(rule.split(".")[0].split("[")[0], [texts[str(f)] for f in files])
        detail = (render_line("diag_rego_rule_reads", package=package, where=where) + "\n" + body if body
                  else render_line("diag_rego_policy", package=package, where=where))
        diagnostics.append(error(render_line("diag_rego_rule_unsatisfied", rule=rule), detail, source=SOURCE, rule=rule, category="intent"))
    return diagnostics


_RULE_HEAD = re.compile(r"^(?:default\s+)?[A-Za-z_]\w*\s*(?::=|=|\{|if\b|contains\b|\[)", re.M)


def _declares_rules(texts: list[str]) -> bool:
    """Whether the policy text defines rules (not only functions, which the document leaves out).
    Rule heads start in column 0, body lines are indented — the layout of every policy we have seen."""
    return any(_RULE_HEAD.search(re.sub(r"#[^\n]*", "", t)) for t in texts)


def _rule_source(rule: str, texts: list[str], max_lines: int = 20) -> str:
    """The text of a rule's definitions (so the model sees what is checked), defaults left out."""
    head = re.compile(rf"^{re.escape(rule)}\b(?!\s*:?=\s*(true|false)\s*$).*$", re.M)
    chunks = []
    for text in texts:
        for match in head.finditer(text):
            lines = text[match.start():].splitlines()
            depth, taken = 0, []
            for line in lines:
                taken.append(line)
                depth += line.count("{") - line.count("}")
                if depth <= 0:
                    break
            chunks.append("\n".join(taken[:max_lines]))
    return "\n".join(chunks)


class ResourceLocator:
    """Maps a message's leading resource address to the file and line declaring that resource."""

    def __init__(self, workdir: Path):
        self.declarations: dict[tuple[str, str], tuple[str, int]] = {}
        for path in sorted(workdir.glob("*.tf")):
            text = path.read_text(encoding="utf-8", errors="replace")
            for match in re.finditer(r'^[ \t]*(resource|data)\s+"([\w-]+)"\s+"([\w-]+)"', text, re.M):
                line = text[: match.start()].count("\n") + 1
                self.declarations.setdefault((match.group(2), match.group(3)), (path.name, line))

    def locate(self, message: str) -> tuple[str | None, int | None]:
        match = _ADDRESS.match(message)
        if not match:
            return None, None
        return self.declarations.get((match.group(1), match.group(2)), (None, None))
