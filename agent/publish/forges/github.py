"""GitHub pull requests over the REST API (registered as the ``github`` forge)."""

from __future__ import annotations

from typing import Mapping
from urllib.parse import quote

from tfagent.agent.core.defaults import FORGE_TIMEOUT
from tfagent.agent.publish.forge import ForgeError, PullRequest, RemoteInfo
from tfagent.agent.publish.forges.rest import RestApi, api_message

DEFAULT_GITHUB_API = "https://api.github.com"


class GitHubForge:
    name = "github"

    @classmethod
    def recognises(cls, remote: RemoteInfo, env: Mapping[str, str]) -> bool:
        return "github" in remote.host.lower() or bool(env.get("GITHUB_ACTIONS"))

    @classmethod
    def credentials_problem(cls, env: Mapping[str, str]) -> str | None:
        return None if env.get("GITHUB_TOKEN") else "--pr on GitHub needs GITHUB_TOKEN in the environment"

    @classmethod
    def from_env(cls, remote: RemoteInfo, env: Mapping[str, str], timeout: float) -> "GitHubForge":
        return cls(remote, env["GITHUB_TOKEN"], env.get("GITHUB_API_URL") or DEFAULT_GITHUB_API, timeout)

    def __init__(self, remote: RemoteInfo, token: str, api_base: str = DEFAULT_GITHUB_API,
                 timeout: float = FORGE_TIMEOUT):
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "tfagent"}
        self.api = RestApi("GitHub", api_base, headers, timeout)
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
