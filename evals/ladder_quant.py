"""The ladder's rungs on disk: one GGUF per quantization type, made once, safe to kill at any moment.

A rung is done when its GGUF *and* its marker (``<file>.json``: type, bytes, bpw, how it was made)
exist and agree on the size; the GGUF is written under a ``.partial`` name and renamed into place,
then the marker is written atomically, so a kill -9 leaves either a finished rung or a partial file
that the next run deletes and redoes. The importance matrix for IQ types is computed once per source
(``llama-imatrix`` on the shipped calibration text) the same way.

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


def ensure_imatrix(source: Path, where: Path, threads: int, log: Log, chunks: int = 0) -> Path | None:
    """The importance matrix of ``source`` (computed once); None when llama-imatrix is not available."""
    target = where / "imatrix.gguf"
    done = _marker(target)
    if target.is_file() and done.is_file():
        return target
    tool = find_tool("llama-imatrix")
    if tool is None:
        return None
    partial = _partial(target)
    partial.unlink(missing_ok=True)
    text = calibration_text()
    argv = [str(tool), "-m", str(source), "-f", str(text), "-o", str(partial), "-c", str(IMATRIX_CTX),
            "-t", str(threads), "--no-ppl"]
    argv += ["--chunks", str(chunks)] if chunks else []
    log(f"imatrix: {tool.name} on {text.name} ({text.stat().st_size} bytes), {threads} thread(s)")
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0 or not partial.is_file():
        raise LadderError(f"llama-imatrix failed (exit {proc.returncode}) on {source}: {proc.stderr.strip()[-800:]}")
    os.replace(partial, target)
    atomic_write(done, json.dumps({"calibration": text.name, "seconds": round(time.monotonic() - started, 2),
                                        "source": str(source)}, indent=2))
    return target


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
              facts: SourceFacts | None = None) -> Rung:
    """One quant of ``source`` (or ``source`` itself when it already is that type)."""
    from tfagent.agent.serving.quantize import quantize_one

    qtype = qtype.upper()
    path = where / f"{source.stem}-{qtype}.gguf"
    existing = load_rung(path)
    if existing is not None:
        return existing
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
                round(time.monotonic() - started, 2))
    log(f"{qtype}: {made.bpw:.2f} bpw, {made.file_size / 2**20:.0f} MiB in {rung.seconds:.0f} s ({made_by})")
    return _finish(path, rung)


def build_ladder(source: Path, types: list[str], where: Path, *, threads: int, log: Log) -> tuple[list[Rung], list[str]]:
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
        rungs.append(make_rung(source, qtype, where, threads=threads, imatrix=imatrix if needs_imatrix(qtype) else None,
                               log=log, facts=facts))
    if any(r.requantized for r in rungs):
        notes.append(f"re-quantized from an already quantized source ({source.name}, {facts.qtype or '?'}): "
                     "lower rungs are somewhat worse than quants made from F16/BF16")
    return sorted(rungs, key=lambda r: -r.bpw), notes
