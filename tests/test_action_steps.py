"""The composite action's own steps, run as a runner would run them: every `run:` script of
action.yml in bash, in order, with its `env:` and `if:` expressions evaluated, GITHUB_OUTPUT read back,
a failed step ending the job (only `always()` steps run after it). The real tfagent CLI of this
virtualenv, the scripted model server for generation. What is not run: the `uses:` steps
(actions/setup-python, github/codeql-action/upload-sarif — recorded, with the file they would upload)
and the pip install of the action's own checkout (this virtualenv already holds it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tfagent.agent.fake.server import ScriptedServer

from conftest import OLD_STRATEGY_TOML

ROOT = Path(__file__).resolve().parents[1]
GOOD = '```hcl title="main.tf"\nresource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n```\n'
BROKEN = '```hcl title="main.tf"\nresource "aws_s3_bucket" "logs" {\n  bucket = \n}\n```\n'


def evaluate(expr: str, inputs: dict, steps: dict, workdir: Path, failed: bool):
    """A GitHub expression of this action (operators ==, !=, &&, ||, parentheses; inputs.*, steps.*;
    always(), success(), hashFiles()) with GitHub's semantics for these: '' is false, && and ||
    return an operand."""
    py = re.sub(r"\binputs\.([a-z][a-z-]*)", lambda m: f"I[{m.group(1)!r}]", expr)
    py = re.sub(r"\bsteps\.([a-z]+)\.outputs\.([a-z][a-z-]*)", lambda m: f"S({m.group(1)!r}, {m.group(2)!r})", py)
    py = py.replace("&&", " and ").replace("||", " or ").replace("!=", " != ")
    names = {"I": inputs, "S": lambda step, out: steps.get(step, {}).get(out, ""), "always": lambda: True,
             "success": lambda: not failed, "hashFiles": lambda p: "h" if (workdir / p).is_file() else ""}
    return eval(py, {"__builtins__": {}}, names)  # our own action.yml, with only the names above


def substitute(text: str, inputs: dict, steps: dict, workdir: Path, failed: bool) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m.group(1), inputs, steps, workdir, failed)), text)


def run_action(workdir: Path, given: dict[str, str]) -> dict:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    assert set(given) <= set(inputs), set(given) - set(inputs)
    inputs.update(given)
    steps: dict[str, dict[str, str]] = {}
    ran, uploads, failed, log = [], [], False, ""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    for step in action["runs"]["steps"]:
        condition = step.get("if", "success()")
        if "always()" not in condition and "success()" not in condition:
            condition = f"success() && ({condition})"
        if not evaluate(condition, inputs, steps, workdir, failed):
            continue
        name = step.get("name") or step["uses"]
        if "uses" in step:
            if step["uses"].startswith("github/codeql-action/upload-sarif@"):
                uploads.append(workdir / substitute(step["with"]["sarif_file"], inputs, steps, workdir, failed))
            ran.append(name)
            continue
        if "GITHUB_ACTION_PATH" in step["run"]:  # pip install of the action's checkout
            ran.append(name)
            continue
        output = workdir / f".out-{len(ran)}"
        output.write_text("")
        env = {**os.environ, "PATH": path, "GITHUB_OUTPUT": str(output), "GITHUB_ACTION_PATH": str(ROOT),
               **{k: substitute(str(v), inputs, steps, workdir, failed) for k, v in step.get("env", {}).items()}}
        script = substitute(step["run"], inputs, steps, workdir, failed)
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=240)
        log += f"--- {name} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}"
        if "id" in step:
            steps[step["id"]] = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        ran.append(name)
        failed = failed or proc.returncode != 0
    outputs = {k: substitute(v["value"], inputs, steps, workdir, failed) for k, v in action["outputs"].items()}
    return {"ran": ran, "failed": failed, "uploads": uploads, "outputs": outputs, "log": log}


def sarif_results(path: Path) -> list[dict]:
    return json.loads(path.read_text())["runs"][0]["results"]


def test_verify_mode_writes_sarif_uploads_it_and_fails_the_job_on_findings(tmp_path):
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.tf").write_text('resource "aws_s3_bucket" "ok" {\n  bucket = "ok"\n}\n')
    (tmp_path / "stacks" / "network").mkdir(parents=True)
    (tmp_path / "stacks" / "network" / "main.tf").write_text('resource "aws_vpc" "v" {\n  cidr_block = \n}\n')
    clean = run_action(tmp_path, {"paths": "infra", "verify": "hcl"})
    assert not clean["failed"], clean["log"]
    assert "Generate Terraform" not in clean["ran"] and "Fail when not verified" not in clean["ran"]
    assert clean["outputs"]["exit-code"] == "0" and clean["uploads"] == [tmp_path / "tfagent.sarif"]
    assert sarif_results(tmp_path / "tfagent.sarif") == []
    found = run_action(tmp_path, {"paths": "infra stacks/network", "verify": "hcl", "sarif-file": "out.sarif"})
    assert found["failed"] and found["ran"][-1] == "Fail when not verified", found["log"]
    assert found["outputs"]["exit-code"] == "1" and found["uploads"] == [tmp_path / "out.sarif"]
    (result,) = sarif_results(tmp_path / "out.sarif")
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "stacks/network/main.tf"


def test_generate_mode_verifies_what_it_wrote_or_fails_when_nothing_verified(tmp_path):
    # The loop before issue 19 (one request per attempt), from the repository's own tfagent.toml as a user
    # would pin it: this test is about the action's steps, not the strategy.
    (tmp_path / "tfagent.toml").write_text("[defaults]\n" + OLD_STRATEGY_TOML)
    with ScriptedServer() as srv:
        srv.enqueue(BROKEN)
        srv.enqueue(GOOD)
        given = {"prompt": "a private S3 bucket", "base-url": srv.base_url, "model": "scripted", "verify": "hcl"}
        made = run_action(tmp_path, given)
        assert not made["failed"], made["log"]
        assert {"Generate Terraform", "Verify and write SARIF"} <= set(made["ran"])
        assert 'bucket = "logs"' in (tmp_path / "infra" / "main.tf").read_text()
        assert made["outputs"]["exit-code"] == "0" and sarif_results(tmp_path / "tfagent.sarif") == []
        for _ in range(3):
            srv.enqueue(BROKEN)
        (tmp_path / "again").mkdir()
        (tmp_path / "again" / "tfagent.toml").write_text("[defaults]\n" + OLD_STRATEGY_TOML)
        failed = run_action(tmp_path / "again", given)
    # Not verified: nothing written, so nothing to verify; the job fails with tfagent's exit code.
    assert failed["failed"] and "Verify and write SARIF" not in failed["ran"], failed["log"]
    assert failed["ran"][-1] == "Fail when not verified" and failed["outputs"]["exit-code"] == "1"
    assert not (tmp_path / "again" / "infra").exists() and "attempt 3/3" in failed["log"]
