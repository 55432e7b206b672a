"""Connecting the eval driver to Ray: a refusal says what to set, a dead address fails at once, and a
local instance tfagent starts itself listens on 127.0.0.1 only.

What Ray does (2.60, read in its source; docs/eval-on-ray.md "Authentication"):
- Ray >= 2.59 turns token authentication on by default for a *new local* ``ray.init()`` (and writes
  ``~/.ray/auth_token``); ``ray start --head`` with ``RAY_AUTH_MODE`` unset switches to token mode
  whenever ``~/.ray/auth_token`` exists. A driver given an *explicit* address never turns token mode
  on by itself, so such a cluster refuses it with ``InvalidAuthToken`` unless ``RAY_AUTH_MODE=token``
  and the token (``RAY_AUTH_TOKEN``, a file named by ``RAY_AUTH_TOKEN_PATH``, or ``~/.ray/auth_token``)
  are set.
- ``ray.init`` tries the GCS ``RAY_NUM_REDIS_GET_RETRIES`` (20) times, 1 s apart: a refused token
  costs 20 s, an address where nobody listens minutes (each try waits ~40 s). So an explicit address
  is checked with one TCP connect first, and the tries are bounded to ``CONNECT_ATTEMPTS`` unless
  ``RAY_gcs_server_port_wait_time_s`` is set.
- Ray resolves ``127.0.0.1`` given as the node IP to the machine's outward IP, and its GCS, raylet and
  worker gRPC servers then listen on every interface. Only with ``ray_constants.ENABLE_RAY_CLUSTER``
  off (what Ray does on macOS and Windows) is the node IP loopback and every server bound to it; that
  is switched off for the duration of starting a new local instance, never when joining a cluster.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager, nullcontext
from typing import Iterator

CONNECT_ATTEMPTS = 3  # GCS tries for an explicit address (Ray's default is 20, 1 s apart)
TCP_TIMEOUT_S = 5.0
GCS_WAIT_ENV = "RAY_gcs_server_port_wait_time_s"  # Ray's own override of that number of tries
AUTH_HELP = ("set RAY_AUTH_MODE=token and the cluster's token in RAY_AUTH_TOKEN, or in a file named by "
             "RAY_AUTH_TOKEN_PATH, or in ~/.ray/auth_token (`ray get-auth-token` on the head prints it)")


class RayUnavailable(RuntimeError):
    """The ``ray`` package is not installed or the cluster cannot be reached (exit 2)."""


def connect(ray, address: str | None) -> None:
    """``ray.init`` for the eval driver; RayUnavailable (naming the address and the fix) when refused."""
    target, new_local = _bootstrap(address)
    shown = address or os.environ.get("RAY_ADDRESS") or target or "(a new local instance)"
    if target is not None:
        _check_listening(shown, target)
    errors: tuple[type[BaseException], ...] = (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError)
    try:
        with _loopback_only() if new_local else _bounded_tries():
            ray.init(address=address, log_to_driver=False, include_dashboard=False, configure_logging=False)
    except errors as exc:
        if _auth_refusal(ray, exc):
            raise RayUnavailable(f"--address {shown}: the Ray cluster refused this driver's authentication "
                                 f"(token authentication is on there): {AUTH_HELP}") from None
        raise RayUnavailable(f"--address {shown}: cannot connect to Ray: {exc}") from None


def _bootstrap(address: str | None) -> tuple[str | None, bool]:
    """(host:port ray.init will dial, or None; whether ray.init will start a new local instance).
    Ray's own resolution (RAY_ADDRESS, then the last ``ray start`` on this machine); when its
    internals moved, only an explicit address is known and nothing counts as a new instance."""
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:
        return (address if address not in (None, "auto", "local") else None), False
    try:
        target = canonicalize_bootstrap_address(address)
    except (ConnectionError, ValueError):  # ray.init raises the same, with its own message
        return None, False
    return target, target is None


def _check_listening(shown: str, target: str) -> None:
    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not port.isdigit():
        return  # not host:port: ray.init explains
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=TCP_TIMEOUT_S):
            pass
    except OSError as exc:
        raise RayUnavailable(f"--address {shown}: nothing accepts connections at {host}:{port} "
                             f"({exc.strerror or exc}); is the Ray head running there?") from None


def _auth_refusal(ray, exc: BaseException | None) -> bool:
    auth_error = getattr(ray.exceptions, "AuthenticationError", None)
    seen = 0
    while exc is not None and seen < 10:
        if (auth_error is not None and isinstance(exc, auth_error)) or "InvalidAuthToken" in str(exc) \
                or "authentication token" in str(exc).lower():
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


@contextmanager
def _bounded_tries() -> Iterator[None]:
    if GCS_WAIT_ENV in os.environ:
        yield
        return
    os.environ[GCS_WAIT_ENV] = str(CONNECT_ATTEMPTS)
    try:
        yield
    finally:
        os.environ.pop(GCS_WAIT_ENV, None)


def _loopback_only():
    try:
        from ray._private import ray_constants
    except ImportError:
        return nullcontext()
    if not hasattr(ray_constants, "ENABLE_RAY_CLUSTER"):
        return nullcontext()
    return _flag_off(ray_constants)


@contextmanager
def _flag_off(ray_constants) -> Iterator[None]:
    previous = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = previous
