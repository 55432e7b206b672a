"""tfagent bench: pure statistics by hand, and the command against a real HTTP server (ScriptedServer)."""

from __future__ import annotations

import itertools
import json
import random
import threading

import pytest
from click.testing import CliRunner

from tfagent.agent.cli.bench import bench_command
from tfagent.agent.serving.bench import Sample, parse_levels, percentile, poisson_arrivals, saturation_index, summarize
from tfagent.agent.fake.server import ScriptedReply, ScriptedServer


def test_percentile_interpolates_between_ranks():
    values = [4.0, 1.0, 3.0, 2.0]  # sorted: 1 2 3 4
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 95) == pytest.approx(3.85)  # rank 2.85 → 3 + 0.85
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0


def test_summarize_counts_only_successful_requests():
    samples = [
        Sample(True, latency=2.0, ttft=0.5, tokens=30),  # decode 30 / 1.5 = 20 tok/s
        Sample(True, latency=3.0, ttft=1.0, tokens=20),  # decode 20 / 2.0 = 10 tok/s
        Sample(False, latency=0.1, error="APIConnectionError: refused"),
    ]
    s = summarize(samples, wall_seconds=5.0)
    assert s["requests"] == 3 and s["errors"] == 1 and s["tokens"] == 50
    assert s["total_tok_s"] == pytest.approx(10.0)
    assert s["per_user_tok_s"] == pytest.approx(15.0)
    assert s["ttft_p50"] == pytest.approx(0.75)
    assert s["latency_p95"] == pytest.approx(2.95)
    assert s["error_messages"] == ["APIConnectionError: refused"]


def test_summarize_of_only_errors_has_no_rates():
    s = summarize([Sample(False, latency=0.2, error="x")], wall_seconds=1.0)
    assert s["total_tok_s"] == 0.0 and s["per_user_tok_s"] is None and s["ttft_p50"] is None


@pytest.mark.parametrize("totals, expected", [
    ([20, 38, 40, 41], 1),  # 38 → 40 is +5 %
    ([20, 38, 70, 130], None),  # still growing
    ([50, 52], 0),
    ([50, 60, 30], 1),  # a drop is saturation too
    ([10], None),
])
def test_saturation_index(totals, expected):
    assert saturation_index(totals) == expected


def test_poisson_arrivals_rate_and_bounds():
    arrivals = poisson_arrivals(5.0, 200.0, random.Random(1))
    assert all(0 < t < 200.0 for t in arrivals)
    assert arrivals == sorted(arrivals)
    assert 900 < len(arrivals) < 1100  # expectation 1000, sd ≈ 32
    assert arrivals == poisson_arrivals(5.0, 200.0, random.Random(1))  # seeded: reproducible
    with pytest.raises(ValueError, match="rate"):
        poisson_arrivals(0, 10, random.Random(1))


def test_parse_levels_rejects_bad_lists():
    assert parse_levels("1,2, 4", int, "--concurrency") == [1, 2, 4]
    with pytest.raises(Exception, match="comma-separated"):
        parse_levels("1,two", int, "--concurrency")
    with pytest.raises(Exception, match="positive"):
        parse_levels("0,2", int, "--concurrency")


REPLY = "x" * 160  # 40 chunks of 4 characters = 40 tokens


def test_bench_closed_loop_against_a_capacity_limited_server(tmp_path):
    """The server emits 200 tokens/s in total, shared by all streams. By hand: total tok/s ≈ 200 at
    every concurrency, so it saturates at the first level; each of N users decodes at ≈ 200/N tok/s."""
    capacity = 200.0
    with ScriptedServer(responder=lambda body: ScriptedReply(REPLY), capacity_tokens_per_second=capacity) as server:
        result = CliRunner().invoke(bench_command, [
            server.base_url, "--model", "scripted", "--concurrency", "1,2,4", "--requests", "3",
            "--max-tokens", "64", "--out", str(tmp_path)])
        requests = server.chat_requests()
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "bench.json").read_text())
    assert (tmp_path / "bench.png").stat().st_size > 1000
    levels = {lv["level"]: lv for lv in doc["levels"]}
    assert [lv["requests"] for lv in doc["levels"]] == [3, 6, 12]
    assert len(requests) == 21 and all(r["max_tokens"] == 64 and r["stream"] for r in requests)
    assert all(lv["errors"] == 0 and lv["tokens"] == 40 * lv["requests"] for lv in doc["levels"])
    # The cap is a hard upper bound; a busy machine can only make the figures lower, so only
    # one-sided, load-proof bounds here (the figures themselves belong to benchmarks, not tests).
    for n in (1, 2, 4):
        assert 0 < levels[n]["total_tok_s"] <= capacity * 1.05
    assert levels[1]["per_user_tok_s"] > levels[4]["per_user_tok_s"]
    assert doc["saturation_level"] is not None
    assert doc["max_tokens"] == 64 and "S3 bucket" in doc["prompt"]
    assert f"saturation: concurrency {doc['saturation_level']} " in result.output


def test_bench_growing_throughput_is_not_saturated(tmp_path):
    """0.3 s before each reply and no token cap: N streams do N times the work, so no saturation."""
    with ScriptedServer(responder=lambda body: ScriptedReply("abcd" * 10, delay=0.3)) as server:
        result = CliRunner().invoke(bench_command, [server.base_url, "--model", "scripted", "--concurrency", "1,4",
                                                    "--requests", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "bench.json").read_text())
    one, four = doc["levels"]
    assert four["total_tok_s"] > 3 * one["total_tok_s"]
    assert 0.3 <= one["ttft_p50"] < 2.0  # the scripted delay is a floor; load only adds to it
    assert doc["saturation_level"] is None


def test_bench_counts_server_errors_without_retrying(tmp_path):
    counter = itertools.count()
    lock = threading.Lock()

    def every_third_fails(body):
        with lock:
            n = next(counter)
        if n == 0:
            return ScriptedReply("a reply cut in the middle of its stream", fault="cut")
        return ScriptedReply(fault="500") if n % 3 == 2 else ScriptedReply("ok ok ok ok")

    with ScriptedServer(responder=every_third_fails) as server:
        result = CliRunner().invoke(bench_command, [server.base_url, "--model", "scripted", "--concurrency", "1",
                                                    "--requests", "6", "--out", str(tmp_path)])
        sent = len(server.chat_requests())
    assert result.exit_code == 0, result.output
    level = json.loads((tmp_path / "bench.json").read_text())["levels"][0]
    assert sent == 6  # no hidden retries
    assert level["requests"] == 6 and level["errors"] == 3  # requests 0 (cut), 2 and 5 (HTTP 500)
    assert any("InternalServerError" in m for m in level["error_messages"])
    assert "stream ended without a finish_reason" in level["error_messages"]
    assert level["tokens"] == 3 * 3  # "ok ok ok ok" = 11 chars = 3 chunks of 4, from the 3 good requests


def test_bench_open_loop_poisson(tmp_path):
    with ScriptedServer(responder=lambda body: ScriptedReply("abcd" * 5)) as server:
        result = CliRunner().invoke(bench_command, [server.base_url, "--model", "scripted", "--open-loop",
                                                    "--rate", "10,20", "--duration", "1.5", "--out", str(tmp_path)])
        sent = len(server.chat_requests())
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "bench.json").read_text())
    assert doc["mode"] == "open" and [lv["level"] for lv in doc["levels"]] == [10.0, 20.0]
    expected = [len(poisson_arrivals(r, 1.5, random.Random(7))) for r in (10.0, 20.0)]
    assert [lv["requests"] for lv in doc["levels"]] == expected and sent == sum(expected)
    assert all(lv["errors"] == 0 for lv in doc["levels"])


def test_bench_open_loop_needs_duration(tmp_path):
    result = CliRunner().invoke(bench_command, ["http://127.0.0.1:9/v1", "--open-loop", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--duration" in result.output


def test_bench_unknown_endpoint_name_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(bench_command, ["nosuch", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "nosuch" in result.output
