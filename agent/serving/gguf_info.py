"""What a GGUF file costs to serve: bits per weight and a memory estimate, from its own metadata.

Reading is one function (`read_gguf_info`); everything else is pure arithmetic on plain numbers so it
can be checked by hand. The estimate is weights + KV cache. It leaves out llama.cpp's compute buffers
(a few hundred MiB, growing with batch size), so treat "fits" as necessary, not sufficient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import gguf

# KV cache element types llama.cpp accepts for --cache-type-k/-v.
KV_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3, "t": 1000**4, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}


class GGUFInfoError(ValueError):
    """The file is not a GGUF we can describe (names the file and the missing field)."""


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    file_size: int  # bytes on disk
    architecture: str
    param_count: int  # sum of tensor element counts
    n_layer: int
    n_head: int
    n_head_kv: int  # summed over layers / n_layer when the model varies it per layer
    embedding_length: int
    head_dim_k: int
    head_dim_v: int
    context_length: int | None
    kv_heads_per_layer: tuple[int, ...]  # n_head_kv of each layer

    @property
    def bpw(self) -> float:
        return bits_per_weight(self.file_size, self.param_count)


@dataclass(frozen=True)
class MemoryEstimate:
    weights_bytes: int
    kv_bytes: int
    ctx: int
    parallel: int
    cache_type_k: str
    cache_type_v: str

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_bytes

    def fits(self, budget_bytes: int) -> bool:
        return self.total_bytes <= budget_bytes


def bits_per_weight(file_size: int, param_count: int) -> float:
    """File size × 8 / parameters: what the quant really costs, including its metadata and scales."""
    if param_count <= 0:
        raise GGUFInfoError(f"parameter count must be positive, got {param_count}")
    return file_size * 8 / param_count


def kv_type_bytes_per_element(kv_type: str) -> float:
    """Bytes per cached element for a KV type name (block size and block bytes from ggml's table)."""
    name = kv_type.lower()
    if name not in KV_TYPES:
        raise GGUFInfoError(f"unknown KV cache type {kv_type!r}; expected one of {', '.join(KV_TYPES)}")
    block_size, block_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[name.upper()]]
    return block_bytes / block_size


def kv_cache_bytes(
    kv_heads_per_layer: tuple[int, ...] | list[int],
    head_dim_k: int,
    head_dim_v: int,
    ctx: int,
    parallel: int = 1,
    cache_type_k: str = "f16",
    cache_type_v: str = "f16",
) -> int:
    """K and V for every layer, every cached token (ctx tokens for each of `parallel` slots)."""
    if ctx <= 0 or parallel <= 0:
        raise GGUFInfoError(f"context ({ctx}) and parallel slots ({parallel}) must be positive")
    tokens = ctx * parallel
    k_elems = sum(kv_heads_per_layer) * head_dim_k * tokens
    v_elems = sum(kv_heads_per_layer) * head_dim_v * tokens
    return round(k_elems * kv_type_bytes_per_element(cache_type_k) + v_elems * kv_type_bytes_per_element(cache_type_v))


def estimate_memory(info: GGUFInfo, ctx: int, parallel: int = 1, cache_type_k: str = "f16",
                    cache_type_v: str = "f16") -> MemoryEstimate:
    kv = kv_cache_bytes(info.kv_heads_per_layer, info.head_dim_k, info.head_dim_v, ctx, parallel,
                        cache_type_k, cache_type_v)
    return MemoryEstimate(info.file_size, kv, ctx, parallel, cache_type_k.lower(), cache_type_v.lower())


def parse_size(text: str) -> int:
    """'24GiB', '512 MiB', '8GB', '1e9' → bytes. Binary units (KiB…) are powers of 1024."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise GGUFInfoError(f"cannot read memory size {text!r}: use e.g. 24GiB, 512MiB, 16GB")
    return int(float(match.group(1)) * _UNITS[unit])


def format_bytes(n: int | float) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)} B"


def read_gguf_info(path: str | Path) -> GGUFInfo:
    """Metadata and tensor sizes of a GGUF file (memory-mapped; the weights are not read)."""
    path = Path(path)
    if not path.is_file():
        raise GGUFInfoError(f"{path}: no such GGUF file")
    try:
        reader = gguf.GGUFReader(str(path))
    except (ValueError, OSError) as exc:  # gguf raises ValueError on a bad magic/version
        raise GGUFInfoError(f"{path}: not a readable GGUF file ({exc})") from exc
    arch = _field(reader, path, "general.architecture")
    n_layer = int(_field(reader, path, f"{arch}.block_count"))
    n_head = _int_or_layers(_field(reader, path, f"{arch}.attention.head_count"), n_layer)
    kv_raw = _field(reader, path, f"{arch}.attention.head_count_kv", default=None)
    kv_heads = _per_layer(kv_raw, n_layer) if kv_raw is not None else (n_head,) * n_layer
    embedding = int(_field(reader, path, f"{arch}.embedding_length"))
    # key_length/value_length exist when the head size is not embedding / heads (e.g. Gemma, GLM-4.5).
    head_dim_k = int(_field(reader, path, f"{arch}.attention.key_length", default=embedding // n_head))
    head_dim_v = int(_field(reader, path, f"{arch}.attention.value_length", default=embedding // n_head))
    ctx = _field(reader, path, f"{arch}.context_length", default=None)
    params = sum(int(t.n_elements) for t in reader.tensors)
    return GGUFInfo(
        path=path, file_size=path.stat().st_size, architecture=str(arch), param_count=params,
        n_layer=n_layer, n_head=n_head, n_head_kv=round(sum(kv_heads) / n_layer), embedding_length=embedding,
        head_dim_k=head_dim_k, head_dim_v=head_dim_v, context_length=int(ctx) if ctx is not None else None,
        kv_heads_per_layer=kv_heads,
    )


_MISSING = object()


def _field(reader: gguf.GGUFReader, path: Path, key: str, default=_MISSING):
    field = reader.fields.get(key)
    if field is None:
        if default is _MISSING:
            raise GGUFInfoError(f"{path}: GGUF metadata has no {key!r}")
        return default
    return field.contents()


def _per_layer(value, n_layer: int) -> tuple[int, ...]:
    if isinstance(value, list):  # some architectures (e.g. OpenELM) give a count per layer
        if len(value) != n_layer:
            raise GGUFInfoError(f"per-layer head count has {len(value)} entries for {n_layer} layers")
        return tuple(int(v) for v in value)
    return (int(value),) * n_layer


def _int_or_layers(value, n_layer: int) -> int:
    return max(_per_layer(value, n_layer))
