"""The Terraform engine: choosing Terraform, CLI config, init cache — with real Terraform and the real
aws 3.39.0 provider from the offline mirror fixture."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tfagent.verifiers.base import VerifyContext, VerifyOptions
from tfagent.verifiers.terraform.hcl import parse_folder, requirement_set, requirements_tf
from tfagent.verifiers.terraform.engine import (
    BINARY,
    EMBEDDED,
    TerraformEngine,
    TerraformUnavailable,
    choose_terraform,
    mirror_providers,
)
from tfagent.verifiers.terraform.validate import TerraformValidate

PINNED = """terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "3.39.0" }
  }
}
"""


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> str:
    """Provider cache shared by tests that do not count init runs (unzipping the provider is slow)."""
    return str(tmp_path_factory.mktemp("tf-cache"))


def write(folder: Path, text: str, name: str = "main.tf") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def test_embedded_engine_is_chosen_by_env_and_when_no_binary_is_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("TFAGENT_TERRAFORM", "embedded")
    assert choose_terraform() == (EMBEDDED, None)
    monkeypatch.delenv("TFAGENT_TERRAFORM")
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without terraform/tofu
    assert choose_terraform() == (EMBEDDED, None)


def test_bad_explicit_terraform_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("TFAGENT_TERRAFORM", str(tmp_path / "no-such-terraform"))
    with pytest.raises(TerraformUnavailable, match="TFAGENT_TERRAFORM=.*no-such-terraform"):
        choose_terraform()


def test_binary_on_path_wins(monkeypatch):
    monkeypatch.delenv("TFAGENT_TERRAFORM", raising=False)
    kind, binary = choose_terraform()
    if kind != BINARY:
        pytest.skip("no terraform/tofu binary on PATH on this machine")
    assert Path(binary).name in ("terraform", "tofu")


def test_cli_config_points_at_the_mirror_and_keeps_direct_for_the_rest(aws_mirror, tmp_path):
    engine = TerraformEngine(EMBEDDED, mirror=aws_mirror, cache_root=tmp_path / "cache")
    text = engine.cli_config.read_text()
    assert f'path    = "{aws_mirror}"' in text
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in text
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in text
    assert "plugin_cache_dir" not in text  # a shared plugin cache is rewritten under running plans
    env = engine.environment()
    assert env["TF_CLI_CONFIG_FILE"] == str(engine.cli_config)
    assert env["CHECKPOINT_DISABLE"] == "1"
    assert mirror_providers(aws_mirror) == {"registry.terraform.io/hashicorp/aws": ["3.39.0"]}


def test_users_own_cli_config_is_respected_without_a_mirror(monkeypatch, tmp_path):
    user_config = write(tmp_path / "home", 'plugin_cache_dir = "/tmp"\n', ".terraformrc") / ".terraformrc"
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(user_config))
    engine = TerraformEngine(EMBEDDED, cache_root=tmp_path / "cache")
    assert engine.cli_config == user_config.resolve()
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))  # missing: write our own
    engine = TerraformEngine(EMBEDDED, cache_root=tmp_path / "cache2")
    assert engine.cli_config.parent == tmp_path / "cache2"


def test_a_mirror_that_is_not_one_is_bad_input(tmp_path):
    with pytest.raises(ValueError, match="holds no providers"):
        TerraformEngine(EMBEDDED, mirror=tmp_path, cache_root=tmp_path / "cache")
    with pytest.raises(ValueError, match="is not a folder"):
        TerraformEngine(EMBEDDED, mirror=tmp_path / "nope", cache_root=tmp_path / "cache")


def test_engine_never_applies(tmp_path):
    engine = TerraformEngine(EMBEDDED, cache_root=tmp_path / "cache")
    with pytest.raises(ValueError, match="never runs `terraform apply`"):
        engine.run(tmp_path, ["apply", "-auto-approve"])


def test_requirement_set_names_explicit_implicit_aliased_and_legacy_providers(tmp_path):
    write(tmp_path, PINNED + """
provider "aws" {
  alias   = "west"
  version = "3.39.0"
}
resource "aws_s3_bucket" "a" {
  provider = aws.west
  bucket   = "a"
}
resource "random_pet" "p" {}
data "s3_object" "o" {}
""")
    req = requirement_set(parse_folder(tmp_path))
    assert req.explicit["aws"] == {"source": "hashicorp/aws", "versions": {"3.39.0"}}
    assert set(req.implicit) == {"aws", "random", "s3"}
    assert req.implicit["s3"] == [("main.tf", "data", "s3_object", "o")]
    text = requirements_tf(req)
    assert 'aws = { source = "hashicorp/aws", version = "3.39.0" }' in text
    assert 'random = { source = "hashicorp/random" }' in text


def test_init_runs_once_per_requirement_set_and_is_reused(aws_mirror, tmp_path):
    options = VerifyOptions(provider_mirror=aws_mirror, terraform_cache_dir=str(tmp_path / "cache"))
    engine = TerraformEngine.for_options(options)
    assert TerraformEngine.for_options(options) is engine  # shared
    first = engine.init_for(write(tmp_path / "a1", PINNED + 'resource "aws_s3_bucket" "b" { bucket = "x" }\n'))
    second = engine.init_for(write(tmp_path / "a2", PINNED + 'resource "aws_sqs_queue" "q" { name = "q" }\n'))
    assert first.ok and not first.reused
    assert second.ok and second.reused and second.data_dir == first.data_dir
    assert engine.init_runs == 1
    changed = PINNED.replace('"3.39.0"', '"~> 3.39"') + 'resource "aws_s3_bucket" "b" { bucket = "x" }\n'
    third = engine.init_for(write(tmp_path / "a3", changed))
    assert third.ok and not third.reused and third.data_dir != first.data_dir
    assert engine.init_runs == 2
    # another process (a fresh engine, same cache folder) reuses the initialised folder on disk
    fresh = TerraformEngine(engine.kind, engine.binary, aws_mirror, tmp_path / "cache")
    assert fresh.init_for(tmp_path / "a1").reused and fresh.init_runs == 0


def test_verification_never_touches_the_models_folder(aws_mirror, tmp_path, shared_cache):
    folder = write(tmp_path / "attempt", PINNED + 'resource "aws_s3_bucket" "b" { bucket = "x" }\n')
    options = VerifyOptions(provider_mirror=aws_mirror, terraform_cache_dir=shared_cache)
    verdict = TerraformValidate().verify(VerifyContext(folder, options))
    assert verdict.ok, verdict.diagnostics
    assert sorted(os.listdir(folder)) == ["main.tf"]
    assert not list(Path(shared_cache).glob("tfagent-tf-*")), "scratch copies are removed"


def test_embedded_engine_validates_with_the_real_provider(aws_mirror, tmp_path, shared_cache):
    folder = write(tmp_path / "attempt", PINNED + 'resource "aws_s3_bucket" "b" {\n  bukket = "x"\n}\n')
    options = VerifyOptions(provider_mirror=aws_mirror,
                            terraform="embedded", terraform_cache_dir=shared_cache)
    engine = TerraformEngine.for_options(options)
    assert engine.kind == EMBEDDED and engine.version.startswith("1.")
    verdict = TerraformValidate().verify(VerifyContext(folder, options))
    assert not verdict.ok
    [diag] = verdict.diagnostics
    assert (diag.summary, diag.file, diag.line, diag.category) == ("Unsupported argument", "main.tf", 7, "unknown_argument")
    assert 'Did you mean "bucket"?' in diag.detail


def test_embedded_engine_is_safe_to_use_from_several_threads(aws_mirror, tmp_path, shared_cache):
    options = VerifyOptions(provider_mirror=aws_mirror,
                            terraform="embedded", terraform_cache_dir=shared_cache)
    folders = {
        "bukket": write(tmp_path / "a", PINNED + 'resource "aws_s3_bucket" "b" {\n  bukket = "x"\n}\n'),
        "ok": write(tmp_path / "b", PINNED + 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n}\n'),
        "type": write(tmp_path / "c", PINNED + 'resource "aws_s3_bucket" "b" {\n  tags = "x"\n}\n'),
    }
    cwd = os.getcwd()
    with ThreadPoolExecutor(max_workers=3) as pool:
        verdicts = dict(zip(folders, pool.map(
            lambda folder: TerraformValidate().verify(VerifyContext(folder, options)), folders.values())))
    assert os.getcwd() == cwd  # nothing chdir'ed this process
    assert [d.summary for d in verdicts["bukket"].diagnostics] == ["Unsupported argument"]
    assert verdicts["ok"].ok and not verdicts["ok"].diagnostics
    assert [d.summary for d in verdicts["type"].diagnostics] == ["Incorrect attribute value type"]
    assert TerraformEngine.for_options(options).init_runs <= 1  # 0 when an earlier test initialised it


def test_local_modules_are_installed_and_validated(aws_mirror, tmp_path, shared_cache):
    folder = write(tmp_path / "attempt", PINNED + 'module "store" {\n  source = "./modules/store"\n}\n')
    write(folder / "modules" / "store", 'resource "aws_s3_bucket" "b" {\n  bukket = "x"\n}\n')
    options = VerifyOptions(provider_mirror=aws_mirror, terraform_cache_dir=shared_cache)
    verdict = TerraformValidate().verify(VerifyContext(folder, options))
    [diag] = verdict.diagnostics
    assert (diag.summary, diag.file, diag.line) == ("Unsupported argument", "modules/store/main.tf", 2)


UNPINNED = 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n}\n'


def test_a_folders_own_lock_file_decides_the_provider_version(aws_mirror, tmp_path):
    """An existing folder (``--in``) is verified with the providers its lock file pins, not the newest."""
    options = VerifyOptions(provider_mirror=aws_mirror, terraform_cache_dir=str(tmp_path / "cache"))
    engine = TerraformEngine.for_options(options)
    plain = engine.init_for(write(tmp_path / "plain", UNPINNED))
    assert plain.ok, plain.output
    lock = (plain.data_dir / ".terraform.lock.hcl").read_text()
    assert re.search(r'version\s*=\s*"3\.39\.0"', lock), lock

    locked = write(tmp_path / "locked", UNPINNED)
    (locked / ".terraform.lock.hcl").write_text(lock)
    honoured = engine.init_for(locked)
    assert honoured.ok and not honoured.reused, "a lock file is part of the init key"
    verdict = TerraformValidate().verify(VerifyContext(locked, options))
    assert verdict.ok, verdict.diagnostics
    assert (locked / ".terraform.lock.hcl").read_text() == lock, "the folder's own lock file is never rewritten"

    # A lock pinning a version the mirror does not carry fails init naming that version, where the
    # same configuration without the lock file would have taken 3.39.0.
    stale = write(tmp_path / "stale", UNPINNED)
    (stale / ".terraform.lock.hcl").write_text(
        'provider "registry.terraform.io/hashicorp/aws" {\n  version = "3.38.0"\n}\n')
    refused = engine.init_for(stale)
    assert not refused.ok
    assert "3.38.0" in refused.output
