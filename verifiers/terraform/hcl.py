"""HCL syntax check with python-hcl2, plus the parsed view other Terraform verifiers share.

python-hcl2 loads its lark grammar on first use (~80 ms); it is imported lazily so importing this
module (e.g. `tfagent verifiers`) stays cheap, and the parser object is reused afterwards.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfagent.prompts import render_line
from tfagent.verifiers.base import Diagnostic, Verdict, Verifier, VerifyContext, error

# lark terminal names -> what a person would type; unknown names are shown as they are.
_TOKEN_TEXT = {
    "RBRACE": "}", "LBRACE": "{", "RSQB": "]", "LSQB": "[", "RPAR": ")", "LPAR": "(",
    "EQ": "=", "COLON": ":", "COMMA": ",", "DOT": ".", "DBLQUOTE": '"', "NAME": "a name",
    "NL_OR_COMMENT": "a new line", "INT_LITERAL": "a number", "FLOAT_LITERAL": "a number",
    "MINUS": "-", "NOT": "!", "HEREDOC_TEMPLATE": "a heredoc", "HEREDOC_TEMPLATE_TRIM": "a heredoc",
    "TEMPLATE_STRING": "a string", "STRING_LIT": "a string", "QMARK": "?", "ELLIPSIS": "...",
}
_VALUE_TOKENS = {"LSQB", "LPAR", "DBLQUOTE", "MINUS", "NOT", "LBRACE", "NAME", "INT_LITERAL", "FLOAT_LITERAL",
                 "HEREDOC_TEMPLATE", "HEREDOC_TEMPLATE_TRIM", "TEMPLATE_STRING"}
_MAX_LISTED_TOKENS = 6


@dataclass
class ParsedConfig:
    """Every .tf file of a folder parsed: ``files`` maps a relative path to python-hcl2's dict."""

    root: Path
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.diagnostics


class HclParseError(ValueError):
    """A .tf file does not parse; names the file and, when known, the line and column."""

    def __init__(self, file: str, line: int | None, column: int | None, message: str):
        where = f"{file}:{line}:{column}" if line else file
        super().__init__(f"{where}: {message}")
        self.file, self.line, self.column, self.message = file, line, column, message


def parse_text(text: str, rel: str) -> dict[str, Any]:
    """One file parsed with python-hcl2, or HclParseError naming ``rel`` — the one HCL parse of tfagent."""
    try:
        return _loads(text)
    except Exception as exc:  # lark raises many classes; every one of them is a syntax error here
        line, column = getattr(exc, "line", None), getattr(exc, "column", None)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HclParseError(rel, line, column, first_line) from exc


def parsed_config(ctx: VerifyContext) -> ParsedConfig:
    """The attempt's configuration parsed once and shared by the chain's stages (hcl, policy, …)."""
    config = ctx.artifacts.get("hcl_config")
    if config is None:
        config = ctx.artifacts["hcl_config"] = parse_folder(ctx.workdir)
    return config


def tf_files(workdir: Path) -> list[Path]:
    """The .tf files Terraform would read, below ``workdir`` but never inside ``.terraform``."""
    return sorted(p for p in workdir.rglob("*.tf") if ".terraform" not in p.relative_to(workdir).parts)


def parse_folder(workdir: Path) -> ParsedConfig:
    config = ParsedConfig(root=workdir)
    for path in tf_files(workdir):
        rel = path.relative_to(workdir).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            config.diagnostics.append(error(render_line("diag_file_not_utf8"), str(exc), file=rel, source="hcl", category="syntax"))
            continue
        config.texts[rel] = text
        try:
            config.files[rel] = parse_text(text, rel)
        except HclParseError as exc:
            config.diagnostics.append(syntax_diagnostic(exc.__cause__ or exc, rel, text))
    return config


def _loads(text: str) -> dict[str, Any]:
    import hcl2  # lazy: grammar load costs ~80 ms

    return hcl2.loads(text)


def syntax_diagnostic(exc: Exception, rel: str, text: str) -> Diagnostic:
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    line = line if isinstance(line, int) and line > 0 else None
    column = column if isinstance(column, int) and column > 0 else None
    expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or set()
    summary = render_line("diag_hcl_syntax")
    parts = []
    token = getattr(exc, "token", None)
    if token is not None and str(token).strip():
        parts.append(render_line("diag_hcl_unexpected", token=repr(str(token).strip())))
    elif getattr(exc, "char", None):
        parts.append(render_line("diag_hcl_unexpected_char", char=repr(exc.char)))
    if expected:
        parts.append(render_line("diag_hcl_expected", what=summarize_expected(set(expected))))
    if not parts:
        parts.append(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    detail = "; ".join(parts)
    if line is not None:
        source_lines = text.splitlines()
        if 0 < line <= len(source_lines):
            detail += f"\n{line} | {source_lines[line - 1]}"
    return error(summary, detail, file=rel, line=line, column=column, source="hcl", category="syntax")


def summarize_expected(expected: set[str]) -> str:
    """A short human list: a whole group of expression starters reads as 'a value'."""
    names = set(expected)
    words: list[str] = []
    if len(names & _VALUE_TOKENS) >= 4:
        words.append(render_line("diag_hcl_any_value"))
        names -= _VALUE_TOKENS
    words.extend(sorted({_TOKEN_TEXT.get(n, n) for n in names}))
    shown = words[:_MAX_LISTED_TOKENS]
    more = len(words) - len(shown)
    return " or ".join(repr(w) if len(w) <= 3 else w for w in shown) + (f" (and {more} more)" if more else "")


def unquote(value: Any) -> Any:
    """python-hcl2 8.x keeps the quotes of strings and labels; strip them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def iter_blocks(config: ParsedConfig, kind: str):
    """Yield (file, type_label, name_label, body) for ``resource``/``data`` blocks and
    (file, label, None, body) for ``provider``/``module`` blocks."""
    for rel, doc in config.files.items():
        for entry in doc.get(kind, []):
            for label, body in entry.items():
                label = unquote(label)
                if kind in ("resource", "data") and isinstance(body, dict):
                    for name, inner in body.items():
                        if name != "__is_block__":
                            yield rel, label, unquote(name), inner
                else:
                    yield rel, label, None, body


def block_line(text: str, kind: str, *labels: str) -> int | None:
    """Line of ``kind "label" ...`` in ``text`` (python-hcl2 8 has no positions)."""
    pattern = r"^[ \t]*" + re.escape(kind) + "".join(r'\s+"?' + re.escape(label) + r'"?' for label in labels) + r"\s*\{"
    match = re.search(pattern, text, flags=re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


@dataclass
class Requirements:
    """What ``terraform init`` has to install: explicit ``required_providers`` entries and the
    provider local names Terraform infers from resource/data type prefixes and provider blocks."""

    explicit: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"source", "versions"}
    implicit: dict[str, list[tuple[str, str, str, str]]] = field(default_factory=dict)  # name -> [(file, kind, type, name)]
    modules: bool = False

    def key(self) -> str:
        explicit = {n: {"source": v["source"], "versions": sorted(v["versions"])} for n, v in self.explicit.items()}
        return json.dumps([explicit, sorted(set(self.implicit) - set(self.explicit))], sort_keys=True)


# What Terraform accepts as a provider local name and as a source ("[host/]namespace/type"). A name or
# source it rejects is left out of what init installs (init runs on a requirements file we write, so
# it would report the error against that file); `validate` on the model's own files then reports it
# where the model wrote it.
_LOCAL_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_SOURCE_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


def _installable(local: str, source: str) -> bool:
    parts = source.split("/")
    return bool(_LOCAL_NAME.match(local)) and len(parts) in (2, 3) and all(_SOURCE_PART.match(p) for p in parts)


def requirement_set(config: ParsedConfig) -> Requirements:
    req = _requirements_as_written(config)
    req.explicit = {n: e for n, e in req.explicit.items() if _installable(n, e["source"])}
    req.implicit = {n: users for n, users in req.implicit.items()
                    if _installable(n, req.explicit.get(n, {}).get("source", f"hashicorp/{n}"))}
    return req


def _requirements_as_written(config: ParsedConfig) -> Requirements:
    req = Requirements()
    for doc in config.files.values():
        for terraform_block in doc.get("terraform", []):
            for providers in terraform_block.get("required_providers", []):
                for local, spec in providers.items():
                    if local == "__is_block__":
                        continue
                    entry = req.explicit.setdefault(local, {"source": f"hashicorp/{local}", "versions": set()})
                    if isinstance(spec, dict):
                        entry["source"] = unquote(spec.get("source", f'"{entry["source"]}"'))
                        if spec.get("version"):
                            entry["versions"].add(unquote(spec["version"]))
                    elif isinstance(spec, str):  # legacy form: name = "version"
                        entry["versions"].add(unquote(spec))
        req.modules = req.modules or bool(doc.get("module"))
    for kind in ("resource", "data"):
        for rel, type_label, name, body in iter_blocks(config, kind):
            local = _provider_local_name(body) or type_label.split("_", 1)[0]
            req.implicit.setdefault(local, []).append((rel, kind, type_label, name))
    for rel, local, _, body in iter_blocks(config, "provider"):
        req.implicit.setdefault(local, []).append((rel, "provider", local, ""))
        version = unquote(body.get("version")) if isinstance(body, dict) else None
        if isinstance(version, str) and version:  # deprecated but honoured: a constraint for init
            entry = req.explicit.setdefault(local, {"source": f"hashicorp/{local}", "versions": set()})
            entry["versions"].add(version)
    return req


def _provider_local_name(body: Any) -> str | None:
    """``provider = aws.west`` (python-hcl2 gives "${aws.west}") -> "aws"."""
    ref = body.get("provider") if isinstance(body, dict) else None
    if not isinstance(ref, str):
        return None
    ref = ref.strip()
    if ref.startswith("${") and ref.endswith("}"):
        ref = ref[2:-1]
    return unquote(ref).split(".", 1)[0] or None


def requirements_tf(req: Requirements) -> str:
    """A configuration that needs exactly these providers: what init runs against in the cache."""
    lines = ["terraform {", "  required_providers {"]
    names = sorted(set(req.explicit) | set(req.implicit))
    for local in names:
        entry = req.explicit.get(local, {"source": f"hashicorp/{local}", "versions": set()})
        spec = f"source = {json.dumps(entry['source'])}"
        if entry["versions"]:
            spec += f", version = {json.dumps(', '.join(sorted(entry['versions'])))}"
        lines.append(f"    {local} = {{ {spec} }}")
    lines += ["  }", "}", ""]
    return "\n".join(lines)


class HclSyntax(Verifier):
    name = "hcl"
    description = "HCL syntax of every .tf file (python-hcl2; no Terraform needed)"
    modes = ("terraform",)

    def check(self, ctx: VerifyContext) -> Verdict:
        files = tf_files(ctx.workdir)
        if not files:
            return Verdict(self.name, ok=False, diagnostics=[error(
                render_line("diag_no_terraform_files"), render_line("diag_no_terraform_files_detail", folder=ctx.workdir), source=self.name, category="no_code")])
        config = parsed_config(ctx)
        diagnostics = sorted(config.diagnostics, key=Diagnostic.sort_key)
        return Verdict(self.name, ok=config.ok, diagnostics=diagnostics, note=f"{len(files)} file(s) parsed")
