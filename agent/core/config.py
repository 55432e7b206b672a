"""Settings and named endpoints.

Precedence, highest first: command-line flags > environment (TFAGENT_BASE_URL, TFAGENT_MODEL,
TFAGENT_API_KEY, TFAGENT_ENDPOINT) > ./tfagent.toml > the user config file
($XDG_CONFIG_HOME/tfagent/config.toml). Endpoints ("quants") from both files are merged by name, the
working directory's winning.

    default_endpoint = "q4"
    [defaults]
    max_attempts = 3
    verify = "hcl,fmt,validate"
    provider_mirror = "/opt/tf-plugins"
    [endpoints.q4]
    base_url = "http://gpu-box:8080/v1"
    model = "glm"
    bpw = 4.5
    api_key_env = "GLM_API_KEY"      # the key itself never goes in the file
    temperature = 0.2
    seed = 7
    max_tokens = 4096
    chat_template_kwargs = { enable_thinking = false }
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from tfagent.agent.core import secrets
from tfagent.agent.core.defaults import CONSTRAIN_MODES, FEEDBACK_STYLES, GROUNDING_MODES, MAX_CANDIDATES
from tfagent.agent.core.output import atomic_write
from tfagent.agent.core.types import REQUEST_PARAMS, Endpoint

LOCAL_CONFIG = "tfagent.toml"
ENDPOINT_KEYS = {"base_url", "model", "bpw", "api_key_env", "feedback", "constrain", "candidates", "autofix", "grounding", "verify",
                 *REQUEST_PARAMS}
DEFAULT_KEYS = {"max_attempts", "verify", "provider_mirror", "out", "offline_aws", "policy", "ready_timeout",
                "sandbox", "feedback", "constrain", "candidates", "autofix", "grounding"}


class ConfigError(ValueError):
    """Bad or missing configuration; the message names the file and key (exit 2)."""


def check_choice(where: str, value: Any, choices: tuple[str, ...]) -> str | None:
    """None stays None (not set); anything else must be one of ``choices``."""
    if value is None:
        return None
    if value not in choices:
        raise ConfigError(f"{where} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def check_candidates(where: str, value: Any) -> int | None:
    """None stays None (not set); else a whole number from 1 to MAX_CANDIDATES."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CANDIDATES:
        raise ConfigError(f"{where} must be a whole number from 1 to {MAX_CANDIDATES} (samples of the first request), "
                          f"got {value!r}")
    return value


def check_flag(where: str, value: Any) -> bool | None:
    """None stays None (not set); else true or false (TOML booleans, not strings)."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    return value


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def user_config_path() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "tfagent" / "config.toml"


def state_dir() -> Path:
    path = _xdg("XDG_STATE_HOME", ".local/state") / "tfagent"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    path = _xdg("XDG_CACHE_HOME", ".cache") / "tfagent"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Config:
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    default_endpoint: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)  # files that were read, lowest precedence first


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _endpoint_from(name: str, data: Any, path: Path) -> Endpoint:
    where = f"{path}: [endpoints.{name}]"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(data) - ENDPOINT_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(ENDPOINT_KEYS))})")
    base_url = data.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: base_url must be an http(s) URL, got {base_url!r}")
    bpw = data.get("bpw")
    if bpw is not None and (isinstance(bpw, bool) or not isinstance(bpw, (int, float)) or bpw <= 0):
        raise ConfigError(f"{where}: bpw must be a positive number (bits per weight), got {bpw!r}")
    params = {k: data[k] for k in REQUEST_PARAMS if k in data}
    if "chat_template_kwargs" in params and not isinstance(params["chat_template_kwargs"], dict):
        raise ConfigError(f"{where}: chat_template_kwargs must be a table, e.g. {{ enable_thinking = false }}")
    key_env = data.get("api_key_env")
    loop = {key: check_choice(f"{where}: {key}", data.get(key), choices) for key, choices in
            (("feedback", FEEDBACK_STYLES), ("constrain", CONSTRAIN_MODES), ("grounding", GROUNDING_MODES))}
    verify = data.get("verify")
    if verify is not None and (not isinstance(verify, str) or not [v for v in verify.split(",") if v.strip()]):
        raise ConfigError(f"{where}: verify must be a comma-separated verifier chain such as \"hcl,fmt,validate,plan\", "
                          f"got {verify!r}")
    candidates = check_candidates(f"{where}: candidates", data.get("candidates"))
    autofix = check_flag(f"{where}: autofix", data.get("autofix"))
    return Endpoint(
        name=name,
        base_url=base_url.rstrip("/"),
        model=str(data.get("model") or "default"),
        api_key=os.environ.get(key_env) if key_env else None,
        api_key_env=key_env,
        feedback=loop["feedback"],
        constrain=loop["constrain"],
        candidates=candidates,
        autofix=autofix,
        grounding=loop["grounding"],
        verify=[v.strip() for v in verify.split(",") if v.strip()] if verify else None,
        bpw=float(bpw) if bpw is not None else None,
        params=params,
    )


def _merge_file(config: Config, path: Path) -> None:
    data = _read_toml(path)
    config.sources.append(path)
    unknown = set(data) - {"endpoints", "default_endpoint", "defaults"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    for name, table in (data.get("endpoints") or {}).items():
        config.endpoints[name] = _endpoint_from(name, table, path)
    defaults = data.get("defaults") or {}
    bad = set(defaults) - DEFAULT_KEYS
    if bad:
        raise ConfigError(f"{path}: [defaults]: unknown key(s) {', '.join(sorted(bad))} (known: {', '.join(sorted(DEFAULT_KEYS))})")
    config.defaults.update(defaults)
    if "default_endpoint" in data:
        config.default_endpoint = str(data["default_endpoint"])


def load_config(cwd: Path | None = None) -> Config:
    config = Config()
    for path in (user_config_path(), (cwd or Path.cwd()) / LOCAL_CONFIG):
        if path.is_file():
            _merge_file(config, path)
    return config


def resolve_endpoint(
    config: Config,
    name: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
) -> Endpoint:
    """The endpoint one run talks to: flags > environment > config files."""
    name = name or os.environ.get("TFAGENT_ENDPOINT") or None
    base: Endpoint | None = None
    if name:
        if name not in config.endpoints:
            known = ", ".join(sorted(config.endpoints)) or "none configured"
            raise ConfigError(f"unknown endpoint {name!r} (known: {known})")
        base = config.endpoints[name]
    elif config.default_endpoint and not (base_url or os.environ.get("TFAGENT_BASE_URL")):
        if config.default_endpoint not in config.endpoints:
            raise ConfigError(f"default_endpoint {config.default_endpoint!r} is not defined under [endpoints]")
        base = config.endpoints[config.default_endpoint]
    url = base_url or os.environ.get("TFAGENT_BASE_URL") or (base.base_url if base else None)
    if not url:
        raise ConfigError(
            "no model server configured: pass --base-url URL or --endpoint NAME, set TFAGENT_BASE_URL, "
            f"or add an endpoint to {LOCAL_CONFIG} / {user_config_path()}"
        )
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--base-url must be an http(s) URL, got {url!r}")
    key = api_key or os.environ.get("TFAGENT_API_KEY") or (base.api_key if base else None)
    secrets.register(key)  # a key from a flag or an ordinary-looking variable is still redacted everywhere
    return Endpoint(
        name=base.name if base else "cli",
        base_url=url.rstrip("/"),
        model=model or os.environ.get("TFAGENT_MODEL") or (base.model if base else "default"),
        api_key=key,
        api_key_env=base.api_key_env if base else None,
        bpw=base.bpw if base else None,
        params=dict(base.params) if base else {},
        candidates=base.candidates if base else None,
        autofix=base.autofix if base else None,
        feedback=base.feedback if base else None,
        constrain=base.constrain if base else None,
        grounding=base.grounding if base else None,
        verify=list(base.verify) if base and base.verify else None,
    )


def _write_user_config(mutate) -> Path:
    path = user_config_path()
    data = _read_toml(path) if path.is_file() else {}
    mutate(data)
    return atomic_write(path, tomli_w.dumps(data))  # a crash never leaves a half-written config


def register_endpoint(name: str, fields: dict[str, Any]) -> Path:
    """Add or replace ``[endpoints.NAME]`` in the user config (used by `tfagent serve`)."""
    clean = {k: v for k, v in fields.items() if v is not None}
    _endpoint_from(name, clean, user_config_path())  # validate before writing

    def mutate(data: dict[str, Any]) -> None:
        data.setdefault("endpoints", {})[name] = clean

    return _write_user_config(mutate)


def unregister_endpoint(name: str) -> Path:
    def mutate(data: dict[str, Any]) -> None:
        (data.get("endpoints") or {}).pop(name, None)

    return _write_user_config(mutate)
