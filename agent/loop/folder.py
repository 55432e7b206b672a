"""Changing an existing folder (``tfagent "…" --in infra/``): what of it the model is shown, what it
may change, how its reply is checked, how the whole resulting folder is laid out for verification,
and which problems were there before the model touched anything.

- **Reading.** The folder's ``.tf``, ``.tf.json``, ``.tfvars``, ``.tfvars.json`` and
  ``.terraform.lock.hcl`` files, in subfolders too (local modules), never ``.terraform/``, ``.git/``,
  hidden folders or state. A file whose text holds a secret's value, a variables file whose name
  matches the secret policy (``secrets.tfvars``) and a file that is not UTF-8 are *withheld*: named in
  the request, never shown, never editable, still part of the verified folder.
- **Budget.** The files go into the first request within a token budget derived from the server's
  context size. When the folder is larger, the provider and variables files and the files the prompt
  is about (resource types and names that share words with it) come first; the rest are *listed* by
  their blocks (type and name only), and the request says so.
- **Reply.** Whole-file replacement of the changed or added files, and ``DELETE FILE: path`` lines
  for deletions (prompts/folder_request.md says it to the model). Edits to files it was not shown, to
  state or the lock file, and unnamed blocks are rejected; a reply that changes nothing is a failed
  attempt too.
- **Verification** runs on the whole resulting folder in a scratch copy; the folder as it was is
  verified once before the model is asked (the *baseline*). An attempt passes when every failing
  stage failed before as well, with only the problems it had then: "was already broken" is not
  "you broke", and the feedback says which is which.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tfagent.agent.core.change import ADDED, Change
from tfagent.agent.core.output import OutputError, materialize, remove_files
from tfagent.agent.core.paths import check_path
from tfagent.agent.core.secrets import hardcoded_in, is_secret_name
from tfagent.agent.loop.feedback import dedupe_and_sort, estimate_tokens
from tfagent.agent.loop.replies import ParsedReply, extract_blocks, strip_reasoning
from tfagent.agent.model.errors import ServerUnreachable
from tfagent.prompts import render, render_line
from tfagent.verifiers.base import ERROR, Diagnostic, Verdict, error
from tfagent.verifiers.scratch import verify_files

CONFIG_SUFFIXES = (".tf", ".tf.json", ".tfvars", ".tfvars.json")
LOCK_FILE = ".terraform.lock.hcl"
VARS_SUFFIXES = (".tfvars", ".tfvars.json")
STATE_SUFFIXES = (".tfstate", ".tfstate.backup")
SKIP_DIRS = {".terraform", ".git", "terraform.tfstate.d"}
MAX_FOLDER_BYTES = 100 * 1024 * 1024  # what a scratch copy may hold (lambda zips and the like included)
MAX_OTHER_NAMES = 40  # other files named in the request
DEFAULT_CONTEXT = 8192  # when the server does not say: a small local server's usual window
REPLY_RESERVE = 1024  # tokens kept for the reply and the system prompt
MAX_PREEXISTING_IN_FEEDBACK = 10
FOLDER_RULE = "folder_edit"  # the rule of a reply diagnostic about what it tried to change
DELETE_LINE = re.compile(r"^\s*DELETE FILE:\s*`?(?P<path>[^`\s]+)`?\s*$")
_BLOCK = re.compile(r'^(resource|data)\s+"([^"]+)"\s+"([^"]+)"|^(module|variable|output|provider)\s+"([^"]+)"'
                    r"|^(locals|terraform|moved|import|check)\s*\{", re.M)
_STOP = {"the", "and", "for", "with", "add", "this", "that", "into", "from", "our", "new", "its", "use", "make",
         "create", "existing", "please", "folder", "configuration", "terraform"}


class FolderError(ValueError):
    """The folder cannot be used for --in (missing, not a folder, too large); the message names it."""


@dataclass
class Baseline:
    """The folder as it was, verified once before the model is asked."""

    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for v in self.verdicts for d in v.diagnostics if d.severity == ERROR]

    def keys(self) -> set[tuple[str, str, str, str]]:
        return {problem_key(d) for d in self.errors}

    def failed(self) -> set[str]:
        return {v.verifier for v in self.verdicts if not v.ok}


@dataclass
class Folder:
    """What was read from the folder; ``shown`` is decided against the server's context by ``fit``."""

    files: dict[str, str]  # config files read (path → text), withheld ones excluded
    root: str | None = None  # the folder on disk (None: the files alone, as in an eval task)
    withheld: dict[str, str] = field(default_factory=dict)  # path → why the model is not shown it
    others: list[str] = field(default_factory=list)  # other files present (names only)
    shown: list[str] | None = None  # files whose text is in the first request (None: not decided yet)
    baseline: Baseline | None = None

    # -- reading ---------------------------------------------------------------------------------
    @classmethod
    def read(cls, root: Path) -> "Folder":
        root = Path(root)
        if not root.is_dir():
            raise FolderError(f"--in {root}: {'no such folder' if not root.exists() else 'not a folder'}")
        files: dict[str, str] = {}
        withheld: dict[str, str] = {}
        others: list[str] = []
        total = 0
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                rel = path.relative_to(root).as_posix()
                if path.is_symlink() or not path.is_file():
                    continue
                total += path.stat().st_size
                if total > MAX_FOLDER_BYTES:
                    raise FolderError(f"--in {root}: more than {MAX_FOLDER_BYTES // (1024 * 1024)} MiB of files "
                                      f"(outside .terraform/ and .git/); point --in at the Terraform folder itself")
                if name.endswith(STATE_SUFFIXES):
                    continue
                if not (name == LOCK_FILE or name.endswith(CONFIG_SUFFIXES)):
                    others.append(rel)
                    continue
                try:
                    with open(path, encoding="utf-8", newline="") as fh:  # line endings kept: a diff shows real changes
                        text = fh.read()
                except UnicodeDecodeError:
                    withheld[rel] = render_line("folder_withheld_binary")
                    continue
                why = withheld_reason(rel, text)
                if why:
                    withheld[rel] = why
                else:
                    files[rel] = text
        if not files and not withheld:
            raise FolderError(f"--in {root}: no Terraform files (.tf, .tfvars) in it")
        return cls(files=files, root=str(root.resolve()), withheld=withheld, others=others)

    @classmethod
    def from_files(cls, files: dict[str, str]) -> "Folder":
        """An eval task's given files as the folder (nothing withheld: the suite wrote them)."""
        return cls(files=dict(files))

    # -- the first request -----------------------------------------------------------------------
    def fit(self, prompt: str, context_tokens: int | None) -> "Folder":
        """Decide which files are shown whole within the budget; the others are listed by blocks."""
        budget = budget_tokens(context_tokens)
        order = sorted(self.files, key=lambda p: (priority(p, self.files[p]), -relevance(prompt, p, self.files[p]),
                                                  len(self.files[p]), p))
        shown: list[str] = []
        used = 0
        for path in order:
            cost = estimate_tokens(self.files[path]) + 12
            if used + cost <= budget or not shown and path != LOCK_FILE and cost <= budget * 2:
                shown.append(path)
                used += cost
        return replace(self, shown=sorted(shown))

    def listed(self) -> list[str]:
        return sorted(set(self.files) - set(self.shown or ()))

    def first_turn(self, request_text: str) -> str:
        shown = self.shown if self.shown is not None else sorted(self.files)
        blocks = "\n\n".join(render("file_block", fence=fence_of(p), path=p, body=self.files[p].rstrip()) for p in shown)
        extra = []
        if self.listed():
            lines = "\n".join(f"- {p}: {', '.join(block_names(self.files[p])) or render_line('folder_no_blocks')}"
                              for p in self.listed())
            extra.append(render("folder_listed", files=lines).strip())
        if self.withheld:
            extra.append(render("folder_withheld", files="\n".join(f"- {p} ({why})" for p, why in sorted(self.withheld.items()))).strip())
        if self.others:
            names = self.others[:MAX_OTHER_NAMES]
            more = len(self.others) - len(names)
            extra.append(render("folder_others", files=", ".join(names) + (f" … (+{more})" if more else "")).strip())
        return render("folder_request", prompt=request_text.strip(), files=blocks or render_line("folder_no_files_shown"),
                      notes="\n\n".join(extra)).strip()

    # -- the reply -------------------------------------------------------------------------------
    def check_reply(self, parsed: ParsedReply, text: str) -> tuple[ParsedReply, list[str]]:
        """The reply's files and deletions against what the model may change: (parsed with any
        rejections added to its diagnostics, the paths it deletes)."""
        content, _ = strip_reasoning(text or "")
        deleted, problems = deletions(content)
        if parsed.diagnostics:
            return parsed, deleted
        shown = set(self.shown if self.shown is not None else self.files)
        blocks = extract_blocks(content)
        if parsed.files and blocks and not any(b.name for b in blocks):
            problems.append(render_line("reply_folder_unnamed"))
        for path in sorted(parsed.files):
            why = self._refusal(path, shown)
            if why:
                problems.append(render_line("reply_folder_refused", path=path, why=why))
        for path in deleted:
            if path in parsed.files:
                problems.append(render_line("reply_folder_both", path=path))
            elif path not in self.files and path not in self.withheld:
                problems.append(render_line("reply_folder_delete_missing", path=path))
            else:
                why = self._refusal(path, shown)
                if why:
                    problems.append(render_line("reply_folder_refused", path=path, why=why))
        diagnostics = [error(p, source="reply", category="unsafe_path", rule=FOLDER_RULE) for p in problems]
        if not problems and (parsed.files or deleted) and Change(self.files, parsed.files, deleted).empty:
            diagnostics.append(error(render_line("reply_folder_no_change"), source="reply", category="no_code",
                                     rule=FOLDER_RULE))
        if diagnostics:
            parsed = replace(parsed, files={}, diagnostics=diagnostics)
        return parsed, deleted

    def reply_feedback(self, attempt) -> None:
        """A reply rejected for what it tried to change gets its own retry turn."""
        refused = [d for d in attempt.reply_diagnostics if d.rule == FOLDER_RULE]
        if refused:
            attempt.feedback = render("folder_rejected", problems="\n".join(f"- {d.summary}" for d in refused)).strip()

    def _refusal(self, path: str, shown: set[str]) -> str | None:
        name = path.rsplit("/", 1)[-1]
        if name.endswith(STATE_SUFFIXES) or path.split("/")[0] in SKIP_DIRS:
            return render_line("folder_refused_state")
        if name == LOCK_FILE:
            return render_line("folder_refused_lock")
        if path in self.withheld:
            return render_line("folder_refused_withheld")
        if path in self.files and path not in shown:
            return render_line("folder_refused_listed")
        if path in self.others or (self.root and path not in self.files and (Path(self.root) / path).exists()):
            return render_line("folder_refused_not_shown")
        if any(part.startswith(".") for part in path.split("/")[:-1]):
            return render_line("folder_refused_hidden")
        return None

    # -- verification ----------------------------------------------------------------------------
    def lay_out(self, workdir: Path, files: dict[str, str] | None = None, deleted: list[str] | tuple = ()) -> None:
        """The whole folder with the change applied, in ``workdir`` (a scratch folder)."""
        if self.root is not None:
            root = Path(self.root)
            if not root.is_dir():
                raise OutputError(f"--in {root}: the folder is gone")
            ignore = shutil.ignore_patterns(*SKIP_DIRS, "*.tfstate", "*.tfstate.backup")
            shutil.copytree(root, workdir, ignore=ignore, dirs_exist_ok=True, symlinks=True)
        else:
            materialize(workdir, self.files)
        materialize(workdir, dict(files or {}))
        remove_files(workdir, deleted)

    def verify_baseline(self, chain, options, fail_fast: bool) -> Baseline:
        return Baseline(verify_files(chain, {}, options, source=self.lay_out, fail_fast=fail_fast).verdicts)

    def passes(self, verdicts: list[Verdict]) -> bool:
        """Every failing stage failed before the change too, with no problem it did not have then."""
        base = self.baseline or Baseline()
        keys, failed = base.keys(), base.failed()
        for v in verdicts:
            if v.ok:
                continue
            if v.verifier not in failed:
                return False
            if any(problem_key(d) not in keys for d in v.diagnostics if d.severity == ERROR):
                return False
        return True

    def split(self, diagnostics: list[Diagnostic]) -> tuple[list[Diagnostic], list[Diagnostic]]:
        """(problems the change brought, problems that were there before it)."""
        keys = (self.baseline or Baseline()).keys()
        before = [d for d in diagnostics if d.severity == ERROR and problem_key(d) in keys]
        return [d for d in diagnostics if not (d.severity == ERROR and problem_key(d) in keys)], before

    def feedback(self, text: str, before: list[Diagnostic]) -> str:
        """The retry turn: what the change broke (``text``), then what was already broken."""
        if not before:
            return render("folder_feedback", feedback=text.strip()).strip()
        shown = dedupe_and_sort(before)[:MAX_PREEXISTING_IN_FEEDBACK]
        lines = "\n".join(f"- {d.file + (f':{d.line}' if d.line else '') + ': ' if d.file else ''}{d.summary.strip()}"
                          for d in shown)
        more = len(dedupe_and_sort(before)) - len(shown)
        if more:
            lines += "\n" + render("feedback_more", count=more).strip()
        return render("folder_feedback_preexisting", feedback=text.strip(), preexisting=lines).strip()

    def excerpt_files(self, files: dict[str, str], deleted: list[str] | tuple = ()) -> dict[str, str]:
        """The texts a feedback excerpt may quote: the shown files as changed (never withheld ones)."""
        shown = {p: self.files[p] for p in (self.shown if self.shown is not None else self.files)}
        merged = {**shown, **files}
        for path in deleted:
            merged.pop(path, None)
        return merged

    # -- the result ------------------------------------------------------------------------------
    def change_record(self, attempts: list[Any]) -> dict[str, Any]:
        """What the run changed (for ``RunResult.change``): the last attempt that changed anything,
        its diff, each attempt's diff, and the problems the folder had before."""
        changing = [a for a in attempts if a.files or getattr(a, "deleted", None)]
        last = changing[-1] if changing else None
        change = Change(self.files, dict(last.files), list(last.deleted)) if last else Change(self.files)
        base = self.baseline
        return {
            "in": self.root,
            "diff": change.diff(),
            **change.summary(),
            # what the files the change alters held when read (publishing checks the branch still has it)
            "read": {p: hashlib.sha256(self.files[p].encode("utf-8")).hexdigest()
                     for kind, p in change.status() if kind != ADDED},
            "attempt_diffs": {str(a.number): Change(self.files, dict(a.files), list(a.deleted)).diff() for a in changing},
            "shown": list(self.shown if self.shown is not None else sorted(self.files)),
            "listed": self.listed(),
            "withheld": sorted(self.withheld),
            "baseline_ok": None if base is None else base.ok,
            "preexisting": [d.to_dict() for d in dedupe_and_sort(base.errors)] if base is not None else [],
        }


# ---------------------------------------------------------------- helpers


def withheld_reason(rel: str, text: str) -> str | None:
    """Why a config file is not shown to the model (the secret policy), or None."""
    name = rel.rsplit("/", 1)[-1]
    if name.endswith(VARS_SUFFIXES):
        stem = name.removesuffix(".json").removesuffix(".tfvars").removesuffix(".auto")
        if is_secret_name(stem.replace("-", "_").replace(".", "_")):
            return render_line("folder_withheld_name")
    leaked = hardcoded_in([text])
    if leaked:
        return render_line("folder_withheld_value", names=", ".join(leaked))
    return None


def budget_tokens(context_tokens: int | None) -> int:
    """Tokens the folder's files may take in the first request: half the context minus what the
    reply needs, so a retry (reply + feedback appended) still fits."""
    context = context_tokens or DEFAULT_CONTEXT
    return max(512, context // 2 - REPLY_RESERVE)


def priority(path: str, text: str) -> int:
    """0: provider / version / variables files (every change needs them); 1: the rest; 2: the lock file."""
    if path == LOCK_FILE or path.endswith("/" + LOCK_FILE):
        return 2
    name = path.rsplit("/", 1)[-1]
    if "/" not in path and (name in ("providers.tf", "provider.tf", "versions.tf", "variables.tf", "terraform.tf")
                            or re.search(r'^(provider\s+"|terraform\s*\{)', text, re.M)):
        return 0
    return 1


def _words(text: str) -> set[str]:
    words = set()
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        if len(w) >= 3 and w not in _STOP:
            words.add(w)
            if w.endswith("s") and len(w) > 3:
                words.add(w[:-1])
    return words


def relevance(prompt: str, path: str, text: str) -> int:
    """How many of the prompt's words appear in the file's name and block types/names."""
    return len(_words(prompt) & _words(path + " " + " ".join(block_names(text))))


def block_names(text: str) -> list[str]:
    """``resource "aws_vpc" "main"`` → ``resource aws_vpc.main``; one entry per top-level block."""
    out = []
    for m in _BLOCK.finditer(text):
        if m.group(1):
            out.append(f"{m.group(1)} {m.group(2)}.{m.group(3)}")
        elif m.group(4):
            out.append(f"{m.group(4)} {m.group(5)}")
        else:
            out.append(m.group(6))
    return out


def fence_of(path: str) -> str:
    if path.endswith((".tf", ".tfvars")) or path.endswith(LOCK_FILE):
        return "hcl"
    return "json" if path.endswith(".json") else "text"


def deletions(content: str) -> tuple[list[str], list[str]]:
    """``DELETE FILE: path`` lines outside code blocks → (safe paths, why others were rejected)."""
    paths: list[str] = []
    problems: list[str] = []
    fence = None
    for line in content.split("\n"):
        stripped = line.strip()
        if fence is None and re.match(r"^(`{3,}|~{3,})", stripped):
            fence = stripped[0] * (len(stripped) - len(stripped.lstrip(stripped[0])))
            continue
        if fence is not None:
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                fence = None
            continue
        m = DELETE_LINE.match(line)
        if not m:
            continue
        path, why = check_path(m.group("path"))
        if why or path is None:
            problems.append(render_line("reply_rejected_path", path=repr(m.group("path")[:80]), why=why))
        elif path not in paths:
            paths.append(path)
    return paths, problems


def problem_key(d: Diagnostic) -> tuple[str, str, str, str]:
    """A problem's identity before and after a change: line numbers move when a file is edited, so
    they are left out (also from the detail)."""
    detail = (d.detail.strip().splitlines() or [""])[0]
    return (d.source, d.rule or d.summary.strip(), d.file or "", re.sub(r"\d+", "#", detail))


def prepare(request, client, chain, run_dir: Path, emit) -> None:
    """Before the first request: fit the folder to the server's context and verify it as it is (the
    baseline), reporting a folder that already fails. A resumed run fits it again: the same files and
    the same server give the same choice (``runner`` refuses to resume when the folder changed)."""
    folder = request.folder
    if folder.shown is None:
        try:
            client.wait_ready(request.ready_timeout)  # its context size is known once it answers
        except ServerUnreachable as exc:
            exc.before_first_request = True  # nothing was sent: the run is "unreachable", not "interrupted"
            raise
        folder = folder.fit(request.prompt, client.context_size())
    if folder.baseline is None:
        options = replace(request.options, artifacts_dir=run_dir / "baseline")
        (run_dir / "baseline").mkdir(parents=True, exist_ok=True)
        folder = replace(folder, baseline=folder.verify_baseline(chain, options, request.fail_fast))
        if not folder.baseline.ok:
            errors = dedupe_and_sort(folder.baseline.errors)
            where = ", ".join(f"{d.file}:{d.line} {d.summary}" if d.file else d.summary for d in errors[:3])
            emit("folder_note", text=(f"the folder already fails verification before any change "
                               f"({', '.join(sorted(folder.baseline.failed()))}: {len(errors)} problem(s)"
                               f"{': ' + where if where else ''}); these do not count against the model"))
    request.folder = folder
