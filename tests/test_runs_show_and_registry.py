"""`tfagent runs show ID` prints each attempt's reply and files; a provider that cannot be installed
without network and without a mirror says why and what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import OLD_STRATEGY_FLAGS  # one request per attempt (the loop before issue 19)

GOOD = 'resource "aws_s3_bucket" "b" {\n  bucket = "tfagent-demo"\n}\n'


def tfagent(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_runs_show_prints_every_attempts_reply_and_files(scripted_server, tmp_path):
    scripted_server.enqueue("I think [bold]no file[/bold] is needed.")
    scripted_server.enqueue(f'```hcl title="main.tf"\n{GOOD}```\n')
    done = tfagent("a bucket", "--base-url", scripted_server.base_url, "--verify", "hcl", "--json", *OLD_STRATEGY_FLAGS,
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    shown = tfagent("runs", "show", run_id, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "I think [bold]no file[/bold] is needed." in shown.stdout  # the reply, markup left as text
    assert "file main.tf:" in shown.stdout and 'bucket = "tfagent-demo"' in shown.stdout
    assert shown.stdout.count("reply (stop") == 2


@pytest.mark.slow  # Terraform's registry look-up has to fail first (~15 s without network)
def test_provider_without_network_or_mirror_says_why_and_what_to_do(tmp_path):
    (tmp_path / "infra").mkdir()
    # azurerm: no registry package ships it, so no local mirror on any machine can satisfy it.
    (tmp_path / "infra" / "main.tf").write_text(
        'terraform {\n  required_providers {\n    azurerm = {\n      source  = "hashicorp/azurerm"\n'
        '      version = "3.0.0"\n    }\n  }\n}\n\nresource "azurerm_resource_group" "rg" {\n'
        '  name     = "x"\n  location = "westeurope"\n}\n')
    proc = tfagent("verify", "infra", "--verify", "hcl,validate", cwd=tmp_path, timeout=240)
    assert proc.returncode == 1
    if "registry cannot be reached" not in proc.stdout:
        pytest.skip("this machine reaches the public Terraform registry: " + proc.stdout[-300:])
    line = next(x for x in proc.stdout.splitlines() if "Provider hashicorp/azurerm is not available" in x)
    assert line.rstrip().endswith("point --provider-mirror at a Terraform filesystem mirror that holds it")
