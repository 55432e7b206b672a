"""The error console and `fail`: how every command reports a fatal problem (one line, then an exit code)."""

from __future__ import annotations

import os

from typing import TYPE_CHECKING

import click

from tfagent.agent.core.exits import EXIT_USAGE

if TYPE_CHECKING:
    from rich.console import Console


def err_console() -> "Console":
    from rich.console import Console  # on use: `tfagent --help` must not pay for rich

    return Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")) or None)


def fail(message: str, code: int = EXIT_USAGE) -> "click.exceptions.Exit":
    err_console().print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return click.exceptions.Exit(code)
