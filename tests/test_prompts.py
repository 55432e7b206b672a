"""Every template the package renders by name exists in prompts/ and gets exactly the values it uses
(read from the source with `ast`, so a path no other test reaches — a scanner's timeout, a toolchain
missing — cannot send a half-filled sentence or fail with a missing template)."""

from __future__ import annotations

import ast
from pathlib import Path
from string import Template

import pytest

from tfagent.prompts import TemplateError, load, render_line

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("agent", "verifiers", "evals")


def template_calls() -> list[tuple[str, str, set[str] | None]]:
    """(where, template name, keyword names or None when ``**values`` are passed) of each call."""
    found = []
    for folder in PACKAGE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                first = node.args[0]
                if func in ("render", "render_line") and isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names = {k.arg for k in node.keywords}
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.append((where, first.value, None if None in names else names))
    return found


CALLS = template_calls()


def test_the_scan_finds_the_verifiers_and_the_loop():
    names = {name for _, name, _ in CALLS}
    assert {"feedback", "diag_command_failed", "diag_unknown_type_detail", "reply_too_large", "code_excerpt"} <= names


@pytest.mark.parametrize("where, name, keywords", CALLS, ids=[c[0] for c in CALLS])
def test_each_rendered_template_exists_and_gets_exactly_its_values(where, name, keywords):
    identifiers = set(Template(load(name)).get_identifiers())
    if keywords is not None:
        assert keywords == identifiers, f"{where}: {name}.md uses {sorted(identifiers)}, the call gives {sorted(keywords)}"


def test_render_line_keeps_the_values_exactly_and_names_a_missing_value():
    assert render_line("diag_command_failed", command=" terraform plan ") == " terraform plan  failed"
    with pytest.raises(TemplateError, match=r"\$command"):
        render_line("diag_command_failed")
