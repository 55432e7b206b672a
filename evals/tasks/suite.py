"""Eval suites: task files → ``Task`` objects, validated with errors that name file, task and field.

A suite is either one YAML file (``name``, ``description``, ``attribution``, ``defaults``, ``tasks: [...]``)
or a folder holding an optional ``suite.yaml`` (the same metadata keys) and task files: ``tasks.yaml``,
any other ``*.yaml`` beside it and ``tasks/*.yaml``. A task file holds one task (a mapping with ``id``),
a list of tasks, or a mapping with ``tasks:``. ``excluded.yaml`` (why the importer left tasks out) and
the files that tasks refer to (Rego intents, hidden tests, references) are data, not tasks.

The judge's checks and the reference solution are hidden from the model: only ``prompt`` and
``files`` are meant for the model (the runner builds the request from those two alone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import yaml

from tfagent.agent.core.defaults import DEFAULT_CHAIN
from tfagent.evals.tasks.fields import (
    FieldError,
    HclCheck,
    JudgeSpec,
    load_file_map,
    parse_judge,
    string_list,
)

MODES = ("terraform", "code")
LANGS = ("python", "go", "rust", "c", "cpp", "javascript", "typescript")
METADATA_FILE = "suite.yaml"
NOT_TASK_FILES = {METADATA_FILE, "excluded.yaml", "corrections.yaml"}
TASK_KEYS = {"id", "prompt", "mode", "verify", "judge", "files", "tags", "lang", "reference", "description"}
SUITE_KEYS = {"name", "description", "attribution", "defaults", "tasks"}
TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# code: no "tests" in the loop by default — the only tests are the hidden ones, which the loop must not see
DEFAULT_VERIFY = {mode: list(chain) for mode, chain in DEFAULT_CHAIN.items()}

__all__ = ["SuiteError", "Suite", "Task", "JudgeSpec", "HclCheck", "load_suite", "list_suites", "shipped_suites_dir"]


class SuiteError(ValueError):
    """A suite file is malformed. The message names the file, the task id and the field."""


@dataclass
class Task:
    id: str
    prompt: str
    mode: str
    verify: list[str]
    judge: JudgeSpec
    files: dict[str, str] = field(default_factory=dict)  # given to the model (path -> content)
    tags: list[str] = field(default_factory=list)
    lang: str | None = None
    reference: dict[str, str] = field(default_factory=dict)  # a known-good answer; never shown to the model
    source: Path | None = None  # the YAML file the task came from
    description: str = ""  # the intent in words, for humans reading reports; never shown to the model


@dataclass
class Suite:
    name: str
    path: Path
    tasks: list[Task]
    attribution: str = ""
    description: str = ""
    corrections: dict = field(default_factory=dict)  # task id → corrections.Correction (corrections.yaml)

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise SuiteError(f"{self.path}: no task {task_id!r} in suite {self.name!r}")

    def select(self, ids: list[str] | None = None, tags: list[str] | None = None) -> list[Task]:
        """Tasks by id (unknown ids are an error) and/or by tag (any of them)."""
        chosen = [self.task(i) for i in ids] if ids else list(self.tasks)
        if tags:
            wanted = set(tags)
            chosen = [t for t in chosen if wanted & set(t.tags)]
        return chosen


def shipped_suites_dir() -> Path:
    return Path(str(resources.files("tfagent.evals") / "suites"))


def known_verifiers() -> set[str]:
    # Names only: loading every plugin just to validate a suite would import all of them.
    return {ep.name for ep in entry_points(group="tfagent.verifiers")}


def list_suites() -> list[tuple[str, int, str]]:
    """(name, task count, description) of every shipped suite, for `tfagent eval --list`."""
    root = shipped_suites_dir()
    out = []
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if entry.name.startswith((".", "_")):
            continue  # staging folders of an import in progress, __pycache__
        if entry.is_dir() or entry.suffix in (".yaml", ".yml"):
            suite = load_suite(entry)
            out.append((suite.name, len(suite.tasks), suite.description))
    return out


def load_suite(path_or_name: str | Path) -> Suite:
    """Load a suite from a folder, a YAML file, or the name of a shipped suite."""
    path = _resolve(path_or_name)
    if path.is_dir():
        return _load_folder(path)
    return _load_single_file(path)


def _resolve(path_or_name: str | Path) -> Path:
    path = Path(path_or_name)
    if path.exists():
        return path
    shipped = shipped_suites_dir()
    for candidate in (shipped / str(path_or_name), shipped / f"{path_or_name}.yaml"):
        if candidate.exists():
            return candidate
    names = sorted(p.stem for p in shipped.iterdir()) if shipped.is_dir() else []
    raise SuiteError(f"{path_or_name}: no such suite file or folder, and no shipped suite of that name "
                     f"(shipped: {', '.join(names) or 'none'})")


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise SuiteError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read: {exc}") from exc


def _metadata(doc: Any, path: Path, allow_tasks: bool) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise SuiteError(f"{path}: expected a mapping of suite settings, got {type(doc).__name__}")
    allowed = SUITE_KEYS if allow_tasks else SUITE_KEYS - {"tasks"}
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise SuiteError(f"{path}: unknown suite field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise SuiteError(f"{path}: field 'defaults': expected a mapping of task fields")
    unknown = sorted(set(defaults) - (TASK_KEYS - {"id", "prompt"}))
    if unknown:
        raise SuiteError(f"{path}: field 'defaults': unknown task field {unknown[0]!r}")
    for key in ("name", "description", "attribution"):
        if key in doc and not isinstance(doc[key], str):
            raise SuiteError(f"{path}: field {key!r}: expected text")
    return doc


def _load_single_file(path: Path) -> Suite:
    doc = _read_yaml(path)
    if isinstance(doc, list):
        doc = {"tasks": doc}
    meta = _metadata(doc, path, allow_tasks=True)
    raw = meta.get("tasks")
    if not isinstance(raw, list) or not raw:
        raise SuiteError(f"{path}: field 'tasks': expected a non-empty list of tasks")
    tasks = [_parse_task(item, path, path.parent, meta.get("defaults") or {}) for item in raw]
    return _finish(meta.get("name") or path.stem, path, tasks, meta)


def _load_folder(folder: Path) -> Suite:
    meta_path = folder / METADATA_FILE
    meta = _metadata(_read_yaml(meta_path) or {}, meta_path, allow_tasks=False) if meta_path.exists() else {}
    defaults = meta.get("defaults") or {}
    task_files = sorted(p for p in folder.glob("*.y*ml") if p.name not in NOT_TASK_FILES)
    task_files += sorted((folder / "tasks").glob("*.y*ml")) if (folder / "tasks").is_dir() else []
    tasks: list[Task] = []
    for task_file in task_files:
        doc = _read_yaml(task_file)
        if isinstance(doc, dict) and "tasks" in doc:
            doc = doc["tasks"]
        items = doc if isinstance(doc, list) else [doc]
        tasks.extend(_parse_task(item, task_file, folder, defaults) for item in items)
    if not tasks:
        raise SuiteError(f"{folder}: no tasks (expected tasks.yaml, *.yaml or tasks/*.yaml holding tasks)")
    return _finish(meta.get("name") or folder.name, folder, tasks, meta)


def _finish(name: str, path: Path, tasks: list[Task], meta: dict[str, Any]) -> Suite:
    seen: dict[str, Path | None] = {}
    for task in tasks:
        if task.id in seen:
            raise SuiteError(f"{task.source}: task {task.id!r}: field 'id': duplicate id "
                             f"(also in {seen[task.id]})")
        seen[task.id] = task.source
    corrections = _corrections(path, seen) if path.is_dir() else {}
    for task in tasks:
        task.judge.fair = corrections.get(task.id)
    return Suite(name=name, path=path, tasks=tasks, attribution=(meta.get("attribution") or "").strip(),
                 description=(meta.get("description") or "").strip(), corrections=corrections)


def _corrections(folder: Path, task_ids: dict) -> dict:
    """The prompt-fair judge's corrections (``corrections.yaml``), each naming a task of the suite."""
    from tfagent.evals.tasks.corrections import CorrectionsError, load_corrections

    try:
        corrections = load_corrections(folder)
    except CorrectionsError as exc:
        raise SuiteError(str(exc)) from None
    unknown = sorted(set(corrections) - set(task_ids))
    if unknown:
        raise SuiteError(f"{folder / 'corrections.yaml'}: task {unknown[0]!r} is not in the suite")
    return corrections


def _merge_defaults(raw: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **raw}
    if isinstance(defaults.get("judge"), dict) and isinstance(raw.get("judge"), dict):
        merged["judge"] = {**defaults["judge"], **raw["judge"]}
    return merged


def _parse_task(raw: Any, path: Path, suite_dir: Path, defaults: dict[str, Any]) -> Task:
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: expected a task mapping (with id, prompt, ...), got {type(raw).__name__}")
    task_id = raw.get("id")
    if not isinstance(task_id, str) or not TASK_ID.match(task_id):
        raise SuiteError(f"{path}: task {task_id!r}: field 'id': expected letters, digits, '.', '_' or '-' "
                         f"(at most 100, starting with a letter or digit)")
    try:
        return _build_task(task_id, _merge_defaults(raw, defaults), path, suite_dir)
    except FieldError as exc:
        raise SuiteError(f"{path}: task {task_id!r}: field {exc.field!r}: {exc.message}") from exc


def _build_task(task_id: str, raw: dict[str, Any], path: Path, suite_dir: Path) -> Task:
    unknown = sorted(set(raw) - TASK_KEYS)
    if unknown:
        raise FieldError(unknown[0], f"unknown field (allowed: {', '.join(sorted(TASK_KEYS))})")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise FieldError("prompt", "expected non-empty text")
    mode = raw.get("mode", "terraform")
    if mode not in MODES:
        raise FieldError("mode", f"expected one of {', '.join(MODES)}, got {mode!r}")
    lang = raw.get("lang", "python" if mode == "code" else None)
    if lang is not None and lang not in LANGS:
        raise FieldError("lang", f"unknown language {lang!r} (known: {', '.join(LANGS)})")
    verify = _parse_verify(raw.get("verify", DEFAULT_VERIFY[mode]))
    judge = parse_judge(raw.get("judge"), mode, suite_dir)
    return Task(
        id=task_id,
        prompt=prompt.strip(),
        mode=mode,
        verify=verify,
        judge=judge,
        files=load_file_map(raw.get("files"), "files", suite_dir),
        tags=string_list(raw.get("tags", []), "tags"),
        lang=lang,
        reference=load_file_map(raw.get("reference"), "reference", suite_dir),
        source=path,
        description=_text(raw.get("description", ""), "description"),
    )


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise FieldError(name, "expected text")
    return value.strip()


def _parse_verify(value: Any) -> list[str]:
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else value
    names = string_list(names, "verify")
    if not names:
        raise FieldError("verify", "the chain is empty")
    known = known_verifiers()
    for name in names:
        if name not in known:
            raise FieldError("verify", f"unknown verifier {name!r} (known: {', '.join(sorted(known))})")
    return names
