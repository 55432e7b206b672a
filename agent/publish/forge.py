"""Opening or updating a pull request / merge request on a forge, behind one small protocol.

A forge is a plugin: a class registered under the entry-point group ``tfagent.forges`` (GitHub and
GitLab are registered in tfagent's pyproject exactly as a third party's would be; see
forges/github.py). It says whether it recognises a remote, what credentials it misses, and opens or
updates one PR per branch: a re-run finds the open PR for its head branch and updates its body
instead of opening a second one. Every API failure becomes a ``ForgeError`` with one line that
names the call and the status; the token never appears in it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import ClassVar, Mapping, Protocol

from tfagent.agent.core.defaults import FORGE_TIMEOUT
from tfagent.agent.core.plugins import Plugin, load_entry_points
from tfagent.agent.core.secrets import redact
GROUP = "tfagent.forges"
FALLBACK = "github"  # chosen when no registered forge recognises the remote
# The built-ins' entry points (pyproject.toml). Loaded from here too only when an install's metadata
# predates the group (an editable install not re-run after an upgrade), so --pr keeps working.
BUILTINS = {"github": "tfagent.agent.publish.forges.github:GitHubForge",
            "gitlab": "tfagent.agent.publish.forges.gitlab:GitLabForge"}


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


@dataclass
class PullRequest:
    number: int
    url: str
    created: bool  # False when an existing PR was updated


class Forge(Protocol):
    """What a forge plugin provides (forges/github.py is a complete one)."""

    name: ClassVar[str]

    @classmethod
    def recognises(cls, remote: RemoteInfo, env: Mapping[str, str]) -> bool:
        """Whether this remote (or the CI environment) is this forge's, when no --forge is given."""

    @classmethod
    def credentials_problem(cls, env: Mapping[str, str]) -> str | None:
        """Why a PR cannot be opened with this environment (checked before the model runs), or None."""

    @classmethod
    def from_env(cls, remote: RemoteInfo, env: Mapping[str, str], timeout: float) -> "Forge":
        """A connected forge for ``remote``; its credentials were checked."""

    def open_or_update(self, *, head: str, base: str, title: str, body: str, draft: bool) -> PullRequest: ...

    def close(self) -> None: ...


def _plugins() -> dict[str, Plugin]:
    return load_entry_points(GROUP, fallback=BUILTINS)


def forges() -> dict[str, type[Forge]]:
    """Every registered forge class by name; a broken plugin is left out (``forge_class`` names it)."""
    return {name: plugin.obj for name, plugin in _plugins().items() if plugin.ok}


def forge_class(kind: str) -> type[Forge]:
    plugins = _plugins()
    if kind in plugins and not plugins[kind].ok:
        raise ValueError(f"--forge {kind}: {plugins[kind].error}")
    known = {name: plugin.obj for name, plugin in plugins.items() if plugin.ok}
    if kind not in known:
        raise ValueError(f"--forge must be one of {', '.join(sorted(known))}, not {kind!r}")
    return known[kind]


def choose_forge(remote: RemoteInfo, override: str | None = None, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if override:
        forge_class(override)
        return override
    for name, cls in sorted(forges().items()):
        if name != FALLBACK and cls.recognises(remote, env):
            return name
    return FALLBACK


def check_credentials(kind: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why a PR cannot be opened with this environment, or None. Checked before the model runs."""
    return forge_class(kind).credentials_problem(os.environ if env is None else env)


def make_forge(remote: RemoteInfo, kind: str, env: Mapping[str, str] | None = None,
               timeout: float = FORGE_TIMEOUT) -> Forge:
    env = os.environ if env is None else env
    cls = forge_class(kind)
    problem = cls.credentials_problem(env)
    if problem:
        raise ForgeError(problem)
    return cls.from_env(remote, env, timeout)
