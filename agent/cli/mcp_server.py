"""`tfagent mcp`: tfagent as a Model Context Protocol server (the official ``mcp`` SDK, 2.x).

Tools: ``generate_terraform`` (the verify-and-retry loop; one progress notification per attempt),
``verify`` (a folder or given files → stages and diagnostics, no model), ``terraform_schema`` (the
provider schema as HCL cards, for a sentence or for named types), ``list_verifiers`` and
``eval_report`` (a stored eval run → its summary). Transports: stdio (default) or streamable HTTP on
127.0.0.1 (``--http``; never another interface). Every path is confined to the roots the client
grants (see ``mcp_roots``); the server writes nothing outside them — attempt artifacts go to a
temporary folder that is removed, and runs are not recorded in the CLI's run store.
"""

# No `from __future__ import annotations` here: the SDK reads the tools' annotations at registration,
# and `Roots` is local to build_server (the mcp package is imported only when the server starts).


import json
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click

from tfagent.agent.cli.mcp_roots import OutsideRoots, confine, copy_confined, roots_from_uris
from tfagent.agent.core.defaults import DEFAULT_CHAIN

if TYPE_CHECKING:
    from tfagent.agent.loop.request import RunSettings

DEFAULT_VERIFY = ",".join(DEFAULT_CHAIN["terraform"])  # as `tfagent verify`
DESCRIPTION = "Serve tfagent over the Model Context Protocol (stdio; --http for streamable HTTP on 127.0.0.1)."


@dataclass
class ServerSettings:
    roots: list[Path] = field(default_factory=list)  # --root: granted whatever the client says
    provider_mirror: Path | None = None
    terraform_bin: str | None = None


def _granted(settings: ServerSettings, uris: list[str]) -> list[Path]:
    return [*roots_from_uris(uris), *settings.roots]


def build_server(settings: ServerSettings):
    from mcp.server.mcpserver import Context, ListRoots, MCPServer, Resolve
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ListRootsResult

    from tfagent import __version__

    server = MCPServer("tfagent", version=__version__,
                       instructions="Write Terraform from a sentence and verify it with real Terraform; verify existing files.")

    def client_roots(ctx: Context) -> ListRoots | ListRootsResult:
        caps = ctx.client_capabilities
        if caps is None or caps.roots is None:
            return ListRootsResult(roots=[])  # no roots capability: only the server's --root folders
        return ListRoots()

    Roots = Annotated[ListRootsResult, Resolve(client_roots)]

    def roots_of(result: ListRootsResult) -> list[Path]:
        return _granted(settings, [str(r.uri) for r in result.roots])

    def run_settings(verify: str | None) -> "RunSettings":
        from tfagent.agent.loop.request import RunSettings

        return RunSettings(verify_chain=verify, provider_mirror=settings.provider_mirror, terraform_bin=settings.terraform_bin)

    @server.tool()
    def list_verifiers() -> dict[str, Any]:
        """Every verifier registered with tfagent, where it comes from, and whether it can run here."""
        from tfagent.verifiers.registry import discover

        out = []
        for name, info in sorted(discover().items()):
            if info.cls is None:
                out.append({"name": name, "origin": info.origin, "available": False, "reason": info.load_error, "description": ""})
                continue
            ok, reason = info.cls().available()
            out.append({"name": name, "origin": info.origin, "available": ok, "reason": reason,
                        "description": info.cls.description, "modes": list(info.cls.modes)})
        return {"verifiers": out}

    @server.tool()
    async def verify(roots: Roots, path: str | None = None, files: dict[str, str] | None = None,
                     verify: str = DEFAULT_VERIFY, prompt: str = "", run_all: bool = False) -> dict[str, Any]:
        """Run a verifier chain (no model) on a folder inside the granted roots, or on given files
        (name → content). Returns every stage with its diagnostics (file, line, column, rule)."""
        import anyio

        if (path is None) == (files is None):
            raise ToolError("give exactly one of `path` (a folder inside the granted roots) or `files`")
        granted = roots_of(roots)
        try:
            folder = confine(path, granted, what="path") if path is not None else None
        except OutsideRoots as exc:
            raise ToolError(str(exc)) from None
        if folder is not None and not folder.is_dir():
            raise ToolError(f"path {path!r} is not a folder")
        return await anyio.to_thread.run_sync(lambda: _verify(folder, files, granted, verify, prompt, run_all, run_settings(verify)))

    @server.tool()
    async def generate_terraform(ctx: Context, roots: Roots, prompt: str, endpoint: str | None = None,
                                 base_url: str | None = None, model: str | None = None,
                                 verify: str | None = None, max_attempts: int | None = None,
                                 out: str | None = None, ready_timeout: float | None = None) -> dict[str, Any]:
        """Write Terraform for PROMPT with the generate → verify → retry loop on a self-hosted model.
        ``endpoint`` names a configured endpoint (or give ``base_url``/``model``); ``verify`` is the
        chain; ``out``, a folder inside the granted roots, receives the files only if they verified.
        One progress notification per attempt. API keys come from the server's configuration only, and so
        does the loop's strategy (the endpoint's fields, else ``[defaults]``, else tfagent's defaults: schema
        cards in the first request, 3 first samples, schema feedback, autofix)."""
        import anyio
        import anyio.from_thread

        target = None
        if out is not None:
            try:
                target = confine(out, roots_of(roots), what="out")
            except OutsideRoots as exc:
                raise ToolError(str(exc)) from None
        run = replace(run_settings(verify), endpoint_name=endpoint, base_url=base_url, model=model,
                      max_attempts=max_attempts, ready_timeout=ready_timeout)

        total: dict[str, float] = {}

        def on_event(kind: str, data: dict[str, Any]) -> None:
            # Called from the loop's worker thread; progress goes back to the event loop.
            if kind == "attempt_start":
                total["max"] = float(data["max_attempts"])
            elif kind == "attempt_done":
                attempt = data["attempt"]
                message = f"attempt {attempt.number}: {'verified' if attempt.ok else 'failed'}"
                anyio.from_thread.run(ctx.report_progress, float(attempt.number), total.get("max"), message)

        return await anyio.to_thread.run_sync(lambda: _generate(prompt, run, target, on_event))

    @server.tool()
    async def terraform_schema(sentence: str | None = None, types: list[str] | None = None) -> dict[str, Any]:
        """The provider's schema as compact HCL cards (required arguments with example values, required
        nested blocks, the names of the optional ones). Give ``sentence`` (what to build: the resource
        types it needs are retrieved) or ``types`` (resource or data source type names)."""
        import anyio

        if (sentence is None) == (types is None):
            raise ToolError("give exactly one of `sentence` (what to build) or `types` (type names)")
        return await anyio.to_thread.run_sync(lambda: _schema_cards(sentence, types, settings))

    @server.tool()
    def eval_report(roots: Roots, run_id: str, db: str | None = None, reference: str | None = None,
                    scoring: str = "run") -> dict[str, Any]:
        """The summary of a stored `tfagent eval` run (pass@k per endpoint, retry uplift, flips vs the
        reference). ``db``: an eval database inside the granted roots (default: tfagent's own store)."""
        from tfagent.evals.reporting.report import summary_for_run
        from tfagent.evals.running.store import Store, StoreError, default_db

        try:
            path = confine(db, roots_of(roots), what="db") if db else default_db()
        except OutsideRoots as exc:
            raise ToolError(str(exc)) from None
        if not path.is_file():
            raise ToolError(f"no eval database at {path}")
        try:
            with Store(path) as store:
                summary, meta = summary_for_run(store, run_id, reference=reference, scoring=scoring)
        except (StoreError, ValueError) as exc:
            raise ToolError(str(exc)) from None
        return json.loads(json.dumps({"meta": meta, "summary": summary}, default=str))

    return server


def _schema_cards(sentence: str | None, types: list[str] | None, settings: ServerSettings) -> dict[str, Any]:
    from mcp.server.mcpserver.exceptions import ToolError

    from tfagent.agent.core.verify_options import VerifySettings, build_verify_options
    from tfagent.agent.loop.grounding import ground, ground_types
    from tfagent.verifiers.terraform.engine import TerraformUnavailable
    from tfagent.verifiers.terraform.schema_index import SchemaIndexError, provider_index

    options = build_verify_options(sentence or "", "terraform", None,
                                   VerifySettings(provider_mirror=settings.provider_mirror, terraform_bin=settings.terraform_bin))
    try:
        index = provider_index(options)
    except (SchemaIndexError, TerraformUnavailable, ValueError) as exc:
        raise ToolError(f"the provider schema could not be read: {exc}") from None
    if index is None:
        raise ToolError("no provider schema: start the server with --provider-mirror DIR (a Terraform filesystem mirror)")
    unknown: dict[str, list[str]] = {}
    if sentence is not None:
        found = ground(index, sentence)
    else:
        found, unknown = ground_types(index, list(types or []))
    return {"types": [{"type": r.type, "kind": r.kind, "why": r.why} for r in found.retrieved], "cards": found.text,
            "unknown": [{"type": name, "closest": near} for name, near in unknown.items()]}


def _verify(folder: Path | None, files: dict[str, str] | None, roots: list[Path], chain_text: str, prompt: str,
            run_all: bool, settings: "RunSettings") -> dict[str, Any]:
    from mcp.server.mcpserver.exceptions import ToolError

    from tfagent.agent.core.config import ConfigError
    from tfagent.agent.core.output import OutputError
    from tfagent.agent.core.verify_options import build_verify_options
    from tfagent.agent.loop.request import check_inputs
    from tfagent.verifiers.registry import UnknownVerifier, VerifierUnavailable, build_chain, parse_chain
    from tfagent.verifiers.scratch import verify_files

    try:
        names = parse_chain(chain_text)
        chain = build_chain(names, requested=set(names))
        options = build_verify_options(prompt, "terraform", None, settings)
        check_inputs(names, options)
    except (UnknownVerifier, VerifierUnavailable, ConfigError) as exc:
        raise ToolError(str(exc)) from None
    # a folder is copied refusing any link that leads outside the roots; given files must name paths inside
    source = (lambda work: copy_confined(folder, work, roots)) if folder is not None else None
    try:
        checked = verify_files(chain, files or {}, options, source=source, fail_fast=not run_all)
    except (OutsideRoots, OutputError) as exc:
        raise ToolError(str(exc)) from None
    return {"ok": checked.ok, "directory": str(folder) if folder else None,
            "stages": [v.to_dict() for v in checked.verdicts], "skipped_verifiers": dict(chain.skipped)}


def _generate(prompt: str, settings: "RunSettings", target: Path | None, on_event) -> dict[str, Any]:
    from mcp.server.mcpserver.exceptions import ToolError

    from tfagent.agent.core.config import ConfigError
    from tfagent.agent.core.output import OutputError, write_files
    from tfagent.agent.loop.graph import run_agent
    from tfagent.agent.loop.request import build_run_request, check_inputs
    from tfagent.agent.model.client import ModelError, ServerUnreachable
    from tfagent.verifiers.registry import UnknownVerifier, VerifierUnavailable

    try:
        request = build_run_request(prompt, settings)
        check_inputs(request.chain, request.options)
    except (ConfigError, UnknownVerifier, VerifierUnavailable, OutputError) as exc:
        raise ToolError(str(exc)) from None
    scratch = Path(tempfile.mkdtemp(prefix="tfagent-mcp-run-"))
    request.artifacts_root = scratch
    try:
        result = run_agent(request, on_event=on_event)
    except ServerUnreachable as exc:
        raise ToolError(f"model server unreachable: {exc}") from None
    except (ModelError, UnknownVerifier, VerifierUnavailable) as exc:
        raise ToolError(str(exc)) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    written: list[str] = []
    if target is not None and result.ok:
        try:
            written = [str(p) for p in write_files(target, result.files)]
        except OutputError as exc:
            raise ToolError(str(exc)) from None
    last = result.attempts[-1] if result.attempts else None
    return {
        "verdict": "verified" if result.ok else "not verified",
        "ok": result.ok,
        "files": result.files,
        "written": written,
        "attempts": [{"number": a.number, "ok": a.ok, "stages": [v.to_dict() for v in a.verdicts],
                      "reply_diagnostics": [d.to_dict() for d in a.reply_diagnostics]} for a in result.attempts],
        "last_diagnostics": [d.to_dict() for d in last.diagnostics] if last else [],
        "endpoint": result.endpoint,
        "chain": result.chain,
    }


@click.command("mcp", help=DESCRIPTION)
@click.option("--http", "use_http", is_flag=True, help="Streamable HTTP on 127.0.0.1 instead of stdio.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="Port for --http (always 127.0.0.1).")
@click.option("--root", "roots", multiple=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="A folder granted to every client in addition to the roots it sends (repeatable).")
@click.option("--provider-mirror", type=click.Path(path_type=Path, file_okay=False, exists=True), help="Terraform filesystem mirror.")
@click.option("--terraform", "terraform_bin", help="Terraform to use: a binary path, `tofu`, or `embedded`.")
def mcp_command(use_http: bool, port: int, roots: tuple[Path, ...], provider_mirror: Path | None, terraform_bin: str | None) -> None:
    import importlib.util

    if importlib.util.find_spec("mcp") is None:
        raise click.ClickException("the MCP server needs the mcp extra: pip install 'tfagent[mcp]'") from None
    settings = ServerSettings([r.resolve() for r in roots], provider_mirror, terraform_bin)
    server = build_server(settings)
    if use_http:
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run("stdio")
