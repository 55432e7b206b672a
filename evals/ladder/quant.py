"""The ladder's rungs on disk: one GGUF per quantization type, made once, safe to kill at any moment.

A rung is done when its GGUF *and* its marker (``<file>.json``: type, bytes, bpw, how it was made)
exist and agree on the size; the GGUF is written under a ``.partial`` name and renamed into place,
then the marker is written atomically, so a kill -9 leaves either a finished rung or a partial file
that the next run deletes and redoes. The importance matrix for IQ types is computed once per source
(``llama-imatrix`` on the shipped calibration text) the same way; its marker and each IQ rung's record the
text's sha256, and a matrix or rung made from another text is made again (the report names the hash).

Tools: llama.cpp's ``llama-quantize``/``llama-imatrix`` (found like ``llama-server``: env override,
PATH, the portable build cache); without ``llama-quantize`` the K/legacy types fall back on
llama-cpp-python's quantize, and IQ types are skipped with a note, since they need an imatrix.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from tfagent.agent.core.output import atomic_write
from tfagent.agent.serving.backends.llama_server import find_tool
from tfagent.agent.serving.gguf_info import read_gguf_info

CALIBRATION = "infra-code.txt"  # shipped in evals/calibration (written for this project; no eval task in it)
IMATRIX_CTX = 512  # tokens per imatrix chunk (llama.cpp's usual value)

Log = Callable[[str], None]


class LadderError(RuntimeError):
    """A rung could not be made (names the type, the tool and the file)."""


@dataclass(frozen=True)
class Rung:
    qtype: str
    path: Path
    bpw: float
    bytes: int
    made_by: str  # "source" (the input file itself), "llama-quantize", "llama-cpp-python"
    requantized: bool  # made from an already quantized source (worse than from F16/BF16)
    imatrix: bool
    seconds: float
    imatrix_sha256: str | None = None  # sha256 of the calibration text of the rung's importance matrix


    def to_dict(self) -> dict:
        return {**asdict(self), "path": str(self.path)}


def needs_imatrix(qtype: str) -> bool:
    return qtype.upper().startswith("IQ")


def source_type(path: Path) -> str | None:
    """The GGUF's own quantization type name (general.file_type), e.g. 'Q4_K_M'; None when unknown."""
    import gguf

    reader = gguf.GGUFReader(path)
    field = reader.fields.get("general.file_type")
    if field is None:
        return None
    try:
        return gguf.LlamaFileType(int(field.parts[field.data[0]][0])).name.removeprefix("MOSTLY_")
    except ValueError:
        return None


def calibration_text() -> Path:
    return Path(str(resources.files("tfagent.evals") / "calibration" / CALIBRATION))


def rung_dir(cache: Path, source: Path) -> Path:
    """Quants of one source file live together; the key changes when the file does."""
    stat = source.stat()
    key = hashlib.sha256(f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:10]
    return cache / f"{source.stem}-{key}"


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _partial(path: Path) -> Path:
    # llama.cpp tools pick formats by extension: keep .gguf at the end.
    return path.with_name(f".{path.stem}.partial.gguf")


def load_rung(path: Path) -> Rung | None:
    marker = _marker(path)
    if not path.is_file() or not marker.is_file():
        return None
    data = json.loads(marker.read_text())
    if data.get("bytes") != path.stat().st_size:
        return None
    return Rung(**{**data, "path": path})


def _finish(path: Path, rung: Rung) -> Rung:
    atomic_write(_marker(path), json.dumps(rung.to_dict(), indent=2, sort_keys=True))
    return rung


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ImatrixFacts:
    """The importance matrix the IQ rungs were made with: which text it was computed on (name, sha256,
    size) and how long that took; ``seconds_now`` is the part of it spent in this invocation (0: reused)."""

    path: Path
    calibration: str
    calibration_sha256: str
    calibration_bytes: int
    seconds: float
    seconds_now: float
    chunks: int

    def to_dict(self) -> dict:
        return {**asdict(self), "path": str(self.path)}


def ensure_imatrix(source: Path, where: Path, threads: int, log: Log, chunks: int = 0) -> ImatrixFacts | None:
    """The importance matrix of ``source`` (computed once per source and calibration text); None when
    llama-imatrix is not available. A matrix computed on another text (its marker names another sha256, or
    none: made before the hash was recorded) is computed again, so the report's hash is the one used."""
    target = where / "imatrix.gguf"
    done = _marker(target)
    text = calibration_text()
    text_sha = file_sha256(text)
    if target.is_file() and done.is_file():
        marker = json.loads(done.read_text())
        if marker.get("calibration_sha256") == text_sha:
            return ImatrixFacts(target, marker["calibration"], text_sha, int(marker.get("calibration_bytes", 0)),
                                float(marker.get("seconds", 0.0)), 0.0, int(marker.get("chunks", 0)))
        log(f"imatrix: {target} was computed on another calibration text "
            f"(sha256 {marker.get('calibration_sha256') or 'not recorded'}, now {text_sha[:12]}…): computing it again")
    tool = find_tool("llama-imatrix")
    if tool is None:
        return None
    partial = _partial(target)
    partial.unlink(missing_ok=True)
    argv = [str(tool), "-m", str(source), "-f", str(text), "-o", str(partial), "-c", str(IMATRIX_CTX),
            "-t", str(threads), "--no-ppl"]
    argv += ["--chunks", str(chunks)] if chunks else []
    size = text.stat().st_size
    log(f"imatrix: {tool.name} on {text.name} ({size} bytes, sha256 {text_sha[:12]}…), {threads} thread(s)")
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0 or not partial.is_file():
        raise LadderError(f"llama-imatrix failed (exit {proc.returncode}) on {source}: {proc.stderr.strip()[-800:]}")
    os.replace(partial, target)
    seconds = round(time.monotonic() - started, 2)
    atomic_write(done, json.dumps({"calibration": text.name, "calibration_sha256": text_sha, "calibration_bytes": size,
                                   "chunks": chunks, "seconds": seconds, "source": str(source), "tool": str(tool)},
                                  indent=2))
    return ImatrixFacts(target, text.name, text_sha, size, seconds, seconds, chunks)


@dataclass(frozen=True)
class SourceFacts:
    """What the ladder needs of its source, read once (parsing a GGUF's metadata is not free)."""

    qtype: str | None
    bpw: float
    bytes: int

    @classmethod
    def of(cls, source: Path) -> "SourceFacts":
        info = read_gguf_info(source)
        return cls(source_type(source), info.bpw, info.file_size)


def make_rung(source: Path, qtype: str, where: Path, *, threads: int, imatrix: Path | None, log: Log,
              facts: SourceFacts | None = None, imatrix_sha256: str | None = None) -> Rung:
    """One quant of ``source`` (or ``source`` itself when it already is that type). ``imatrix_sha256``:
    the calibration text's hash of ``imatrix``; a rung made with another one is made again."""
    from tfagent.agent.serving.quantize import quantize_one

    qtype = qtype.upper()
    path = where / f"{source.stem}-{qtype}.gguf"
    existing = load_rung(path)
    if existing is not None and (imatrix is None or existing.imatrix_sha256 == imatrix_sha256):
        return existing
    if existing is not None:
        log(f"{qtype}: made with another importance matrix (calibration sha256 "
            f"{existing.imatrix_sha256 or 'not recorded'}): quantizing it again")
    facts = facts or SourceFacts.of(source)
    requant = facts.bpw < 15
    if facts.qtype == qtype:
        return Rung(qtype, source.resolve(), round(facts.bpw, 4), facts.bytes, "source", False, False, 0.0)
    partial = _partial(path)
    partial.unlink(missing_ok=True)  # what a killed run left half-written
    started = time.monotonic()
    tool = find_tool("llama-quantize")
    if tool is not None:
        argv = [str(tool), "--allow-requantize"] + (["--imatrix", str(imatrix)] if imatrix else [])
        proc = subprocess.run(argv + [str(source), str(partial), qtype, str(threads)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise LadderError(f"llama-quantize {qtype} failed on {source}: {proc.stderr.strip()[-800:]}")
        made_by = "llama-quantize"
    else:
        if imatrix is not None or needs_imatrix(qtype):
            raise LadderError(f"{qtype} needs an importance matrix, and llama-quantize is not available")
        quantize_one(source, partial, qtype, threads)
        made_by = "llama-cpp-python"
    os.replace(partial, path)
    made = read_gguf_info(path)
    rung = Rung(qtype, path, round(made.bpw, 4), made.file_size, made_by, requant, imatrix is not None,
                round(time.monotonic() - started, 2), imatrix_sha256 if imatrix is not None else None)
    log(f"{qtype}: {made.bpw:.2f} bpw, {made.file_size / 2**20:.0f} MiB in {rung.seconds:.0f} s ({made_by})")
    return _finish(path, rung)


@dataclass(frozen=True)
class LadderBuild:
    """What build_ladder made: the rungs (highest bpw first), notes on what was skipped or how rungs were
    made, and the importance matrix of the IQ rungs (None when no IQ rung was asked for or made)."""

    rungs: list[Rung]
    notes: list[str]
    imatrix: ImatrixFacts | None = None


def build_ladder(source: Path, types: list[str], where: Path, *, threads: int, log: Log) -> LadderBuild:
    """Every rung that can be made here, highest bpw first, and the notes on what was skipped and why."""
    where.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    imatrix = None
    if any(needs_imatrix(t) for t in types):
        if find_tool("llama-quantize") is None:
            notes.append("IQ types skipped: llama-quantize is not available (build it with "
                         "`bash scripts/build_llama_server.sh`); llama-cpp-python cannot use an importance matrix")
        else:
            imatrix = ensure_imatrix(source, where, threads, log)
            if imatrix is None:
                notes.append("IQ types skipped: no llama-imatrix tool available to compute the importance matrix "
                             "(build it with `bash scripts/build_llama_server.sh`)")
    rungs = []
    facts = SourceFacts.of(source)
    for qtype in types:
        if needs_imatrix(qtype) and imatrix is None:
            log(f"{qtype}: SKIPPED (needs an importance matrix; no llama-imatrix available)")
            continue
        rungs.append(make_rung(source, qtype, where, threads=threads,
                               imatrix=imatrix.path if imatrix is not None and needs_imatrix(qtype) else None,
                               log=log, facts=facts,
                               imatrix_sha256=imatrix.calibration_sha256 if imatrix is not None else None))
    requantized = [r.qtype for r in rungs if r.requantized]
    if requantized:
        how = " with llama-quantize --allow-requantize" if any(r.made_by == "llama-quantize" for r in rungs if r.requantized) else ""
        notes.append(f"re-quantized from an already quantized source ({source.name}, {facts.qtype or '?'}){how}: "
                     f"{', '.join(requantized)}; lower rungs are somewhat worse than quants made from F16/BF16")
    used = imatrix if imatrix is not None and any(r.imatrix for r in rungs) else None
    if used is not None:
        notes.append(f"importance matrix for {', '.join(r.qtype for r in rungs if r.imatrix)}: llama-imatrix on "
                     f"{used.calibration} (shipped with tfagent in evals/calibration, not the eval's tasks or "
                     f"references; {used.calibration_bytes} bytes, sha256 {used.calibration_sha256}), "
                     f"{used.seconds:.0f} s{'' if used.seconds_now else ' (computed by an earlier invocation)'}")
    return LadderBuild(sorted(rungs, key=lambda r: -r.bpw), notes, used)
