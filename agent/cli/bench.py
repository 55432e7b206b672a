"""`tfagent bench ENDPOINT`: the command over agent/serving/bench.py (load generation, statistics, table, plot)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import openai

from tfagent import prompts
from tfagent.agent.cli.console import make_console
from tfagent.agent.serving.bench import (Workload, parse_levels, render_table, run_closed_loop, run_open_loop, saturation_index,
                                         save_plot, summarize)


def _endpoint(name_or_url: str, model: str | None):
    from tfagent.agent.core.config import ConfigError, load_config, resolve_endpoint

    try:
        if name_or_url.startswith(("http://", "https://")):
            return resolve_endpoint(load_config(), base_url=name_or_url, model=model)
        return resolve_endpoint(load_config(), name=name_or_url, model=model)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@click.command("bench")
@click.argument("endpoint")
@click.option("--model", default=None, help="Model name (when ENDPOINT is a URL).")
@click.option("--concurrency", default="1,2,4,8", show_default=True, help="Closed-loop stream counts.")
@click.option("--requests", "requests_per_stream", default=4, show_default=True, help="Requests per stream.")
@click.option("--duration", type=float, default=None, help="Seconds per level (instead of --requests).")
@click.option("--open-loop", is_flag=True, help="Poisson arrivals at --rate instead of closed-loop streams.")
@click.option("--rate", default="0.5,1,2", show_default=True, help="Open-loop arrival rates (requests/s).")
@click.option("--max-tokens", default=128, show_default=True)
@click.option("--temperature", default=0.0, show_default=True)
@click.option("--seed", default=7, show_default=True, help="Seed of the Poisson arrivals.")
@click.option("--timeout", default=600.0, show_default=True, help="Per-request timeout, seconds.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("bench-results"),
              show_default=True)
def bench_command(endpoint, model, concurrency, requests_per_stream, duration, open_loop, rate, max_tokens,
                  temperature, seed, timeout, out_dir):
    """Measure ENDPOINT (a configured name or a base URL): tok/s, TTFT and latency percentiles, errors."""
    ep = _endpoint(endpoint, model)
    if open_loop and duration is None:
        raise click.UsageError("--open-loop needs --duration SECONDS")
    prompt = prompts.render("bench")
    client = openai.OpenAI(base_url=ep.base_url, api_key=ep.api_key or "not-needed", max_retries=0, timeout=timeout)
    work = Workload(client, ep.model, [{"role": "user", "content": prompt}], max_tokens, temperature)
    label = "rate req/s" if open_loop else "concurrency"
    values = parse_levels(rate, float, "--rate") if open_loop else parse_levels(concurrency, int, "--concurrency")
    console = make_console()
    levels = []
    for value in values:
        console.print(f"{label} {value:g} …", highlight=False)
        samples, wall = (run_open_loop(work, value, duration, seed) if open_loop
                         else run_closed_loop(work, value, requests_per_stream, duration))
        levels.append({"level": value, **summarize(samples, wall)})
    saturation = saturation_index([lv["total_tok_s"] for lv in levels])
    console.print(render_table(levels, label, saturation))
    console.print(f"saturation: {label} {levels[saturation]['level']:g} (total tok/s grows ≤ 10 % beyond it)"
                  if saturation is not None else "saturation: not reached at the levels tried", highlight=False)
    console.print(f"fixed prompt: prompts/bench.md ({len(prompt)} chars), max_tokens {max_tokens}, "
                  f"temperature {temperature}", highlight=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {"endpoint": ep.public_dict(), "mode": "open" if open_loop else "closed", "prompt": prompt,
                "max_tokens": max_tokens, "temperature": temperature, "requests_per_stream": requests_per_stream,
                "duration": duration, "seed": seed, "levels": levels,
                "saturation_level": levels[saturation]["level"] if saturation is not None else None}
    (out_dir / "bench.json").write_text(json.dumps(document, indent=2))
    save_plot(levels, label, saturation, out_dir / "bench.png")
    console.print(f"saved {out_dir / 'bench.json'} and {out_dir / 'bench.png'}", highlight=False)

