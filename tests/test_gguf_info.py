"""gguf_info on tiny GGUF files written here with gguf.GGUFWriter: every figure is computed by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter

from tfagent.agent.serving.gguf_info import (GGUFInfoError, bits_per_weight, estimate_memory, format_bytes,
                                     kv_cache_bytes, kv_type_bytes_per_element, parse_size, read_gguf_info)

# 2 layers, embedding 64, 4 query heads (head dim 64/4 = 16), 2 KV heads.
TENSORS = {"token_embd.weight": (100, 64), "blk.0.attn_q.weight": (64, 64), "blk.1.attn_q.weight": (64, 64),
           "blk.0.ffn_up.weight": (64, 128), "blk.1.ffn_up.weight": (64, 128), "output_norm.weight": (64,)}
PARAMS = 100 * 64 + 2 * 64 * 64 + 2 * 64 * 128 + 64  # 6400 + 8192 + 16384 + 64 = 31040


def write_gguf(path: Path, *, kv_heads=2, key_length=None, omit=()) -> Path:
    writer = GGUFWriter(str(path), "llama")
    if "block_count" not in omit:
        writer.add_block_count(2)
    writer.add_embedding_length(64)
    writer.add_head_count(4)
    writer.add_head_count_kv(kv_heads)
    writer.add_context_length(128)
    if key_length:
        writer.add_key_length(key_length)
        writer.add_value_length(key_length)
    for name, shape in TENSORS.items():
        writer.add_tensor(name, np.zeros(shape, dtype=np.float16))  # F16: 2 bytes per weight
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_reads_architecture_and_counts_parameters(tmp_path):
    info = read_gguf_info(write_gguf(tmp_path / "tiny.gguf"))
    assert (info.architecture, info.n_layer, info.n_head, info.n_head_kv) == ("llama", 2, 4, 2)
    assert (info.embedding_length, info.head_dim_k, info.head_dim_v, info.context_length) == (64, 16, 16, 128)
    assert info.param_count == PARAMS
    assert info.file_size == (tmp_path / "tiny.gguf").stat().st_size
    # F16 weights are 16 bits each; the rest is header, metadata and alignment padding.
    assert info.bpw == pytest.approx(info.file_size * 8 / PARAMS)
    assert 16.0 < info.bpw < 16.0 + 8 * 2048 / PARAMS


def test_kv_cache_by_hand(tmp_path):
    info = read_gguf_info(write_gguf(tmp_path / "tiny.gguf"))
    # K elements = layers 2 × KV heads 2 × head dim 16 × (ctx 128 × 2 slots) = 16384; V the same.
    est = estimate_memory(info, ctx=128, parallel=2)
    assert est.kv_bytes == (16384 + 16384) * 2
    assert est.total_bytes == info.file_size + 65536
    assert estimate_memory(info, 128, 2, "q8_0", "q8_0").kv_bytes == 2 * 16384 * 34 // 32  # 34 B / 32 values
    assert estimate_memory(info, 128, 2, "q4_0", "q4_0").kv_bytes == 2 * 16384 * 18 // 32  # 18 B / 32 values
    assert estimate_memory(info, 128, 2, "q8_0", "f16").kv_bytes == 16384 * 34 // 32 + 16384 * 2
    assert est.fits(info.file_size + 65536) and not est.fits(info.file_size + 65535)


def test_explicit_key_length_and_per_layer_kv_heads(tmp_path):
    info = read_gguf_info(write_gguf(tmp_path / "k.gguf", kv_heads=[1, 3], key_length=32))
    assert info.head_dim_k == 32 and info.kv_heads_per_layer == (1, 3) and info.n_head_kv == 2
    # (1 + 3) heads × 32 × 100 tokens = 12800 elements each for K and V, f16.
    assert estimate_memory(info, ctx=100).kv_bytes == 2 * 12800 * 2


def test_missing_metadata_names_file_and_key(tmp_path):
    path = write_gguf(tmp_path / "nolayers.gguf", omit=("block_count",))
    with pytest.raises(GGUFInfoError, match=r"nolayers\.gguf.*llama\.block_count"):
        read_gguf_info(path)


def test_not_a_gguf_and_missing_file(tmp_path):
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"definitely not a gguf file, just text" * 10)
    with pytest.raises(GGUFInfoError, match="model.gguf: not a readable GGUF"):
        read_gguf_info(bogus)
    with pytest.raises(GGUFInfoError, match="no such GGUF file"):
        read_gguf_info(tmp_path / "absent.gguf")


def test_pure_helpers():
    assert bits_per_weight(491_400_064, 494_032_768) == pytest.approx(7.957, abs=0.001)
    with pytest.raises(GGUFInfoError):
        bits_per_weight(10, 0)
    assert kv_type_bytes_per_element("F16") == 2 and kv_type_bytes_per_element("q4_0") == 18 / 32
    with pytest.raises(GGUFInfoError, match="q3_k"):
        kv_type_bytes_per_element("q3_k")
    assert kv_cache_bytes([8] * 32, 128, 128, 4096) == 32 * 8 * 128 * 4096 * 2 * 2  # Llama-3-8B: 512 MiB
    with pytest.raises(GGUFInfoError, match="positive"):
        kv_cache_bytes([1], 16, 16, 0)


@pytest.mark.parametrize("text, expected", [
    ("24GiB", 24 * 1024**3), ("512 MiB", 512 * 1024**2), ("8GB", 8 * 10**9), ("1.5g", 1_500_000_000),
    ("1000", 1000), ("2KiB", 2048),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "24 parsecs", "-1GiB"])
def test_parse_size_rejects(text):
    with pytest.raises(GGUFInfoError, match="cannot read memory size"):
        parse_size(text)


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.50 KiB"
    assert format_bytes(24 * 1024**3) == "24.00 GiB"
