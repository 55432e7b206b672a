"""Check an HTML report in a real headless Chromium: it loads, every figure is decoded and visible,
and the console shows no error.

Talks the DevTools protocol over ``--remote-debugging-pipe`` (NUL-terminated JSON on fds 3 and 4), so
no websocket library and no TCP port are needed. A fresh ``--user-data-dir`` per check, and the flags
that keep a headless Chromium off the network (no component updates, sync or background traffic).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-extensions", "--remote-debugging-pipe")
FIGURE_PROBE = """JSON.stringify([...document.images].map(img => {
  const box = img.getBoundingClientRect(); const style = getComputedStyle(img);
  return {alt: img.alt, complete: img.complete, natural: [img.naturalWidth, img.naturalHeight],
          box: [box.width, box.height], visible: style.visibility !== 'hidden' && style.display !== 'none'};
}))"""


class BrowserError(RuntimeError):
    """Chromium is missing, did not start, or did not answer in time."""


@dataclass
class PageCheck:
    title: str
    figures: list[dict]
    console_errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""

    @property
    def invisible_figures(self) -> list[dict]:
        return [f for f in self.figures if not (f["complete"] and min(f["natural"]) > 0 and min(f["box"]) > 0 and f["visible"])]


def find_chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


class _Pipe:
    def __init__(self, proc: subprocess.Popen, write_fd: int, read_fd: int):
        self.proc, self.write_fd, self.read_fd = proc, write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30.0) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive(timeout)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise BrowserError("Chromium did not answer in time" if left <= 0 else f"Chromium exited ({self.proc.returncode})")
            ready, _, _ = select.select([self.read_fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.read_fd, 1 << 16)
                if not chunk:
                    raise BrowserError("Chromium closed the DevTools pipe")
                self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def wait_event(self, method: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self.receive(max(0.1, deadline - time.monotonic())))


def _errors(events: list[dict]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            errors.append(params.get("exceptionDetails", {}).get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", ""))
    return errors


def check_page(page: Path, *, timeout: float = 60.0, width: int = 1280, height: int = 2400) -> PageCheck:
    """Load ``page`` in headless Chromium and report its title, figures, console errors and a screenshot."""
    binary = find_chromium()
    if binary is None:
        raise BrowserError("no Chromium found (Debian: apt-get install chromium)")
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    with tempfile.TemporaryDirectory(prefix="tfagent-chromium-") as profile:
        # The pipe transport expects its read end on fd 3 and its write end on fd 4. close_fds would
        # run after this hook and close them again, so it is off (the parent's other fds are CLOEXEC).
        def wire() -> None:
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                                 "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, close_fds=False, preexec_fn=wire)
        os.close(to_child_r)
        os.close(from_child_w)
        pipe = _Pipe(proc, to_child_w, from_child_r)
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
            session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                pipe.send(f"{domain}.enable", session=session)
            pipe.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
            pipe.wait_event("Page.loadEventFired", timeout)
            value = lambda expr: pipe.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,  # noqa: E731
                                                                "awaitPromise": True}, session=session)["result"]["value"]
            value("Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
            figures = json.loads(value(FIGURE_PROBE))
            title = value("document.title")
            shot = pipe.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
            import base64

            return PageCheck(title, figures, _errors(pipe.events), base64.b64decode(shot))
        finally:
            try:
                pipe.send("Browser.close", timeout=5)
                proc.wait(timeout=10)
            except (BrowserError, subprocess.TimeoutExpired):
                proc.kill()  # it did not close by itself (or closed the pipe before answering)
                proc.wait(timeout=10)
            os.close(to_child_w)
            os.close(from_child_r)
