"""Command line of the scripted server: ``python -m tfagent.agent.fake.cli --reply-file F``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from dataclasses import fields
from pathlib import Path

from tfagent.agent.fake.server import ScriptedReply, ScriptedServer

log = logging.getLogger(__name__)

# ---- command line --------------------------------------------------------------------------------
_REPLY_FIELDS = {f.name for f in fields(ScriptedReply)} | {"model"}


def load_reply_file(path: Path) -> list[tuple[str | None, ScriptedReply]]:
    """A JSON list of strings or objects with ScriptedReply fields (plus "model") → (model, reply)."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"reply file {path}: cannot read it as JSON: {exc}") from exc
    if not isinstance(items, list):
        raise ValueError(f"reply file {path}: must hold a JSON list, got {type(items).__name__}")
    out: list[tuple[str | None, ScriptedReply]] = []
    for number, item in enumerate(items, start=1):
        item = {"content": item} if isinstance(item, str) else item
        if not isinstance(item, dict) or set(item) - _REPLY_FIELDS:
            raise ValueError(f"reply file {path}: item {number} must be a string or an object with keys from "
                             f"{sorted(_REPLY_FIELDS)}; got {item!r:.200}")
        try:
            out.append((item.get("model"), ScriptedReply(**{k: v for k, v in item.items() if k != "model"})))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"reply file {path}: item {number}: {exc}") from exc
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfagent.agent.fake.cli", description="A scripted OpenAI-compatible chat server for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port (the base URL is printed)")
    parser.add_argument("--model", default="scripted")
    parser.add_argument("--reply-file", type=Path, required=True, help="JSON list of replies, served in order")
    parser.add_argument("--loading-seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        replies = load_reply_file(args.reply_file)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = ScriptedServer(host=args.host, port=args.port, model=args.model, loading_seconds=args.loading_seconds)
    for model, reply in replies:
        server.enqueue_reply(reply, model=model)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        print(server.base_url, flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            log.debug("scripted server: interrupted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
