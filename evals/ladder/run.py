"""`tfagent eval ladder`: quantize a ladder, serve each quant, run a suite with retries against all of
them (the highest-bpw quant as the reference), and write the ladder report.

Resumable after kill -9 at any point, because every step is idempotent and stored as it ends:
- quantization: a rung exists only when its GGUF and marker do (``quant.py``);
- serving: a server is named after the ladder (``ladder-<key>-<type>``) and recorded by
  ``tfagent serve``'s records; a server a killed run left behind is stopped before its rung runs again;
- cells: the eval store keeps every attempt and verdict (``running/runner.py``), under one run id for the whole
  ladder, so re-running the command continues exactly where it stopped.
Wall time is accounted per phase in ``ladder-state.json`` next to the report, summed over invocations.

Layouts: ``sequential`` (a CPU box: one server at a time with every core) or ``side-by-side`` (a GPU
box, or a CPU box with the cores divided: all servers at once, the eval's pools run in parallel).
``--endpoints`` skips quantizing and serving and measures servers that already run.

Strategy: every rung's endpoint carries the loop strategy of ``defaults.LADDER_STRATEGY`` (grounding,
feedback, constrain, the in-loop verify chain, candidates, autofix), each key overridable by its flag;
with ``--endpoints`` each endpoint keeps its own (config) strategy and only the flags given override it.
``baseline_on_ends`` adds, beside the top and the bottom rung, an arm ``<rung>-baseline`` on the same
server with ``defaults.BASELINE_STRATEGY`` (the default before issue 19), so the report shows what the strategy buys
at each end (``ladder/metrics.py`` ``baseline_pairs``); the reference stays the top rung's strategy arm.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from tfagent.agent.core.defaults import (BASELINE_STRATEGY, LADDER_STRATEGY, MAX_ATTEMPTS, SERVE_CTX,
                                        SERVE_READY_TIMEOUT, SERVE_SPEC, reply_cap)
from tfagent.agent.core.output import atomic_write
from tfagent.agent.core.types import Endpoint
from tfagent.evals.ladder.quant import LadderBuild, Rung, build_ladder, rung_dir
from tfagent.evals.running.runner import EvalPlan, EvalRunner, run_id_of, run_spec
from tfagent.evals.running.store import Store
from tfagent.evals.tasks.suite import Suite, Task

Log = Callable[[str], None]
LAYOUTS = ("auto", "sequential", "side-by-side")
BASELINE_SUFFIX = "-baseline"  # the arm with the old default strategy (before issue 19) beside a rung (--baseline-on-ends)
STRATEGY_FIELDS = ("grounding", "feedback", "constrain", "verify", "candidates", "autofix")  # Endpoint fields


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
    # The strategy flags that were given (STRATEGY_FIELDS → value): over LADDER_STRATEGY for rungs, over each
    # endpoint's own strategy with --endpoints. None or absent: not given.
    strategy: dict = field(default_factory=dict)
    baseline_on_ends: bool = False  # + "<rung>-baseline" arms with BASELINE_STRATEGY beside the top and bottom rung

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
        return _sum_phases(self.data)


def _sum_phases(data: dict) -> dict[str, float]:
    total: dict[str, float] = {}
    for inv in data["invocations"]:
        for name, seconds in inv["phases"].items():
            total[name] = round(total.get(name, 0.0) + seconds, 2)
    return total


def request_params(opts: LadderOptions) -> dict:
    # Deterministic decoding, so quants differ by their weights, not by sampling luck.
    return {"temperature": 0.0, "seed": 0, "max_tokens": opts.max_tokens or reply_cap(opts.ctx)}


def with_strategy(endpoint: Endpoint, strategy: dict) -> Endpoint:
    """``endpoint`` with the strategy's fields set (a None value leaves the endpoint's own)."""
    unknown = sorted(set(strategy) - set(STRATEGY_FIELDS))
    if unknown:
        raise ValueError(f"ladder strategy: unknown field(s) {', '.join(unknown)} (known: {', '.join(STRATEGY_FIELDS)})")
    changes = {k: (list(v) if k == "verify" else v) for k, v in strategy.items() if v is not None}
    if "verify" in changes and not changes["verify"]:
        raise ValueError(f"ladder strategy for {endpoint.name}: the verify chain is empty")
    return replace(endpoint, **changes)


def rung_strategy(opts: LadderOptions) -> dict:
    """The strategy every rung's endpoint gets: LADDER_STRATEGY with the flags given over it."""
    return {**LADDER_STRATEGY, **{k: v for k, v in opts.strategy.items() if v is not None}}


def _ends(endpoints: list[Endpoint]) -> list[str]:
    """The top and the bottom rung by bpw (one name when they coincide); in the given order when some
    endpoint has no bpw."""
    if all(e.bpw is not None for e in endpoints):
        top, bottom = max(endpoints, key=lambda e: e.bpw), min(endpoints, key=lambda e: e.bpw)
    else:
        top, bottom = endpoints[0], endpoints[-1]
    return [top.name] if top.name == bottom.name else [top.name, bottom.name]


def with_baselines(endpoints: list[Endpoint], on_ends: bool) -> tuple[list[Endpoint], dict[str, str]]:
    """The arms of the ladder in report order (each baseline right after its rung) and baseline → rung."""
    if not on_ends or not endpoints:
        return list(endpoints), {}
    ends = _ends(endpoints)
    arms: list[Endpoint] = []
    baselines: dict[str, str] = {}
    for endpoint in endpoints:
        arms.append(endpoint)
        if endpoint.name in ends:
            baseline = with_strategy(replace(endpoint, name=endpoint.name + BASELINE_SUFFIX), BASELINE_STRATEGY)
            arms.append(baseline)
            baselines[baseline.name] = endpoint.name
    return arms, baselines


def ladder_plan(opts: LadderOptions, endpoints: list[Endpoint], baselines: dict[str, str] | None = None) -> EvalPlan:
    """The eval plan of the ladder; the reference is the highest-bpw arm that is not a baseline."""
    arms = [e for e in endpoints if e.name not in (baselines or {})] or endpoints
    reference = max((e for e in arms if e.bpw is not None), key=lambda e: e.bpw, default=arms[0]).name
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
    """The whole experiment; returns {"run_id", "errors", "paths", "rungs", "notes", "baselines"}."""
    from tfagent.agent.core.config import cache_dir

    opts.out.mkdir(parents=True, exist_ok=True)
    clock = PhaseClock(opts.out / "ladder-state.json")
    rungs: list[Rung] = []
    notes = list(opts.notes)
    build = LadderBuild([], [])
    if endpoints is None:
        if source is None:
            raise ValueError("give a GGUF or --endpoints")
        started = time.monotonic()
        where = opts.quant_dir or rung_dir(Path(cache_dir()) / "ladders", source)
        threads = opts.threads or _cores()
        build = build_ladder(source, types, where, threads=threads, log=log)
        rungs = build.rungs
        notes += build.notes
        imatrix_now = build.imatrix.seconds_now if build.imatrix is not None else 0.0
        if imatrix_now:
            clock.phase("imatrix", imatrix_now)
        clock.phase("quantize", max(0.0, time.monotonic() - started - imatrix_now))
        if not rungs:
            raise ValueError("no rung of the ladder could be made: " + "; ".join(notes))
        strategy = rung_strategy(opts)
        endpoints = [with_strategy(Endpoint(name=r.qtype, base_url="http://127.0.0.1:0/v1", model=alias_of(r), bpw=r.bpw,
                                            params=request_params(opts)), strategy) for r in rungs]
        key = where.name.rsplit("-", 1)[-1][:6]
        for rung in rungs:  # servers a killed run left behind, also of rungs that need no more cells
            _stop_leftover(server_name(key, rung.qtype), log)
    else:
        strategy = {k: v for k, v in opts.strategy.items() if v is not None}
        endpoints = [with_strategy(e, strategy) for e in endpoints]
    endpoints, baselines = with_baselines(endpoints, opts.baseline_on_ends)
    plan = ladder_plan(opts, endpoints, baselines)
    run_id = run_id_of(plan)
    errors = []
    with Store(opts.store_path) as store:
        store.ensure_run(run_id, plan.suite.name, {
            **run_spec(plan), "suite_path": str(plan.suite.path), "attribution": plan.suite.attribution,
            "ladder": {"source": str(source) if source else None, "rungs": [r.to_dict() for r in rungs],
                       "layout": opts.resolved_layout() if rungs else "endpoints", "reference": plan.reference,
                       "strategy": _jsonable(strategy), "baselines": baselines, "notes": notes,
                       **({"baseline_strategy": _jsonable(BASELINE_STRATEGY)} if baselines else {}),
                       **({"imatrix": _imatrix_record(build)} if build.imatrix is not None else {})}})
        if not rungs:
            started = time.monotonic()
            errors += _run_cells(plan, plan.endpoints, store, run_id, opts, on_cell).errors
            clock.phase("eval", time.monotonic() - started)
        elif opts.resolved_layout() == "side-by-side":
            errors += _side_by_side(plan, rungs, baselines, key, store, run_id, opts, clock, log, on_cell)
        else:
            for rung in rungs:
                arms = arms_of(plan, rung, baselines)
                if sum(_pending(store, run_id, plan, e.name) for e in arms) <= 0:
                    log(f"{rung.qtype}: every cell already done (resumed)")
                    continue
                errors += _one_rung(plan, rung, arms, key, store, run_id, opts, clock, log, on_cell)
        started = time.monotonic()
        from tfagent.evals.ladder.report import write_ladder_report

        paths = write_ladder_report(store, run_id, opts.out, notes=notes, phases=clock.totals(), judge=opts.judge)
        clock.phase("report", time.monotonic() - started)
    return {"run_id": run_id, "errors": errors, "paths": paths, "rungs": rungs, "notes": notes, "baselines": baselines}


def arms_of(plan: EvalPlan, rung: Rung, baselines: dict[str, str]) -> list[Endpoint]:
    """The endpoints one rung's server serves: its strategy arm and, on the ends, its baseline arm."""
    return [e for e in plan.endpoints if e.name == rung.qtype or baselines.get(e.name) == rung.qtype]


def _jsonable(strategy: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in strategy.items()}


def _imatrix_record(build: LadderBuild) -> dict:
    """What the report says of the importance matrix (not this invocation's share of its time)."""
    record = build.imatrix.to_dict()
    record.pop("seconds_now")
    return record


def stored_phases(out: Path) -> dict[str, float]:
    """The wall-time phases ``ladder-state.json`` in ``out`` holds, summed over invocations ({} when none)."""
    path = out / "ladder-state.json"
    if not path.is_file():
        return {}
    try:
        return _sum_phases(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a ladder's wall-time accounting ({type(exc).__name__}: {exc})") from None


def _cores() -> int:
    from tfagent.agent.serving.cpu import usable_cores

    return usable_cores()


def _one_rung(plan, rung, arms, key, store, run_id, opts, clock, log, on_cell) -> list:
    started = time.monotonic()
    running = _serve([rung], key, opts, log, [None])
    clock.phase(f"serve {rung.qtype}", time.monotonic() - started)
    try:
        started = time.monotonic()
        live = [replace(e, base_url=running[0].base_url) for e in arms]
        outcome = _run_cells(plan, live, store, run_id, opts, on_cell)
        clock.phase(f"eval {rung.qtype}", time.monotonic() - started)
        return outcome.errors
    finally:
        _stop(running)


def _side_by_side(plan, rungs, baselines, key, store, run_id, opts, clock, log, on_cell) -> list:
    from tfagent.agent.serving.serve import ServeOptions, cpu_shares

    todo = [(r, arms_of(plan, r, baselines)) for r in rungs]
    todo = [(r, arms) for r, arms in todo if sum(_pending(store, run_id, plan, e.name) for e in arms) > 0]
    if not todo:
        return []
    started = time.monotonic()
    shares = cpu_shares(len(todo), ServeOptions(threads=opts.threads, gpu_layers=opts.gpu_layers))
    running = _serve([r for r, _ in todo], key, opts, log, shares)
    clock.phase("serve side-by-side", time.monotonic() - started)
    try:
        started = time.monotonic()
        live = [replace(e, base_url=s.base_url) for (_, arms), s in zip(todo, running) for e in arms]
        outcome = _run_cells(plan, live, store, run_id, opts, on_cell)
        clock.phase("eval side-by-side", time.monotonic() - started)
        return outcome.errors
    finally:
        _stop(running)
