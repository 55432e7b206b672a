"""One click group shape used twice: `tfagent "PROMPT"` and `tfagent eval SUITE` both run a default
subcommand when the first word is not a command, and import rarely used commands only when used."""

from __future__ import annotations

import importlib

import click


class DefaultLazyGroup(click.Group):
    """Subclass and set ``default`` (the command run for unknown first words) and ``lazy``
    (name -> (module, attribute) of commands imported on first use)."""

    default: str = "run"
    lazy: dict[str, tuple[str, str]] = {}
    passthrough: tuple[str, ...] = ("--help", "-h", "--version")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.list_commands(ctx) and args[0] not in self.passthrough:
            args = [self.default, *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, name: str):
        if name in self.lazy and name not in self.commands:
            module, attr = self.lazy[name]
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)
