"""The server-backend seam of `tfagent serve`: one class per model server, registered by entry point.

A backend says whether it can run here, what runs, the command line for one model, and what it will
not do as asked. Built-ins (llama-server, llama-cpp-python) are registered in pyproject.toml under
the entry-point group `tfagent.serving_backends` exactly as a third-party package would register
its own (e.g. a vLLM or SGLang launcher): one file plus one entry point, no edit elsewhere.
`--backend auto` picks the available backend with the lowest `preference`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from tfagent.agent.core.plugins import load_entry_points

GROUP = "tfagent.serving_backends"
# The built-ins' entry points (pyproject.toml). Loaded from here too only when an install's metadata
# predates the group (an editable install not re-run after an upgrade), so serving keeps working.
BUILTINS = {"llama-server": "tfagent.agent.serving.backends.llama_server:LlamaServerBackend",
            "llama-cpp-python": "tfagent.agent.serving.backends.llama_cpp_python:LlamaCppPythonBackend"}


class ServerBackend(ABC):
    """Subclass, set `name` and `preference`, implement the four methods. Instantiated without
    arguments; `opts` is serve's ServeOptions (host, port, ctx, threads, parallel, gpu_layers,
    cache_type_k/v, tensor_split, jinja, spec)."""

    name: str = ""
    preference: int = 100  # lower wins under --backend auto

    @abstractmethod
    def available(self) -> tuple[bool, str]:
        """(can it run here, why not — naming the fix)."""

    @abstractmethod
    def origin(self) -> str:
        """What will run (binary path, module), shown when the server starts."""

    @abstractmethod
    def argv(self, model: Path, alias: str, opts) -> list[str]:
        """The server's command line for one model. Pure: tested without starting anything."""

    def notes(self, opts) -> list[str]:
        """What this backend will not do as asked (said once, not silently dropped)."""
        return []


def _instance(cls) -> ServerBackend:
    backend = cls()
    if not isinstance(backend, ServerBackend):
        raise TypeError("not a ServerBackend")
    return backend


def discover() -> dict[str, ServerBackend]:
    """Every registered backend by name, best preference first. A broken plugin (its import or
    constructor failed, or it is not a ServerBackend) is skipped with the plugin loader's message kept
    in `load_errors` (a bad third-party package must not take `tfagent serve` down)."""
    found: dict[str, ServerBackend] = {}
    load_errors.clear()
    for name, plugin in load_entry_points(GROUP, fallback=BUILTINS, build=_instance).items():
        if plugin.error:
            load_errors[name] = plugin.error
            continue
        found[plugin.obj.name or name] = plugin.obj
    return dict(sorted(found.items(), key=lambda item: item[1].preference))


load_errors: dict[str, str] = {}
