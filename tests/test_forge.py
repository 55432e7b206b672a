"""Forge API client against a real HTTP server on 127.0.0.1 that answers like GitHub and GitLab."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tfagent.agent.publish.forge import (
    ForgeError,
    RemoteInfo,
    RemoteUrlError,
    choose_forge,
    make_forge,
    parse_remote_url,
)

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


@pytest.fixture
def forge_server():
    server = ForgeServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "url, host, path",
    [
        ("https://github.com/octo/infra.git", "github.com", "octo/infra"),
        ("https://github.com/octo/infra", "github.com", "octo/infra"),
        ("https://x-access-token:abc@github.com/octo/infra.git", "github.com", "octo/infra"),
        ("git@github.com:octo/infra.git", "github.com", "octo/infra"),
        ("github.com:octo/infra", "github.com", "octo/infra"),
        ("ssh://git@github.com/octo/infra.git", "github.com", "octo/infra"),
        ("ssh://git@gitlab.example.com:2222/group/sub/proj.git", "gitlab.example.com", "group/sub/proj"),
        ("https://gitlab.example.com:8443/group/sub/deeper/proj.git", "gitlab.example.com:8443", "group/sub/deeper/proj"),
        ("git@gitlab.com:group/sub/proj.git", "gitlab.com", "group/sub/proj"),
        ("https://ghe.corp.example/org/repo/", "ghe.corp.example", "org/repo"),
    ],
)
def test_parse_remote_url(url, host, path):
    info = parse_remote_url(url)
    assert (info.host, info.path) == (host, path)
    assert info.repo == path.rsplit("/", 1)[1]
    assert info.owner == path.rsplit("/", 1)[0]


@pytest.mark.parametrize("url", ["/srv/git/repo.git", "file:///srv/git/repo.git", "https://github.com/onlyowner",
                                 "", "not a url"])
def test_parse_remote_url_rejects_what_names_no_repository(url):
    with pytest.raises(RemoteUrlError, match="remote URL"):
        parse_remote_url(url)


def test_choose_forge():
    gh, gl = RemoteInfo("github.com", "o/r"), RemoteInfo("gitlab.example.com", "g/p")
    assert choose_forge(gh, env={}) == "github"
    assert choose_forge(gl, env={}) == "gitlab"
    assert choose_forge(gh, env={"CI_API_V4_URL": "https://git.corp/api/v4"}) == "gitlab"
    assert choose_forge(gh, env={"GITLAB_TOKEN": "x"}) == "gitlab"
    assert choose_forge(gl, "github", env={}) == "github"
    with pytest.raises(ValueError, match="--forge"):
        choose_forge(gh, "bitbucket", env={})


def github(server: ForgeServer, **env):
    return make_forge(RemoteInfo("github.com", "octo/infra"), "github",
                      env={"GITHUB_TOKEN": GH_TOKEN, "GITHUB_API_URL": server.url, **env}, timeout=5)


def test_github_creates_a_pull_request(forge_server):
    pull = github(forge_server).open_or_update(head="tfagent/x", base="main", title="t", body="b", draft=True)
    assert (pull.number, pull.created) == (1, True)
    assert pull.url == "https://github.com/octo/infra/pull/1"
    lookup, post = forge_server.requests
    assert lookup["query"] == {"head": ["octo:tfagent/x"], "state": ["open"]}
    assert post["raw_path"] == "/repos/octo/infra/pulls"
    assert post["json"] == {"title": "t", "body": "b", "head": "tfagent/x", "base": "main", "draft": True}
    assert post["headers"]["accept"] == "application/vnd.github+json"


def test_github_updates_the_open_pull_request_of_the_branch(forge_server):
    forge = github(forge_server)
    forge.open_or_update(head="tfagent/x", base="main", title="t", body="first", draft=False)
    pull = forge.open_or_update(head="tfagent/x", base="main", title="t2", body="second", draft=False)
    assert (pull.number, pull.created) == (1, False)
    assert len(forge_server.calls("POST")) == 1
    (patch,) = forge_server.calls("PATCH")
    assert patch["raw_path"] == "/repos/octo/infra/pulls/1"
    assert patch["json"] == {"title": "t2", "body": "second"}
    assert forge_server.pulls[0]["body"] == "second"


def test_github_422_already_exists_looks_it_up_and_patches(forge_server):
    forge = github(forge_server)
    forge.open_or_update(head="tfagent/x", base="main", title="t", body="first", draft=False)
    forge_server.hide_from_lookup = 1  # the lookup misses it, so the POST answers 422
    pull = forge.open_or_update(head="tfagent/x", base="main", title="t", body="again", draft=False)
    assert pull.created is False
    assert [r["method"] for r in forge_server.requests] == ["GET", "POST", "GET", "POST", "GET", "PATCH"]
    assert forge_server.pulls[0]["body"] == "again"


def test_github_other_422_is_a_forge_error(forge_server):
    forge_server.post_422_message = "No commits between main and tfagent/x"
    with pytest.raises(ForgeError, match=r"HTTP 422.*No commits between main and tfagent/x"):
        github(forge_server).open_or_update(head="tfagent/x", base="main", title="t", body="b", draft=False)


def test_github_bad_token_is_one_clear_line_without_the_token(forge_server):
    forge = make_forge(RemoteInfo("github.com", "octo/infra"), "github",
                       env={"GITHUB_TOKEN": "wrong-token-value", "GITHUB_API_URL": forge_server.url})
    with pytest.raises(ForgeError) as info:
        forge.open_or_update(head="b", base="main", title="t", body="b", draft=False)
    message = str(info.value)
    assert "HTTP 401" in message and "token was rejected" in message and "Bad credentials" in message
    assert "\n" not in message and "wrong-token-value" not in message


@pytest.mark.parametrize("status, payload, expected", [
    (403, {"message": "Resource not accessible by integration"}, "lacks permission"),
    (404, {"message": "Not Found"}, "not found"),
    (500, {"message": "Server Error"}, "HTTP 500"),
    (502, {"error": "bad gateway"}, "bad gateway"),
])
def test_github_api_errors(forge_server, status, payload, expected):
    forge_server.fail_with = (status, payload)
    with pytest.raises(ForgeError, match=expected):
        github(forge_server).open_or_update(head="b", base="main", title="t", body="b", draft=False)


def test_timeout_is_a_forge_error(forge_server):
    forge_server.delay = 1.0
    forge = make_forge(RemoteInfo("github.com", "octo/infra"), "github",
                       env={"GITHUB_TOKEN": GH_TOKEN, "GITHUB_API_URL": forge_server.url}, timeout=0.2)
    with pytest.raises(ForgeError, match="timed out after 0.2s"):
        forge.open_or_update(head="b", base="main", title="t", body="b", draft=False)
    forge.close()


def test_unreachable_api_is_a_forge_error(forge_server):
    url = forge_server.url
    forge_server.stop()
    forge = make_forge(RemoteInfo("github.com", "octo/infra"), "github",
                       env={"GITHUB_TOKEN": GH_TOKEN, "GITHUB_API_URL": url}, timeout=2)
    with pytest.raises(ForgeError, match="unreachable"):
        forge.open_or_update(head="b", base="main", title="t", body="b", draft=False)


def test_api_message_echoing_a_secret_is_redacted(forge_server, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", GH_TOKEN)
    forge_server.fail_with = (400, {"message": f"token {GH_TOKEN} is malformed"})
    with pytest.raises(ForgeError) as info:
        github(forge_server).open_or_update(head="b", base="main", title="t", body="b", draft=False)
    assert GH_TOKEN not in str(info.value) and "token [redacted] is malformed" in str(info.value)


def test_missing_token_is_a_forge_error():
    with pytest.raises(ForgeError, match="GITHUB_TOKEN"):
        make_forge(RemoteInfo("github.com", "o/r"), "github", env={})
    with pytest.raises(ForgeError, match="GITLAB_TOKEN"):
        make_forge(RemoteInfo("gitlab.com", "g/p"), "gitlab", env={})


def gitlab(server: ForgeServer, **env):
    env = {"CI_API_V4_URL": f"{server.url}/api/v4", **env}
    return make_forge(RemoteInfo("gitlab.example.com", "group/sub/proj"), "gitlab", env=env, timeout=5)


def test_gitlab_creates_then_updates_a_merge_request(forge_server):
    forge = gitlab(forge_server, GITLAB_TOKEN=GL_TOKEN)
    mr = forge.open_or_update(head="tfagent/x", base="main", title="t", body="first", draft=False)
    assert (mr.number, mr.created) == (1, True)
    post = forge_server.calls("POST")[0]
    assert post["raw_path"] == "/api/v4/projects/group%2Fsub%2Fproj/merge_requests"
    assert post["headers"]["private-token"] == GL_TOKEN
    assert post["json"] == {"source_branch": "tfagent/x", "target_branch": "main", "title": "t", "description": "first"}
    assert forge_server.calls("GET")[0]["query"] == {"source_branch": ["tfagent/x"], "state": ["opened"]}
    mr = forge.open_or_update(head="tfagent/x", base="main", title="t", body="second", draft=True)
    assert (mr.number, mr.created) == (1, False)
    (put,) = forge_server.calls("PUT")
    assert put["raw_path"] == "/api/v4/projects/group%2Fsub%2Fproj/merge_requests/1"
    assert put["json"] == {"title": "Draft: t", "description": "second"}


def test_gitlab_uses_the_ci_job_token(forge_server):
    forge = gitlab(forge_server, CI_JOB_TOKEN=GL_TOKEN)
    forge.open_or_update(head="b", base="main", title="t", body="b", draft=True)
    post = forge_server.calls("POST")[0]
    assert post["headers"]["job-token"] == GL_TOKEN and "private-token" not in post["headers"]
    assert post["json"]["title"] == "Draft: t"


def test_gitlab_bad_token(forge_server):
    with pytest.raises(ForgeError, match=r"GitLab API GET .*HTTP 401"):
        gitlab(forge_server, GITLAB_TOKEN="nope-nope").open_or_update(head="b", base="m", title="t", body="b", draft=False)
