"""A stored eval run as JUnit XML: one test suite per endpoint (quant), one test case per task × sample.

A case passes when the judge accepted the cell's final files. A failed case's text is the final
attempt's diagnostics (what the in-loop verifiers said last) followed by the judge checks that failed;
a cell the judge could not decide on this machine is skipped with the reason; a cell that crashed is
an error; a cell not run yet (an interrupted or sharded run) is skipped as "not run".
"""

from __future__ import annotations

from typing import Any

from tfagent.evals.judging.verdicts import stored_undecided
from tfagent.evals.running.store import RUN_SCORING, CellKey, Store
from tfagent.verifiers.formats.junit import Case, Suite, diagnostics_text, first_line, to_junit_xml


def _failed_checks(verdict: dict[str, Any]) -> str:
    lines = [f"judge {c['name']}: {c.get('detail') or 'failed'}" for c in verdict.get("checks", []) if not c.get("ok")]
    for stage in verdict.get("rescore_chain", []) or []:
        if not stage.get("ok"):
            lines.append(f"rescore {stage.get('verifier')}: failed")
    return "\n".join(lines)


def run_suites(store: Store, run_id: str, scoring: str = RUN_SCORING) -> list[Suite]:
    run = store.run(run_id)
    spec = run["spec"]
    judged = store.judgments(run_id, scoring)
    errors: dict[CellKey, str] = {}
    for row in store.cell_errors(run_id):
        errors[CellKey(row["task_id"], row["endpoint"], row["sample"])] = row["error"]
    samples = int(spec["samples"])
    suites = []
    for endpoint in spec["endpoints"]:
        name = endpoint["name"]
        suite = Suite(name=f"{run['suite']}/{name}",
                      properties={"run_id": run_id, "endpoint": name, "model": endpoint.get("model") or "",
                                  "bpw": "" if endpoint.get("bpw") is None else f"{endpoint['bpw']:g}",
                                  "max_attempts": str(spec["max_attempts"]), "scoring": scoring})
        for task in spec["tasks"]:
            for sample in range(samples):
                key = CellKey(task["id"], name, sample)
                case_name = task["id"] if samples == 1 else f"{task['id']}#{sample}"
                suite.cases.append(_case(store, run_id, key, f"{run['suite']}.{name}", case_name, judged.get(key), errors.get(key)))
        suites.append(suite)
    return suites


def _case(store: Store, run_id: str, key: CellKey, classname: str, name: str, judged: dict[str, Any] | None,
          error: str | None) -> Case:
    case = Case(classname=classname, name=name)
    if judged is None:
        if error:
            case.error = (first_line(error), error)
        else:
            case.skipped = "not run (the run is incomplete or this is another shard's cell)"
        return case
    verdict = judged["verdict"]
    attempts = store.attempts(run_id, key)
    final = next((a for a in attempts if a.number == judged["attempt"]), attempts[-1] if attempts else None)
    case.seconds = sum(a.model_seconds + a.verify_seconds for a in attempts if a.number <= judged["attempt"])
    case.output = f"attempts: {judged['attempt']}; in-loop verdict: {'verified' if final and final.ok else 'not verified'}"
    if stored_undecided(verdict):
        case.skipped = f"undecided: {stored_undecided(verdict)} (the judge cannot decide here)"
    elif not judged["ok"]:
        diagnostics = diagnostics_text(final.diagnostics) if final else ""
        checks = _failed_checks(verdict)
        text = "\n".join(x for x in (diagnostics, checks) if x) or "the judge rejected the final files"
        case.failure = (first_line(checks or diagnostics or text), text)
    return case


def run_junit(store: Store, run_id: str, scoring: str = RUN_SCORING) -> str:
    return to_junit_xml(run_suites(store, run_id, scoring), name=f"tfagent eval {run_id}")
