"""`tfagent serve` and `tfagent quantize`: run a GGUF behind an OpenAI-compatible server on this machine.

Backends, best first: llama.cpp's `llama-server` (on PATH, else the portable build that
scripts/build_llama_server.sh caches; see agent/serving/backends/llama_server.py: parallel slots,
n-gram speculation, GPU offload, KV cache types, --jinja), else llama-cpp-python's server (the
`tfagent[local]` extra). On a CPU-only machine the cores are divided between the servers of a ladder
(agent/serving/cpu.py): never more inference threads than cores.
The server runs in its own process group so stopping it (Ctrl-C, SIGTERM, `--stop NAME`) kills every
process it started and leaves no orphan. Each running server has a record in `<state_dir>/servers/`
(agent/serving/records.py: the records, liveness, stopping a process group) and, while it runs, an
endpoint in the user config so `tfagent --endpoint NAME` and `tfagent eval` find it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import httpx

from tfagent.agent.core import config
from tfagent.agent.core.defaults import SERVE_CACHE_TYPE, SERVE_CTX, SERVE_HOST, SERVE_PORT, SERVE_READY_TIMEOUT, SERVE_SPEC
from tfagent.agent.core.defaults import reply_cap
from tfagent.agent.core.exits import EXIT_USAGE
from tfagent.agent.serving.gguf_info import KV_TYPES, GGUFInfoError, estimate_memory, format_bytes, parse_size, read_gguf_info
from tfagent.agent.serving.backends.base import discover as discover_backends
from tfagent.agent.serving.backends.base import load_errors as backend_load_errors
from tfagent.agent.serving.backends.llama_server import SPEC_CHOICES
from tfagent.agent.serving.cpu import CpuShare, CpuShareError, core_ids, divide_cores
from tfagent.agent.serving.records import forget, read_record, record_alive, servers_dir, start_time, stop_group
from tfagent.agent.serving.records import write_record


class ServeError(click.ClickException):
    """A serve/quantize failure the user can act on; exit code 2 (usage/config/bad input)."""

    exit_code = EXIT_USAGE


@dataclass
class ServeOptions:
    host: str = SERVE_HOST
    port: int = SERVE_PORT
    ctx: int = SERVE_CTX  # per parallel slot
    threads: int | None = None
    parallel: int = 1
    gpu_layers: int | None = None
    cache_type_k: str = SERVE_CACHE_TYPE
    cache_type_v: str = SERVE_CACHE_TYPE
    tensor_split: str | None = None
    jinja: bool = False
    spec: str = SERVE_SPEC  # n-gram speculation (llama-server only; lossless, no draft model)
    backend: str = "auto"
    cpu: CpuShare | None = None  # this server's share of a CPU-only machine (pinned cores)
    extra_notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- backend and command line

def find_backend(choice: str = "auto") -> str:
    """The registered backend to run: `choice`, or under auto the first available by preference."""
    known = discover_backends()
    if choice != "auto":
        if choice not in known and choice in backend_load_errors:
            raise ServeError(f"--backend {choice}: {backend_load_errors[choice]}")
        if choice not in known:
            raise ServeError(f"--backend {choice!r} is not a registered server backend "
                             f"(known: auto, {', '.join(known) or 'none'})")
        ok, why = known[choice].available()
        if not ok:
            raise ServeError(f"--backend {choice}: {why}")
        return choice
    reasons = []
    for name, backend in known.items():
        ok, why = backend.available()
        if ok:
            return name
        reasons.append(f"{name}: {why}")
    raise ServeError("no local model server found — " + "; ".join(reasons or ["no backend registered"]))


def backend_origin(backend: str) -> str:
    return discover_backends()[backend].origin()


def server_argv(backend: str, model: Path, alias: str, opts: ServeOptions) -> list[str]:
    """The server's command line. Pure: tested without starting anything."""
    return discover_backends()[backend].argv(model, alias, opts)


def backend_notes(backend: str, opts: ServeOptions) -> list[str]:
    """What the chosen backend will not do as asked (said once, not silently dropped)."""
    return discover_backends()[backend].notes(opts)


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as the server will use it: a TIME_WAIT leftover is not "in use", a listener is.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ServeError(f"port {port} on {host} is already in use ({exc.strerror}); pick another with --port") from None


# ---------------------------------------------------------------- stopping

def stop_server(name: str) -> dict:
    record = read_record(name)
    if record is None:
        known = ", ".join(sorted(p.stem for p in servers_dir().glob("*.json"))) or "none"
        raise ServeError(f"no server named {name!r} is running (known: {known})")
    if record_alive(record):
        stop_group(record["pgid"], record["pid"])
    forget(name)
    return record


# ---------------------------------------------------------------- launching

@dataclass
class Running:
    name: str
    proc: subprocess.Popen
    base_url: str
    alias: str
    bpw: float
    described: str = ""  # "backend NAME (what runs); CPU share" — printed after the URL line


def launch(model: Path, name: str, alias: str, opts: ServeOptions, *, ready_timeout: float, echo=click.echo) -> Running:
    """Start one server, wait until it answers, record and register it."""
    info = _gguf_info(model)
    existing = read_record(name)
    if existing and record_alive(existing):
        raise ServeError(f"a server named {name!r} already runs at {existing['base_url']}; "
                         f"stop it with `tfagent serve --stop {name}`")
    check_port_free(opts.host, opts.port)
    backend = find_backend(opts.backend)
    described = f"backend {backend} ({backend_origin(backend)})" + _cpu_text(opts.cpu)
    for note in backend_notes(backend, opts):
        echo(f"note: {note}", err=True)
    log_path = servers_dir() / f"{name}.log"
    pinned = _pinning(opts.cpu)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(server_argv(backend, model, alias, opts), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,  # own group: one kill stops all
                                preexec_fn=(lambda: os.sched_setaffinity(0, pinned)) if pinned else None)
    base_url = f"http://{opts.host}:{opts.port}/v1"
    record = {"name": name, "pid": proc.pid, "pgid": proc.pid, "start_time": start_time(proc.pid),
              "base_url": base_url, "model": alias, "gguf": str(model), "backend": backend, "log": str(log_path),
              "parallel": opts.parallel, "spec": opts.spec if backend == "llama-server" else "off",
              "cpu": opts.cpu.to_dict() if opts.cpu else None}
    write_record(record)
    try:
        wait_until_ready(proc, base_url, ready_timeout, log_path)
        config.register_endpoint(name, {"base_url": base_url, "model": alias, "bpw": round(info.bpw, 3),
                                        "max_tokens": reply_cap(opts.ctx)})
    except BaseException:
        stop_group(proc.pid, proc.pid)
        forget(name)
        raise
    return Running(name, proc, base_url, alias, info.bpw, described)


def _pinning(share: CpuShare | None) -> set[int] | None:
    """The cores a shared server is pinned to (None: not shared, let the kernel schedule)."""
    if share is None or not share.shared:
        return None
    ids = core_ids()
    return set(ids[share.first_core:share.last_core + 1])


def _cpu_text(share: CpuShare | None) -> str:
    if share is None:
        return ""
    where = f", pinned to cores {share.first_core}-{share.last_core}" if share.shared else ""
    return f"; {share.threads} thread(s) of {share.cores} core(s){where}"


def cpu_shares(count: int, opts: ServeOptions) -> list[CpuShare | None]:
    """Each server's share of the CPU; None for all when layers go to a GPU (threads matter little)."""
    if opts.gpu_layers:
        return [None] * count
    try:
        return list(divide_cores(count, threads=opts.threads))
    except CpuShareError as exc:
        raise ServeError(str(exc)) from None


def wait_until_ready(proc: subprocess.Popen, base_url: str, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"the model server exited with code {proc.returncode} before it was ready; "
                                       f"last lines of {log_path}:\n{_tail(log_path)}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet: keep polling until the deadline
        time.sleep(0.2)
    raise click.ClickException(f"the model server at {base_url} was not ready after {timeout:.0f} s; see {log_path}")


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _gguf_info(model: Path):
    try:
        return read_gguf_info(model)
    except GGUFInfoError as exc:
        raise ServeError(str(exc)) from None


def _interrupt_on_sigterm(signum, frame):
    raise KeyboardInterrupt  # SIGTERM takes the same clean-up path as Ctrl-C


def wait_for_first_exit(servers: list[Running], echo=click.echo) -> int:
    """Block until a server dies (1) — Ctrl-C / SIGTERM arrive as KeyboardInterrupt to the caller."""
    while True:
        for s in servers:
            if s.proc.poll() is not None:
                echo(f"server {s.name} exited with code {s.proc.returncode}; see {servers_dir() / s.name}.log", err=True)
                return 1
        time.sleep(0.5)


def run_servers(models: list[Path], opts: ServeOptions, alias: str | None, name: str | None, *, detach: bool,
                ready_timeout: float) -> int:
    """Start every model (a ladder is all or nothing), then hold them in the foreground or detach.

    The SIGTERM handler is installed before the first start so an interrupt at any moment — while
    loading, or while serving — stops every process already started and leaves no record behind."""
    running: list[Running] = []
    keep_running = False
    previous = signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    # A shell starts background jobs with SIGINT ignored, and Python then keeps it ignored: restore Ctrl-C
    # explicitly so `kill -INT` stops a foreground server however it was started.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    shares = cpu_shares(len(models), opts)
    try:
        for i, path in enumerate(models):
            the_alias = alias or path.stem
            share = shares[i]
            one = ServeOptions(**{**opts.__dict__, "port": opts.port + i, "cpu": share,
                                  "threads": share.threads if share else opts.threads})
            running.append(launch(path.resolve(), name or the_alias, the_alias, one, ready_timeout=ready_timeout))
            click.echo(f"{running[-1].name}: {running[-1].base_url}  (model {the_alias}, {running[-1].bpw:.2f} bpw)")
            click.echo(f"{running[-1].name}: {running[-1].described}", err=True)
        if detach:
            keep_running = True
            click.echo(f"detached; stop with: tfagent serve --stop {running[0].name if len(running) == 1 else 'all'}")
            return 0
        click.echo("serving; Ctrl-C to stop", err=True)
        return wait_for_first_exit(running)
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        if not keep_running:
            for r in running:
                stop_group(r.proc.pid, r.proc.pid)
                forget(r.name)


# ---------------------------------------------------------------- the commands

def _print_estimate(model: Path, opts: ServeOptions, budget: str | None, echo=click.echo) -> bool:
    info = _gguf_info(model)
    try:
        est = estimate_memory(info, opts.ctx, opts.parallel, opts.cache_type_k, opts.cache_type_v)
        budget_bytes = parse_size(budget) if budget else None
    except GGUFInfoError as exc:
        raise ServeError(str(exc)) from None
    echo(f"{model.name}: {info.architecture}, {info.param_count:,} parameters, {info.bpw:.2f} bits/weight")
    echo(f"  layers {info.n_layer}, KV heads {info.n_head_kv}, head dim {info.head_dim_k}/{info.head_dim_v}")
    echo(f"  weights   {format_bytes(est.weights_bytes)}")
    echo(f"  KV cache  {format_bytes(est.kv_bytes)}  (ctx {est.ctx} × {est.parallel} slot(s), "
         f"K {est.cache_type_k}, V {est.cache_type_v})")
    echo(f"  total     {format_bytes(est.total_bytes)}  (compute buffers not included)")
    if budget_bytes is None:
        return True
    fits = est.fits(budget_bytes)
    echo(f"  {'fits' if fits else 'does NOT fit'} in {budget} ({format_bytes(budget_bytes)})")
    return fits


@click.command("serve")
@click.argument("model", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--port", default=SERVE_PORT, show_default=True, help="Port (a ladder uses consecutive ports from here).")
@click.option("--host", default=SERVE_HOST, show_default=True)
@click.option("--ctx", default=SERVE_CTX, show_default=True, help="Context tokens per request (per parallel slot).")
@click.option("--threads", type=int, default=None, help="CPU threads (backend default when omitted).")
@click.option("--alias", default=None, help="Model name the server announces (default: file stem).")
@click.option("--name", default=None, help="Endpoint name to register (default: the alias).")
@click.option("--parallel", default=1, show_default=True,
              help="Parallel request slots with continuous batching, each with its own --ctx (llama-server).")
@click.option("--spec", type=click.Choice(SPEC_CHOICES), default=SERVE_SPEC, show_default=True,
              help="Speculative decoding from n-grams of the prompt (lossless, no draft model; llama-server).")
@click.option("--backend", default="auto", show_default=True,
              help="Server backend (entry points tfagent.serving_backends; auto: llama-server when built or on "
                   "PATH, else llama-cpp-python).")
@click.option("--gpu-layers", type=int, default=None, help="Layers to offload to the GPU.")
@click.option("--cache-type-k", type=click.Choice(KV_TYPES), default=SERVE_CACHE_TYPE, show_default=True)
@click.option("--cache-type-v", type=click.Choice(KV_TYPES), default=SERVE_CACHE_TYPE, show_default=True)
@click.option("--tensor-split", default=None, help="GPU split proportions, e.g. 3,1.")
@click.option("--jinja", is_flag=True, help="Use the GGUF's Jinja chat template (llama-server).")
@click.option("--detach", is_flag=True, help="Return once ready; stop later with --stop NAME.")
@click.option("--stop", "stop_name", default=None, metavar="NAME", help="Stop a server started with --detach.")
@click.option("--ladder", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Serve every *.gguf in DIR on consecutive ports.")
@click.option("--dry-run", is_flag=True, help="Print the memory estimate and exit (1 when over --memory).")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: one JSON document.")
@click.option("--memory", default=None, help="Memory budget for --dry-run, e.g. 24GiB.")
@click.option("--ready-timeout", default=SERVE_READY_TIMEOUT, show_default=True, help="Seconds to wait for the server.")
def serve_command(model, port, host, ctx, threads, alias, name, parallel, spec, backend, gpu_layers, cache_type_k,
                  cache_type_v, tensor_split, jinja, detach, stop_name, ladder, dry_run, as_json, memory, ready_timeout):
    """Serve MODEL.gguf (or a --ladder of them) on 127.0.0.1 and register it as an endpoint."""
    if stop_name:
        names = sorted(p.stem for p in servers_dir().glob("*.json")) if stop_name == "all" else [stop_name]
        for n in names:
            click.echo(f"stopped {n} ({stop_server(n)['base_url']})")
        return
    models = sorted(ladder.glob("*.gguf")) if ladder else [model] if model else []
    if not models:
        raise ServeError("give a MODEL.gguf, --ladder DIR (holding *.gguf) or --stop NAME")
    if ladder and (alias or name):
        raise ServeError("--alias/--name name a single server; a ladder names each endpoint after its file")
    if parallel < 1 or ctx < 1:
        raise ServeError(f"--parallel ({parallel}) and --ctx ({ctx}) must be positive")
    opts = ServeOptions(host=host, port=port, ctx=ctx, threads=threads, parallel=parallel, gpu_layers=gpu_layers,
                        cache_type_k=cache_type_k, cache_type_v=cache_type_v, tensor_split=tensor_split, jinja=jinja,
                        spec=spec, backend=backend)
    if as_json and not dry_run:
        raise ServeError("--json goes with --dry-run (a running server prints its endpoints)")
    if dry_run and as_json:
        from tfagent.agent.serving.dry_run import estimate_document

        try:
            document = estimate_document(models, opts, memory)
        except GGUFInfoError as exc:
            raise ServeError(str(exc)) from None
        click.echo(json.dumps(document, indent=2))
        sys.exit(0 if document["fits"] in (True, None) else 1)
    if dry_run:
        fits = all([_print_estimate(m, opts, memory) for m in models])
        sys.exit(0 if fits else 1)
    sys.exit(run_servers(models, opts, alias, name, detach=detach, ready_timeout=ready_timeout))
