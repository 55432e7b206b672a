"""`tfagent quantize`: one GGUF → several quants, with llama.cpp's llama-quantize (PATH or the portable
build) when found, else llama-cpp-python's C API; each output's size and bits per weight."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import time
from pathlib import Path

import click

from tfagent.agent.serving.backends.llama_server import find_tool, help_text
from tfagent.agent.serving.gguf_info import format_bytes
from tfagent.agent.serving.serve import ServeError, _gguf_info

def llama_quantize_types(binary: Path) -> set[str]:
    """The type names llama-quantize lists under "allowed quantization types" ('' lines skipped)."""
    text = help_text(str(binary))
    return {m.group(1).upper() for m in re.finditer(r"^\s*\d+\s+or\s+(\S+)\s*:", text, re.M)}


def quantize_one(src: Path, dest: Path, qtype: str, threads: int) -> None:
    """One GGUF → one quant, with llama-quantize when on PATH, else llama-cpp-python's C API."""
    binary = find_tool("llama-quantize")
    if binary:
        known = llama_quantize_types(binary)
        if known and qtype not in known:
            raise ServeError(f"unknown quantization type {qtype!r}; known: {', '.join(sorted(known))}")
        proc = subprocess.run([binary, "--allow-requantize", str(src), str(dest), qtype, str(threads)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise click.ClickException(f"llama-quantize {qtype} failed: {proc.stderr.strip()[-800:]}")
        return
    if importlib.util.find_spec("llama_cpp") is None:
        raise ServeError("quantizing needs llama.cpp's `llama-quantize` on PATH or the local extra: "
                         "pip install 'tfagent[local]'")
    import ctypes

    import llama_cpp

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{qtype}", None)
    if ftype is None:
        known = sorted(n.removeprefix("LLAMA_FTYPE_MOSTLY_") for n in dir(llama_cpp) if n.startswith("LLAMA_FTYPE_MOSTLY_"))
        raise ServeError(f"unknown quantization type {qtype!r}; known: {', '.join(known)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    params.allow_requantize = True  # the demo models are already quantized; F16 input is better
    if llama_cpp.llama_model_quantize(str(src).encode(), str(dest).encode(), ctypes.byref(params)) != 0:
        raise click.ClickException(f"llama_model_quantize failed for {qtype} ({src} → {dest})")


@click.command("quantize")
@click.argument("model", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--types", "types_", required=True, help="Comma-separated, e.g. Q8_0,Q4_K_M,Q3_K_M,Q2_K.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--threads", default=os.cpu_count() or 1, show_default=True)
def quantize_command(model: Path, types_: str, out_dir: Path, threads: int):
    """Write one GGUF per quantization type into --out and report each one's size and bits per weight."""
    qtypes = [t.strip().upper() for t in types_.split(",") if t.strip()]
    if not qtypes:
        raise ServeError("--types is empty; e.g. --types Q8_0,Q4_K_M")
    source = _gguf_info(model)
    if source.bpw < 15:
        click.echo(f"note: {model.name} is already quantized ({source.bpw:.2f} bpw); quants made from it are worse "
                   "than quants made from an F16/BF16 GGUF", err=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"{'type':<8} {'size':>12} {'bpw':>6} {'seconds':>8}")
    for qtype in qtypes:
        dest = out_dir / f"{model.stem}-{qtype}.gguf"
        started = time.monotonic()
        quantize_one(model, dest, qtype, threads)
        info = _gguf_info(dest)
        click.echo(f"{qtype:<8} {format_bytes(info.file_size):>12} {info.bpw:>6.2f} {time.monotonic() - started:>8.1f}")
