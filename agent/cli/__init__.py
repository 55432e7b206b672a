"""tfagent.agent.cli: click commands that parse, call one function, render, and return an exit code."""

from tfagent.agent.cli.main import main

__all__ = ["main"]
