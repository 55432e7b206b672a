"""`tfagent serve MODEL --dry-run --json`: the memory estimate as one JSON document, for scripts.

Per model (a ladder gives one row per quant): weights, KV cache per slot and in total, bits per
weight, and against a `--memory` budget whether it fits, how much room is left for the KV cache after
the weights, and the largest per-slot context that would fit — so a team can script which quant and
context fit a box. Compute buffers are not included (said in the document).
"""

from __future__ import annotations

from pathlib import Path

from tfagent.agent.serving.gguf_info import estimate_memory, kv_cache_bytes, parse_size, read_gguf_info

SCHEMA = "tfagent.serve.dry-run/1"


def model_estimate(path: Path, opts, budget_bytes: int | None) -> dict:
    info = read_gguf_info(path)
    est = estimate_memory(info, opts.ctx, opts.parallel, opts.cache_type_k, opts.cache_type_v)
    per_slot = kv_cache_bytes(info.kv_heads_per_layer, info.head_dim_k, info.head_dim_v, opts.ctx, 1,
                              opts.cache_type_k, opts.cache_type_v)
    per_token = kv_cache_bytes(info.kv_heads_per_layer, info.head_dim_k, info.head_dim_v, 1, 1,
                               opts.cache_type_k, opts.cache_type_v)
    row = {
        "model": str(path), "name": path.stem, "architecture": info.architecture,
        "parameters": info.param_count, "bits_per_weight": round(info.bpw, 4),
        "layers": info.n_layer, "kv_heads": info.n_head_kv, "head_dim": [info.head_dim_k, info.head_dim_v],
        "trained_context": info.context_length,
        "ctx_per_slot": opts.ctx, "parallel": opts.parallel,
        "cache_type": {"k": est.cache_type_k, "v": est.cache_type_v},
        "weights_bytes": est.weights_bytes,
        "kv_bytes_per_token": per_token,
        "kv_bytes_per_slot": per_slot,
        "kv_bytes_total": est.kv_bytes,
        "total_bytes": est.total_bytes,
    }
    if budget_bytes is not None:
        room = budget_bytes - est.weights_bytes
        row.update(fits=est.fits(budget_bytes), kv_room_bytes=room,
                   max_ctx_per_slot=max(0, room // (per_token * opts.parallel)) if per_token else None)
    return row


def estimate_document(models: list[Path], opts, memory: str | None) -> dict:
    """The whole document; `fits` is null without --memory, else true only when every model fits."""
    budget = parse_size(memory) if memory else None
    rows = [model_estimate(m, opts, budget) for m in models]
    return {
        "schema": SCHEMA,
        "memory_budget_bytes": budget,
        "fits": None if budget is None else all(r["fits"] for r in rows),
        "compute_buffers_included": False,
        "models": rows,
    }
