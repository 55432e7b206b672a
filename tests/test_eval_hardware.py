"""The eval says when its endpoints are servers sharing this machine's CPU."""

from __future__ import annotations

from tfagent.agent.core.types import Endpoint
from tfagent.evals.running.hardware import shared_cpu_note


def ep(name: str, url: str) -> Endpoint:
    return Endpoint(name, url, "m")


def test_two_local_servers_share_the_cpu():
    note = shared_cpu_note([ep("q4", "http://127.0.0.1:8080/v1"), ep("q2", "http://localhost:8081/v1")])
    assert note is not None and "q4, q2" in note and "2 servers on this machine" in note and "CPU core" in note


def test_one_server_or_remote_servers_need_no_note():
    same = [ep("a", "http://127.0.0.1:8080/v1"), ep("b", "http://127.0.0.1:8080/v1")]  # one server, two names
    assert shared_cpu_note(same) is None
    remote = [ep("a", "http://gpu-1:8080/v1"), ep("b", "http://gpu-2:8080/v1")]
    assert shared_cpu_note(remote) is None
