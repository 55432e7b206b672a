"""The ladder's strategy (issue 21, issue 19 §5): strategy flags reach every rung's endpoint and the run's
spec, baseline arms with the default strategy before issue 19 exist only beside the top and the bottom rung, the report
names each arm's strategy with tokens and solved per 1,000 tokens, pairs each baseline with its own rung,
says where the time went, and names the importance matrix's calibration text by its sha256.

Quantizing and serving are faked at their boundary (``build_ladder`` returns rungs, ``_serve`` hands out
a real HTTP scripted server); the loop, the verifiers, the judge, the store and the report are real."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from tfagent.agent.cli.eval_commands import eval_group
from tfagent.agent.core.defaults import BASELINE_STRATEGY, LADDER_STRATEGY
from tfagent.agent.core.types import Endpoint
from tfagent.agent.fake.server import ScriptedServer
from tfagent.evals.ladder import run as ladder_module
from tfagent.evals.ladder.metrics import baseline_pairs, break_even, time_split, wall_split
from tfagent.evals.ladder.quant import ImatrixFacts, LadderBuild, Rung, calibration_text, ensure_imatrix
from tfagent.evals.ladder.run import LadderOptions, ladder_plan, rung_strategy, with_baselines, with_strategy
from tfagent.evals.running.facts import AttemptFacts, CellFacts
from tfagent.evals.running.runner import run_spec
from tfagent.evals.tasks.suite import load_suite

from test_eval_runner import BROKEN, GOOD, write_suite

FIELDS = ("grounding", "feedback", "constrain", "verify", "candidates", "autofix")


def _fields(endpoint: Endpoint) -> dict:
    return {k: getattr(endpoint, k) for k in FIELDS}


def _expected(strategy: dict) -> dict:
    return {k: (list(v) if k == "verify" else v) for k, v in strategy.items()}


def _opts(tmp_path: Path, **kw) -> LadderOptions:
    suite = load_suite(write_suite(tmp_path))
    return LadderOptions(suite=suite, tasks=suite.tasks, out=tmp_path / "out", **kw)


def _rung_endpoints(bpws: dict[str, float], strategy: dict) -> list[Endpoint]:
    return [with_strategy(Endpoint(name=q, base_url="http://127.0.0.1:0/v1", model=q.lower(), bpw=b), strategy)
            for q, b in bpws.items()]


# ---------------------------------------------------------------- strategy and arms, pure


def test_every_rung_gets_the_ladder_strategy_and_a_flag_overrides_only_its_key(tmp_path):
    assert set(LADDER_STRATEGY) == set(FIELDS) == set(BASELINE_STRATEGY)
    # candidates 2: not the ladder's default (3, the rescue A/B's best arm), so the flag is seen to win
    opts = _opts(tmp_path, strategy={"candidates": 2, "grounding": None})
    strategy = rung_strategy(opts)
    assert strategy == {**LADDER_STRATEGY, "candidates": 2}  # None = not given: the default stays
    endpoints = _rung_endpoints({"Q4_K_M": 5.03, "Q2_K": 3.2}, strategy)
    plan = ladder_plan(opts, endpoints)
    stored = {e["name"]: e for e in run_spec(plan)["endpoints"]}
    for endpoint in endpoints:
        assert _fields(endpoint) == _expected({**LADDER_STRATEGY, "candidates": 2})
        spec = stored[endpoint.name]
        assert spec["candidates"] == 2 and spec["grounding"] == LADDER_STRATEGY["grounding"]
        assert spec["verify"] == list(LADDER_STRATEGY["verify"]) and spec["autofix"] == LADDER_STRATEGY["autofix"]


def test_an_unknown_strategy_field_or_an_empty_chain_is_refused_by_name():
    endpoint = Endpoint(name="Q4_K_M", base_url="http://x/v1", model="m", bpw=5.0)
    with pytest.raises(ValueError, match="unknown field.*temperature"):
        with_strategy(endpoint, {"temperature": 0.3})
    with pytest.raises(ValueError, match="Q4_K_M: the verify chain is empty"):
        with_strategy(endpoint, {"verify": []})


def test_baseline_arms_exist_only_beside_the_top_and_the_bottom_rung(tmp_path):
    endpoints = _rung_endpoints({"Q4_K_M": 5.03, "Q3_K_M": 4.0, "Q2_K": 3.2, "IQ2_M": 2.9}, LADDER_STRATEGY)
    arms, baselines = with_baselines(endpoints, True)
    assert [a.name for a in arms] == ["Q4_K_M", "Q4_K_M-baseline", "Q3_K_M", "Q2_K", "IQ2_M", "IQ2_M-baseline"]
    assert baselines == {"Q4_K_M-baseline": "Q4_K_M", "IQ2_M-baseline": "IQ2_M"}
    by_name = {a.name: a for a in arms}
    for name, rung in baselines.items():
        baseline = by_name[name]
        assert _fields(baseline) == _expected(BASELINE_STRATEGY)
        assert (baseline.model, baseline.bpw, baseline.base_url) == (by_name[rung].model, by_name[rung].bpw, by_name[rung].base_url)
    assert _fields(by_name["Q3_K_M"]) == _expected(LADDER_STRATEGY)
    # The reference is the top rung's strategy arm, never its baseline (same bpw).
    assert ladder_plan(_opts(tmp_path), arms, baselines).reference == "Q4_K_M"
    # Off: no baseline; one rung: one baseline.
    assert with_baselines(endpoints, False) == (endpoints, {})
    one, only = with_baselines(endpoints[:1], True)
    assert [a.name for a in one] == ["Q4_K_M", "Q4_K_M-baseline"] and only == {"Q4_K_M-baseline": "Q4_K_M"}


# ---------------------------------------------------------------- figures, pure


def _cell(endpoint: str, task: str, outcomes: list[bool], judge_ok: bool = True, tokens: int = 100) -> CellFacts:
    attempts = tuple(AttemptFacts(number=i + 1, ok=ok, well_formed=True, categories=() if ok else ("syntax",),
                                  prompt_tokens=tokens, completion_tokens=tokens // 2, seconds=1.0)
                     for i, ok in enumerate(outcomes))
    return CellFacts(endpoint, task, 0, attempts, judge_ok)


def test_each_baseline_is_paired_with_its_own_rung_first_try_and_with_retry():
    # Strategy arm: t1..t4 solved first try except t4 (never). Baseline: t1 first try, t2 and t3 after a retry,
    # t4 first try. First try: both t1; strategy only t2, t3; baseline only t4; neither none.
    strategy = [_cell("Q2", "t1", [True]), _cell("Q2", "t2", [True]), _cell("Q2", "t3", [True]),
                _cell("Q2", "t4", [False, False, False])]
    baseline = [_cell("Q2-baseline", "t1", [True]), _cell("Q2-baseline", "t2", [False, True]),
                _cell("Q2-baseline", "t3", [False, False, True]), _cell("Q2-baseline", "t4", [True])]
    pairs = baseline_pairs({"Q2": strategy, "Q2-baseline": baseline}, {"Q2-baseline": "Q2"}, max_attempts=3)
    assert len(pairs) == 1 and (pairs[0]["baseline"], pairs[0]["arm"]) == ("Q2-baseline", "Q2")
    first, retry = pairs[0]["first_try"], pairs[0]["with_retry"]
    assert (first["strategy_solved"], first["baseline_solved"], first["pairs"]) == (3, 2, 4)
    assert [p["task"] for p in first["gained"]] == ["t2", "t3"] and [p["task"] for p in first["lost"]] == ["t4"]
    assert first["uplift"]["diff"] == pytest.approx(0.25) and first["uplift"]["lo"] < 0.25 < first["uplift"]["hi"]
    assert first["p_value"] == pytest.approx(1.0)  # 2 vs 1 discordant pairs
    assert (retry["strategy_solved"], retry["baseline_solved"]) == (3, 4)
    assert [p["task"] for p in retry["lost"]] == ["t4"] and retry["gained"] == []
    assert retry["uplift"]["diff"] == pytest.approx(-0.25)
    with pytest.raises(ValueError, match="baseline pair 'X-baseline'"):
        baseline_pairs({"Q2": strategy}, {"X-baseline": "X"}, max_attempts=3)


def test_break_even_never_answers_with_a_baseline_arm():
    # Six pairs: Q2 losing all six is significantly worse (one-sided p 1/64); its baseline solves all six.
    ref = [_cell("Q4", f"t{i}", [True]) for i in range(6)]
    weak = [_cell("Q2", f"t{i}", [False, False, False]) for i in range(6)]
    base = [_cell("Q2-baseline", f"t{i}", [True]) for i in range(6)]
    cells = {"Q4": ref, "Q2": weak, "Q2-baseline": base}
    bpw = {"Q4": 5.0, "Q2": 3.0, "Q2-baseline": 3.0}
    plain = break_even(cells, bpw, "Q4", 3)
    assert plain["answer"]["endpoint"] == "Q2-baseline"  # without the exclusion the baseline would answer
    guarded = break_even(cells, bpw, "Q4", 3, not_answers=frozenset({"Q2-baseline"}))
    assert guarded["answer"] is None
    assert {r["endpoint"] for r in guarded["rows"]} == {"Q2", "Q2-baseline"}  # its rows are still shown


def test_time_split_reads_prefill_decode_and_verify_from_the_stored_attempts():
    attempts = [
        ("Q4", {"model_seconds": 10.0, "verify_seconds": 1.5, "usage": {"timings": {"prompt_ms": 2000, "predicted_ms": 7000}}}),
        ("Q4", {"model_seconds": 4.0, "verify_seconds": 0.5, "usage": {"timings": {"prompt_ms": 500, "predicted_ms": 3000}}}),
        ("Q2", {"model_seconds": 3.0, "verify_seconds": 0.25, "usage": {"timings": None}}),  # no server timings
    ]
    split = time_split(attempts)
    assert split["Q4"] == {"prefill": 2.5, "decode": 10.0, "other_model": 1.5, "verify": 2.0, "model": 14.0,
                           "attempts": 2, "timed": 2}
    assert split["Q2"] == {"prefill": 0.0, "decode": 0.0, "other_model": 3.0, "verify": 0.25, "model": 3.0,
                           "attempts": 1, "timed": 0}
    wall = wall_split({"quantize": 30.0, "imatrix": 90.0, "serve Q4": 2.0, "serve Q2": 1.5, "eval Q4": 600.0,
                       "eval Q2": 500.0, "report": 3.0})
    assert wall == {"quantize": 30.0, "imatrix": 90.0, "server start": 3.5, "eval": 1100.0, "report": 3.0}
    with pytest.raises(ValueError, match="unknown wall-time phase 'lunch'"):
        wall_split({"lunch": 1.0})


# ---------------------------------------------------------------- the calibration text and the imatrix


def test_the_calibration_text_is_not_the_evals_tasks_or_references():
    text = calibration_text()
    assert text.is_file() and text.stat().st_size > 2000

    def lines(content: str) -> list[str]:
        kept = (re.sub(r"\s+", " ", line).strip() for line in content.splitlines())
        return [line for line in kept if line and line not in ("{", "}", "]")]

    calibration = lines(text.read_text(encoding="utf-8"))
    flat = " ".join(calibration).lower()
    window = 6  # longer than any idiom (an S3 public access block is 4 lines, an allow-all egress 5)
    runs = {tuple(calibration[i:i + window]) for i in range(len(calibration) - window + 1)}
    suites = Path(text).parent.parent / "suites"
    checked = 0
    for suite_dir in (p for p in suites.iterdir() if p.is_dir()):
        for task in load_suite(suite_dir).tasks:
            assert re.sub(r"\s+", " ", task.prompt).strip().lower()[:80] not in flat, f"{task.id}'s prompt is in {text.name}"
        for path in (p for p in suite_dir.rglob("*") if p.is_file() and p.suffix in (".tf", ".rego", ".yaml")):
            mine = lines(path.read_text(encoding="utf-8", errors="replace"))
            shared = [mine[i:i + window] for i in range(len(mine) - window + 1) if tuple(mine[i:i + window]) in runs]
            assert not shared, f"{path} shares {window} lines with {text.name}: {shared[0]}"
            checked += 1
    assert checked > 100  # the references, intents and task files were really read


def _fake_imatrix_tool(tmp_path: Path, monkeypatch) -> Path:
    """A stand-in for llama-imatrix at the process boundary: writes the -o file, logs each call."""
    calls = tmp_path / "imatrix-calls.txt"
    tool = tmp_path / "llama-imatrix"
    tool.write_text("#!/bin/sh\n"
                    f"echo \"$@\" >> {calls}\n"
                    "while [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then printf imatrix > \"$2\"; fi; shift; done\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("TFAGENT_LLAMA_IMATRIX", str(tool))
    return calls


def test_the_imatrix_records_its_calibration_text_by_sha256_and_is_made_again_for_another_text(tmp_path, monkeypatch):
    calls = _fake_imatrix_tool(tmp_path, monkeypatch)
    source = tmp_path / "model.gguf"
    source.write_bytes(b"GGUF")
    where = tmp_path / "quants"
    where.mkdir()
    text = calibration_text()
    sha = hashlib.sha256(text.read_bytes()).hexdigest()
    made = ensure_imatrix(source, where, 2, log=lambda m: None)
    assert made is not None and made.path.read_bytes() == b"imatrix"
    assert (made.calibration, made.calibration_sha256, made.calibration_bytes) == (text.name, sha, text.stat().st_size)
    marker = json.loads((where / "imatrix.gguf.json").read_text())
    assert marker["calibration_sha256"] == sha and marker["calibration"] == text.name
    assert f"-f {text}" in calls.read_text()
    again = ensure_imatrix(source, where, 2, log=lambda m: None)
    assert again.seconds_now == 0.0 and again.calibration_sha256 == sha
    assert len(calls.read_text().splitlines()) == 1  # computed once
    marker["calibration_sha256"] = "0" * 64  # made on another text (or before the hash was recorded)
    (where / "imatrix.gguf.json").write_text(json.dumps(marker))
    logged: list[str] = []
    ensure_imatrix(source, where, 2, log=logged.append)
    assert len(calls.read_text().splitlines()) == 2
    assert any("computed on another calibration text" in m for m in logged)


# ---------------------------------------------------------------- the command, end to end (fake quantize and serve)


def _ladder_responder(body: dict) -> str:
    """Greedy single requests (temperature 0: the baseline arms) break t1 and t3 on the first attempt;
    candidates (temperature > 0: the strategy arms with --candidates 2) and retries answer well."""
    messages = body["messages"]
    attempt = 1 + sum(m["role"] == "assistant" for m in messages)
    task = re.search(r"task (t\d+)", next(m["content"] for m in messages if m["role"] == "user")).group(1)
    if attempt == 1 and not body.get("temperature") and task in ("t1", "t3"):
        return BROKEN.format(name=task)
    return GOOD.format(name=task)


def _fake_rungs(tmp_path: Path) -> list[Rung]:
    rungs = []
    for qtype, bpw, imatrix in (("Q4_K_M", 5.03, False), ("Q3_K_M", 3.9, False), ("IQ2_M", 2.9, True)):
        path = tmp_path / f"model-{qtype}.gguf"
        path.write_bytes(b"GGUF")
        rungs.append(Rung(qtype, path, bpw, 1 << 20, "source" if qtype == "Q4_K_M" else "llama-quantize",
                          qtype != "Q4_K_M", imatrix, 1.0, "ab" * 32 if imatrix else None))
    return rungs


@pytest.fixture
def fake_ladder(tmp_path, monkeypatch):
    """build_ladder → three rungs (one with an importance matrix); _serve → the scripted server."""
    rungs = _fake_rungs(tmp_path)
    imatrix = ImatrixFacts(tmp_path / "imatrix.gguf", "infra-code.txt", "ab" * 32, 5671, 42.0, 42.0, 0)
    served: list[str] = []
    with ScriptedServer(responder=_ladder_responder) as server:
        def build(source, types, where, *, threads, log):
            return LadderBuild([r for r in rungs if r.qtype in types], ["re-quantized from an already quantized source"],
                               imatrix)

        def serve(to_serve, key, opts, log, shares):
            served.extend(r.qtype for r in to_serve)
            return [SimpleNamespace(base_url=server.base_url, name=f"ladder-{key}-{r.qtype}", proc=None) for r in to_serve]

        monkeypatch.setattr(ladder_module, "build_ladder", build)
        monkeypatch.setattr(ladder_module, "_serve", serve)
        monkeypatch.setattr(ladder_module, "_stop", lambda running: None)
        # The baseline's chain without Terraform's validate (no provider here); the rest is the default before issue 19.
        monkeypatch.setattr(ladder_module, "BASELINE_STRATEGY", {**BASELINE_STRATEGY, "verify": ("hcl",)})
        yield SimpleNamespace(server=server, served=served, model=rungs[0].path)


def test_strategy_flags_reach_every_rung_and_the_report_pairs_each_end_with_its_baseline(tmp_path, fake_ladder):
    suite = write_suite(tmp_path)
    out = tmp_path / "ladder"
    args = ["ladder", str(fake_ladder.model), "--types", "Q4_K_M,Q3_K_M,IQ2_M", "--suite", str(suite), "--out", str(out),
            "--quant-dir", str(tmp_path / "quants"), "--max-attempts", "3", "--parallel", "2",
            "--grounding", "none", "--feedback", "raw", "--verify", "hcl", "--candidates", "2", "--no-autofix",
            "--baseline-on-ends"]
    result = CliRunner().invoke(eval_group, args)
    assert result.exit_code == 0, result.output
    assert fake_ladder.served == ["Q4_K_M", "Q3_K_M", "IQ2_M"]  # one server per rung, the baselines share it

    report = json.loads((out / "report.json").read_text())
    names = [e["endpoint"] for e in report["endpoints"]]
    assert names == ["Q4_K_M", "Q4_K_M-baseline", "Q3_K_M", "IQ2_M", "IQ2_M-baseline"]
    assert report["reference"] == "Q4_K_M"
    specs = {e["name"]: e for e in report["meta"]["endpoints"]}
    flags = {"grounding": "none", "feedback": "raw", "constrain": LADDER_STRATEGY["constrain"], "verify": ["hcl"],
             "candidates": 2, "autofix": False}
    for rung in ("Q4_K_M", "Q3_K_M", "IQ2_M"):
        assert {k: specs[rung][k] for k in FIELDS} == flags
    for baseline in ("Q4_K_M-baseline", "IQ2_M-baseline"):
        assert {k: specs[baseline][k] for k in FIELDS} == {**_expected(BASELINE_STRATEGY), "verify": ["hcl"]}
    ladder = report["meta"]["ladder"]
    assert ladder["baselines"] == {"Q4_K_M-baseline": "Q4_K_M", "IQ2_M-baseline": "IQ2_M"}
    assert ladder["strategy"] == flags and ladder["imatrix"]["calibration_sha256"] == "ab" * 32

    # Every strategy arm solves all four on the first try (two candidates each); each baseline fixes t1, t3 on a retry.
    by_name = {e["endpoint"]: e for e in report["endpoints"]}
    assert [e["passed"] for e in by_name["IQ2_M"]["pass_at_k"]] == [4, 4, 4]
    assert [e["passed"] for e in by_name["IQ2_M-baseline"]["pass_at_k"]] == [2, 4, 4]
    pairs = {p["arm"]: p for p in report["baseline_pairs"]}
    assert set(pairs) == {"Q4_K_M", "IQ2_M"}
    for pair in pairs.values():
        assert [g["task"] for g in pair["first_try"]["gained"]] == ["t1", "t3"] and pair["first_try"]["lost"] == []
        assert pair["first_try"]["uplift"]["diff"] == pytest.approx(0.5)
        assert pair["with_retry"]["gained"] == pair["with_retry"]["lost"] == []
    # The usual comparison with the top rung too: the bottom baseline lost t1 and t3 on the first try.
    assert [p["task"] for p in by_name["IQ2_M-baseline"]["vs_reference"]["first_try"]["lost"]] == ["t1", "t3"]
    assert report["break_even"]["answer"]["endpoint"] != "IQ2_M-baseline"

    # Tokens: a strategy arm pays for two first samples; solved per 1,000 tokens is solved / spent.
    for name in names:
        for budget in ("first_try", "with_retry"):
            fig = by_name[name]["per_1k_tokens"][budget]
            assert fig["tokens"] > 0 and fig["solved_per_1k_tokens"] == pytest.approx(1000 * fig["solved"] / fig["tokens"])
    assert by_name["IQ2_M"]["per_1k_tokens"]["first_try"]["tokens"] > by_name["IQ2_M-baseline"]["per_1k_tokens"]["first_try"]["tokens"]
    assert set(report["time"]["streams"]) == set(names)
    assert report["time"]["streams"]["IQ2_M-baseline"]["attempts"] == 6  # 2 tasks × 1 + 2 tasks × 2
    assert report["time"]["wall"]["server start"] >= 0 and report["time"]["wall"]["eval"] > 0
    # Busy wall per server: a baseline arm ran on its rung's server, so one per rung; never more than the eval phase.
    assert set(report["time"]["busy"]) == {"Q4_K_M", "Q3_K_M", "IQ2_M"}
    assert 0 < sum(report["time"]["busy"].values()) <= report["time"]["wall"]["eval"] + 1

    md = (out / "report.md").read_text()
    assert "## Arms: strategy, tokens and solved per 1,000 tokens" in md
    assert "| IQ2_M | 2.90 | grounding none; verify hcl; feedback raw; candidates 2; autofix false; constrain off; temperature 0.0" in md
    assert "## What the strategy buys: each end against the old default on the same rung" in md
    assert "| IQ2_M | first try | 4/4 | 2/4 | +50.0" in md
    assert "IQ2_M vs IQ2_M-baseline, first try: lost none; gained t1#0, t3#0" in md
    assert "## Where the time went" in md and "server start" in md and "busy" in md
    assert f"sha256 {'ab' * 32}" in md and "strategy of every rung: grounding none" in md
    html = (out / "report.html").read_text()
    assert "What the strategy buys" in html and "solved per 1k tokens, with retry" in html and html.count("<img ") == 3
    assert (out / "ladder.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the headline plot as a file for a README

    # `tfagent eval report` regenerates the ladder report from the store alone (no model, no server).
    again = tmp_path / "again"
    again.mkdir()
    (again / "ladder-state.json").write_text((out / "ladder-state.json").read_text())
    regenerated = CliRunner().invoke(eval_group, ["report", report["meta"]["run_id"], "--db", str(out / "ladder.db"),
                                                  "--out", str(again)])
    assert regenerated.exit_code == 0, regenerated.output
    rebuilt = json.loads((again / "report.json").read_text())
    for key in ("endpoints", "baseline_pairs", "break_even", "notes", "meta"):
        assert rebuilt[key] == report[key], key
    assert rebuilt["time"]["streams"] == report["time"]["streams"] and rebuilt["time"]["busy"] == report["time"]["busy"]
    assert rebuilt["time"]["wall"]["report"] > 0  # the first report's own phase, recorded after it was written
    assert "## What the strategy buys" in (again / "report.md").read_text()


def test_the_ladder_default_strategy_applies_when_no_flag_is_given(tmp_path, fake_ladder, monkeypatch):
    # Cheap defaults for this run (no provider here), set in the one place the lead changes.
    cheap = {**LADDER_STRATEGY, "grounding": "none", "verify": ("hcl",), "candidates": 1}
    monkeypatch.setattr(ladder_module, "LADDER_STRATEGY", cheap)
    suite = write_suite(tmp_path)
    out = tmp_path / "ladder"
    result = CliRunner().invoke(eval_group, ["ladder", str(fake_ladder.model), "--types", "Q4_K_M,IQ2_M", "--suite", str(suite),
                                             "--out", str(out), "--quant-dir", str(tmp_path / "quants"), "--max-attempts", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert [e["endpoint"] for e in report["endpoints"]] == ["Q4_K_M", "IQ2_M"]  # no baseline without the flag
    assert report["baseline_pairs"] == [] and report["meta"]["ladder"]["baselines"] == {}
    for spec in report["meta"]["endpoints"]:
        assert {k: spec[k] for k in FIELDS} == _expected(cheap)
    assert "What the strategy buys" not in (out / "report.md").read_text()


def test_an_unknown_verifier_in_verify_is_a_usage_error_naming_it(tmp_path, fake_ladder):
    suite = write_suite(tmp_path)
    result = CliRunner().invoke(eval_group, ["ladder", str(fake_ladder.model), "--suite", str(suite), "--out", str(tmp_path / "o"),
                                             "--verify", "hcl,validat"])
    assert result.exit_code == 2
    assert "--verify 'hcl,validat': unknown verifier(s) validat" in result.output
    assert fake_ladder.served == []
