"""One secret policy, every path: a secret in each kind of variable, quoted by the prompt, echoed and
hard-coded by the model, must reach no model request, no stored run, no log line, no --json output,
no commit and no PR body (real CLI, scripted server, real git remote, the forge fake of tests/forge_fake.py)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import OLD_STRATEGY_FLAGS  # one request per attempt (the loop before issue 19)
from forge_fake import GH_TOKEN
from test_git import GITHUB_URL, git, remote_branches, repos  # noqa: F401  (fixtures)
from tfagent.agent.core import secrets
from tfagent.agent.core.secrets import REDACTED, hardcoded_in, install_log_redaction, is_secret_name, redact_obj
from tfagent.verifiers.code.sandbox import run_sandboxed

# One variable of each kind the policy must cover (both old lists, and names neither had).
SECRETS = {
    "GITHUB_PAT": "ghp_policytest_github_pat_0001",
    "GITLAB_PAT": "glpat-policytest-gitlab-0002",
    "MY_AUTH_HEADER": "Bearer policytest-auth-0003",
    "APP_SESSION_COOKIE": "policytest-session-0004",
    "GCP_SERVICE_ACCOUNT_JSON": "policytest-gcp-sa-0005",
    "AWS_SECRET_ACCESS_KEY": "policytest/aws+secret/0006",
    "DB_PASSWORD": "policytest-hunter2-0007",
    "DEPLOY_TOKEN": "policytest-deploy-token-0008",
    "OPENAI_API_KEY": "sk-policytest-openai-0009",
    "AZURE_CLIENT_SECRET": "policytest-azure-0010",
}
HARMLESS = ["PATH", "HOME", "LANG", "TERM", "PWD", "USER", "SHELL", "TF_CLI_CONFIG_FILE", "VIRTUAL_ENV",
            "AWS_REGION", "AWS_DEFAULT_REGION", "XDG_SESSION_TYPE", "DESKTOP_SESSION", "GITHUB_REPOSITORY"]


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_every_kind_of_secret_name_is_covered(name):
    assert is_secret_name(name) and is_secret_name(name.lower())


@pytest.mark.parametrize("name", HARMLESS)
def test_harmless_names_are_left_alone(name):
    assert not is_secret_name(name)


def test_redaction_is_whole_and_names_not_values():
    env = {"A_TOKEN": "abcdef-long", "B_TOKEN": "abcdef", "PATH": "/usr/bin"}
    assert redact_obj({"k abcdef-long": ["x abcdef", 3]}, env) == {f"k {REDACTED}": [f"x {REDACTED}", 3]}
    assert hardcoded_in(["token = 'abcdef-long'"], env) == ["A_TOKEN", "B_TOKEN"]  # both values occur
    assert hardcoded_in(["/usr/bin/python"], env) == []


def test_the_sandbox_scrubs_exactly_the_same_names(tmp_path, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HARMLESS_SETTING", "kept-value")
    (tmp_path / "w").mkdir()
    result = run_sandboxed([sys.executable, "-c", "import os, json; print(json.dumps(dict(os.environ)))"],
                           tmp_path / "w", timeout=20)
    assert result.ok, result.stderr
    env = json.loads(result.stdout)
    assert not [name for name in SECRETS if name in env] and not [v for v in SECRETS.values() if v in result.stdout]
    assert env["HARMLESS_SETTING"] == "kept-value"


def test_log_lines_never_carry_a_secret(monkeypatch, caplog):
    monkeypatch.setenv("GITLAB_PAT", SECRETS["GITLAB_PAT"])
    install_log_redaction()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("tfagent.anything").warning("pushing with %s", SECRETS["GITLAB_PAT"])
        try:
            raise RuntimeError(f"server said {SECRETS['GITLAB_PAT']}")
        except RuntimeError:
            logging.getLogger("other.library").exception("failed")
    assert SECRETS["GITLAB_PAT"] not in caplog.text and caplog.text.count(REDACTED) >= 2


def _tfagent(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env={**env, "NO_COLOR": "1"},
                          capture_output=True, text=True, timeout=240)


def _no_secret_in(text: str, where: str) -> None:
    leaked = [name for name, value in SECRETS.items() if value in text]
    assert not leaked, f"{where} holds the value of {leaked}"


def _state_files_text(state_home: Path) -> str:
    """Every byte the run store wrote (database, WAL), as text."""
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in state_home.rglob("*") if p.is_file())


QUOTED = " ".join(SECRETS.values())
ECHO = f"Noted your credentials: {QUOTED}.\n"
HARDCODED = ECHO + f'```hcl title="main.tf"\nvariable "token" {{\n  default = "{SECRETS["GITHUB_PAT"]}"\n}}\n```\n'
CLEAN = ECHO + '```hcl title="main.tf"\nvariable "token" {\n  sensitive = true\n}\n```\n'


def test_quoted_echoed_and_hardcoded_secrets_reach_no_request_store_output_commit_or_pr(
        repos, forge_server, scripted_server, tmp_path):
    bare, work = repos
    env = {**os.environ, **SECRETS, "XDG_STATE_HOME": str(tmp_path / "state")}
    scripted_server.enqueue(HARDCODED)
    scripted_server.enqueue(CLEAN)
    done = _tfagent(f"a sensitive variable token; my keys are {QUOTED}", "--base-url", scripted_server.base_url,
                    "--model", "scripted", "--verify", "hcl", "--pr", *OLD_STRATEGY_FLAGS, cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    _no_secret_in(done.stdout + done.stderr, "the CLI's output")
    # the model: two requests, the second carrying the feedback and the (redacted) echo
    requests = scripted_server.requests
    assert len(requests) == 2
    _no_secret_in(json.dumps(requests), "a model request")
    second = requests[1]["messages"]
    assert "use a variable, not the value" in second[-1]["content"] and "GITHUB_PAT" in second[-1]["content"]
    assert REDACTED in second[1]["content"] and REDACTED in second[2]["content"]  # prompt and echo
    # the run store: runs show --json and every byte on disk
    from tfagent.agent.loop.runs import RunStore

    [row] = RunStore(tmp_path / "state" / "tfagent" / "runs.sqlite").list()
    shown = _tfagent("runs", "show", row.run_id, "--json", cwd=work, env=env)
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    [first, _] = doc["result"]["attempts"]
    assert first["reply_diagnostics"][0]["category"] == "secret" and first["files"] == {}
    _no_secret_in(shown.stdout, "runs show --json")
    _no_secret_in(_state_files_text(tmp_path / "state"), "the run store on disk")
    # the commit, the pushed files and the PR
    [branch] = [b for b in remote_branches(bare) if b != "refs/heads/main"]
    pushed = git(bare, "log", "-p", "-1", branch.removeprefix("refs/heads/"))
    _no_secret_in(pushed, "the pushed commit")
    [post] = forge_server.calls("POST")
    _no_secret_in(json.dumps(post["json"]), "the PR title/body")
    assert GH_TOKEN not in json.dumps(post["json"])


def test_a_reply_that_only_hardcodes_secrets_is_never_written_committed_or_pushed(
        repos, forge_server, scripted_server, tmp_path):
    bare, work = repos
    env = {**os.environ, **SECRETS, "XDG_STATE_HOME": str(tmp_path / "state")}
    for _ in range(2):
        scripted_server.enqueue(HARDCODED)
    done = _tfagent("a variable token", "--base-url", scripted_server.base_url, "--model", "scripted", "--verify",
                    "hcl", "--max-attempts", "2", "--pr", *OLD_STRATEGY_FLAGS, cwd=work, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert remote_branches(bare) == ["refs/heads/main"] and forge_server.calls("POST") == []
    assert git(work, "status", "--porcelain") == "" and not (work / "infra").exists()
    _no_secret_in(done.stdout + done.stderr, "the CLI's output")


def test_json_output_and_out_folder_without_git(scripted_server, tmp_path, monkeypatch, caplog):
    """In-process (CliRunner) so the log records of the whole run are captured too."""
    from tfagent.agent.cli.main import main

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    scripted_server.enqueue(HARDCODED)
    scripted_server.enqueue(CLEAN)
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(main, ["run", f"a variable; keys {QUOTED}", "--base-url", scripted_server.base_url,
                                           "--model", "scripted", "--verify", "hcl", "--json", "--out", "infra",
                                           *OLD_STRATEGY_FLAGS])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["attempts"][0]["reply_diagnostics"][0]["category"] == "secret"
    _no_secret_in(result.output, "--json output")
    _no_secret_in(caplog.text, "a log line")
    _no_secret_in((tmp_path / "infra" / "main.tf").read_text(), "the written file")
    _no_secret_in(json.dumps(scripted_server.requests), "a model request")


def test_an_api_key_from_a_flag_is_redacted_too(scripted_server, tmp_path, monkeypatch):
    from tfagent.agent.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(secrets, "_registered", set())
    flag_key = "flag-given-key-policytest-0011"
    scripted_server.enqueue(f"Using {flag_key}\n" + '```hcl title="main.tf"\nvariable "x" {}\n```\n')
    result = CliRunner().invoke(main, ["run", f"a variable; the key is {flag_key}", "--base-url",
                                       scripted_server.base_url, "--model", "scripted", "--api-key", flag_key,
                                       "--verify", "hcl", "--json", *OLD_STRATEGY_FLAGS])
    assert result.exit_code == 0, result.output
    assert flag_key not in result.output
    [request] = scripted_server.requests
    assert flag_key not in json.dumps(request["messages"])
