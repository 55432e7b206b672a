"""IaC-Eval CSV → a tfagent suite folder.

IaC-Eval (NeurIPS 2024 Datasets & Benchmarks, autoiac-project; dataset CC-BY-4.0) gives per row: the
AWS `Resource` types, the `Prompt`, a `Rego intent` (package terraform.validation, evaluated on
`terraform show -json` of a plan), `Difficulty`, a `Reference output` and the `Intent` in words.
Its verdict: the plan succeeds and no leaf of `data.terraform.validation` is false.

With ``check_references`` every reference output is really judged (plan + intent, offline, with the
given provider mirror); only tasks whose reference passes are kept, and ``excluded.yaml`` says why each
other task was left out. References are stored for rescoring sanity checks, never shown to the model.
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from tfagent.agent.core.defaults import VERIFY_TIMEOUT
from tfagent.evals.tasks.fields import JudgeSpec, RegoIntent
from tfagent.evals.tasks.suite import Task, load_suite
from tfagent.verifiers.base import VerifyOptions

COLUMNS = ("Resource", "Prompt", "Rego intent", "Difficulty", "Reference output")
ATTRIBUTION = (
    "Tasks, Rego intents and reference outputs from IaC-Eval (Kon et al., \"IaC-Eval: A Code Generation "
    "Benchmark for Cloud Infrastructure-as-Code Programs\", NeurIPS 2024 Datasets and Benchmarks; "
    "https://github.com/autoiac-project/iac-eval), dataset licensed CC-BY-4.0 "
    "(https://creativecommons.org/licenses/by/4.0/). Imported by tfagent's import-iac-eval; prompts and "
    "policies unchanged, tasks filtered as listed in excluded.yaml."
)
# The shipped suites verify in the loop with hcl, fmt, validate and the offline plan — the research's
# checker: plan-time errors (a variable without a default, DynamoDB's unindexed attributes) come back as
# feedback while retries remain. The task's Rego intent stays with the judge, never in the loop, as
# IaC-Eval's multi-turn caveat asks.
VERIFY_CHAIN = ["hcl", "fmt", "validate", "plan"]
_MIRROR_BROKEN = re.compile(r"Error while installing hashicorp/aws v|provider registry.terraform.io/hashicorp/aws was not found")


class IacEvalImportError(ValueError):
    """The CSV is unreadable or lacks IaC-Eval's columns, or the output folder is not usable."""


@dataclass
class ImportReport:
    out_dir: Path
    total: int = 0
    kept: list[str] = field(default_factory=list)
    excluded: list[dict[str, str]] = field(default_factory=list)  # {id, reason}
    checked: bool = False
    seconds: float = 0.0


def task_id(row_number: int, resources: str) -> str:
    """Stable id: the row number in the CSV and the first resource type (e.g. iac-001-aws-route53-record)."""
    first = (resources.split(",")[0].strip() or "task").lower()
    return f"iac-{row_number:03d}-" + re.sub(r"[^a-z0-9]+", "-", first).strip("-")[:48]


def read_rows(csv_path: Path) -> list[dict[str, str]]:
    try:
        with open(csv_path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise IacEvalImportError(f"{csv_path}: not an IaC-Eval CSV: missing column(s) {', '.join(missing)}")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise IacEvalImportError(f"{csv_path}: cannot read: {exc}") from exc


def _row_problem(row: dict[str, str]) -> str | None:
    for column in ("Prompt", "Rego intent", "Reference output"):
        if not (row.get(column) or "").strip():
            return f"empty {column!r} column"
    if not re.search(r"^\s*package\s", row["Rego intent"], re.M):
        return "the Rego intent has no package line"
    return None


def _task_from_row(tid: str, row: dict[str, str]) -> Task:
    return Task(id=tid, prompt=row["Prompt"].strip(), mode="terraform", verify=list(VERIFY_CHAIN),
                judge=JudgeSpec(plan_required=True, rego=[RegoIntent(f"intents/{tid}.rego", row["Rego intent"])]),
                reference={"main.tf": row["Reference output"]}, description=(row.get("Intent") or "").strip())


def _reference_problem(task: Task, options: VerifyOptions) -> str | None:
    from tfagent.evals.judging.judge import judge_task  # needs the plan/rego verifiers only when checking

    verdict = judge_task(task, task.reference, options=options)
    if verdict.ok:
        return None
    failed = [c for c in verdict.checks if not c["ok"]]
    if failed and _MIRROR_BROKEN.search(failed[0]["detail"]):
        # the machine's problem, not the task's: recording it as the task's reason would be wrong
        raise IacEvalImportError(f"the aws provider could not be installed from the mirror: {failed[0]['detail'][:400]}")
    if verdict.unsupported:
        return f"cannot be judged offline: {verdict.unsupported}"
    if failed and failed[0]["name"] == "plan":
        return f"reference does not plan offline: {failed[0]['detail']}"[:600]
    return "reference fails its intent: " + "; ".join(f"{c['name']}: {c['detail']}" for c in failed)[:600]


def import_iac_eval(csv_path: str | Path, out_dir: str | Path, *, check_references: bool = False,
                    mirror: str | Path | None = None, limit: int | None = None, force: bool = False,
                    on_task: Callable[[str, str | None], None] | None = None) -> ImportReport:
    """Write a suite folder from an IaC-Eval CSV; see the module docstring. ``on_task(id, problem)``
    is called per task (problem None = kept)."""
    start = time.perf_counter()
    csv_path, out = Path(csv_path), Path(out_dir)
    rows = read_rows(csv_path)[: limit if limit else None]
    if check_references and mirror is None:
        raise IacEvalImportError("--check-references needs --provider-mirror (a folder holding registry.terraform.io)")
    _check_out_dir(out, force)
    options = VerifyOptions(provider_mirror=Path(mirror) if mirror else None, offline_aws=True, timeout=VERIFY_TIMEOUT)
    report = ImportReport(out_dir=out, total=len(rows), checked=check_references)
    kept_rows: list[tuple[str, dict[str, str]]] = []
    for number, row in enumerate(rows, start=1):
        tid = task_id(number, row.get("Resource", ""))
        problem = _row_problem(row)
        if problem is None and check_references:
            problem = _reference_problem(_task_from_row(tid, row), options)
            # a temporary mirror's path would make excluded.yaml differ between identical imports
            problem = problem and problem.replace(str(mirror), "<provider mirror>")
        if on_task is not None:
            on_task(tid, problem)
        if problem is None:
            kept_rows.append((tid, row))
            report.kept.append(tid)
        else:
            report.excluded.append({"id": tid, "resource": row.get("Resource", ""), "reason": problem})
    if not kept_rows:
        raise IacEvalImportError(f"{csv_path}: no task left to import ({len(report.excluded)} left out; "
                                 f"first reason: {report.excluded[0]['reason'] if report.excluded else 'none'})")
    # Written beside OUT_DIR, then swapped in: a reader never sees a half-written suite.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a suite is data others read
    try:
        _write_suite(staging, out.name, kept_rows, report, csv_path, _mirror_label(mirror))
        load_suite(staging)  # what we wrote must load; a SuiteError here is a bug in this importer
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.seconds = time.perf_counter() - start
    return report


def _mirror_label(mirror: str | Path | None) -> str:
    """'hashicorp/aws 3.39.0' from the mirror's zips (packed layout), for the suite's description."""
    folder = Path(mirror or ".") / "registry.terraform.io" / "hashicorp" / "aws"
    versions = sorted({m.group(1) for p in folder.glob("*") if (m := re.search(r"_(\d+\.\d+\.\d+)_", p.name))})
    return f"hashicorp/aws {', '.join(versions)}" if versions else "the given provider mirror"


def _check_out_dir(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise IacEvalImportError(f"{out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise IacEvalImportError(f"{out}: folder is not empty (pass --force to replace it)")
        if not (out / "suite.yaml").exists():
            raise IacEvalImportError(f"{out}: not a suite folder (no suite.yaml); refusing to replace it")


def _write_suite(out: Path, name: str, kept: list[tuple[str, dict[str, str]]], report: ImportReport, csv_path: Path,
                 mirror_label: str) -> None:
    (out / "intents").mkdir()
    (out / "references").mkdir()
    tasks = []
    for tid, row in kept:
        (out / "intents" / f"{tid}.rego").write_text(row["Rego intent"].strip() + "\n", encoding="utf-8")
        (out / "references" / f"{tid}.tf").write_text(row["Reference output"].strip() + "\n", encoding="utf-8")
        resources = [r.strip() for r in row.get("Resource", "").split(",") if r.strip()]
        tasks.append({
            "id": tid,
            "prompt": row["Prompt"].strip(),
            "description": (row.get("Intent") or "").strip(),
            "tags": resources + [f"difficulty-{(row.get('Difficulty') or '?').strip()}"],
            "judge": {"rego": [f"intents/{tid}.rego"]},
            "reference": {"main.tf": {"file": f"references/{tid}.tf"}},
        })
    how = (f"each reference output planned offline with {mirror_label} and passed its intent"
           if report.checked else "references not checked")
    meta = {
        "name": name,
        "description": f"IaC-Eval AWS tasks from {csv_path.name}: {len(kept)} of {report.total} ({how}).",
        "attribution": ATTRIBUTION,
        "defaults": {"mode": "terraform", "verify": VERIFY_CHAIN, "judge": {"plan_required": True}},
    }
    _dump(out / "suite.yaml", meta)
    _dump(out / "tasks.yaml", {"tasks": tasks})
    _dump(out / "excluded.yaml", {"excluded": report.excluded})
    (out / "README.md").write_text(f"# {name}\n\n{meta['description']}\n\n## Attribution\n\n{ATTRIBUTION}\n\n"
                                   "Left-out tasks and the reason for each: `excluded.yaml`.\n", encoding="utf-8")


def _dump(path: Path, data: object) -> None:
    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None  # multi-line prompts stay readable
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    path.write_text(yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8")
