"""Output that is not a terminal is never wrapped or truncated (rich's default is 80 columns): a long
run id, path or message stays on one line so it can be copied, whatever the terminal width."""

from __future__ import annotations

from click.testing import CliRunner

from tfagent.agent.cli import main
from tfagent.agent.cli.console import make_console


def test_long_error_message_is_one_line_at_any_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")
    run_id = "20261201-120000-" + "a" * 150
    result = CliRunner().invoke(main, ["runs", "show", run_id])
    assert result.exit_code == 2
    assert f"error: no run '{run_id}' (see `tfagent runs`)" in result.output.splitlines()


def test_table_headers_are_never_cut_when_not_a_terminal(monkeypatch, capsys):
    from rich.table import Table

    monkeypatch.setenv("COLUMNS", "20")
    table = Table()
    for header in ("attempt", "verdict", "completion tok", "prompt"):
        table.add_column(header)
    table.add_row("1", "verified", "123", "x" * 120)
    console = make_console()
    assert not console.is_terminal
    console.print(table)
    out = capsys.readouterr().out
    assert all(h in out for h in ("attempt", "verdict", "completion tok")) and "…" not in out
    assert "x" * 120 in out
