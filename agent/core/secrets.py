"""The one secret policy: which environment variables hold secrets, and keeping their values out of
everything tfagent writes or sends.

Every path uses this module: the sandbox drops these variables from generated code's environment
(``scrubbed_env``); model requests, feedback, logs (``install_log_redaction``), the run store,
``--json`` output and PR/MR bodies replace their values with ``[redacted]`` (``redact``,
``redact_obj``); and a reply that contains one of the values is a failed attempt
(``hardcoded_in``), never written, committed or pushed.

A name is a secret when it matches one of ``SECRET_NAME_PATTERNS`` (shell-style, case-insensitive)
and is not in ``NOT_SECRET`` — names that match a pattern but hold settings everyone can see
(regions, CI metadata, desktop session types) whose values are common words that redaction would
wrongly erase from prompts and PR bodies.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
from typing import Any, Iterable, Mapping

SECRET_NAME_PATTERNS = (
    "*TOKEN*", "*SECRET*", "*PASSWORD*", "*PASSWD*", "*PASSPHRASE*", "*KEY*", "*CREDENTIAL*", "*AUTH*",
    "*COOKIE*", "*SESSION*", "*PRIVATE*", "*_PAT", "*_DSN", "*WEBHOOK*", "*CONN_STR*", "*CONNECTION_STRING*",
    "AWS_*", "AZURE_*", "ARM_*", "GOOGLE_*", "GCP_*", "GCLOUD_*", "CLOUDSDK_*", "GITHUB_*", "GITLAB_*", "GH_*",
    "GL_*", "CI_JOB_TOKEN", "OPENAI_*", "ANTHROPIC_*", "HF_*", "HUGGING_FACE_*", "DIGITALOCEAN_*", "DO_*",
    "VAULT_*", "NPM_*", "PYPI_*", "TWINE_*", "DOCKER_*", "SLACK_*", "DATABASE_URL",
)
NOT_SECRET = frozenset({
    "TFAGENT_API_KEY_ENV",  # the NAME of the variable holding the key, not the key
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_OUTPUT", "AWS_PAGER", "AWS_SDK_LOAD_CONFIG",
    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED",
    "GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "GCP_REGION", "CLOUDSDK_CORE_PROJECT", "AZURE_LOCATION",
    "ARM_ENVIRONMENT", "ARM_SKIP_PROVIDER_REGISTRATION",
    "GITHUB_ACTIONS", "GITHUB_ACTOR", "GITHUB_REPOSITORY", "GITHUB_REPOSITORY_OWNER", "GITHUB_WORKSPACE",
    "GITHUB_REF", "GITHUB_REF_NAME", "GITHUB_SHA", "GITHUB_SERVER_URL", "GITHUB_API_URL", "GITHUB_EVENT_NAME",
    "GITHUB_RUN_ID", "GITHUB_RUN_NUMBER", "GITHUB_JOB", "GITHUB_WORKFLOW", "GITHUB_HEAD_REF", "GITHUB_BASE_REF",
    "GITLAB_CI", "GITLAB_USER_LOGIN", "GITLAB_USER_NAME",
    "XDG_SESSION_TYPE", "XDG_SESSION_CLASS", "XDG_SESSION_DESKTOP", "XDG_SESSION_ID", "DESKTOP_SESSION",
    "DOCKER_HOST", "DOCKER_BUILDKIT", "AWS_CA_BUNDLE", "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",  # paths to CA files
})
MIN_SECRET_LENGTH = 6  # shorter values ("1", "true") are not secrets worth erasing from every text
REDACTED = "[redacted]"

_registered: set[str] = set()  # values known to be secret whatever their variable (an --api-key flag)
_lock = threading.Lock()


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return upper not in NOT_SECRET and any(fnmatch.fnmatchcase(upper, pattern) for pattern in SECRET_NAME_PATTERNS)


def register(value: str | None) -> None:
    """Treat ``value`` as a secret for the rest of the process (a key given on the command line or
    read from a variable with an ordinary name, via an endpoint's ``api_key_env``)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _registered.add(value)


def secret_items(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(name, value) of every secret, longest value first (a value containing another is replaced
    whole). Registered values carry the name ``a configured API key``."""
    env = os.environ if environ is None else environ
    items = {(k, v) for k, v in env.items() if is_secret_name(k) and len(v) >= MIN_SECRET_LENGTH}
    with _lock:
        known = {v for _, v in items}
        items |= {("a configured API key", v) for v in _registered if v not in known}
    return sorted(items, key=lambda item: (-len(item[1]), item[0]))


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    return list(dict.fromkeys(v for _, v in secret_items(environ)))


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    if not text:
        return text
    for value in secret_values(environ):
        text = text.replace(value, REDACTED)
    return text


def redact_obj(obj: Any, environ: Mapping[str, str] | None = None) -> Any:
    """``obj`` (JSON-like: dicts, lists, strings) with every secret value redacted, keys included."""
    values = secret_values(environ)
    if not values:
        return obj

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            for value in values:
                node = node.replace(value, REDACTED)
            return node
        if isinstance(node, dict):
            return {walk(k): walk(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [walk(v) for v in node]
        return node

    return walk(obj)


def hardcoded_in(texts: Iterable[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """Names of the secrets whose values appear in ``texts`` (sorted; never the values)."""
    joined = "\n".join(texts)
    return sorted({name for name, value in secret_items(environ) if value in joined})


def scrubbed_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment without secret variables (for child processes that run
    generated code)."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if not is_secret_name(k)}


_factory_installed = False


def install_log_redaction() -> None:
    """Redact every log record of this process (any logger, any handler): the record factory
    formats the message once, redacted, so neither the text nor its arguments carry a secret."""
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        _factory_installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep the raw text, still redacted
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
