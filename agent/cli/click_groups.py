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
            module, attr = self.lazy[name][:2]
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, but a lazy command with a help line in its table entry is listed without
        importing it: `--help` stays fast however heavy the subcommands' modules are."""
        rows = []
        for name in self.list_commands(ctx):
            entry = self.lazy.get(name) if name not in self.commands else None
            if entry is not None and len(entry) > 2:
                rows.append((name, _shorten(entry[2], formatter.width - 6 - max(map(len, self.list_commands(ctx))))))
                continue
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _shorten(text: str, limit: int) -> str:
    """click's short-help rule: the first sentence, cut at a word with '...' when too long."""
    return click.Command("x", help=text).get_short_help_str(max(limit, 20))
