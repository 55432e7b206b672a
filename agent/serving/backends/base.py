"""The server-backend seam of `tfagent serve`: one class per model server, registered by entry point.

A backend says whether it can run here, what runs, the command line for one model, and what it will
not do as asked. Built-ins (llama-server, llama-cpp-python) are registered in pyproject.toml under
the entry-point group `tfagent.serving_backends` exactly as a third-party package would register
its own (e.g. a vLLM or SGLang launcher): one file plus one entry point, no edit elsewhere.
`--backend auto` picks the available backend with the lowest `preference`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

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


def discover() -> dict[str, ServerBackend]:
    """Every registered backend by name, best preference first. A broken plugin is skipped with its
    error kept in `load_errors` (a bad third-party package must not take `tfagent serve` down)."""
    found: dict[str, ServerBackend] = {}
    load_errors.clear()
    registered = list(entry_points(group=GROUP))
    names = {ep.name for ep in registered}
    registered += [EntryPoint(name, value, GROUP) for name, value in BUILTINS.items() if name not in names]
    for ep in registered:
        try:
            backend = ep.load()()
        except Exception as exc:  # a plugin's import or constructor failed: report it, keep the rest
            load_errors[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        if not isinstance(backend, ServerBackend):
            load_errors[ep.name] = f"{ep.value} is not a ServerBackend"
            continue
        found[backend.name or ep.name] = backend
    return dict(sorted(found.items(), key=lambda item: item[1].preference))


load_errors: dict[str, str] = {}
