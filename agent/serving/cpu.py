"""Dividing a CPU between model servers: never more inference threads than cores.

Measured here: three 0.5B servers with 2 threads each on 2 cores decoded at ~2.4 tok/s each against
~18 tok/s for one server alone — oversubscribed threads spin and wait for each other. So a ladder
on a CPU-only machine splits the cores (each server pinned to its own range when the backend can
pin), and refuses to start more servers than there are cores.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class CpuShareError(ValueError):
    """More servers (or threads) asked for than the cores can run without oversubscription."""


@dataclass(frozen=True)
class CpuShare:
    threads: int  # inference threads of this server
    first_core: int  # pinned range first..last (inclusive), in the affinity mask's order
    last_core: int
    servers: int  # how many servers share this CPU
    cores: int

    @property
    def shared(self) -> bool:
        return self.servers > 1

    def to_dict(self) -> dict:
        return {"threads": self.threads, "cores": [self.first_core, self.last_core], "servers": self.servers,
                "machine_cores": self.cores}


def divide_cores(servers: int, cores: int | None = None, threads: int | None = None) -> list[CpuShare]:
    """One CpuShare per server: the cores split as evenly as they go, the remainder to the first ones.

    `threads` (the user's --threads) is a cap per server; asking for more in total than there are
    cores is an error, as is starting more servers than cores."""
    cores = cores or usable_cores()
    if servers < 1:
        raise CpuShareError(f"need at least one server, got {servers}")
    if servers > cores:
        raise CpuShareError(
            f"{servers} servers on {cores} core(s) would run more inference threads than cores (each then "
            f"decodes several times slower than alone); serve at most {cores} at a time on this CPU")
    if threads is not None and threads * servers > cores:
        raise CpuShareError(f"--threads {threads} × {servers} server(s) = {threads * servers} threads on {cores} "
                            f"core(s); use --threads {cores // servers} or leave --threads out")
    base, extra = divmod(cores, servers)
    shares, start = [], 0
    for i in range(servers):
        width = base + (1 if i < extra else 0)
        count = min(width, threads) if threads else width
        shares.append(CpuShare(count, start, start + width - 1, servers, cores))
        start += width
    return shares


def core_ids() -> list[int]:
    """The affinity mask's core numbers in order (pinning uses real ids, not 0..n-1)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))
