"""Opening or updating a pull request (GitHub) or merge request (GitLab) over their REST APIs.

One PR per branch: a re-run finds the open PR for its head branch and updates its body instead of
opening a second one. Every API failure becomes a ``ForgeError`` with one line that names the call
and the status; the token never appears in it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import quote

import httpx

from tfagent.agent.core.secrets import redact

DEFAULT_GITHUB_API = "https://api.github.com"
DEFAULT_TIMEOUT = 30.0
FORGES = ("github", "gitlab")


class ForgeError(RuntimeError):
    """A forge or push failure (CLI exit code 4). ``branch``/``pushed`` say what was left behind."""

    def __init__(self, message: str, *, branch: str | None = None, pushed: bool = False):
        super().__init__(redact(message))  # API answers and URLs may echo a secret back
        self.branch = branch
        self.pushed = pushed


class RemoteUrlError(ValueError):
    """A remote URL from which no host and owner/repo path can be read."""


@dataclass(frozen=True)
class RemoteInfo:
    host: str  # "github.com", "gitlab.example.com:8443"
    path: str  # "owner/repo" or "group/subgroup/project", no ".git"

    @property
    def owner(self) -> str:
        return self.path.rsplit("/", 1)[0]

    @property
    def repo(self) -> str:
        return self.path.rsplit("/", 1)[1]


# scp-like ssh form: [user@]host:path — git treats it so only when no "/" comes before the ":".
SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")
URL_FORM = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?:[^@/]+@)?(?P<host>[^/]+)/(?P<path>.+)$", re.I)


def parse_remote_url(url: str) -> RemoteInfo:
    """``https://github.com/o/r.git``, ``git@github.com:o/r.git``, ``ssh://git@host:22/g/s/p.git`` …"""
    text = url.strip()
    match = URL_FORM.match(text) or SCP_LIKE.match(text)
    if not match:
        raise RemoteUrlError(f"cannot read host and owner/repo from remote URL {text!r}")
    host = match.group("host")
    scheme = match.groupdict().get("scheme", "ssh") or "ssh"
    if scheme.lower() in ("ssh", "git+ssh", "git"):
        host = host.split(":", 1)[0]  # an ssh/git port is not the web/API host's port
    path = match.group("path").strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    if "/" not in path or not all(path.split("/")):
        raise RemoteUrlError(f"remote URL {text!r} has no owner/repo path (got {path!r})")
    return RemoteInfo(host=host, path=path)


def choose_forge(remote: RemoteInfo, override: str | None = None, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if override:
        if override not in FORGES:
            raise ValueError(f"--forge must be one of {', '.join(FORGES)}, not {override!r}")
        return override
    if env.get("CI_API_V4_URL") or env.get("GITLAB_TOKEN") or "gitlab" in remote.host.lower():
        return "gitlab"
    return "github"


@dataclass
class PullRequest:
    number: int
    url: str
    created: bool  # False when an existing PR was updated


class _Api:
    """httpx calls with one-line errors. ``label`` names the forge in messages."""

    def __init__(self, label: str, base: str, headers: dict[str, str], timeout: float, transport=None):
        self.label = label
        self.base = base.rstrip("/")
        self.client = httpx.Client(headers=headers, timeout=timeout, transport=transport)
        self.timeout = timeout

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kw: Any) -> httpx.Response:
        url = f"{self.base}{path}"
        try:
            response = self.client.request(method, url, **kw)
        except httpx.TimeoutException:
            raise ForgeError(f"{self.label} API timed out after {self.timeout:g}s on {method} {url}") from None
        except httpx.HTTPError as exc:
            raise ForgeError(f"{self.label} API unreachable on {method} {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code not in ok:
            raise self.error(method, url, response)
        return response

    def error(self, method: str, url: str, response: httpx.Response) -> ForgeError:
        hint = {401: "the token was rejected", 403: "the token lacks permission",
                404: "not found (wrong repository, or the token cannot see it)"}.get(response.status_code, "")
        return ForgeError(f"{self.label} API {method} {url} failed: HTTP {response.status_code}"
                          f"{' — ' + hint if hint else ''}: {api_message(response)}")

    def close(self) -> None:
        self.client.close()


def api_message(response: httpx.Response) -> str:
    """The API's own explanation, on one line."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip().replace("\n", " ")[:300] or response.reason_phrase
    if isinstance(data, dict):
        parts = [str(data.get("message") or data.get("error") or "")]
        for err in data.get("errors") or []:
            parts.append(str(err.get("message", err)) if isinstance(err, dict) else str(err))
        return "; ".join(p for p in parts if p)[:500] or response.reason_phrase
    return str(data)[:300]


class GitHubForge:
    name = "github"

    def __init__(self, remote: RemoteInfo, token: str, api_base: str = DEFAULT_GITHUB_API,
                 timeout: float = DEFAULT_TIMEOUT, transport=None):
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "tfagent"}
        self.api = _Api("GitHub", api_base, headers, timeout, transport)
        self.remote = remote
        self.repo_path = f"/repos/{quote(remote.owner, safe='')}/{quote(remote.repo, safe='')}"

    def find_open(self, head: str) -> dict | None:
        response = self.api.call("GET", f"{self.repo_path}/pulls", ok=(200,),
                                 params={"head": f"{self.remote.owner}:{head}", "state": "open"})
        pulls = response.json()
        return pulls[0] if isinstance(pulls, list) and pulls else None

    def update(self, pull: dict, title: str, body: str) -> PullRequest:
        response = self.api.call("PATCH", f"{self.repo_path}/pulls/{pull['number']}", ok=(200,),
                                 json={"title": title, "body": body})
        data = response.json()
        return PullRequest(int(data["number"]), str(data.get("html_url", "")), created=False)

    def open_or_update(self, *, head: str, base: str, title: str, body: str, draft: bool) -> PullRequest:
        existing = self.find_open(head)
        if existing:
            return self.update(existing, title, body)
        payload = {"title": title, "body": body, "head": head, "base": base, "draft": draft}
        response = self.api.call("POST", f"{self.repo_path}/pulls", ok=(201, 422), json=payload)
        if response.status_code == 422:
            # Opened between our lookup and our POST (or not visible to the lookup): find it and update.
            if "already exists" not in api_message(response).lower():
                raise self.api.error("POST", f"{self.api.base}{self.repo_path}/pulls", response)
            existing = self.find_open(head)
            if not existing:
                raise ForgeError(f"GitHub says a pull request for {head} already exists but none is open for "
                                 f"{self.remote.owner}:{head}")
            return self.update(existing, title, body)
        data = response.json()
        return PullRequest(int(data["number"]), str(data.get("html_url", "")), created=True)

    def close(self) -> None:
        self.api.close()


class GitLabForge:
    name = "gitlab"

    def __init__(self, remote: RemoteInfo, token: str, token_header: str, api_base: str,
                 timeout: float = DEFAULT_TIMEOUT, transport=None):
        headers = {token_header: token, "User-Agent": "tfagent"}
        self.api = _Api("GitLab", api_base, headers, timeout, transport)
        self.project_path = f"/projects/{quote(remote.path, safe='')}"

    def open_or_update(self, *, head: str, base: str, title: str, body: str, draft: bool) -> PullRequest:
        # GitLab marks drafts by the title prefix; that also works on servers older than the draft flag.
        title = f"Draft: {title}" if draft else title
        response = self.api.call("GET", f"{self.project_path}/merge_requests", ok=(200,),
                                 params={"source_branch": head, "state": "opened"})
        found = response.json()
        if isinstance(found, list) and found:
            iid = found[0]["iid"]
            response = self.api.call("PUT", f"{self.project_path}/merge_requests/{iid}", ok=(200,),
                                     json={"title": title, "description": body})
            data = response.json()
            return PullRequest(int(data["iid"]), str(data.get("web_url", "")), created=False)
        payload = {"source_branch": head, "target_branch": base, "title": title, "description": body}
        data = self.api.call("POST", f"{self.project_path}/merge_requests", ok=(201,), json=payload).json()
        return PullRequest(int(data["iid"]), str(data.get("web_url", "")), created=True)

    def close(self) -> None:
        self.api.close()


def gitlab_token(env: Mapping[str, str]) -> tuple[str, str] | None:
    """(header, token): a personal/project token wins over the CI job token."""
    if env.get("GITLAB_TOKEN"):
        return "PRIVATE-TOKEN", env["GITLAB_TOKEN"]
    if env.get("CI_JOB_TOKEN"):
        return "JOB-TOKEN", env["CI_JOB_TOKEN"]
    return None


def check_credentials(kind: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why a PR cannot be opened with this environment, or None. Checked before the model runs."""
    env = os.environ if env is None else env
    if kind == "github" and not env.get("GITHUB_TOKEN"):
        return "--pr on GitHub needs GITHUB_TOKEN in the environment"
    if kind == "gitlab" and gitlab_token(env) is None:
        return "--pr on GitLab needs GITLAB_TOKEN (or CI_JOB_TOKEN) in the environment"
    return None


def make_forge(remote: RemoteInfo, kind: str, env: Mapping[str, str] | None = None,
               timeout: float = DEFAULT_TIMEOUT, transport=None) -> GitHubForge | GitLabForge:
    env = os.environ if env is None else env
    problem = check_credentials(kind, env)
    if problem:
        raise ForgeError(problem)
    if kind == "github":
        return GitHubForge(remote, env["GITHUB_TOKEN"], env.get("GITHUB_API_URL") or DEFAULT_GITHUB_API,
                           timeout, transport)
    header, token = gitlab_token(env)  # type: ignore[misc]  # checked above
    api_base = env.get("CI_API_V4_URL") or f"https://{remote.host}/api/v4"
    return GitLabForge(remote, token, header, api_base, timeout, transport)
