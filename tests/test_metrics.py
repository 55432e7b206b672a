"""metrics.py against values computed by hand (worked arithmetic in the comments)."""

from __future__ import annotations

import pytest

from tfagent.evals.reporting.metrics import (
    mcnemar_exact,
    paired_difference,
    pareto_frontier,
    summarize,
    wilson,
)
from tfagent.evals.running.facts import AttemptFacts, CellFacts


def test_wilson_matches_hand_computation():
    # 5/10, z=1.96: centre = (0.5 + 0.19207)/1.38415 = 0.5;
    # half = 1.96*sqrt(0.025 + 0.0096036)/1.38415 = 0.26341  → (0.2366, 0.7634)
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.23659, abs=5e-5)
    assert hi == pytest.approx(0.76341, abs=5e-5)
    # 0/10: centre = 0.19207/1.38415 = 0.13876, half = 1.96*0.097998/1.38415 = 0.13877 → (0, 0.2775)
    lo, hi = wilson(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-9)
    assert hi == pytest.approx(0.27753, abs=5e-5)
    lo, hi = wilson(10, 10)
    assert (lo, hi) == (pytest.approx(0.72247, abs=5e-5), pytest.approx(1.0))
    assert wilson(0, 0) == (0.0, 1.0)


def test_mcnemar_exact_two_sided():
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)  # 2 * C(5,0)/2^5
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)  # 2 * (C(10,0)+C(10,1))/2^10
    assert mcnemar_exact(2, 5) == pytest.approx(58 / 128)  # 2 * (1+7+21)/2^7
    assert mcnemar_exact(3, 3) == 1.0  # 2 * 42/64 > 1 → capped
    assert mcnemar_exact(0, 0) == 1.0


def test_newcombe_paired_interval_by_hand():
    # Table: both 5, only-1 5, only-2 0, neither 10 (n = 20). p1 = 0.5, p2 = 0.25, diff = 0.25.
    # Wilson(10,20) = (0.29930, 0.70070); Wilson(5,20) = (0.11186, 0.46870).
    # phi: ad − bc = 50 > n/2 → 50 − 10 = 40; margins 10·10·5·15 = 7500; phi = 40/86.603 = 0.46188.
    # δ² = 0.20070² − 2·0.46188·0.20070·0.21870 + 0.21870² = 0.047563 → δ = 0.21809 → L = 0.03191
    # ε² = 0.13814² − 2·0.46188·0.13814·0.20070 + 0.20070² = 0.033752 → ε = 0.18372 → U = 0.43372
    got = paired_difference(5, 5, 0, 10)
    assert got["diff"] == pytest.approx(0.25)
    assert got["lo"] == pytest.approx(0.03191, abs=2e-4)
    assert got["hi"] == pytest.approx(0.43372, abs=2e-4)


def _attempt(number, ok, cats=(), well_formed=True):
    return AttemptFacts(number=number, ok=ok, well_formed=well_formed, categories=tuple(cats), prompt_tokens=100,
                        cached_tokens=50 if number > 1 else 0, completion_tokens=10, seconds=1.0)


def _cells_a():
    """Endpoint A, max 3 attempts:
    t1 verified at 1, judge ok · t2 at 2 ok · t3 at 3 ok · t4 never verified (judge no) ·
    t5 verified at 1 but the judge rejects it."""
    return [
        CellFacts("A", "t1", 0, (_attempt(1, True),), True),
        CellFacts("A", "t2", 0, (_attempt(1, False, ["syntax"]), _attempt(2, True)), True),
        CellFacts("A", "t3", 0, (_attempt(1, False, ["no_code"], well_formed=False),
                                 _attempt(2, False, ["unknown_argument", "type"]), _attempt(3, True)), True),
        CellFacts("A", "t4", 0, (_attempt(1, False, ["cutoff"], well_formed=False), _attempt(2, False, ["syntax"]),
                                 _attempt(3, False, ["plan"])), False),
        CellFacts("A", "t5", 0, (_attempt(1, True),), False),
    ]


def _cells_b():
    """Reference B: solves t1, t3, t4, t5 on the first try; t2 verified at 3 but judged wrong."""
    cells = [CellFacts("B", t, 0, (_attempt(1, True),), True) for t in ("t1", "t3", "t4", "t5")]
    cells.append(CellFacts("B", "t2", 0, (_attempt(1, False, ["syntax"]), _attempt(2, False, ["syntax"]),
                                          _attempt(3, True)), False))
    return cells


def test_summary_figures_equal_hand_computed():
    summary = summarize(_cells_a() + _cells_b(), endpoints={"A": 2.0, "B": 4.5}, max_attempts=3, reference="B")
    a, b = summary["endpoints"]
    assert [e["passed"] for e in a["pass_at_k"]] == [1, 2, 3]  # t1 | +t2 | +t3
    assert [e["rate"] for e in a["pass_at_k"]] == [0.2, 0.4, 0.6]
    assert (a["first_try"]["lo"], a["first_try"]["hi"]) == wilson(1, 5)
    # Uplift: both 1 (t1), only with retry 2 (t2, t3), neither 2 → diff 0.4 with Newcombe's interval.
    assert a["uplift"]["diff"] == pytest.approx(0.4)
    assert (a["uplift"]["lo"], a["uplift"]["hi"]) == (paired_difference(1, 2, 0, 2)["lo"], paired_difference(1, 2, 0, 2)["hi"])
    # Recovery: first-try failures t2, t3, t4, t5 → recovered t2, t3 = 2/4.
    assert (a["recovery"]["passed"], a["recovery"]["n"]) == (2, 4)
    assert a["mean_attempts_to_success"] == pytest.approx((1 + 2 + 3) / 3)
    # 10 attempts, 2 not well-formed.
    assert (a["well_formed"]["passed"], a["well_formed"]["n"]) == (8, 10)
    assert a["error_categories"] == {"syntax": 2, "cutoff": 1, "no_code": 1, "plan": 1, "type": 1, "unknown_argument": 1}
    assert a["judge_rejections"] == 1
    # Cost with 2 retries: 10 attempts × (100 prompt, 10 completion, 1 s); cached 50 × 5 later attempts; 3 solved.
    full = a["cost"]["2"]
    assert (full["prompt_tokens"], full["completion_tokens"], full["cached_tokens"], full["solved"]) == (1000, 100, 250, 3)
    assert full["seconds_per_solved"] == pytest.approx(10 / 3)
    assert full["completion_tokens_per_solved"] == pytest.approx(100 / 3)
    # First try only: 5 first attempts, 1 solved.
    assert a["cost"]["0"]["seconds_per_solved"] == pytest.approx(5.0)
    # Versus reference B with retries: B ok & A not → t4, t5; A ok & B not → t2; p = 2·(1+3)/8 → 1.
    versus = a["vs_reference"]["with_retry"]
    assert [x["task"] for x in versus["lost"]] == ["t4", "t5"]
    assert [x["task"] for x in versus["gained"]] == ["t2"]
    assert versus["pairs"] == 5 and versus["p_value"] == 1.0
    # First try: B solves t1,t3,t4,t5; A solves t1 → lost t3,t4,t5, gained none; p = 2/8.
    first = a["vs_reference"]["first_try"]
    assert [x["task"] for x in first["lost"]] == ["t3", "t4", "t5"] and first["p_value"] == pytest.approx(0.25)
    assert "vs_reference" not in b
    assert [e["passed"] for e in b["pass_at_k"]] == [4, 4, 4]


def test_unsupported_judgements_are_left_out_and_counted():
    cells = _cells_a() + [CellFacts("A", "t6", 0, (_attempt(1, True),), False, undecided=True)]
    (a,) = summarize(cells, endpoints={"A": None}, max_attempts=3)["endpoints"]
    assert a["cells"] == 5 and a["undecided"] == 1


def test_pareto_frontier_keeps_only_undominated_points():
    points = [
        {"endpoint": "q2", "bpw": 2.0, "k": 0, "success": 0.40, "seconds_per_solved": 5.0},
        {"endpoint": "q2", "bpw": 2.0, "k": 2, "success": 0.70, "seconds_per_solved": 8.0},
        {"endpoint": "q4", "bpw": 4.0, "k": 0, "success": 0.65, "seconds_per_solved": 9.0},  # dominated by q2 k=2
        {"endpoint": "q4", "bpw": 4.0, "k": 2, "success": 0.80, "seconds_per_solved": 10.0},
        {"endpoint": "q3", "bpw": 3.0, "k": 0, "success": 0.40, "seconds_per_solved": 6.0},  # dominated by q2 k=0
        {"endpoint": "none", "bpw": None, "k": 0, "success": 1.0, "seconds_per_solved": 1.0},  # cannot be placed
    ]
    front = pareto_frontier(points)
    assert [(p["endpoint"], p["k"]) for p in front] == [("q2", 0), ("q2", 2), ("q4", 2)]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="reference endpoint 'Z'"):
        summarize([], endpoints={"A": 1.0}, max_attempts=3, reference="Z")
    with pytest.raises(ValueError, match="unknown endpoint 'B'"):
        summarize(_cells_b(), endpoints={"A": 1.0}, max_attempts=3)
    with pytest.raises(ValueError, match="max_attempts"):
        summarize([], endpoints={"A": 1.0}, max_attempts=0)


def test_a_final_attempt_the_verifier_rejected_is_not_solved_even_if_the_judge_agrees():
    rejected = CellFacts("A", "t6", 0, (_attempt(1, False, ["type"]), _attempt(2, False, ["type"])), True)
    accepted = CellFacts("A", "t7", 0, (_attempt(1, False, ["type"]), _attempt(2, True)), True)
    assert [rejected.solved(k) for k in (0, 1)] == [False, False]
    assert [accepted.solved(k) for k in (0, 1)] == [False, True]
