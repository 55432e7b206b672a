"""Throughput and latency of a model server under load (the command, `tfagent bench`: agent/cli/bench.py).

Closed loop (`--concurrency 1,2,4,8`): N streams each send requests back to back. Open loop
(`--open-loop --rate 0.5,1 --duration 60`): requests arrive as a Poisson process whatever the server
does, so queueing shows up in TTFT. Requests go through the plain openai client with retries off —
a bench must see errors, not hide them. The prompt (prompts/bench.md) and max_tokens are fixed and
written into the JSON so runs stay comparable.

Definitions: total tok/s = completion tokens of all successful requests / wall time of the level;
per-user tok/s = mean over requests of completion tokens / (latency − TTFT), the decode speed one
user sees; the saturation point is the last level after which total tok/s grows by ≤ 10 %.
"""

from __future__ import annotations

import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click
import openai
from rich.table import Table

SATURATION_GROWTH = 0.10


@dataclass
class Sample:
    ok: bool
    latency: float  # seconds, request start to end of stream
    ttft: float | None = None  # seconds to the first content token
    tokens: int = 0  # completion tokens (usage when sent, else content chunks)
    error: str | None = None


# ---------------------------------------------------------------- pure statistics

def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(samples: list[Sample], wall_seconds: float) -> dict:
    ok = [s for s in samples if s.ok]
    ttfts = [s.ttft for s in ok if s.ttft is not None]
    decode_rates = [s.tokens / (s.latency - s.ttft) for s in ok if s.ttft is not None and s.latency > s.ttft]
    tokens = sum(s.tokens for s in ok)
    return {
        "requests": len(samples),
        "errors": len(samples) - len(ok),
        "tokens": tokens,
        "wall_seconds": wall_seconds,
        "total_tok_s": tokens / wall_seconds if wall_seconds > 0 else 0.0,
        "per_user_tok_s": sum(decode_rates) / len(decode_rates) if decode_rates else None,
        "ttft_p50": percentile(ttfts, 50),
        "ttft_p95": percentile(ttfts, 95),
        "latency_p50": percentile([s.latency for s in ok], 50),
        "latency_p95": percentile([s.latency for s in ok], 95),
        "error_messages": sorted({s.error for s in samples if s.error})[:5],
    }


def saturation_index(totals: list[float], growth: float = SATURATION_GROWTH) -> int | None:
    """Index of the level after which total throughput stops growing by more than `growth`.

    [20, 38, 40, 41] → 1: going from the 2nd to the 3rd level gained only 5 %. None when every step
    still grew (not saturated within the levels tried)."""
    for i in range(1, len(totals)):
        if totals[i] <= totals[i - 1] * (1 + growth):
            return i - 1
    return None


def poisson_arrivals(rate: float, duration: float, rng: random.Random) -> list[float]:
    """Arrival offsets (seconds) of a Poisson process with `rate` per second within `duration`."""
    if rate <= 0 or duration <= 0:
        raise ValueError(f"rate ({rate}) and duration ({duration}) must be positive")
    times, t = [], rng.expovariate(rate)
    while t < duration:
        times.append(t)
        t += rng.expovariate(rate)
    return times


def parse_levels(text: str, kind: type, option: str) -> list:
    try:
        levels = [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected comma-separated numbers, e.g. 1,2,4", param_hint=option) from None
    if not levels or any(v <= 0 for v in levels):
        raise click.BadParameter(f"{text!r}: give one or more positive numbers", param_hint=option)
    return levels


# ---------------------------------------------------------------- load generation

@dataclass
class Workload:
    client: openai.OpenAI
    model: str
    messages: list[dict]
    max_tokens: int
    temperature: float

    def one(self) -> Sample:
        started = time.perf_counter()
        ttft, chunks, usage_tokens, finish = None, 0, None, None
        try:
            stream = self.client.chat.completions.create(
                model=self.model, messages=self.messages, max_tokens=self.max_tokens,
                temperature=self.temperature, stream=True, stream_options={"include_usage": True})
            with stream:
                for chunk in stream:
                    if chunk.usage is not None:
                        usage_tokens = chunk.usage.completion_tokens
                    if chunk.choices and chunk.choices[0].delta.content:
                        ttft = ttft if ttft is not None else time.perf_counter() - started
                        chunks += 1
                    if chunk.choices and chunk.choices[0].finish_reason:
                        finish = chunk.choices[0].finish_reason
        except openai.OpenAIError as exc:  # counted as an error of this level, not raised
            return Sample(False, time.perf_counter() - started, error=f"{type(exc).__name__}: {str(exc)[:200]}")
        if finish is None:  # a cut stream is a failure, not a short answer
            return Sample(False, time.perf_counter() - started, ttft, chunks, "stream ended without a finish_reason")
        return Sample(True, time.perf_counter() - started, ttft, usage_tokens if usage_tokens is not None else chunks)


def run_closed_loop(work: Workload, concurrency: int, requests_per_stream: int, duration: float | None):
    """N streams, each sending its next request as soon as the previous one ends."""
    samples: list[Sample] = []
    lock = threading.Lock()
    started = time.perf_counter()

    def stream() -> None:
        sent = 0
        while (duration is None and sent < requests_per_stream) or (
                duration is not None and time.perf_counter() - started < duration):
            sample = work.one()
            sent += 1
            with lock:
                samples.append(sample)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(stream) for _ in range(concurrency)]:
            future.result()
    return samples, time.perf_counter() - started


def run_open_loop(work: Workload, rate: float, duration: float, seed: int):
    """Requests at Poisson arrival times, each on its own thread, whether or not earlier ones finished."""
    arrivals = poisson_arrivals(rate, duration, random.Random(seed))
    started = time.perf_counter()

    def at(offset: float) -> Sample:
        time.sleep(max(0.0, offset - (time.perf_counter() - started)))
        return work.one()

    with ThreadPoolExecutor(max_workers=max(1, min(len(arrivals), 256))) as pool:
        samples = [f.result() for f in [pool.submit(at, t) for t in arrivals]]
    return samples, time.perf_counter() - started


# ---------------------------------------------------------------- output

def _fmt(value, digits=2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render_table(levels: list[dict], label: str, saturation: int | None) -> Table:
    """The brief table; fits 80 columns. Everything else (request counts, messages) is in the JSON."""
    table = Table(title=f"tfagent bench ({label}; * = saturation)")
    for col in ({"concurrency": "streams"}.get(label, "req/s"), "total tok/s", "user tok/s", "TTFT p50", "TTFT p95", "lat p50", "lat p95", "err"):
        table.add_column(col, justify="right")
    for i, lv in enumerate(levels):
        mark = "*" if i == saturation else ""
        table.add_row(f"{lv['level']:g}{mark}", _fmt(lv["total_tok_s"], 1), _fmt(lv["per_user_tok_s"], 1),
                      _fmt(lv["ttft_p50"]), _fmt(lv["ttft_p95"]), _fmt(lv["latency_p50"]), _fmt(lv["latency_p95"]),
                      str(lv["errors"]))
    return table


def save_plot(levels: list[dict], label: str, saturation: int | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt

    xs = [lv["level"] for lv in levels]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(xs, [lv["total_tok_s"] for lv in levels], "o-", label="total tok/s")
    ax1.plot(xs, [lv["per_user_tok_s"] or 0 for lv in levels], "s--", label="per-user tok/s")
    if saturation is not None:
        ax1.axvline(xs[saturation], color="grey", linestyle=":", label="saturation")
    ax2.plot(xs, [lv["ttft_p50"] or 0 for lv in levels], "o-", label="TTFT p50")
    ax2.plot(xs, [lv["ttft_p95"] or 0 for lv in levels], "s--", label="TTFT p95")
    for ax, ylabel in ((ax1, "tokens / s"), (ax2, "seconds")):
        ax.set_xlabel(label)
        ax.set_ylabel(ylabel)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
