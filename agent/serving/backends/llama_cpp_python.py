"""llama-cpp-python's OpenAI-compatible server (the `tfagent[local]` extra) as a serve backend.

It serves one request at a time (no parallel slots), reports no usage in streams (tfagent counts the
prompt through its /extras/tokenize/count) and cannot speculate without a draft model; it is the
fallback when llama.cpp's own llama-server is not built.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from tfagent.agent.serving.backends.base import ServerBackend

_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette")


class LlamaCppPythonBackend(ServerBackend):
    name = "llama-cpp-python"
    preference = 20

    def available(self) -> tuple[bool, str]:
        missing = [m for m in _MODULES if importlib.util.find_spec(m) is None]
        if missing:
            return False, ("llama-cpp-python's server is not installed: pip install 'tfagent[local]' "
                           "(build it portable: see docs/local-serving.md)")
        return True, ""

    def origin(self) -> str:
        return f"{sys.executable} -m llama_cpp.server"

    def argv(self, model: Path, alias: str, opts) -> list[str]:
        import gguf

        argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias,
                "--host", opts.host, "--port", str(opts.port), "--n_ctx", str(opts.ctx),
                "--type_k", str(gguf.GGMLQuantizationType[opts.cache_type_k.upper()].value),
                "--type_v", str(gguf.GGMLQuantizationType[opts.cache_type_v.upper()].value),
                # Its default cuts a running stream short whenever another request arrives: queue instead.
                "--interrupt_requests", "false"]
        if opts.cache_type_v.lower() not in ("f16", "f32", "bf16"):
            argv += ["--flash_attn", "true"]  # llama.cpp needs flash attention for a quantized V cache
        argv += ["--n_threads", str(opts.threads)] if opts.threads else []
        argv += ["--n_gpu_layers", str(opts.gpu_layers)] if opts.gpu_layers is not None else []
        argv += ["--tensor_split", *opts.tensor_split.split(",")] if opts.tensor_split else []
        return argv

    def notes(self, opts) -> list[str]:
        notes = []
        if opts.parallel > 1:
            notes.append(f"llama-cpp-python serves one request at a time; --parallel {opts.parallel} queues requests")
        if opts.spec != "off":
            notes.append("llama-cpp-python cannot speculate without a draft model; --spec is off")
        if opts.jinja:
            notes.append("llama-cpp-python always applies the GGUF's own chat template; --jinja has no effect")
        return notes
