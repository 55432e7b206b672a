from tfagent.agent.loop.feedback import build_feedback, code_excerpt, cutoff_feedback, dedupe_and_sort, no_files_feedback
from tfagent.verifiers.base import error, warning

FILES = {"main.tf": 'resource "aws_s3_bucket" "b" {\n  bukket = "x"\n}\n'}


def test_dedupe_and_sort_errors_first_then_location():
    a = error("B", file="main.tf", line=9)
    b = error("A", file="main.tf", line=2)
    w = warning("W", file="a.tf", line=1)
    assert dedupe_and_sort([a, w, b, a]) == [b, a, w]


def test_excerpt_marks_the_offending_line():
    assert code_excerpt(FILES, "main.tf", 2) == '  1 | resource "aws_s3_bucket" "b" {\n> 2 |   bukket = "x"\n  3 | }'
    assert code_excerpt(FILES, "main.tf", 99) == ""
    assert code_excerpt(FILES, "other.tf", 1) == ""


def test_feedback_has_location_summary_detail_and_code():
    d = error("Unsupported argument", 'An argument named "bukket" is not expected here. Did you mean "bucket"?',
              file="main.tf", line=2, column=3, source="validate")
    text = build_feedback([d, d], FILES, stage="validate")
    assert "main.tf:2:3" in text and "Unsupported argument" in text and 'Did you mean "bucket"?' in text
    assert '> 2 |   bukket = "x"' in text
    assert text.count("Unsupported argument") == 1  # deduplicated
    assert text == build_feedback([d], FILES, stage="validate")  # pure and stable


def test_budget_cuts_and_says_how_many_more():
    diags = [error(f"problem number {i}", "x" * 200, file="main.tf", line=i) for i in range(1, 40)]
    text = build_feedback(diags, FILES, budget_tokens=300)
    assert "more problem(s) not shown" in text
    assert "problem number 1" in text and "problem number 39" not in text
    more = int(text.split("… and ")[1].split(" more")[0])
    listed = sum(1 for i in range(1, 40) if f": problem number {i}\n" in text + "\n")
    assert listed + more == 39


def test_one_huge_diagnostic_is_truncated_not_dropped():
    text = build_feedback([error("huge", "y" * 40000)], {}, budget_tokens=100)
    assert "huge" in text and len(text) < 1000


def test_other_feedback_turns():
    assert "cut off after 512 tokens" in cutoff_feedback(512)
    assert 'title="main.tf"' in no_files_feedback("hcl", "main.tf")
