"""Secrets from the environment: find them, and keep them out of prompts, logs and PR bodies."""

from __future__ import annotations

import os
import re

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|^AWS_|^AZURE_|^ARM_|^GOOGLE_", re.I)
# Variables whose names match but whose values are not secret and are too common to redact.
_NOT_SECRET = {"TFAGENT_API_KEY_ENV", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "GOOGLE_CLOUD_PROJECT"}
MIN_SECRET_LENGTH = 6
REDACTED = "[redacted]"


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and name not in _NOT_SECRET


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of secret-looking variables, longest first (so a value containing another is
    replaced whole)."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if is_secret_name(k) and len(v) >= MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact(text: str, environ: dict[str, str] | None = None) -> str:
    for value in secret_values(environ):
        text = text.replace(value, REDACTED)
    return text


def scrubbed_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment without secret-looking variables (for child processes that run
    generated code)."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if not is_secret_name(k)}
