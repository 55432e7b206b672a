"""Suite loading: the shipped suites, the file layouts, and errors that name file, task and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tfagent.evals.tasks.suite import SuiteError, list_suites, load_suite, shipped_suites_dir


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


GOOD_TASK = """
- id: bucket-1
  prompt: A private S3 bucket named logs
  verify: [hcl, fmt, validate]
  judge:
    hcl:
      resources: [aws_s3_bucket]
"""


# --- shipped suites ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,minimum,mode", [("terraform-aws", 40, "terraform"),
                                               ("terraform-azure", 20, "terraform"),
                                               ("code-python", 20, "code")])
def test_shipped_suite_loads_with_enough_tasks(name, minimum, mode):
    suite = load_suite(name)
    assert suite.name == name
    assert len(suite.tasks) >= minimum
    assert {t.mode for t in suite.tasks} == {mode}
    assert suite.attribution and suite.description
    for task in suite.tasks:
        assert task.reference, f"{task.id} has no reference solution"
        assert task.judge.has_checks
        # nothing hidden leaks into what the model is given: only the folder an edit task starts from
        assert not task.files or ("edit" in task.tags and task.files != task.reference)


def test_aws_suite_is_iac_eval_with_attribution_plan_and_intent():
    suite = load_suite("terraform-aws")
    assert "IaC-Eval" in suite.attribution and "CC-BY-4.0" in suite.attribution
    assert (suite.path / "README.md").read_text().count("CC-BY-4.0") >= 1
    for task in suite.tasks:
        assert task.judge.plan_required
        assert len(task.judge.rego) == 1 and task.judge.rego[0].text.lstrip().startswith("package ")
        assert task.verify == ["hcl", "fmt", "validate", "plan"]  # the research's checker in the loop, offline
        assert "main.tf" in task.reference or "edit" in task.tags  # edit tasks: the whole folder (test_folder_tasks.py)


def test_aws_suite_records_every_left_out_task_with_a_reason():
    import yaml

    suite = load_suite("terraform-aws")
    excluded = yaml.safe_load((suite.path / "excluded.yaml").read_text())["excluded"]
    kept = {t.id for t in suite.tasks if "edit" not in t.tags}  # edit tasks are tfagent's own (edit-tasks.yaml)
    assert len(kept) + len(excluded) == 140  # every row of the CSV is either kept or explained
    assert all(e["reason"] and e["id"] not in kept for e in excluded)


def test_azure_suite_verifies_offline_and_code_suite_is_python():
    assert all(t.verify == ["hcl", "fmt"] for t in load_suite("terraform-azure").tasks)
    code = load_suite("code-python")
    assert all(t.lang == "python" and t.judge.tests and "solution.py" in t.reference for t in code.tasks)


def test_list_suites_names_counts_and_descriptions():
    listed = {name: (count, desc) for name, count, desc in list_suites()}
    assert set(listed) >= {"terraform-aws", "terraform-azure", "code-python"}
    assert listed["terraform-azure"][0] == len(load_suite("terraform-azure").tasks)
    assert all(desc for _, desc in listed.values())


def test_shipped_suites_stay_within_the_package_data_depth():
    # pyproject ships suites/*.yaml and suites/*/* … suites/*/*/*/*: deeper files would be lost on install
    root = shipped_suites_dir()
    for path in root.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert len(path.relative_to(root).parts) <= 4, path


# --- layouts -------------------------------------------------------------------------------------------


def test_folder_with_metadata_defaults_and_task_files(tmp_path):
    write(tmp_path / "s" / "suite.yaml", """
        name: mine
        description: two tasks
        attribution: us
        defaults:
          verify: [hcl]
          tags: [aws]
          judge: {plan_required: true}
    """)
    write(tmp_path / "s" / "tasks.yaml", GOOD_TASK)
    write(tmp_path / "s" / "tasks" / "two.yaml", """
        id: two
        prompt: second
        judge:
          rego: [intents/two.rego]
        files:
          variables.tf: 'variable "x" {}'
          given.tf: {file: given/given.tf}
    """)
    write(tmp_path / "s" / "intents" / "two.rego", "package terraform.validation\ndefault ok = true\n")
    write(tmp_path / "s" / "given" / "given.tf", "# given\n")
    write(tmp_path / "s" / "excluded.yaml", "excluded: [{id: x, reason: y}]\n")  # data, not a task
    suite = load_suite(tmp_path / "s")
    assert (suite.name, suite.description, suite.attribution) == ("mine", "two tasks", "us")
    one, two = suite.task("bucket-1"), suite.task("two")
    assert one.verify == ["hcl", "fmt", "validate"] and two.verify == ["hcl"]  # defaults, overridable
    assert two.tags == ["aws"] and two.judge.plan_required and one.judge.plan_required
    assert two.judge.rego[0].name == "intents/two.rego" and "default ok" in two.judge.rego[0].text
    assert two.files == {"variables.tf": 'variable "x" {}', "given.tf": "# given\n"}
    assert suite.select(tags=["aws"]) == suite.tasks and suite.select(ids=["two"]) == [two]


def test_single_file_suite_with_code_tasks(tmp_path):
    path = write(tmp_path / "tiny.yaml", """
        description: tiny
        tasks:
          - id: add
            mode: code
            prompt: write add(a, b) in solution.py
            judge:
              tests:
                test_add.py: "from solution import add\\ndef test_add():\\n    assert add(1, 2) == 3\\n"
            reference: {solution.py: "def add(a, b):\\n    return a + b\\n"}
    """)
    suite = load_suite(path)
    task = suite.tasks[0]
    assert suite.name == "tiny" and task.lang == "python" and task.verify == ["python"]
    assert "test_add.py" in task.judge.tests and task.reference["solution.py"].startswith("def add")


# --- errors name file, task and field ------------------------------------------------------------------


def error_of(tmp_path: Path, tasks_yaml: str, extra: dict[str, str] | None = None) -> str:
    write(tmp_path / "x" / "tasks.yaml", tasks_yaml)
    for name, text in (extra or {}).items():
        write(tmp_path / "x" / name, text)
    with pytest.raises(SuiteError) as info:
        load_suite(tmp_path / "x")
    return str(info.value)


def test_unknown_verifier_names_file_task_field_and_value(tmp_path):
    message = error_of(tmp_path, GOOD_TASK.replace("validate]", "validat]"))
    assert message.startswith(f"{tmp_path / 'x' / 'tasks.yaml'}: task 'bucket-1': field 'verify': "
                              "unknown verifier 'validat'")


@pytest.mark.parametrize("change,field,words", [
    (("prompt: A private S3 bucket named logs", "prompt: ''"), "prompt", "non-empty"),
    (("prompt:", "promt:"), "promt", "unknown field"),
    (("verify: [hcl, fmt, validate]", "mode: cloudformation"), "mode", "terraform, code"),
    (("resources: [aws_s3_bucket]", "resources: aws_s3_bucket"), "judge.hcl.resources", "list"),
    (("hcl:\n      resources: [aws_s3_bucket]", "rego: [missing.rego]"), "judge.rego[0]", "not found"),
    (("hcl:\n      resources: [aws_s3_bucket]", "plan_required: false"), "judge", "no hidden checks"),
    (("hcl:\n      resources: [aws_s3_bucket]", "checkov_pass: [CKV-1]"), "judge.checkov_pass", "checkov id"),
    (("hcl:\n      resources: [aws_s3_bucket]", "hcl:\n      attributes: [{resource: a, path: b}]"),
     "judge.hcl.attributes[0]", "exactly one of"),
    (("verify: [hcl, fmt, validate]", "verify: [hcl]\n  files: {../../etc/passwd: x}"), "files.../../etc/passwd",
     "inside its folder"),
    (("hcl:\n      resources: [aws_s3_bucket]", "tests: {t.py: x}"), "judge.tests", "code tasks"),
])
def test_bad_fields_are_named(tmp_path, change, field, words):
    old, new = change
    assert old in GOOD_TASK
    message = error_of(tmp_path, GOOD_TASK.replace(old, new, 1))
    assert f"tasks.yaml: task 'bucket-1': field '{field}'" in message
    assert words in message


def test_code_task_cannot_require_a_plan(tmp_path):
    message = error_of(tmp_path, """
        - id: c1
          mode: code
          prompt: p
          judge: {plan_required: true, tests: {test_a.py: "def test_a(): pass"}}
    """)
    assert "task 'c1': field 'judge': code tasks are judged by hidden tests only" in message


def test_unknown_language_and_bad_id(tmp_path):
    assert "field 'lang': unknown language 'cobol'" in error_of(tmp_path, """
        - {id: c1, mode: code, lang: cobol, prompt: p, judge: {tests: {test_a.py: x}}}
    """)
    assert "field 'id'" in error_of(tmp_path, "- {id: 'has space', prompt: p, judge: {plan_required: true}}\n")


def test_duplicate_ids_name_both_files(tmp_path):
    write(tmp_path / "x" / "tasks" / "b.yaml", GOOD_TASK)
    message = error_of(tmp_path, GOOD_TASK)
    assert "task 'bucket-1': field 'id': duplicate id" in message
    assert "tasks.yaml" in message and "b.yaml" in message


def test_invalid_yaml_names_file_and_line(tmp_path):
    message = error_of(tmp_path, "- id: a\n  prompt: [unclosed\n")
    assert "tasks.yaml:" in message and "not valid YAML" in message


def test_bad_suite_metadata_and_empty_folder(tmp_path):
    write(tmp_path / "m" / "suite.yaml", "name: m\ndefautls: {}\n")
    with pytest.raises(SuiteError, match=r"suite.yaml: unknown suite field 'defautls'"):
        load_suite(tmp_path / "m")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SuiteError, match="no tasks"):
        load_suite(tmp_path / "empty")


def test_unknown_suite_name_lists_shipped_ones():
    with pytest.raises(SuiteError) as info:
        load_suite("no-such-suite")
    assert "no-such-suite" in str(info.value) and "terraform-azure" in str(info.value)


def test_unknown_task_id_in_select(tmp_path):
    write(tmp_path / "x" / "tasks.yaml", GOOD_TASK)
    with pytest.raises(SuiteError, match="no task 'nope'"):
        load_suite(tmp_path / "x").select(ids=["nope"])
