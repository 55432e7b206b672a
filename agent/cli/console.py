"""The error console and `fail`: how every command reports a fatal problem (one line, then an exit code)."""

from __future__ import annotations

import os

from typing import TYPE_CHECKING

import click

from tfagent.agent.core.exits import EXIT_USAGE

if TYPE_CHECKING:
    from rich.console import Console


# Not a terminal (a pipe, a file, CI): rich would wrap at 80 columns and cut table cells to "attem…",
# breaking run ids and error messages mid-word. There, nothing is wrapped or truncated: lines are as
# long as their text (a table's natural width fits in this).
_UNWRAPPED_WIDTH = 10_000


def make_console(*, stderr: bool = False) -> "Console":
    """The one way every command builds its console: NO_COLOR honoured; never wraps when not a TTY."""
    from rich.console import Console  # on use: `tfagent --help` must not pay for rich

    no_color = bool(os.environ.get("NO_COLOR")) or None
    console = Console(stderr=stderr, no_color=no_color)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, no_color=no_color, width=_UNWRAPPED_WIDTH, soft_wrap=True)


def err_console() -> "Console":
    return make_console(stderr=True)


def out_console() -> "Console":
    return make_console()


def fail(message: str, code: int = EXIT_USAGE) -> "click.exceptions.Exit":
    from rich.markup import escape

    err_console().print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return click.exceptions.Exit(code)
