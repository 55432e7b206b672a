"""`tfagent "…" --in DIR` end to end: the real CLI, the scripted model server on 127.0.0.1, real
Terraform with the real hashicorp/aws 3.39.0 provider from the offline mirror, a real git remote and
the forge fake. The folder is five files an engineer already has; the model changes one, adds one,
deletes one, tries files it was not shown, or works in a folder that was already broken."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from conftest import OLD_STRATEGY_FLAGS, kill_during_attempt  # one request per attempt (the loop before issue 19)
from test_git import git, repos  # noqa: F401  (the fixture: a bare remote and the user's clone)

VERSIONS = ('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n      version = "3.39.0"\n'
            '    }\n  }\n}\n\nprovider "aws" {\n  region = var.region\n}\n')
VARIABLES = 'variable "region" {\n  type    = string\n  default = "us-east-1"\n}\n\nvariable "name" {\n  type    = string\n  default = "demo"\n}\n'
VPC = 'resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n\n  tags = {\n    Name = var.name\n  }\n}\n'
SUBNETS = 'resource "aws_subnet" "public" {\n  vpc_id     = aws_vpc.main.id\n  cidr_block = "10.0.1.0/24"\n}\n'
OUTPUTS = 'output "vpc_id" {\n  value = aws_vpc.main.id\n}\n'
FIVE = {"versions.tf": VERSIONS, "variables.tf": VARIABLES, "vpc.tf": VPC, "subnets.tf": SUBNETS, "outputs.tf": OUTPUTS}

PRIVATE_SUBNET = ('\nresource "aws_subnet" "private" {\n  vpc_id     = aws_vpc.main.id\n  cidr_block = "10.0.2.0/24"\n'
                  '}\n')
NAT = ('resource "aws_eip" "nat" {\n  vpc = true\n}\n\nresource "aws_nat_gateway" "nat" {\n'
       '  allocation_id = aws_eip.nat.id\n  subnet_id     = aws_subnet.public.id\n}\n')


def block(path: str, body: str) -> str:
    return f'```hcl title="{path}"\n{body}```\n'


def make_folder(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root``: content and mtime (a file rewritten with the same bytes would show)."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def tfagent(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def run_in(server, mirror: Path, cwd: Path, prompt: str, *extra: str) -> subprocess.CompletedProcess:
    return tfagent(prompt, "--in", "infra", "--base-url", server.base_url, "--model", "scripted",
                   "--verify", "hcl,fmt,validate", "--provider-mirror", str(mirror), *OLD_STRATEGY_FLAGS, *extra, cwd=cwd)


def test_a_change_to_one_file_of_five_is_verified_on_the_whole_folder_and_written_as_a_diff(scripted_server, aws_mirror,
                                                                                            tmp_path):
    folder = make_folder(tmp_path / "infra", FIVE)
    before = snapshot(folder)
    scripted_server.enqueue("Adding the private subnet.\n" + block("subnets.tf", SUBNETS + PRIVATE_SUBNET))
    proc = run_in(scripted_server, aws_mirror, tmp_path, "add a private subnet to the VPC", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    doc = json.loads(proc.stdout)
    change = doc["change"]
    assert (change["modified"], change["added"], change["deleted"]) == (["subnets.tf"], [], [])
    assert change["baseline_ok"] is True and change["preexisting"] == []
    assert change["diff"].startswith("--- a/subnets.tf\n+++ b/subnets.tf\n@@")
    assert '+resource "aws_subnet" "private" {' in change["diff"].splitlines()
    assert doc["out"] == "infra"
    # only the named file changed on disk; the four others are the same bytes, never rewritten
    after = snapshot(folder)
    assert after["subnets.tf"][0].decode() == SUBNETS + PRIVATE_SUBNET
    assert {k: v for k, v in after.items() if k != "subnets.tf"} == {k: v for k, v in before.items() if k != "subnets.tf"}
    assert not (folder / ".terraform").exists() and not (folder / ".terraform.lock.hcl").exists()
    # the first request carried all five files, and how to reply with only the changed ones
    [request] = scripted_server.chat_requests()
    user = request["messages"][1]["content"]
    assert user.startswith("add a private subnet to the VPC")
    for rel, text in FIVE.items():
        assert f'```hcl title="{rel}"\n{text.rstrip()}\n```' in user
    assert "DELETE FILE: path/to/file.tf" in user and "Do not repeat a file you do not change" in user
    # runs show prints the attempt's diff, not whole files
    shown = tfagent("runs", "show", doc["run_id"], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "diff of attempt 1:" in shown.stdout and "+++ b/subnets.tf" in shown.stdout
    assert "file vpc.tf:" not in shown.stdout and "the change:" in shown.stdout


def test_an_added_file_and_a_deleted_one_after_a_retry_on_what_the_change_broke(scripted_server, aws_mirror, tmp_path):
    folder = make_folder(tmp_path / "infra", FIVE)
    broken_nat = NAT.replace("aws_subnet.public.id", "aws_subnet.missing.id")
    scripted_server.enqueue(block("nat.tf", broken_nat) + "DELETE FILE: outputs.tf\n")
    scripted_server.enqueue("Fixed.\n" + block("nat.tf", NAT) + "\nDELETE FILE: outputs.tf\n")
    proc = run_in(scripted_server, aws_mirror, tmp_path, "add a NAT gateway in the public subnet; drop the outputs",
                  "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    doc = json.loads(proc.stdout)
    first, second = doc["attempts"]
    assert not first["ok"] and second["ok"] and first["deleted"] == ["outputs.tf"]
    assert any("aws_subnet.missing" in (d["detail"] + d["summary"]) for v in first["verdicts"] for d in v["diagnostics"])
    feedback = scripted_server.chat_requests()[1]["messages"][-1]["content"]
    assert "nat.tf" in feedback and "already in the folder" not in feedback
    assert "Reply only with the files you change" in feedback
    assert (doc["change"]["added"], doc["change"]["deleted"]) == (["nat.tf"], ["outputs.tf"])
    assert "--- a/outputs.tf\n+++ /dev/null\n" in doc["change"]["diff"]
    assert (folder / "nat.tf").read_text() == NAT and not (folder / "outputs.tf").exists()
    assert {p.name for p in folder.iterdir()} == {"versions.tf", "variables.tf", "vpc.tf", "subnets.tf", "nat.tf"}


def test_files_the_model_was_not_shown_cannot_be_rewritten(scripted_server, aws_mirror, tmp_path):
    """A variables file withheld by the secret policy and a file only listed by its blocks (the
    folder is larger than the request's budget) are refused; nothing of such a reply is verified."""
    big = "".join(f'variable "setting_{i:03}" {{\n  type    = string\n  default = "value-{i:03}"\n}}\n\n' for i in range(60))
    folder = make_folder(tmp_path / "infra", {**FIVE, "settings.tf": big,
                                              "secrets.auto.tfvars": 'name = "tfvars-hidden-value"\n'})
    scripted_server.context_size = 3000  # budget: 3000 // 2 - 1024 = 476 → 512 tokens: settings.tf does not fit
    before = snapshot(folder)
    scripted_server.enqueue(block("secrets.auto.tfvars", 'name = "prod"\n') + block("vpc.tf", VPC.replace("16", "20")))
    scripted_server.enqueue(block("settings.tf", 'variable "setting_000" {}\n'))
    scripted_server.enqueue(block("vpc.tf", VPC.replace("/16", "/20")))
    proc = run_in(scripted_server, aws_mirror, tmp_path, "make the VPC smaller", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    doc = json.loads(proc.stdout)
    withheld, listed, ok = doc["attempts"]
    for rejected in (withheld, listed):
        assert not rejected["ok"] and rejected["verdicts"] == [] and rejected["files"] == {}
        assert [d["rule"] for d in rejected["reply_diagnostics"]] == ["folder_edit"]
    assert withheld["reply_diagnostics"][0]["summary"] == "secrets.auto.tfvars: this file was not shown to you"
    assert listed["reply_diagnostics"][0]["summary"].startswith("settings.tf: this file was only listed by its blocks")
    assert ok["ok"] and doc["change"]["modified"] == ["vpc.tf"]
    requests = scripted_server.chat_requests()
    first_turn = requests[0]["messages"][1]["content"]
    assert "tfvars-hidden-value" not in first_turn and "- secrets.auto.tfvars (its name matches the secret policy)" in first_turn
    assert "- settings.tf: variable setting_000, variable setting_001" in first_turn
    assert 'default = "value-000"' not in first_turn
    assert "Nothing from your reply was applied" in requests[1]["messages"][-1]["content"]
    assert doc["change"]["withheld"] == ["secrets.auto.tfvars"] and doc["change"]["listed"] == ["settings.tf"]
    after = snapshot(folder)
    assert after.pop("vpc.tf")[0].decode() == VPC.replace("/16", "/20")
    before.pop("vpc.tf")
    assert after == before  # the withheld and the listed file are untouched


def test_a_folder_that_was_already_broken_is_reported_first_and_not_blamed(scripted_server, aws_mirror, tmp_path):
    broken_vpc = VPC.replace('  cidr_block = "10.0.0.0/16"\n', '  cidr_block = "10.0.0.0/16"\n  enable_dns = true\n')
    folder = make_folder(tmp_path / "infra", {**FIVE, "vpc.tf": broken_vpc})
    bucket = 'resource "aws_s3_bucket" "logs" {\n  bukket = "audit-logs"\n}\n'
    scripted_server.enqueue(block("logs.tf", bucket))
    scripted_server.enqueue(block("logs.tf", bucket.replace("bukket", "bucket")))
    proc = run_in(scripted_server, aws_mirror, tmp_path, "add a bucket for the audit logs")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    err = proc.stderr.splitlines()
    note = next(i for i, line in enumerate(err) if "already fails verification before any change" in line)
    assert "vpc.tf:3 Unsupported argument" in err[note]
    assert note < next(i for i, line in enumerate(err) if line.startswith("attempt 1/3"))  # before the model was asked
    feedback = scripted_server.chat_requests()[1]["messages"][-1]["content"]
    yours, _, theirs = feedback.partition("These problems were already in the folder before your change")
    assert "logs.tf" in yours and '"bukket"' in yours and "vpc.tf" not in yours
    assert "- vpc.tf:3: Unsupported argument" in theirs and "logs.tf" not in theirs
    assert "the folder already failed verification before the change (1 problem(s))" in proc.stdout
    assert "was already broken: vpc.tf:3 Unsupported argument" in proc.stdout
    assert "+++ b/logs.tf" in proc.stdout and "changed 1 file(s) in infra: added logs.tf" in proc.stdout
    assert (folder / "logs.tf").read_text() == bucket.replace("bukket", "bucket")
    assert (folder / "vpc.tf").read_text() == broken_vpc  # not the model's to fix, not touched


def test_nothing_is_written_when_the_change_does_not_verify(scripted_server, aws_mirror, tmp_path):
    folder = make_folder(tmp_path / "infra", FIVE)
    before = snapshot(folder)
    for _ in range(2):
        scripted_server.enqueue(block("vpc.tf", VPC.replace("cidr_block", "cidr")))
    proc = run_in(scripted_server, aws_mirror, tmp_path, "rename the cidr", "--max-attempts", "2")
    assert proc.returncode == 1, proc.stderr + proc.stdout
    assert "the last attempted change (not written):" in proc.stdout and "-  cidr_block" in proc.stdout
    assert "nothing changed in infra" in proc.stderr
    assert snapshot(folder) == before


def test_a_pr_shows_the_diff_of_the_change(repos, forge_server, scripted_server, aws_mirror, monkeypatch):  # noqa: F811
    from tfagent.agent.cli.main import main

    bare, work = repos
    monkeypatch.chdir(work)
    make_folder(work / "infra", FIVE)
    git(work, "add", "infra")
    git(work, "commit", "-q", "-m", "the VPC we have")
    git(work, "push", "-q", "origin", "HEAD:main")
    scripted_server.enqueue(block("subnets.tf", SUBNETS + PRIVATE_SUBNET) + "DELETE FILE: outputs.tf\n")
    done = CliRunner().invoke(main, ["add a private subnet; the outputs go", "--in", "infra", "--base-url",
                                     scripted_server.base_url, "--model", "scripted", "--verify", "hcl,fmt,validate",
                                     "--provider-mirror", str(aws_mirror), "--git", "--pr", *OLD_STRATEGY_FLAGS])
    assert done.exit_code == 0, done.output
    branch = "tfagent/add-a-private-subnet-the-outputs-go"
    assert git(bare, "show", f"{branch}:infra/subnets.tf") + "\n" == SUBNETS + PRIVATE_SUBNET
    assert "infra/outputs.tf" not in git(bare, "ls-tree", "-r", "--name-only", branch).splitlines()
    assert git(bare, "show", f"{branch}:infra/vpc.tf") + "\n" == VPC
    assert git(bare, "diff", "--name-status", "main", branch).splitlines() == ["D\tinfra/outputs.tf",
                                                                                "M\tinfra/subnets.tf"]
    body = forge_server.calls("POST")[0]["json"]["body"]
    change = body.split("## Change\n\n", 1)[1].split("\n## ", 1)[0]
    assert change.startswith("```diff\n--- a/outputs.tf\n+++ /dev/null\n")
    assert '+resource "aws_subnet" "private" {' in change.splitlines()
    assert "- modified `infra/subnets.tf`" in body and "- deleted `infra/outputs.tf`" in body
    assert (work / "infra" / "outputs.tf").read_text() == OUTPUTS  # the user's own checkout is left alone


def test_another_out_gets_a_changed_copy_and_the_folder_stays(scripted_server, aws_mirror, tmp_path):
    folder = make_folder(tmp_path / "infra", FIVE)
    before = snapshot(folder)
    scripted_server.enqueue(block("nat.tf", NAT))
    proc = run_in(scripted_server, aws_mirror, tmp_path, "add a NAT gateway", "--out", "changed")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert snapshot(folder) == before
    copy = tmp_path / "changed"
    assert {p.name for p in copy.iterdir()} == {*FIVE, "nat.tf"}
    assert all((copy / rel).read_text() == text for rel, text in FIVE.items())


def test_a_killed_edit_resumes_on_the_same_folder_and_refuses_a_changed_one(scripted_server, aws_mirror, tmp_path):
    """SIGKILL during attempt 2 of an `--in` run: `--resume` finds the folder again, does not redo attempt 1,
    repeats the interrupted request exactly and delivers the diff; a folder edited meanwhile is refused."""

    from tfagent.agent.loop.runs import RunStore

    folder = make_folder(tmp_path / "infra", FIVE)
    broken = SUBNETS + PRIVATE_SUBNET.replace("cidr_block", "cidr_blok")
    scripted_server.enqueue(block("subnets.tf", broken))
    scripted_server.enqueue_fault("delay", seconds=20)
    scripted_server.enqueue(block("subnets.tf", SUBNETS + PRIVATE_SUBNET))
    scripted_server.enqueue(block("subnets.tf", SUBNETS + PRIVATE_SUBNET))
    args = [sys.executable, "-m", "tfagent.agent.cli", "add a private subnet to the VPC", "--in", "infra",
            "--base-url", scripted_server.base_url, "--model", "scripted", "--verify", "hcl,fmt,validate",
            "--provider-mirror", str(aws_mirror), *OLD_STRATEGY_FLAGS]
    proc = subprocess.Popen(args, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    kill_during_attempt(proc, scripted_server, 2, timeout=120)
    assert (folder / "subnets.tf").read_text() == SUBNETS, "nothing is written before the change verifies"

    [row] = RunStore().list()
    assert row.status == "running"
    # the folder edited meanwhile: the conversation quotes the old files, so resuming is refused
    (folder / "outputs.tf").write_text(OUTPUTS + "\n")
    refused = tfagent("--resume", row.run_id, cwd=tmp_path)
    assert refused.returncode == 2 and "changed since the run started" in refused.stderr
    (folder / "outputs.tf").write_text(OUTPUTS)

    done = tfagent("--resume", row.run_id, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    doc = json.loads(done.stdout)
    assert [a["number"] for a in doc["attempts"]] == [1, 2] and doc["attempts"][1]["ok"]
    requests = scripted_server.chat_requests()
    assert len(requests) == 3, "attempt 1 must not be asked again"
    assert requests[2]["messages"] == requests[1]["messages"]
    assert doc["change"]["modified"] == ["subnets.tf"] and "+++ b/subnets.tf" in doc["change"]["diff"]
    assert (folder / "subnets.tf").read_text() == SUBNETS + PRIVATE_SUBNET
    assert RunStore().get(row.run_id).status == "verified"
