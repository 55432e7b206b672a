"""`tfagent eval ladder`: quantize a ladder, serve each quant, run a suite with retries against all of
them (the highest-bpw quant as the reference), and write the ladder report.

Resumable after kill -9 at any point, because every step is idempotent and stored as it ends:
- quantization: a rung exists only when its GGUF and marker do (ladder_quant);
- serving: a server is named after the ladder (``ladder-<key>-<type>``) and recorded by
  ``tfagent serve``'s records; a server a killed run left behind is stopped before its rung runs again;
- cells: the eval store keeps every attempt and verdict (evals.runner), under one run id for the whole
  ladder, so re-running the command continues exactly where it stopped.
Wall time is accounted per phase in ``ladder-state.json`` next to the report, summed over invocations.

Layouts: ``sequential`` (a CPU box: one server at a time with every core) or ``side-by-side`` (a GPU
box, or a CPU box with the cores divided: all servers at once, the eval's pools run in parallel).
``--endpoints`` skips quantizing and serving and measures servers that already run.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from tfagent.agent.core.defaults import MAX_ATTEMPTS, SERVE_CTX, SERVE_READY_TIMEOUT, SERVE_SPEC, reply_cap
from tfagent.agent.core.types import Endpoint
from tfagent.agent.core.output import atomic_write
from tfagent.evals.ladder_quant import Rung, build_ladder, rung_dir
from tfagent.evals.runner import EvalPlan, EvalRunner, run_id_of, run_spec
from tfagent.evals.store import Store
from tfagent.evals.suite import Suite, Task

Log = Callable[[str], None]
LAYOUTS = ("auto", "sequential", "side-by-side")


@dataclass
class LadderOptions:
    suite: Suite
    tasks: list[Task]
    out: Path
    max_attempts: int = MAX_ATTEMPTS
    samples: int = 1
    parallel: int = 2  # slots per server = requests in flight per server
    ctx: int = SERVE_CTX  # per slot
    threads: int | None = None
    gpu_layers: int | None = None
    layout: str = "auto"
    spec: str = SERVE_SPEC
    backend: str = "auto"
    provider_mirror: Path | None = None
    ready_timeout: float = SERVE_READY_TIMEOUT
    max_tokens: int | None = None  # default: a quarter of the context, as `tfagent serve` registers
    db: Path | None = None
    quant_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    defaults: dict = field(default_factory=dict)  # the config's [defaults]: cells verify as a CLI run would
    judge: str = "both"  # which verdicts the report shows (strict, fair, both); cells store both

    @property
    def store_path(self) -> Path:
        return self.db or self.out / "ladder.db"

    def resolved_layout(self) -> str:
        if self.layout == "auto":
            return "side-by-side" if self.gpu_layers else "sequential"
        return self.layout


class PhaseClock:
    """Seconds per phase, persisted after each phase (a kill loses at most the phase in flight)."""

    def __init__(self, path: Path):
        self.path = path
        self.data = json.loads(path.read_text()) if path.is_file() else {"invocations": []}
        self.current = {"started": time.time(), "phases": {}}
        self.data["invocations"].append(self.current)

    def phase(self, name: str, seconds: float) -> None:
        phases = self.current["phases"]
        phases[name] = round(phases.get(name, 0.0) + seconds, 2)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(self.data, indent=2))

    def totals(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for inv in self.data["invocations"]:
            for name, seconds in inv["phases"].items():
                total[name] = round(total.get(name, 0.0) + seconds, 2)
        return total


def request_params(opts: LadderOptions) -> dict:
    # Deterministic decoding, so quants differ by their weights, not by sampling luck.
    return {"temperature": 0.0, "seed": 0, "max_tokens": opts.max_tokens or reply_cap(opts.ctx)}


def ladder_plan(opts: LadderOptions, endpoints: list[Endpoint]) -> EvalPlan:
    reference = max((e for e in endpoints if e.bpw is not None), key=lambda e: e.bpw, default=endpoints[0]).name
    return EvalPlan(suite=opts.suite, tasks=opts.tasks, endpoints=endpoints, samples=opts.samples,
                    max_attempts=opts.max_attempts, concurrency=opts.parallel, provider_mirror=opts.provider_mirror,
                    reference=reference, defaults=dict(opts.defaults))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_name(key: str, qtype: str) -> str:
    return f"ladder-{key}-{qtype.lower()}"


def _stop_leftover(name: str, log: Log) -> None:
    """A server a killed ladder run left behind (same name): stop it before serving the rung again."""
    from tfagent.agent.serving.records import forget, read_record, record_alive, stop_group

    record = read_record(name)
    if record is None:
        return
    if record_alive(record):
        log(f"{name}: stopping the server a previous (killed) run left at {record['base_url']}")
        stop_group(record["pgid"], record["pid"])
    forget(name)


def _serve(rungs: list[Rung], key: str, opts: LadderOptions, log: Log, shares) -> list:
    from tfagent.agent.serving.serve import ServeOptions, launch

    running = []
    for rung, share in zip(rungs, shares):
        name = server_name(key, rung.qtype)
        serve_opts = ServeOptions(port=_free_port(), ctx=opts.ctx, threads=share.threads if share else (opts.threads or _cores()),
                                  parallel=opts.parallel, gpu_layers=opts.gpu_layers, spec=opts.spec,
                                  backend=opts.backend, cpu=share)
        echo = lambda message, err=False: log(message)  # noqa: E731 - launch's echo signature
        running.append(launch(rung.path, name, alias_of(rung), serve_opts, ready_timeout=opts.ready_timeout, echo=echo))
    return running


def _stop(running: list) -> None:
    from tfagent.agent.serving.records import forget, stop_group

    for server in running:
        stop_group(server.proc.pid, server.proc.pid)
        forget(server.name)


def alias_of(rung: Rung) -> str:
    return rung.path.stem if rung.qtype.lower() in rung.path.stem.lower() else f"{rung.path.stem}-{rung.qtype}"


def _run_cells(plan: EvalPlan, endpoints: list[Endpoint], store: Store, run_id: str, opts: LadderOptions, on_cell):
    """Run ``endpoints``' cells of the ladder's run (one run id for the whole ladder)."""
    sub = replace(plan, endpoints=endpoints, reference=None)
    runner = EvalRunner(sub, store, ready_timeout=opts.ready_timeout, on_cell=on_cell)
    runner.run_id = run_id  # the cells belong to the ladder's run, not to a one-quant run
    return runner.run()


def _pending(store: Store, run_id: str, plan: EvalPlan, name: str) -> int:
    judged = {k for k in store.judged_cells(run_id) if k.endpoint == name}
    return plan.samples * len(plan.tasks) - len(judged)


def run_ladder(source: Path | None, types: list[str], opts: LadderOptions, *, endpoints: list[Endpoint] | None = None,
               log: Log = print, on_cell=None) -> dict:
    """The whole experiment; returns {"run_id", "errors", "paths", "rungs", "notes"}."""
    from tfagent.agent.core.config import cache_dir

    opts.out.mkdir(parents=True, exist_ok=True)
    clock = PhaseClock(opts.out / "ladder-state.json")
    rungs: list[Rung] = []
    notes = list(opts.notes)
    if endpoints is None:
        if source is None:
            raise ValueError("give a GGUF or --endpoints")
        started = time.monotonic()
        where = opts.quant_dir or rung_dir(Path(cache_dir()) / "ladders", source)
        threads = opts.threads or _cores()
        rungs, quant_notes = build_ladder(source, types, where, threads=threads, log=log)
        notes += quant_notes
        clock.phase("quantize", time.monotonic() - started)
        if not rungs:
            raise ValueError("no rung of the ladder could be made: " + "; ".join(notes))
        endpoints = [Endpoint(name=r.qtype, base_url="http://127.0.0.1:0/v1", model=alias_of(r), bpw=r.bpw,
                              params=request_params(opts)) for r in rungs]
        key = where.name.rsplit("-", 1)[-1][:6]
        for rung in rungs:  # servers a killed run left behind, also of rungs that need no more cells
            _stop_leftover(server_name(key, rung.qtype), log)
    plan = ladder_plan(opts, endpoints)
    run_id = run_id_of(plan)
    errors = []
    with Store(opts.store_path) as store:
        store.ensure_run(run_id, plan.suite.name, {
            **run_spec(plan), "suite_path": str(plan.suite.path), "attribution": plan.suite.attribution,
            "ladder": {"source": str(source) if source else None, "rungs": [r.to_dict() for r in rungs],
                       "layout": opts.resolved_layout() if rungs else "endpoints", "reference": plan.reference}})
        if not rungs:
            started = time.monotonic()
            errors += _run_cells(plan, plan.endpoints, store, run_id, opts, on_cell).errors
            clock.phase("eval", time.monotonic() - started)
        elif opts.resolved_layout() == "side-by-side":
            errors += _side_by_side(plan, rungs, key, store, run_id, opts, clock, log, on_cell)
        else:
            for rung, endpoint in zip(rungs, plan.endpoints):
                if _pending(store, run_id, plan, endpoint.name) <= 0:
                    log(f"{rung.qtype}: every cell already done (resumed)")
                    continue
                errors += _one_rung(plan, rung, endpoint, key, store, run_id, opts, clock, log, on_cell)
        started = time.monotonic()
        from tfagent.evals.report_ladder import write_ladder_report

        paths = write_ladder_report(store, run_id, opts.out, notes=notes, phases=clock.totals(), judge=opts.judge)
        clock.phase("report", time.monotonic() - started)
    return {"run_id": run_id, "errors": errors, "paths": paths, "rungs": rungs, "notes": notes}


def _cores() -> int:
    from tfagent.agent.serving.cpu import usable_cores

    return usable_cores()


def _one_rung(plan, rung, endpoint, key, store, run_id, opts, clock, log, on_cell) -> list:
    started = time.monotonic()
    running = _serve([rung], key, opts, log, [None])
    clock.phase(f"serve {rung.qtype}", time.monotonic() - started)
    try:
        started = time.monotonic()
        live = replace(endpoint, base_url=running[0].base_url)
        outcome = _run_cells(plan, [live], store, run_id, opts, on_cell)
        clock.phase(f"eval {rung.qtype}", time.monotonic() - started)
        return outcome.errors
    finally:
        _stop(running)


def _side_by_side(plan, rungs, key, store, run_id, opts, clock, log, on_cell) -> list:
    from tfagent.agent.serving.serve import ServeOptions, cpu_shares

    todo = [(r, e) for r, e in zip(rungs, plan.endpoints) if _pending(store, run_id, plan, e.name) > 0]
    if not todo:
        return []
    started = time.monotonic()
    shares = cpu_shares(len(todo), ServeOptions(threads=opts.threads, gpu_layers=opts.gpu_layers))
    running = _serve([r for r, _ in todo], key, opts, log, shares)
    clock.phase("serve side-by-side", time.monotonic() - started)
    try:
        started = time.monotonic()
        live = [replace(e, base_url=s.base_url) for (_, e), s in zip(todo, running)]
        outcome = _run_cells(plan, live, store, run_id, opts, on_cell)
        clock.phase("eval side-by-side", time.monotonic() - started)
        return outcome.errors
    finally:
        _stop(running)
