"""The loop, wired with LangGraph:

    START → generate ─(reply has files)→ verify → record ─(verified)────────→ finish → END
                    └(cut off / no file / bad path)──→ record ─(attempts < max)→ generate
                                                              └(out of attempts)→ finish

Attempts are counted in state; LangGraph's recursion limit is set well above what ``max_attempts``
needs, so it never decides anything.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from tfagent.verifiers.registry import build_chain

from tfagent.agent.core.config import state_dir
from tfagent.agent.model.client import ModelClient
from tfagent.agent.model.errors import ServerUnreachable
from tfagent.agent.loop.folder import prepare as prepare_folder
from tfagent.agent.loop.nodes import EventSink, Runtime, first_messages
from tfagent.agent.loop.runs import new_run_id
from tfagent.agent.loop.state import AgentState, RunRequest, initial_state, is_done
from tfagent.agent.core.types import Attempt, RunResult


def build_graph(runtime: Runtime, checkpointer=None):
    max_attempts = runtime.request.max_attempts
    graph = StateGraph(AgentState)
    graph.add_node("generate", runtime.generate)
    graph.add_node("verify", runtime.verify)
    graph.add_node("record", runtime.record)
    graph.add_node("finish", lambda state: {})
    graph.add_edge(START, "generate")
    graph.add_conditional_edges(
        "generate", lambda s: "verify" if _has_change(s["pending"]) else "record",
        {"verify": "verify", "record": "record"},
    )
    graph.add_edge("verify", "record")
    graph.add_conditional_edges(
        "record", lambda s: "finish" if is_done(s, max_attempts) else "generate", {"finish": "finish", "generate": "generate"}
    )
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)


def run_agent(
    request: RunRequest,
    *,
    on_event: EventSink | None = None,
    checkpointer=None,
    history: list[Attempt] | None = None,
    resume: bool = False,
    client: ModelClient | None = None,
) -> RunResult:
    """Run the loop to a verdict. ``history``: attempts already done (the eval resumes from them
    without asking the model again). ``resume``: continue the checkpointed thread ``run_id``.
    ``client``: the caller's client for ``request.endpoint`` (kept open); else one for this run."""
    if request.max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if client is None:
        with ModelClient(request.endpoint) as own:
            return run_agent(request, on_event=on_event, checkpointer=checkpointer, history=history, resume=resume,
                             client=own)
    run_id = request.run_id or new_run_id()
    chain = build_chain(request.chain, request.requested, mode=request.mode)
    for name, why in chain.skipped.items():
        if on_event:
            on_event("skipped_verifier", {"name": name, "reason": why})
    runtime = Runtime(request, client, chain, (request.artifacts_root or state_dir() / "runs") / run_id, on_event)
    graph = build_graph(runtime, checkpointer)
    config: dict[str, Any] = {"configurable": {"thread_id": run_id}, "recursion_limit": 4 * request.max_attempts + 10}
    if request.folder is not None:  # --in: fit the folder to the server's context and verify it as it is, first
        prepare_folder(request, client, chain, runtime.run_dir, runtime.emit)
    fresh = not resume and not history  # the first request is built once the server answers (its context size)
    start = None if fresh else initial_state(first_messages(request), history)
    if resume:
        snapshot = graph.get_state(config) if checkpointer is not None else None
        if snapshot is None or not snapshot.values:
            raise ValueError(f"run {run_id} has no checkpoint to resume from")
        start = None if snapshot.next else snapshot.values
    if not fresh and start is not None and is_done(start, request.max_attempts):
        final: dict[str, Any] = dict(start)
    else:
        try:
            client.wait_ready(request.ready_timeout)
        except ServerUnreachable as exc:
            exc.before_first_request = True  # nothing was sent: the run is "unreachable", not "interrupted"
            raise
        if fresh:
            start = initial_state(runtime.first_messages(), None)
        final = graph.invoke(start, config)
    result = _result(run_id, request, chain, final)
    if on_event:
        on_event("run_done", {"result": result})
    return result


def _has_change(pending: dict[str, Any]) -> bool:
    """A reply worth verifying: files (with --in, or deletions) and nothing rejected."""
    return bool(pending["files"] or pending.get("deleted")) and not pending["reply_diagnostics"]


def _result(run_id: str, request: RunRequest, chain, final: dict[str, Any]) -> RunResult:
    attempts = [Attempt.from_dict(a) for a in final.get("attempts", [])]
    with_files = [a for a in attempts if a.files or a.deleted]
    return RunResult(
        run_id=run_id,
        prompt=request.prompt,
        mode=request.mode,
        endpoint=request.endpoint.public_dict(),
        chain=chain.names,
        ok=bool(final.get("verified")),
        attempts=attempts,
        files=with_files[-1].files if with_files else {},
        max_attempts=request.max_attempts,
        skipped_verifiers=dict(chain.skipped),
        change=request.folder.change_record(attempts) if request.folder is not None else None,
    )
