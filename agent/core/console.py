"""The error console and `fail`: how every command reports a fatal problem (one line, then an exit code)."""

from __future__ import annotations

import os

import click
from rich.console import Console

from tfagent.agent.core.exits import EXIT_USAGE


def err_console() -> Console:
    return Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")) or None)


def fail(message: str, code: int = EXIT_USAGE) -> "click.exceptions.Exit":
    err_console().print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return click.exceptions.Exit(code)
