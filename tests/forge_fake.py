"""A fake forge for the publishing tests: a real HTTP server on 127.0.0.1 that answers like the
GitHub and GitLab APIs (the `forge_server` fixture in conftest.py starts one per test)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

GH_TOKEN = "ghp_testtoken_123456"
GL_TOKEN = "glpat-testtoken-123456"


class ForgeServer:
    """A small stateful GitHub + GitLab API on 127.0.0.1. Records every request.

    GitHub: /repos/{owner}/{repo}/pulls (GET ?head=owner:branch&state=open, POST, PATCH /{n}).
    GitLab: /api/v4/projects/{url-encoded path}/merge_requests (GET ?source_branch&state, POST, PUT /{iid}).
    ``fail_with`` makes every request answer that (status, json); ``delay`` sleeps before answering;
    ``hide_from_lookup`` makes the first GET miss an existing PR (the race that yields 422)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.pulls: list[dict] = []  # GitHub PRs and GitLab MRs alike
        self.fail_with: tuple[int, dict] | None = None
        self.delay = 0.0
        self.hide_from_lookup = 0
        self.post_422_message: str | None = None
        self.abandoned = 0  # answers the client no longer waited for
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> "ForgeServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        if not self.thread.is_alive():
            return  # already stopped (a test may stop it early to make the API unreachable)
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def calls(self, method: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean; requests are recorded instead
                return

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                record = {"method": self.command, "raw_path": split.path, "query": parse_qs(split.query),
                          "headers": {k.lower(): v for k, v in self.headers.items()},
                          "json": json.loads(raw) if raw else None}
                with server._lock:
                    server.requests.append(record)
                    status, payload = server.answer(record)
                if server.delay:
                    time.sleep(server.delay)
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    server.abandoned += 1  # the client gave up first (the timeout test); counted, not raised

            do_GET = do_POST = do_PATCH = do_PUT = _serve

        return Handler

    def answer(self, r: dict) -> tuple[int, object]:
        if self.fail_with:
            return self.fail_with
        path = r["raw_path"]
        if path.startswith("/repos/"):
            if r["headers"].get("authorization") != f"Bearer {GH_TOKEN}":
                return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
            return self.github(r, path.split("/"))
        if path.startswith("/api/v4/projects/"):
            token = r["headers"].get("private-token") or r["headers"].get("job-token")
            if token != GL_TOKEN:
                return 401, {"message": "401 Unauthorized"}
            return self.gitlab(r, path.split("/"))
        return 404, {"message": "Not Found"}

    def github(self, r: dict, parts: list[str]) -> tuple[int, object]:
        # ["", "repos", owner, repo, "pulls", (number)]
        owner, repo = parts[2], parts[3]
        if r["method"] == "GET":
            if self.hide_from_lookup:
                self.hide_from_lookup -= 1
                return 200, []
            head = r["query"]["head"][0]
            return 200, [p for p in self.pulls if f"{owner}:{p['head']}" == head and p["state"] == "open"]
        if r["method"] == "POST":
            body = r["json"]
            if self.post_422_message:
                return 422, {"message": "Validation Failed", "errors": [{"message": self.post_422_message}]}
            if any(p["head"] == body["head"] for p in self.pulls):
                return 422, {"message": "Validation Failed", "errors": [
                    {"resource": "PullRequest", "code": "custom",
                     "message": f"A pull request already exists for {owner}:{body['head']}."}]}
            number = len(self.pulls) + 1
            pull = {"number": number, "head": body["head"], "base": body["base"], "title": body["title"],
                    "body": body["body"], "draft": body.get("draft", False), "state": "open",
                    "html_url": f"https://github.com/{owner}/{repo}/pull/{number}"}
            self.pulls.append(pull)
            return 201, pull
        if r["method"] == "PATCH":
            pull = self.pulls[int(parts[5]) - 1]
            pull.update(r["json"])
            return 200, pull
        return 405, {"message": "method"}

    def gitlab(self, r: dict, parts: list[str]) -> tuple[int, object]:
        # ["", "api", "v4", "projects", encoded-id, "merge_requests", (iid)]
        project = unquote(parts[4])
        if r["method"] == "GET":
            source = r["query"]["source_branch"][0]
            return 200, [p for p in self.pulls if p["source_branch"] == source and p["state"] == "opened"]
        if r["method"] == "POST":
            iid = len(self.pulls) + 1
            mr = dict(r["json"], iid=iid, state="opened", web_url=f"https://gitlab.example.com/{project}/-/merge_requests/{iid}")
            self.pulls.append(mr)
            return 201, mr
        if r["method"] == "PUT":
            mr = self.pulls[int(parts[6]) - 1]
            mr.update(r["json"])
            return 200, mr
        return 405, {"message": "method"}
