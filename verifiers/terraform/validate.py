"""`terraform validate` against the real provider schemas, with init cached per requirement set.

Also home of the helpers plan.py shares: Terraform's JSON diagnostics -> ``Diagnostic`` and init
failures -> diagnostics a model can act on.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tfagent.prompts import render_line
from tfagent.verifiers.base import ERROR, WARNING, Diagnostic, Verdict, VerifyContext, error
from tfagent.verifiers.terraform.hcl import block_line
from tfagent.verifiers.terraform.schema_index import (SCHEMA_ARTIFACT, SchemaIndexError,
                                                      index_for_failed_init, schema_index_for)
from tfagent.verifiers.terraform.engine import InitResult, TerraformEngine, TerraformVerifier, mirror_providers

# Terraform summary -> category (prefix match, first hit wins).
_CATEGORY_BY_SUMMARY = (
    ("Unsupported argument", "unknown_argument"),
    ("Unsupported block type", "unknown_argument"),
    ("Unsupported attribute", "unknown_argument"),
    ("Incorrect attribute value type", "type"),
    ("Invalid value", "type"),
    ("Inappropriate value for attribute", "type"),
    ("Missing required argument", "missing_argument"),
    ("Missing required block", "missing_argument"),
    ("Insufficient ", "missing_argument"),
    ("Too few blocks", "missing_argument"),
    ("Missing required provider", "provider"),
    ("Invalid provider local name", "provider"),
    ("Invalid provider source", "provider"),
    ("Invalid resource type", "unknown_resource"),
    ("Invalid data source", "unknown_resource"),
    ("Argument or block definition required", "syntax"),
    ("Invalid expression", "syntax"),
    ("Invalid block definition", "syntax"),
    ("Unclosed configuration block", "syntax"),
    ("Missing newline after argument", "syntax"),
)
# Providers that exist in the public registry: an init failure for one of these is an install
# problem ("provider"), for any other implicit name a hallucinated resource type ("unknown_resource").
KNOWN_PROVIDERS = frozenset(
    "aws azurerm azuread google google-beta kubernetes helm random null local tls time archive http "
    "external template cloudinit docker github gitlab vault consul nomad datadog cloudflare digitalocean "
    "oci alicloud ibm vsphere openstack linode hcloud newrelic pagerduty okta auth0 tfe hcp".split())
_PROVIDER_IN_TEXT = re.compile(r"provider\s+(?:registry\.terraform\.io/)?([A-Za-z0-9_.-]+/[A-Za-z0-9_-]+)")


def category_for(summary: str) -> str:
    for prefix, category in _CATEGORY_BY_SUMMARY:
        if summary.startswith(prefix):
            return category
    return "other"


def from_terraform_json(diag: dict[str, Any], source: str, category: str | None = None) -> Diagnostic:
    """One entry of `validate -json` / a `plan -json` diagnostic message -> Diagnostic."""
    summary = str(diag.get("summary", "")).strip() or "Terraform error"
    detail = str(diag.get("detail", "")).strip()
    start = (diag.get("range") or {}).get("start") or {}
    snippet = diag.get("snippet") or {}
    if snippet.get("code"):
        context = f" (in {snippet['context']})" if snippet.get("context") else ""
        numbered = [f"{snippet.get('start_line', start.get('line', 0)) + i} | {code}"
                    for i, code in enumerate(str(snippet["code"]).splitlines())]
        detail = (detail + "\n" if detail else "") + f"code{context}:\n" + "\n".join(numbered)
    return Diagnostic(
        severity=ERROR if diag.get("severity", "error") == "error" else WARNING,
        summary=summary,
        detail=detail,
        file=(diag.get("range") or {}).get("filename"),
        line=start.get("line"),
        column=start.get("column"),
        source=source,
        category=category or category_for(summary),
    )


def init_diagnostics(init: InitResult, engine: TerraformEngine, source: str) -> list[Diagnostic]:
    """Explain a failed ``init``: a hallucinated type prefix, or a provider nobody can install here."""
    text = init.output
    failed = {addr.split("/")[-1]: addr for addr in _PROVIDER_IN_TEXT.findall(text.split("Error:", 1)[-1])}
    req, config = init.requirements, init.config
    diagnostics: list[Diagnostic] = []
    for local, address in sorted(failed.items()):
        users = req.implicit.get(local, []) if req else []
        if local not in KNOWN_PROVIDERS and local not in (req.explicit if req else {}) and users:
            diagnostics += [_unknown_type(user, local, engine, req, config, source) for user in users
                            if user[1] in ("resource", "data")]
        else:
            diagnostics.append(_uninstallable(local, address, engine, text, init, source))
    if not diagnostics:
        diagnostics.append(error(render_line("diag_command_failed", command="terraform init"), tail_text(text), source=source, category="provider"))
    return sorted(diagnostics, key=Diagnostic.sort_key)


def init_failed_verdict(name: str, init: InitResult, engine: TerraformEngine) -> Verdict:
    """The verdict of a Terraform verifier whose ``init`` failed (validate and plan both stop there)."""
    return Verdict(name, ok=False, diagnostics=init_diagnostics(init, engine, name), note="terraform init failed")


def _unknown_type(user, local, engine, req, config, source) -> Diagnostic:
    rel, kind, type_label, name = user
    prefix = _likely_prefix(local, engine, req)
    suggestion = f"{prefix}_{type_label}" if not type_label.startswith(prefix + "_") else type_label
    detail = render_line("diag_unknown_type_detail", kind=kind, type=type_label, local=local, prefix=prefix,
                         suggestion=suggestion)
    line = block_line(config.texts.get(rel, ""), kind, type_label, name) if config else None
    return error(render_line("diag_unknown_type", kind=kind, type=type_label), detail, file=rel, line=line, column=1 if line else None,
                 source=source, category="unknown_resource")


def _likely_prefix(local: str, engine: TerraformEngine, req) -> str:
    """The provider the model most likely meant: one the config already uses, else one in the mirror."""
    used = [n for n in (set(req.implicit) | set(req.explicit)) if n in KNOWN_PROVIDERS] if req else []
    if used:
        return sorted(used)[0]
    if engine.mirror is not None:
        mirrored = sorted(a.split("/")[-1] for a in mirror_providers(engine.mirror))
        if mirrored:
            return mirrored[0]
    return "aws"


# Terraform's words when registry.terraform.io cannot be reached (DNS, refused, timeout, proxy).
_NO_NETWORK = re.compile(r"could not connect|failed to request discovery document|dial tcp|no such host|"
                         r"i/o timeout|network is unreachable|connection refused|Failed to query available provider packages",
                         re.I)


def _uninstallable(local, address, engine, text, init, source) -> Diagnostic:
    where = ""
    if engine.mirror is not None:
        held = {a.split("/", 1)[-1]: v for a, v in mirror_providers(engine.mirror).items()}
        versions = held.get(address if "/" in address else f"hashicorp/{address}")
        where = " " + (render_line("diag_mirror_versions", mirror=engine.mirror, versions=", ".join(versions))
                       if versions else render_line("diag_mirror_lacks", mirror=engine.mirror))
    # What a user without network sees first: say why and what to do, not only "not available".
    unreachable = engine.mirror is None and _NO_NETWORK.search(text)
    summary = render_line("diag_provider_unreachable" if unreachable else "diag_provider_unavailable", address=address)
    detail = render_line("diag_provider_detail", address=address, where=where, said=tail_text(text))
    file, line = _first_use(local, init)
    return error(summary, detail, file=file, line=line, source=source, category="provider")


def _first_use(local, init) -> tuple[str | None, int | None]:
    if init.requirements is None or init.config is None:
        return None, None
    for rel, kind, type_label, name in init.requirements.implicit.get(local, []):
        labels = (type_label, name) if kind != "provider" else (type_label,)
        return rel, block_line(init.config.texts.get(rel, ""), kind, *labels)
    return None, None


def tail_text(text: str, limit: int = 1200) -> str:
    text = text.strip()
    body = text[text.find("Error:"):] if "Error:" in text else text
    return body if len(body) <= limit else body[:limit] + " …"


def missing_provider_detail(diag: Diagnostic, engine: TerraformEngine) -> Diagnostic:
    if engine.mirror is None:
        return diag
    extra = "\n" + render_line("diag_offline_providers", mirror=engine.mirror)
    return Diagnostic(**{**diag.to_dict(), "detail": diag.detail + extra})


class TerraformValidate(TerraformVerifier):
    name = "validate"
    description = "terraform validate against the real provider schemas (init cached per provider set)"

    def check(self, ctx: VerifyContext) -> Verdict:
        engine = TerraformEngine.for_options(ctx.options)
        init = engine.init_for(ctx.workdir, timeout=ctx.options.timeout)
        want_index = ctx.options.schema_index
        if not init.ok:
            verdict = init_failed_verdict(self.name, init, engine)
            if want_index and any(d.category == "unknown_resource" for d in verdict.diagnostics):
                self._attach_index(verdict, lambda: index_for_failed_init(engine, init, KNOWN_PROVIDERS))
            return verdict
        with engine.staged(ctx.workdir, init) as scratch:
            result = engine.run(scratch, ["validate", "-json", "-no-color"], timeout=ctx.options.timeout)
        diagnostics = self._diagnostics(result, engine)
        ok = result.rc == 0 and not any(d.severity == ERROR for d in diagnostics)
        note = f"{engine.describe()} validate; init {'reused' if init.reused else 'ran'}"
        verdict = Verdict(self.name, ok=ok, diagnostics=diagnostics, note=note)
        if want_index and not ok:
            self._attach_index(verdict, lambda: schema_index_for(engine, init, ctx.options.timeout))
        return verdict

    @staticmethod
    def _attach_index(verdict: Verdict, build) -> None:
        """The schema index for the feedback; a failure to build it costs the feedback its hints, with a
        note, never the verdict."""
        try:
            path = build()
        except SchemaIndexError as exc:
            verdict.note += f"; no schema index: {exc}"
            return
        if path is not None:
            verdict.artifacts[SCHEMA_ARTIFACT] = str(path)

    def _diagnostics(self, result, engine) -> list[Diagnostic]:
        try:
            document = json.loads(result.stdout)
        except ValueError:
            return [error(render_line("diag_command_failed", command="terraform validate"), tail_text(result.stderr or result.stdout),
                          source=self.name, category="other")]
        diagnostics = []
        for raw in document.get("diagnostics", []):
            diag = from_terraform_json(raw, self.name)
            if diag.category == "provider":
                diag = missing_provider_detail(diag, engine)
            diagnostics.append(diag)
        if result.rc != 0 and not diagnostics:
            diagnostics.append(error(render_line("diag_command_failed", command="terraform validate"), tail_text(result.stderr), source=self.name))
        return sorted(diagnostics, key=Diagnostic.sort_key)
