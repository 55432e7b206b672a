"""Finding verifiers (entry points) and running a chain of them.

Built-ins are declared in tfagent's own pyproject under ``[project.entry-points."tfagent.verifiers"]``
— the same way a third-party package adds one — and every group is read by the one plugin loader
(``tfagent.agent.core.plugins``), so there is one discovery path, not two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from tfagent.agent.core.plugins import load_entry_points
from tfagent.prompts import render_line
from tfagent.verifiers.base import Verdict, Verifier, VerifyContext, error

GROUP = "tfagent.verifiers"


class UnknownVerifier(ValueError):
    """A chain names a verifier nobody registered."""


class WrongMode(UnknownVerifier):
    """A chain names a verifier that does not apply to the run's mode."""


class VerifierUnavailable(RuntimeError):
    """A verifier asked for by name cannot run on this machine."""


@dataclass
class VerifierInfo:
    name: str
    cls: type[Verifier] | None
    origin: str  # distribution name and version, e.g. "tfagent 0.1.0"
    target: str  # "module:attr"
    load_error: str = ""  # the plugin loader's one message for a broken plugin


def discover() -> dict[str, VerifierInfo]:
    """Every verifier registered in the entry-point group, keyed by name.

    A plugin that fails to import is listed with its error instead of breaking the others.
    Scanning installed distributions is slow, so it happens once per process."""
    return dict(_discover())


@lru_cache(maxsize=1)
def _discover() -> dict[str, VerifierInfo]:
    return {name: VerifierInfo(name, p.obj, p.origin, p.target, p.error) for name, p in load_entry_points(GROUP).items()}


def parse_chain(text: str | list[str]) -> list[str]:
    names = text if isinstance(text, list) else text.split(",")
    chain = [n.strip() for n in names if n.strip()]
    if not chain:
        raise UnknownVerifier("the verifier chain is empty")
    return chain


@dataclass
class Chain:
    """Verifier instances in order. Built once per run; reused for every attempt."""

    verifiers: list[Verifier]
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why it cannot run here

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.verifiers]

    def run(self, ctx: VerifyContext, fail_fast: bool = True) -> list[Verdict]:
        verdicts: list[Verdict] = []
        for verifier in self.verifiers:
            try:
                verdict = verifier.verify(ctx)
            except Exception as exc:  # a crashing verifier is a diagnostic, not a crashed run
                verdict = Verdict(
                    verifier=verifier.name,
                    ok=False,
                    diagnostics=[
                        error(
                            render_line("diag_verifier_crashed", name=verifier.name),
                            f"{type(exc).__name__}: {exc}",
                            source=verifier.name,
                            category="other",
                        )
                    ],
                )
            verdicts.append(verdict)
            if fail_fast and not verdict.ok:
                break
        return verdicts


def check_modes(names: list[str], mode: str, registry: dict[str, VerifierInfo] | None = None) -> None:
    """Refuse a verifier that does not apply to ``mode`` (``tfagent code --verify hcl``): its
    ``modes`` say where it makes sense. Raises ``WrongMode`` (a usage error, exit 2)."""
    registry = registry if registry is not None else discover()
    for name in names:
        info = registry.get(name)
        if info is None or info.cls is None:
            continue  # unknown or unloadable names are reported by build_chain
        modes = tuple(getattr(info.cls, "modes", ()) or ())
        if modes and mode not in modes:
            raise WrongMode(f"verifier {name!r} does not apply to {mode} mode (it checks: {', '.join(modes)})")


def build_chain(
    names: list[str],
    requested: set[str] | None = None,
    registry: dict[str, VerifierInfo] | None = None,
    mode: str | None = None,
) -> Chain:
    """Instantiate the named verifiers.

    ``requested`` are the names the user typed: one of those that cannot run raises
    ``VerifierUnavailable`` (exit 2); others (defaults) are skipped and reported once."""
    registry = registry if registry is not None else discover()
    if mode is not None:
        check_modes(names, mode, registry)
    requested = requested or set()
    chain = Chain(verifiers=[])
    for name in names:
        info = registry.get(name)
        if info is None:
            known = ", ".join(sorted(registry)) or "none"
            raise UnknownVerifier(f"unknown verifier {name!r} (known: {known})")
        if info.cls is None:
            reason = info.load_error or f"{info.target} did not load"
            if name in requested:
                raise VerifierUnavailable(f"verifier {name!r} cannot run here: {reason}")
            chain.skipped[name] = reason
            continue
        verifier = info.cls()
        ok, reason = verifier.available()
        if not ok:
            if name in requested:
                raise VerifierUnavailable(f"verifier {name!r} cannot run here: {reason}")
            chain.skipped[name] = reason
            continue
        chain.verifiers.append(verifier)
    return chain
