"""Streaming overhead of tfagent's ModelClient vs the plain openai client, on the same real server.

ModelClient adds retries, progress callbacks and reply collection around the openai stream; this
checks they cost nothing measurable. Both clients send the same messages (prompts/bench.md,
greedy, fixed max_tokens), alternating, and decode speed = tokens after the first / time after the
first token. Goal: ModelClient ≥ 0.95 × raw.

    tfagent serve MODEL.gguf --name bench --detach
    python benchmarks/stream_overhead.py --endpoint bench --rounds 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import openai

from tfagent import prompts
from tfagent.agent.core.config import load_config, resolve_endpoint
from tfagent.agent.model.client import ModelClient


def decode_rate(tokens: int, ttft: float, total: float) -> float:
    return (tokens - 1) / (total - ttft) if tokens > 1 and total > ttft else 0.0


def raw_run(client: openai.OpenAI, model: str, messages: list[dict], max_tokens: int) -> tuple[int, float]:
    started = time.perf_counter()
    first, tokens = None, 0
    with client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, temperature=0,
                                        stream=True) as stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                first = first if first is not None else time.perf_counter() - started
                tokens += 1
    return tokens, decode_rate(tokens, first or 0.0, time.perf_counter() - started)


def tfagent_run(client: ModelClient, messages: list[dict], max_tokens: int) -> tuple[int, float]:
    seen = {"tokens": 0}

    def on_progress(tokens: int, elapsed: float) -> None:
        seen["tokens"] = tokens

    completion = client.complete(messages, on_progress=on_progress, params={"max_tokens": max_tokens, "temperature": 0})
    tokens = completion.usage.completion_tokens or seen["tokens"]
    return tokens, decode_rate(tokens, completion.ttft or 0.0, completion.seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint")
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args(argv)
    endpoint = resolve_endpoint(load_config(), name=args.endpoint, base_url=args.base_url, model=args.model)
    messages = [{"role": "user", "content": prompts.render("bench")}]
    ours = ModelClient(endpoint)
    ours.wait_ready(60)
    raw = openai.OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key or "not-needed", max_retries=0)
    raw_run(raw, endpoint.model, messages, 8)  # warm-up: load the prompt into the server's cache
    raw_rates, our_rates = [], []
    for n in range(1, args.rounds + 1):
        # Alternate who goes first so drift in machine load does not favour one side.
        order = [("raw", raw_rates), ("tfagent", our_rates)]
        for name, rates in order if n % 2 else reversed(order):
            tokens, rate = (raw_run(raw, endpoint.model, messages, args.max_tokens) if name == "raw"
                            else tfagent_run(ours, messages, args.max_tokens))
            rates.append(rate)
            print(f"round {n} {name:>7}: {tokens} tokens, {rate:.2f} tok/s")
    ratio = statistics.median(our_rates) / statistics.median(raw_rates)
    print(f"endpoint {endpoint.name} ({endpoint.model}); median decode tok/s: raw {statistics.median(raw_rates):.2f}, "
          f"ModelClient {statistics.median(our_rates):.2f} → {ratio:.3f}× (goal ≥ 0.95: {'met' if ratio >= 0.95 else 'NOT met'})")
    return 0 if ratio >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
