"""`tfagent verify` says "undecided" with its own exit code (6, EXIT_ENVIRONMENT) when this machine, not
the files, kept a stage from deciding: a real provider the mirror lacks, a Rego builtin regopy lacks.
Real terraform, the real aws 3.39.0 mirror, real regopy, the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from tfagent.agent.core.exits import EXIT_ENVIRONMENT
from tfagent.verifiers.base import Verdict, error
from tfagent.verifiers.undecided import undecided_reason

BUCKET = 'resource "aws_s3_bucket" "b" {\n  bucket = "tfagent-undecided-test"\n}\n'
RANDOM = 'resource "random_id" "suffix" {\n  byte_length = 4\n}\n'
POLICY = ('package terraform.validation\nimport rego.v1\ndefault valid := false\n'
          'valid if { some r in input.resource_changes; net.cidr_contains("10.0.0.0/8", r.change.after.cidr_block) }\n')


def tfagent(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def folder(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    (path / "main.tf").write_text(text)
    return path


def test_a_provider_the_mirror_lacks_is_undecided_not_unverified(aws_mirror, tmp_path):
    random = folder(tmp_path, "random", BUCKET + RANDOM)
    proc = tfagent("verify", str(random), "--verify", "hcl,validate", "--provider-mirror", str(aws_mirror), cwd=tmp_path)
    assert proc.returncode == EXIT_ENVIRONMENT == 6, proc.stdout + proc.stderr
    assert "undecided: provider hashicorp/random cannot be installed here" in proc.stdout
    as_json = tfagent("verify", str(random), "--verify", "hcl,validate", "--provider-mirror", str(aws_mirror), "--json",
                      cwd=tmp_path)
    assert as_json.returncode == 6 and json.loads(as_json.stdout)["undecided"].startswith("provider hashicorp/random")
    # a folder failing on its own files decides the exit code: 1, even beside an undecided one
    broken = folder(tmp_path, "broken", BUCKET.replace("bucket =", "bukket ="))
    both = tfagent("verify", str(random), str(broken), "--verify", "hcl,validate", "--provider-mirror", str(aws_mirror),
                   cwd=tmp_path)
    assert both.returncode == 1, both.stdout + both.stderr


def test_a_policy_regopy_cannot_evaluate_is_undecided(tmp_path):
    vpc = folder(tmp_path, "vpc", 'resource "aws_vpc" "v" {\n  cidr_block = "10.0.0.0/16"\n}\n')
    policy = tmp_path / "cidr.rego"
    policy.write_text(POLICY)
    proc = tfagent("verify", str(vpc), "--verify", "hcl,rego", "--policy", str(policy), "--no-builtin-policies", cwd=tmp_path)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "undecided: Rego builtin net.cidr_contains is not supported by regopy" in proc.stdout


def test_only_environment_causes_are_undecided(tmp_path):
    missing_key = error('Invalid function argument', 'Invalid value for "path" parameter: no file exists at '
                        '"~/.ssh/deployer.pub"; this function works only with files that are distributed as part of '
                        'the configuration source code', file="main.tf", line=3, source="plan")
    assert undecided_reason(Verdict("plan", False, [missing_key]), tmp_path) == (
        "reads ~/.ssh/deployer.pub, a file outside the configuration this machine does not have")
    shipped = replace(missing_key, detail='no file exists at "keys/deployer.pub"')
    assert undecided_reason(Verdict("plan", False, [shipped]), tmp_path) is None  # the files should hold it
    typo = error("Unsupported argument", 'An argument named "bukket" is not expected here.', source="validate")
    assert undecided_reason(Verdict("validate", False, [typo]), tmp_path) is None
