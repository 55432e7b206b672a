"""The one plugin loader: every entry-point group (verifiers, forges, server backends) is read here.

`load_entry_points(group)` loads each registered object and returns them by entry-point name, in the
order importlib.metadata lists them (a later registration of the same name wins). A plugin that fails
to load is kept with one error message, naming the entry point, its group and its distribution, instead
of breaking the others; each caller decides whether that is a skip, a listed "no" or a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Plugin:
    name: str  # the entry point's name, e.g. "validate"
    group: str  # e.g. "tfagent.verifiers"
    target: str  # "module:attr"
    origin: str  # distribution name and version, e.g. "tfagent 0.1.0", or "unknown"
    obj: Any = None  # what loading (and ``build``) gave; None when broken
    error: str = ""  # the one message of a broken plugin; "" when it loaded

    @property
    def ok(self) -> bool:
        return not self.error


def broken_plugin(name: str, group: str, target: str, origin: str, exc: BaseException) -> str:
    """The one message for a plugin that cannot be loaded."""
    source = "an unknown distribution" if origin == "unknown" else origin
    return f"plugin {name!r} ({target}, group {group}, from {source}) failed to load: {type(exc).__name__}: {exc}"


def load_entry_points(group: str, *, fallback: Mapping[str, str] | None = None,
                      build: Callable[[Any], Any] | None = None) -> dict[str, Plugin]:
    """Every entry point of ``group`` loaded, by name.

    ``fallback`` (name -> "module:attr") are tfagent's own registrations, used only for a name the
    installed metadata lacks (an editable install not re-run since the group was added). ``build``
    turns the loaded object into the one kept (e.g. an instance) and raises when it is not a plugin of
    the group; its error is reported like an import error."""
    registered = list(entry_points(group=group))
    names = {ep.name for ep in registered}
    fallen_back = [EntryPoint(name, value, group) for name, value in (fallback or {}).items() if name not in names]
    found: dict[str, Plugin] = {}
    for ep in registered + fallen_back:
        dist = getattr(ep, "dist", None)
        origin = f"{dist.name} {dist.version}" if dist is not None else "tfagent (built-in)" if ep in fallen_back else "unknown"
        try:
            obj = ep.load()
            if build is not None:
                obj = build(obj)
        except Exception as exc:  # a broken plugin must not hide the others; it is reported
            found[ep.name] = Plugin(ep.name, group, ep.value, origin, None, broken_plugin(ep.name, group, ep.value, origin, exc))
            continue
        found[ep.name] = Plugin(ep.name, group, ep.value, origin, obj)
    return found
