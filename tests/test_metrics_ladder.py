"""Break-even and error fates of a ladder, on an example computed by hand."""

from __future__ import annotations

import math

import pytest

from tfagent.evals.running.facts import AttemptFacts, CellFacts
from tfagent.evals.ladder.metrics import (attempt_span, break_even, busy_wall, categories_by_attempt, category_fates,
                                          ladder_summary, one_sided_worse_p)


def cell(endpoint: str, task: int, stop: int | None, max_attempts: int = 3, cats=("schema",)) -> CellFacts:
    """Solved at attempt ``stop`` (None: never within max_attempts); every failed attempt shows ``cats``;
    each attempt costs 100 prompt + 50 completion tokens and 2 s."""
    last = stop or max_attempts
    attempts = tuple(AttemptFacts(n, ok=(n == stop), well_formed=True, categories=() if n == stop else cats,
                                  prompt_tokens=100, completion_tokens=50, seconds=2.0) for n in range(1, last + 1))
    return CellFacts(endpoint, f"t{task}", 0, attempts, judge_ok=stop is not None)


# Ten tasks. Reference (bpw 5): solves t0–t5 on the first try, t6–t9 never → first try 6/10.
# Q3 (bpw 4): first try t0–t2; at the 2nd attempt t3, t4; at the 3rd t6 → k=0: 3, k=1: 5, k=2: 6.
# Q2 (bpw 3): first try t0; 2nd attempt t1; 3rd t2 → 1, 2, 3.
REF = [cell("ref", t, 1 if t < 6 else None) for t in range(10)]
Q3_STOPS = {0: 1, 1: 1, 2: 1, 3: 2, 4: 2, 6: 3}
Q3 = [cell("q3", t, Q3_STOPS.get(t)) for t in range(10)]
Q2 = [cell("q2", t, {0: 1, 1: 2, 2: 3}.get(t), cats=("syntax",)) for t in range(10)]


def test_one_sided_p_by_hand():
    assert one_sided_worse_p(0, 0) == 1.0
    assert one_sided_worse_p(3, 0) == pytest.approx(1 / 8)  # all 3 discordant pairs against: (½)³
    assert one_sided_worse_p(5, 0) == pytest.approx(1 / 32)
    assert one_sided_worse_p(1, 1) == pytest.approx(3 / 4)  # P(X ≥ 1), n = 2
    assert one_sided_worse_p(2, 1) == pytest.approx(4 / 8)  # P(X ≥ 2), n = 3: (3 + 1) / 8


def test_break_even_on_the_hand_checked_example():
    result = break_even({"ref": REF, "q3": Q3, "q2": Q2}, {"ref": 5.0, "q3": 4.0, "q2": 3.0}, "ref", 3)
    rows = {(r["endpoint"], r["k"]): r for r in result["rows"]}
    # q3 k=0: ref-only t3, t4, t5 (3), q3-only none → p = 1/8 = 0.125 ≥ 0.05: not shown worse.
    assert (rows["q3", 0]["only_ref"], rows["q3", 0]["only_here"], rows["q3", 0]["p_worse"]) == (3, 0, pytest.approx(0.125))
    assert rows["q3", 0]["not_worse"] and not rows["q3", 0]["at_least_as_good"]
    # q3 k=2: ref-only t5, q3-only t6 → diff 0, at least as good.
    assert (rows["q3", 2]["only_ref"], rows["q3", 2]["only_here"], rows["q3", 2]["diff"]) == (1, 1, 0.0)
    assert rows["q3", 2]["at_least_as_good"]
    # q2 k=0: ref-only t1–t5 (5), none back → p = 1/32 < 0.05: worse. k=1: 4 → 1/16 ≥ 0.05: not shown worse.
    assert rows["q2", 0]["p_worse"] == pytest.approx(1 / 32) and not rows["q2", 0]["not_worse"]
    assert rows["q2", 1]["p_worse"] == pytest.approx(1 / 16) and rows["q2", 1]["not_worse"]
    # The answer: the lowest bpw not shown worse (q2, 3 bpw) at its smallest k (1).
    answer = result["answer"]
    assert (answer["endpoint"], answer["bpw"], answer["k"]) == ("q2", 3.0, 1)
    # Its cost: q2 with 1 retry spends attempts ≤ 2: t0 1 attempt, every other task 2 → 19 attempts,
    # 19 × 150 tokens and 19 × 2 s for 2 solved tasks.
    assert answer["cost"]["tokens_per_solved"] == pytest.approx(19 * 150 / 2)
    assert answer["cost"]["seconds_per_solved"] == pytest.approx(19 * 2 / 2)
    # The strict answer (diff ≥ 0) is q3 with 2 retries.
    strict = result["answer_at_least_as_good"]
    assert (strict["endpoint"], strict["k"]) == ("q3", 2)
    # The reference's first try: 10 attempts for 6 solved.
    assert result["reference_first_try_cost"]["tokens_per_solved"] == pytest.approx(10 * 150 / 6)


def test_no_break_even_when_every_budget_is_worse():
    bad = [cell("bad", t, None) for t in range(10)]
    result = break_even({"ref": REF, "bad": bad}, {"ref": 5.0, "bad": 2.0}, "ref", 3)
    assert result["answer"] is None and result["answer_at_least_as_good"] is None
    assert all(math.isclose(r["p_worse"], 1 / 64) for r in result["rows"])  # 6 lost, 0 gained


def test_error_categories_per_attempt_and_their_fates():
    by_attempt = categories_by_attempt(Q3)
    # Attempt 1 failed on t3, t4, t5, t6, t7, t8, t9 (7); attempt 2 on t5–t9 (5); attempt 3 on t5, t7–t9 (4).
    assert by_attempt == {"1": {"schema": 7}, "2": {"schema": 5}, "3": {"schema": 4}}
    assert category_fates(Q3, 3) == {"schema": {"first_try": 7, "fixed": 3, "never": 4}}


def test_ladder_summary_picks_the_highest_bpw_as_reference_and_adds_the_pieces():
    summary = ladder_summary(REF + Q3 + Q2, endpoints={"ref": 5.0, "q3": 4.0, "q2": 3.0}, max_attempts=3)
    assert summary["reference"] == "ref" and summary["break_even"]["answer"]["endpoint"] == "q2"
    q3 = summary["endpoints"][1]
    assert q3["vs_reference"]["first_try"]["lost"] == [{"task": f"t{t}", "sample": 0} for t in (3, 4, 5)]
    assert q3["category_fates"]["schema"]["fixed"] == 3
    assert q3["tokens_per_solved"]["0"] == pytest.approx(10 * 150 / 3)


def test_busy_wall_is_the_union_of_each_servers_attempt_intervals():
    # Server a: [0, 10] and [5, 12] overlap (12 s), then a gap (a kill, a new sitting), then [100, 103] → 15 s.
    # Server b: one attempt of 4 s. Gaps between sittings cost nothing; overlaps count once.
    spans = [("a", 10.0, 10.0), ("a", 12.0, 7.0), ("a", 103.0, 3.0), ("b", 50.0, 4.0)]
    assert busy_wall(spans) == {"a": 15.0, "b": 4.0}
    assert busy_wall([]) == {}
    with pytest.raises(ValueError, match="negative duration"):
        busy_wall([("a", 1.0, -2.0)])


def test_an_attempts_span_is_its_longest_candidate_when_candidates_ran_side_by_side():
    assert attempt_span({"model_seconds": 5.0, "verify_seconds": 1.5}) == 6.5
    three = {"model_seconds": 30.0, "verify_seconds": 1.0,  # the sums over candidates
             "candidates": [{"model_seconds": 10.0, "verify_seconds": 1.0}, {"model_seconds": 12.0, "verify_seconds": 0.5}]}
    assert attempt_span(three) == 12.5
