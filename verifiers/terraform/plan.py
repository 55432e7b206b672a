"""A real `terraform plan` (never apply) in a scratch copy; `show -json` saved as plan.json.

Offline (``options.offline_aws``) the aws provider gets dummy credentials and skip flags merged in
from a file only the scratch copy has — the model never sees it and its folder is never edited.
Data sources that need the AWS API are reported as warnings (no plan.json); with
``options.defer_data_sources`` they are read at apply time instead (``plan_defer``): the plan
goes on with their values unknown and plan.json is written.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from tfagent.prompts import render_line
from tfagent.verifiers.base import ERROR, Diagnostic, Verdict, VerifyContext, error, warning
from tfagent.verifiers.terraform.hcl import ParsedConfig, block_line, iter_blocks
from tfagent.verifiers.terraform.plan_defer import (DEFER_FILE, defer_data_sources, original_line, supports_deferral,
                         without_defer_resource)
from tfagent.verifiers.terraform.engine import TerraformEngine, TerraformVerifier
from tfagent.verifiers.terraform.cache import write_atomically
from tfagent.verifiers.terraform.validate import tail_text, from_terraform_json, init_failed_verdict

OVERRIDE_FILE = "zz_tfagent_override.tf"  # merged into an existing default provider "aws" block
PROVIDER_FILE = "zz_tfagent_provider.tf"  # used when there is no such block to override
OFFLINE_REGION = "us-east-1"
# Errors of a data source that had to call the AWS API (no network, dummy credentials).
_API_FAILURE = re.compile(r"RequestError|send request failed|no such host|dial tcp|AuthFailure|InvalidClientTokenId|"
                          r"UnrecognizedClientException|SignatureDoesNotMatch|security token|credentials",
                          re.IGNORECASE)
# User folders a real (online) plan may need even when HOME is private.
_HOME_ENTRIES = (".aws", ".azure", ".config", ".kube", ".terraform.d")


def offline_aws_settings(aws_major: int | None, with_region: bool) -> list[str]:
    settings = ['access_key = "tfagent-offline-dummy"', 'secret_key = "tfagent-offline-dummy"',
                "skip_credentials_validation = true", "skip_requesting_account_id = true",
                "skip_metadata_api_check = true", "skip_region_validation = true",
                "max_retries = 1"]  # a data source that needs the API fails in ~1 s instead of ~25 s
    if aws_major is not None and aws_major < 4:
        settings.append("skip_get_ec2_platforms = true")  # 3.x only; without it plan takes ~20 s
    if with_region:
        settings.append(f'region = "{OFFLINE_REGION}"')
    return settings


def offline_aws_files(config: ParsedConfig, aws_major: int | None) -> dict[str, str]:
    """File name -> text to add to the scratch copy so the aws provider plans without AWS."""
    blocks = [body if isinstance(body, dict) else {} for _, label, _, body in iter_blocks(config, "provider")
              if label == "aws"]
    overrides, has_default = [], False
    for body in blocks:
        alias = body.get("alias")
        has_default = has_default or alias is None
        lines = offline_aws_settings(aws_major, with_region="region" not in body)
        if alias is not None:
            lines.insert(0, f"alias = {alias}")
        overrides.append(_provider_block(lines))
    files = {OVERRIDE_FILE: "\n".join(overrides)} if overrides else {}
    if not has_default:  # an override with no base block is an error: add a plain one
        files[PROVIDER_FILE] = _provider_block(offline_aws_settings(aws_major, with_region=True))
    return files


def _provider_block(lines: list[str]) -> str:
    return 'provider "aws" {\n' + "".join(f"  {line}\n" for line in lines) + "}\n"


def locked_major(data_dir: Path | None, address: str = "registry.terraform.io/hashicorp/aws") -> int | None:
    """Major version of a provider in the cached init's lock file."""
    lock = data_dir / ".terraform.lock.hcl" if data_dir else None
    if lock is None or not lock.exists():
        return None
    match = re.search(r'provider\s+"' + re.escape(address) + r'"\s*\{\s*version\s*=\s*"(\d+)\.', lock.read_text())
    return int(match.group(1)) if match else None


def throwaway_ssh_key() -> str:
    """A well-formed ed25519 public key nobody holds the private half of."""
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + os.urandom(32)
    return "ssh-ed25519 " + base64.b64encode(blob).decode() + " tfagent-throwaway\n"


def private_home(root: Path, offline: bool) -> Path:
    """A HOME whose ~/.ssh has throwaway keys (file("~/.ssh/id_rsa.pub") plans); online, the
    user's cloud credential folders are linked in so a real plan still authenticates."""
    home = Path(tempfile.mkdtemp(prefix="home-", dir=root))
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700)
    public = throwaway_ssh_key()
    for name in ("id_rsa", "id_ed25519", "id_ecdsa"):
        (ssh / f"{name}.pub").write_text(public)
        (ssh / name).write_text("throwaway key for an offline plan; not a real private key\n")
    if not offline:
        real = Path.home()
        for entry in _HOME_ENTRIES:
            if (real / entry).exists():
                (home / entry).symlink_to(real / entry)
    return home


class TerraformPlan(TerraformVerifier):
    name = "plan"
    description = "terraform plan -refresh=false (never apply); saves plan.json for policy checks"

    def check(self, ctx: VerifyContext) -> Verdict:
        engine = TerraformEngine.for_options(ctx.options)
        timeout = ctx.options.timeout
        init = engine.init_for(ctx.workdir, timeout=timeout)
        if not init.ok:
            return init_failed_verdict(self.name, init, engine)
        if init.config is not None and not init.config.ok:
            return Verdict(self.name, ok=False, diagnostics=init.config.diagnostics, note="does not parse")
        home = private_home(engine.cache_root, ctx.options.offline_aws)
        try:
            with engine.staged(ctx.workdir, init) as scratch:
                added = self._add_offline_settings(scratch, init, ctx.options.offline_aws)
                return self._plan(ctx, engine, scratch, init, added, {"HOME": str(home)}, timeout)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    def _add_offline_settings(self, scratch: Path, init, offline: bool) -> set[str]:
        uses_aws = init.requirements is not None and (
            "aws" in init.requirements.implicit or "aws" in init.requirements.explicit)
        if not offline or not uses_aws:
            return set()
        files = offline_aws_files(init.config, locked_major(init.data_dir))
        for name, text in files.items():
            (scratch / name).write_text(text)
        return set(files)

    def _plan(self, ctx, engine, scratch, init, added, env, timeout) -> Verdict:
        failed, deferred = self._run_plan(ctx, engine, scratch, init, added, env, timeout)
        if failed is not None:
            return failed
        shown = engine.run(scratch, ["show", "-json", "-no-color", "tfplan.bin"], timeout=timeout, env=env)
        if shown.rc != 0:
            return Verdict(self.name, ok=False, diagnostics=[error(
                render_line("diag_command_failed", command="terraform show -json"), tail_text(shown.stderr), source=self.name, category="other")])
        document = json.loads(shown.stdout)
        if deferred:
            document = without_defer_resource(document)
        out_dir = Path(ctx.options.artifacts_dir or Path(ctx.workdir).resolve().parent)
        out_dir.mkdir(parents=True, exist_ok=True)
        plan_json = out_dir / "plan.json"
        # a policy check reading it never sees half a file
        write_atomically(plan_json, json.dumps(document) if deferred else shown.stdout)
        changes = len(document.get("resource_changes") or [])
        note = f"plan ok: {changes} resource change(s)"
        if deferred:
            note += f"; {len(deferred)} data source(s) read at apply (offline)"
        return Verdict(self.name, ok=True, note=note, artifacts={"plan_json": str(plan_json)},
                       diagnostics=[_deferred_warning(a, init.config) for a in sorted(deferred)])

    def _run_plan(self, ctx, engine, scratch, init, added, env, timeout) -> tuple[Verdict | None, set[str]]:
        """Plan into tfplan.bin: (None, data sources deferred) or (the failed verdict, ...). Offline and
        when asked, a plan stopped only by data sources needing the AWS API runs again with them deferred."""
        args = ["plan", "-json", "-no-color", "-refresh=false", "-lock=false", "-input=false", "-out=tfplan.bin"]
        result = engine.run(scratch, args, timeout=timeout, env=env)
        if result.rc == 0:
            return None, set()
        diagnostics = self._plan_errors(result, added)
        deferred, origins = set(), {}
        needs_api = _offline_data_addresses(result)
        if (needs_api and not any(d.severity == ERROR for d in diagnostics) and _deferral_wanted(ctx.options)
                and supports_deferral(engine.version)):
            deferred, origins = defer_data_sources(scratch, init.config, needs_api)
        if deferred:
            result = engine.run(scratch, args, timeout=timeout, env=env)
            if result.rc == 0:
                return None, deferred
            diagnostics = [_at_original_line(d, origins) for d in self._plan_errors(result, added | {DEFER_FILE})]
        blocking = any(d.severity == ERROR for d in diagnostics)
        note = "plan failed" if blocking else "plan incomplete: data sources need the AWS API (offline)"
        return Verdict(self.name, ok=not blocking, diagnostics=diagnostics, note=note), deferred

    def _plan_errors(self, result, added: set[str]) -> list[Diagnostic]:
        diagnostics = []
        for line in result.stdout.splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue  # plan -json prints one JSON object per line; anything else is noise
            raw = message.get("diagnostic") if message.get("type") == "diagnostic" else None
            if raw and raw.get("severity") == "error":
                diagnostics.append(self._one_error(raw, added))
        if not diagnostics:
            diagnostics.append(error(render_line("diag_command_failed", command="terraform plan"), tail_text(result.stderr or result.stdout),
                                     source=self.name, category="plan"))
        return sorted(diagnostics, key=Diagnostic.sort_key)

    def _one_error(self, raw: dict, added: set[str]) -> Diagnostic:
        address = str(raw.get("address") or "")
        context = str((raw.get("snippet") or {}).get("context") or "")
        text = f"{raw.get('summary', '')} {raw.get('detail', '')}"
        is_data = address.startswith("data.") or context.startswith("data ")
        if is_data and _API_FAILURE.search(text):
            name = address or context
            return warning(render_line("diag_offline_data", name=name),
                           render_line("diag_offline_data_detail"), file=(raw.get("range") or {}).get("filename"),
                           line=((raw.get("range") or {}).get("start") or {}).get("line"),
                           source=self.name, rule="offline_data_source", category="plan")
        diag = from_terraform_json(raw, self.name, category="plan")
        if diag.file in added:  # our own offline settings were rejected: not the model's fault
            return Diagnostic(**{**diag.to_dict(), "category": "other", "file": None, "line": None,
                                 "summary": render_line("diag_offline_settings_rejected", summary=diag.summary)})
        return diag


def _data_address(raw: dict) -> str | None:
    """``data.TYPE.NAME`` of a root-module data source a diagnostic is about (None: not one)."""
    address = str(raw.get("address") or "")
    if address.startswith("data."):
        return re.sub(r"\[[^\]]*\]$", "", address)  # one address for all count/for_each instances
    context = str((raw.get("snippet") or {}).get("context") or "")
    match = re.match(r'data "([^"]+)" "([^"]+)"', context) if not address else None
    return f"data.{match[1]}.{match[2]}" if match else None


def _offline_data_addresses(result) -> set[str]:
    found = set()
    for line in result.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue  # not one of plan -json's message lines
        raw = message.get("diagnostic") if message.get("type") == "diagnostic" else None
        if raw and raw.get("severity") == "error" and _API_FAILURE.search(f"{raw.get('summary')} {raw.get('detail')}"):
            address = _data_address(raw)
            if address:
                found.add(address)
    return found


def _deferred_warning(address: str, config: ParsedConfig) -> Diagnostic:
    _, type_label, name = address.split(".", 2)
    where = next(((rel, block_line(config.texts.get(rel, ""), "data", t, n))
                  for rel, t, n, _ in iter_blocks(config, "data") if (t, n) == (type_label, name)), (None, None))
    return warning(render_line("diag_deferred_data", address=address), render_line("diag_deferred_data_detail"),
                   file=where[0], line=where[1], source="plan", rule="offline_data_source", category="plan")


def _at_original_line(diag: Diagnostic, origins: dict) -> Diagnostic:
    line = original_line(origins, diag.file, diag.line)
    return diag if line == diag.line else Diagnostic(**{**diag.to_dict(), "line": line})


def _deferral_wanted(options) -> bool:
    return bool(options.offline_aws and options.defer_data_sources)
