"""Prompt templates (package data). Every model-facing sentence lives in a file here, not in code.

Templates use ``string.Template`` syntax (``$name`` / ``${name}``); ``render`` fails loudly on a
missing variable so a typo cannot silently send "$prompt" to the model.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from string import Template


class TemplateError(KeyError):
    pass


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """The raw text of ``prompts/<name>.md``."""
    path = files("tfagent.prompts") / f"{name}.md"
    if not path.is_file():
        raise TemplateError(f"no prompt template named {name!r} (looked for {name}.md in tfagent.prompts)")
    return path.read_text(encoding="utf-8")


def render(name: str, /, **values: object) -> str:
    try:
        return Template(load(name)).substitute({k: str(v) for k, v in values.items()})
    except KeyError as exc:
        raise TemplateError(f"prompt template {name!r} needs a value for ${exc.args[0]}") from None


def render_line(name: str, /, **values: object) -> str:
    """A short template (a diagnostic's summary or detail, a hint) exactly as written, without the
    file's final newline: the values keep their own leading and trailing text."""
    return render(name, **values).removesuffix("\n")
