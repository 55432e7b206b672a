"""Does the eval's endpoint set share one machine? Say so: their speeds are then not independent.

Endpoints served from this host (127.0.0.1, localhost, ::1) on different ports run on the same CPU
(and GPU): the eval runs their cells at the same time, so each decodes slower than it would alone,
and their seconds and tok/s compare only under that load. `tfagent serve --ladder` divides the cores
between its servers for exactly this reason; the note names the endpoints and the core count.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tfagent.agent.serving.cpu import usable_cores

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def shared_cpu_note(endpoints) -> str | None:
    """One sentence when two or more distinct local servers are in the eval, else None."""
    by_server: dict[str, list[str]] = {}
    for ep in endpoints:
        parts = urlsplit(ep.base_url)
        if (parts.hostname or "") in LOCAL_HOSTS:
            by_server.setdefault(f"{parts.hostname}:{parts.port}", []).append(ep.name)
    if len(by_server) < 2:
        return None
    names = ", ".join(name for group in by_server.values() for name in group)
    return (f"endpoints {names} are {len(by_server)} servers on this machine and share its {usable_cores()} CPU core(s) "
            "(and GPU, if any): run together they slow each other, so compare their speed only under this load")
