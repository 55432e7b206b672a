"""The eval runner end to end: the real loop, the real judge, a real HTTP model server (scripted).

Endpoint A fails the first attempt (broken HCL) on half the tasks and fixes it on the retry;
endpoint B always answers correctly. The report's figures must equal the hand-computed ones.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tfagent.agent.cli.eval_commands import eval_group
from tfagent.agent.core.config import load_config, user_config_path
from tfagent.agent.fake.server import ScriptedServer
from tfagent.evals.reporting.metrics import mcnemar_exact, paired_difference, wilson
from tfagent.evals.reporting.report import summary_for_run
from tfagent.evals.running.runner import EvalError, EvalPlan, EvalRunner, cells_of, parse_shard, run_id_of
from tfagent.evals.running.store import Store
from tfagent.evals.tasks.suite import load_suite

from conftest import OLD_STRATEGY_TOML  # the cells as before issue 19: one request per attempt, no cards, raw feedback

TASKS = ("t1", "t2", "t3", "t4")
FAIL_FIRST_ON_A = {"t1", "t3"}

GOOD = '```hcl title="main.tf"\nresource "aws_s3_bucket" "{name}" {{\n  bucket = "{name}-bucket"\n}}\n```\n'
BROKEN = '```hcl title="main.tf"\nresource "aws_s3_bucket" "{name}" {{\n  bucket = \n```\n'


def write_suite(folder: Path) -> Path:
    tasks = "\n".join(
        f"  - id: {t}\n    prompt: Create an S3 bucket for task {t}.\n    tags: [{'odd' if int(t[1:]) % 2 else 'even'}]"
        for t in TASKS
    )
    path = folder / "mini.yaml"
    path.write_text(
        "name: mini\ndescription: four buckets\nattribution: test data\n"
        "defaults:\n  mode: terraform\n  verify: [hcl]\n  judge:\n    hcl:\n      resources: [aws_s3_bucket]\n"
        f"tasks:\n{tasks}\n",
        encoding="utf-8",
    )
    return path


def responder(body: dict) -> str:
    """A and B as described above; the attempt number is read from the conversation."""
    messages = body["messages"]
    attempt = 1 + sum(m["role"] == "assistant" for m in messages)
    first_user = next(m["content"] for m in messages if m["role"] == "user")
    task = re.search(r"task (t\d+)", first_user).group(1)
    if body["model"] == "quant-a" and task in FAIL_FIRST_ON_A and attempt == 1:
        return BROKEN.format(name=task)
    return GOOD.format(name=task)


def write_config(base_url: str, *, seed_a: int = 7) -> None:
    path = user_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[endpoints.iq2]\nbase_url = "{base_url}"\nmodel = "quant-a"\nbpw = 2.0\nseed = {seed_a}\n{OLD_STRATEGY_TOML}\n'
        f'[endpoints.q4]\nbase_url = "{base_url}"\nmodel = "quant-b"\nbpw = 4.5\n{OLD_STRATEGY_TOML}',
        encoding="utf-8",
    )


@pytest.fixture
def server():
    with ScriptedServer(responder=responder) as srv:
        write_config(srv.base_url)
        yield srv


def make_plan(tmp_path: Path, **kw) -> EvalPlan:
    suite = load_suite(write_suite(tmp_path))
    endpoints = load_config().endpoints
    args = {"samples": 2, "max_attempts": 3, "concurrency": 4, "reference": "q4", **kw}
    return EvalPlan(suite=suite, tasks=suite.tasks, endpoints=[endpoints["iq2"], endpoints["q4"]], **args)


def test_report_figures_equal_hand_computed(tmp_path, server):
    plan = make_plan(tmp_path)
    with Store(tmp_path / "eval.db") as store:
        outcome = EvalRunner(plan, store).run()
        assert (outcome.cells, outcome.completed, outcome.errors) == (16, 16, [])
        summary, meta = summary_for_run(store, outcome.run_id, reference="q4")
    a, b = summary["endpoints"]
    # A: 8 cells (4 tasks × 2 samples); t1, t3 fail first → 4/8 first try, 8/8 with retry.
    assert [e["passed"] for e in a["pass_at_k"]] == [4, 8, 8]
    assert (a["first_try"]["lo"], a["first_try"]["hi"]) == wilson(4, 8)
    assert a["uplift"]["diff"] == pytest.approx(0.5)
    assert (a["uplift"]["lo"], a["uplift"]["hi"]) == (paired_difference(4, 4, 0, 0)["lo"], paired_difference(4, 4, 0, 0)["hi"])
    assert (a["recovery"]["passed"], a["recovery"]["n"]) == (4, 4)
    assert a["mean_attempts_to_success"] == pytest.approx((4 * 1 + 4 * 2) / 8)
    assert a["well_formed"]["n"] == 12 and a["error_categories"] == {"syntax": 4}
    # B: everything on the first try.
    assert [e["passed"] for e in b["pass_at_k"]] == [8, 8, 8] and b["well_formed"]["n"] == 8
    # Paired vs q4: first try A loses t1, t3 in both samples → 4 discordant, p = 2/16; with retry none.
    first = a["vs_reference"]["first_try"]
    assert sorted((x["task"], x["sample"]) for x in first["lost"]) == [("t1", 0), ("t1", 1), ("t3", 0), ("t3", 1)]
    assert first["p_value"] == pytest.approx(mcnemar_exact(4, 0)) == pytest.approx(0.125)
    assert a["vs_reference"]["with_retry"]["lost"] == [] and a["vs_reference"]["with_retry"]["p_value"] == 1.0
    assert meta["complete"] == meta["cells"] == 16
    # Samples asked with seed = endpoint seed + sample (A has seed 7, B none → 0).
    seeds = {(r["model"], r.get("seed")) for r in server.requests}
    assert seeds == {("quant-a", 7), ("quant-a", 8), ("quant-b", 0), ("quant-b", 1)}


def test_rerun_is_a_no_op_and_cells_are_never_redone(tmp_path, server):
    plan = make_plan(tmp_path, samples=1)
    with Store(tmp_path / "eval.db") as store:
        EvalRunner(plan, store).run()
        asked = len(server.requests)
        rows = store.attempt_rows(run_id_of(plan))
        again = EvalRunner(plan, store).run()
        assert (again.resumed, len(server.requests)) == (8, asked)
        assert store.attempt_rows(run_id_of(plan)) == rows


def test_shards_merge_into_the_full_run(tmp_path, server):
    plan = make_plan(tmp_path)
    shards = [make_plan(tmp_path, shard=parse_shard(f"{i}/3")) for i in (1, 2, 3)]
    assert sorted(c.key for s in shards for c in cells_of(s)) == sorted(c.key for c in cells_of(plan))
    assert {run_id_of(s) for s in shards} == {run_id_of(plan)}
    runner = CliRunner()
    for i, shard in enumerate(shards, start=1):
        with Store(tmp_path / f"s{i}.db") as store:
            EvalRunner(shard, store).run()
    result = runner.invoke(eval_group, ["merge", str(tmp_path / "all.db"), *(str(tmp_path / f"s{i}.db") for i in (1, 2, 3))])
    assert result.exit_code == 0, result.output
    with Store(tmp_path / "all.db") as store:
        summary, meta = summary_for_run(store, run_id_of(plan), reference="q4")
    assert meta["complete"] == 16
    assert [e["passed"] for e in summary["endpoints"][0]["pass_at_k"]] == [4, 8, 8]


def test_cli_run_writes_reports_and_rescore_needs_no_model(tmp_path, server):
    out = tmp_path / "report"
    db = tmp_path / "eval.db"
    args = ["run", str(write_suite(tmp_path)), "--endpoints", "iq2,q4", "--reference", "q4", "--db", str(db),
            "--out", str(out), "--tags", "odd"]
    result = CliRunner().invoke(eval_group, args)
    assert result.exit_code == 0, result.output
    assert "iq2" in result.output and "q4" in result.output
    # Not a terminal: one plain line per finished cell instead of live bars.
    assert re.search(r"^\[iq2\] t1#0 solved \([12]/2\)$", result.output, re.M), result.output
    document = json.loads((out / "report.json").read_text())
    iq2 = document["endpoints"][0]
    # Tags "odd" select t1 and t3, exactly the tasks A gets wrong first: 0/2 first try, 2/2 with retry.
    assert (iq2["first_try"]["passed"], iq2["with_retry"]["passed"], iq2["first_try"]["n"]) == (0, 2, 2)
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "http://" not in page and "<script" not in page
    assert "| iq2 |" in (out / "report.md").read_text()
    asked = len(server.requests)
    run_id = document["meta"]["run_id"]
    listed = CliRunner().invoke(eval_group, ["report", "--db", str(db)])
    assert listed.exit_code == 0 and run_id in listed.output and "mini" in listed.output
    shown = CliRunner().invoke(eval_group, ["report", run_id, "--db", str(db), "--reference", "q4"])
    assert shown.exit_code == 0 and "2/2 cells" not in shown.output and "4/4 cells" in shown.output
    missing = CliRunner().invoke(eval_group, ["report", "nope", "--db", str(db)])
    assert missing.exit_code == 2 and "no run 'nope'" in missing.output
    rescored = CliRunner().invoke(eval_group, ["rescore", run_id, "--db", str(db), "--verify", "hcl", "--reference", "q4"])
    assert rescored.exit_code == 0, rescored.output
    assert len(server.requests) == asked  # no model call
    with Store(db) as store:
        (scoring,) = [s for s in store.scorings(run_id) if s != "run"]
        assert len(store.judgments(run_id, scoring)) == 4
        assert all(j["verdict"]["rescore_chain"][0]["verifier"] == "hcl" for j in store.judgments(run_id, scoring).values())


def test_bad_input_exits_2_and_unreachable_server_exits_3(tmp_path, server):
    suite = str(write_suite(tmp_path))
    runner = CliRunner()
    unknown = runner.invoke(eval_group, [suite, "--endpoints", "iq2,nope", "--db", str(tmp_path / "e.db")])
    assert unknown.exit_code == 2 and "unknown endpoint(s) nope" in unknown.output
    bad_ref = runner.invoke(eval_group, [suite, "--endpoints", "iq2", "--reference", "q4", "--db", str(tmp_path / "e.db")])
    assert bad_ref.exit_code == 2 and "--reference 'q4' is not one of" in bad_ref.output
    bad_shard = runner.invoke(eval_group, [suite, "--endpoints", "iq2", "--shard", "4/3"])
    assert bad_shard.exit_code == 2 and "--shard" in bad_shard.output
    with pytest.raises(EvalError, match="--shard must look like i/n"):
        parse_shard("half")
    write_config("http://127.0.0.1:9/v1")
    gone = runner.invoke(eval_group, [suite, "--endpoints", "iq2", "--ready-timeout", "0.5", "--db", str(tmp_path / "e.db")])
    assert gone.exit_code == 3 and "unreachable" in gone.output


PINNED = ('terraform {{\n  required_providers {{\n    aws = {{\n      source  = "hashicorp/aws"\n      version = "3.39.0"\n'
          '    }}\n  }}\n}}\n\nresource "aws_s3_bucket" "b" {{\n  {arg} = "real-bucket"\n}}\n')


def test_real_terraform_validate_through_the_provider_mirror(tmp_path, aws_mirror):
    """Verify chain hcl → validate against the real aws provider from --provider-mirror: A misspells an
    argument first (Terraform says "Unsupported argument"), then fixes it; the category is counted."""

    def respond(body: dict) -> str:
        attempt = 1 + sum(m["role"] == "assistant" for m in body["messages"])
        arg = "bukket" if body["model"] == "quant-a" and attempt == 1 else "bucket"
        return '```hcl title="main.tf"\n' + PINNED.format(arg=arg) + "```\n"

    suite_file = tmp_path / "tf.yaml"
    suite_file.write_text("name: tf\ntasks:\n  - id: bucket\n    prompt: An S3 bucket.\n    mode: terraform\n"
                          "    verify: [hcl, validate]\n    judge:\n      hcl:\n        resources: [aws_s3_bucket]\n")
    with ScriptedServer(responder=respond) as srv, Store(tmp_path / "e.db") as store:
        write_config(srv.base_url)
        suite = load_suite(suite_file)
        endpoints = load_config().endpoints
        plan = EvalPlan(suite=suite, tasks=suite.tasks, endpoints=[endpoints["iq2"], endpoints["q4"]],
                        max_attempts=2, provider_mirror=aws_mirror, reference="q4")
        outcome = EvalRunner(plan, store).run()
        assert outcome.errors == []
        summary, _ = summary_for_run(store, outcome.run_id, reference="q4")
    a, b = summary["endpoints"]
    assert [e["passed"] for e in a["pass_at_k"]] == [0, 1] and [e["passed"] for e in b["pass_at_k"]] == [1, 1]
    assert a["error_categories"] == {"unknown_argument": 1}


class InFlight:
    """A responder that answers slowly and records how many requests it serves at once."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.now = self.peak = 0
        self.other: "InFlight | None" = None
        self.overlapped = False  # a request arrived while the other server was serving one

    def __call__(self, body: dict) -> str:
        import time

        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        if self.other is not None and self.other.now > 0:
            self.overlapped = True
        time.sleep(0.15)
        with self.lock:
            self.now -= 1
        return responder({**body, "model": "quant-b"})


def test_concurrency_is_bounded_per_server_and_servers_run_in_parallel(tmp_path):
    first, second = InFlight(), InFlight()
    first.other, second.other = second, first
    with ScriptedServer(responder=first) as one, ScriptedServer(responder=second) as two:
        path = user_config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'[endpoints.one]\nbase_url = "{one.base_url}"\nmodel = "m1"\n{OLD_STRATEGY_TOML}\n'
                        f'[endpoints.two]\nbase_url = "{two.base_url}"\nmodel = "m2"\n{OLD_STRATEGY_TOML}')
        suite = load_suite(write_suite(tmp_path))
        endpoints = load_config().endpoints
        plan = EvalPlan(suite=suite, tasks=suite.tasks, endpoints=[endpoints["one"], endpoints["two"]], samples=2,
                        concurrency=2)
        with Store(tmp_path / "e.db") as store:
            EvalRunner(plan, store).run()
    assert first.peak == 2 and second.peak == 2
    # While one server was busy the other was too: they did not take turns. (Checked where requests
    # arrive, not when cells finish: under CPU load the finish moments rarely meet a 0.15 s window.)
    assert first.overlapped or second.overlapped
