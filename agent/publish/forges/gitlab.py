"""GitLab merge requests over the REST API (registered as the ``gitlab`` forge)."""

from __future__ import annotations

from typing import Mapping
from urllib.parse import quote

from tfagent.agent.core.defaults import FORGE_TIMEOUT
from tfagent.agent.publish.forge import PullRequest, RemoteInfo
from tfagent.agent.publish.forges.rest import RestApi


class GitLabForge:
    name = "gitlab"

    @classmethod
    def recognises(cls, remote: RemoteInfo, env: Mapping[str, str]) -> bool:
        return bool(env.get("CI_API_V4_URL") or env.get("GITLAB_TOKEN")) or "gitlab" in remote.host.lower()

    @classmethod
    def credentials_problem(cls, env: Mapping[str, str]) -> str | None:
        if gitlab_token(env) is None:
            return "--pr on GitLab needs GITLAB_TOKEN (or CI_JOB_TOKEN) in the environment"
        return None

    @classmethod
    def from_env(cls, remote: RemoteInfo, env: Mapping[str, str], timeout: float) -> "GitLabForge":
        header, token = gitlab_token(env)  # type: ignore[misc]  # checked by credentials_problem
        return cls(remote, token, header, env.get("CI_API_V4_URL") or f"https://{remote.host}/api/v4", timeout)

    def __init__(self, remote: RemoteInfo, token: str, token_header: str, api_base: str,
                 timeout: float = FORGE_TIMEOUT):
        headers = {token_header: token, "User-Agent": "tfagent"}
        self.api = RestApi("GitLab", api_base, headers, timeout)
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
