"""The pre-commit hook, run by the real pre-commit on a temporary git repository, and the composite
GitHub Action: its YAML parses and every tfagent flag it passes is a real flag of the CLI."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import yaml

from tfagent.agent.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOOD = 'resource "aws_s3_bucket" "ok" {\n  bucket = "ok"\n}\n'
BROKEN = 'resource "aws_s3_bucket" "ko" {\n  bucket = \n}\n'


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def hook() -> dict:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return next(h for h in hooks if h["id"] == "tfagent-verify")


def test_hook_definition_is_what_pre_commit_expects():
    h = hook()
    assert h["language"] == "python" and h["pass_filenames"] is True and h["require_serial"] is True
    assert re.search(h["files"], "infra/main.tf") and re.search(h["files"], "x.tf.json") and not re.search(h["files"], "README.md")
    argv = shlex.split(h["entry"])
    assert argv[:2] == ["tfagent", "verify"]
    assert_real_flags(main.commands["verify"], argv[2:])


def test_real_pre_commit_runs_the_hook_on_changed_terraform_folders_only(tmp_path):
    """pre-commit 4 with the hook as published (entry, files, pass_filenames) as a local hook that
    runs this virtualenv's tfagent: offline, no model. Only folders with staged .tf changes are
    verified, so the broken folder that is not part of the commit does not block it."""
    repo = tmp_path / "repo"
    for folder, text in (("good", GOOD), ("bad", BROKEN), ("untouched", BROKEN)):
        (repo / folder).mkdir(parents=True)
        (repo / folder / "main.tf").write_text(text)
    h = hook()
    tfagent = Path(sys.executable).with_name("tfagent")
    local = {**h, "language": "system", "entry": f"{tfagent} {h['entry'].split(' ', 1)[1]}", "args": ["--verify", "hcl"]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]}))
    git(repo, "init", "-q")
    git(repo, "add", ".pre-commit-config.yaml", "untouched/main.tf")
    git(repo, "commit", "-qm", "base", "--no-verify")
    pre_commit = Path(sys.executable).with_name("pre-commit")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1"}

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([str(pre_commit), "run"], cwd=repo, env=env, capture_output=True, text=True, timeout=240)

    git(repo, "add", "good/main.tf")
    passed = run()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "tfagent verify" in passed.stdout and "Passed" in passed.stdout
    git(repo, "add", "bad/main.tf")
    failed = run()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout and "bad" in failed.stdout and "error" in failed.stdout
    assert "untouched" not in failed.stdout



def snapshot_repository(dest: Path) -> str:
    """This checkout's tracked files as they are on disk, committed in a fresh repository at ``dest``:
    what a user's ``repo:`` URL + ``rev:`` gives pre-commit. Returns the commit."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for rel in filter(None, listed.decode().split("\0")):
        source = ROOT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes(source.read_bytes())
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "tfagent snapshot", "--no-verify")
    return git(dest, "rev-parse", "HEAD").strip()


def test_published_hook_as_users_get_it_installs_tfagent_in_its_own_virtualenv(tmp_path):
    """The hook exactly as a user's .pre-commit-config.yaml names it (repo + rev + id): pre-commit
    clones tfagent, builds its own virtualenv with `pip install .` (language: python) and runs the
    entry from there, not from this test's virtualenv."""
    tfagent_repo = tmp_path / "tfagent-repo"
    rev = snapshot_repository(tfagent_repo)
    repo = tmp_path / "repo"
    (repo / "bad").mkdir(parents=True)
    (repo / "bad" / "main.tf").write_text(BROKEN)
    config = {"repos": [{"repo": str(tfagent_repo), "rev": rev,
                         "hooks": [{"id": "tfagent-verify", "args": ["--verify", "hcl"]}]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    git(repo, "init", "-q")
    git(repo, "add", ".")
    home = tmp_path / "pre-commit-home"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PRE_COMMIT_HOME=str(home), NO_COLOR="1")
    pre_commit = Path(sys.executable).with_name("pre-commit")
    result = subprocess.run([str(pre_commit), "run"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^tfagent verify \(Terraform, no model\)\.+Failed$", result.stdout, re.M), result.stdout
    assert re.search(r"^bad\n.*\n  error main\.tf:2 Invalid HCL syntax$", result.stdout, re.M), result.stdout
    installed = list(home.glob("repo*/py_env-*/bin/tfagent"))
    assert installed, f"pre-commit built no virtualenv with tfagent under {home}"


def assert_real_flags(command: click.Command, argv: list[str]) -> None:
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    used = [a for a in argv if a.startswith("--")]
    assert used and set(used) <= known, sorted(set(used) - known)


def shell_flags(script: str) -> dict[str, list[str]]:
    """tfagent subcommand → the --flags a step's script passes it (in the command or in args=(…))."""
    found: dict[str, list[str]] = {}
    args = re.findall(r"args(?:\+)?=\(([^)]*)\)", script)
    for line in script.splitlines():
        m = re.match(r"\s*tfagent (\w+)", line)
        if m:
            found.setdefault(m.group(1), []).extend(re.findall(r"(--[a-z][a-z-]*)", line + " " + " ".join(args)))
    return found


def test_action_yaml_parses_and_passes_only_real_cli_flags():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif@") for s in steps)
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"
    invoked: dict[str, list[str]] = {}
    for step in steps:
        if "run" in step:
            assert step.get("shell") == "bash"
            for sub, flags in shell_flags(step["run"]).items():
                invoked.setdefault(sub, []).extend(flags)
    assert set(invoked) == {"run", "verify"}
    for sub, flags in invoked.items():
        assert_real_flags(main.commands[sub] if sub in main.commands else main.get_command(None, sub), flags)
    assert "--format" in invoked["verify"] and "--output" in invoked["verify"]
    # Inputs reach scripts only through env (a prompt is user text): no ${{ }} inside a run script
    # except step outputs, which tfagent itself wrote.
    for step in steps:
        for expr in re.findall(r"\$\{\{([^}]*)\}\}", step.get("run", "")):
            assert expr.strip().startswith("steps."), expr
    inputs_used = set(re.findall(r"inputs\.([a-z-]+)", (ROOT / "action.yml").read_text()))
    assert inputs_used <= set(action["inputs"]), inputs_used - set(action["inputs"])


def test_example_workflow_uses_the_action():
    text = (ROOT / "examples" / "github-action-verify.yml").read_text()
    workflow = yaml.safe_load(text)
    action_inputs = set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])
    steps = [s for job in workflow["jobs"].values() for s in job["steps"] if "tfagent" in s.get("uses", "")]
    assert steps and all(set(s.get("with", {})) <= action_inputs for s in steps)
    assert workflow["permissions"]["security-events"] == "write"
    # One placeholder, the same in every job, and the comment at the top says what to put there.
    (uses,) = {s["uses"] for s in steps}
    assert re.fullmatch(r"[\w-]+/tfagent@v\d+\.\d+\.\d+", uses) and f"`{uses}`" in text.split("\nname:")[0]
    # Every event a job waits for is a trigger of the workflow (PyYAML reads the key `on` as True),
    # and every `inputs.X` the jobs read is an input of workflow_dispatch.
    triggers = workflow[True]
    for job in workflow["jobs"].values():
        for event in re.findall(r"github\.event_name == '([a-z_]+)'", job.get("if", "")):
            assert event in triggers, event
    dispatch_inputs = set((triggers.get("workflow_dispatch") or {}).get("inputs", {}))
    assert set(re.findall(r"\binputs\.([a-z_-]+)", yaml.safe_dump(workflow["jobs"]))) <= dispatch_inputs
