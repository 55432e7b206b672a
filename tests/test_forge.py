"""Forge API client against a real HTTP server on 127.0.0.1 that answers like GitHub and GitLab
(tests/forge_fake.py)."""

from __future__ import annotations

import pytest

from forge_fake import GH_TOKEN, GL_TOKEN, ForgeServer
from tfagent.agent.publish.forge import (
    ForgeError,
    RemoteInfo,
    RemoteUrlError,
    choose_forge,
    make_forge,
    parse_remote_url,
)


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
