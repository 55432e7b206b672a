"""A change to an existing folder, pure parts: the unified diff, writing it back all or nothing, and
what of a folder the first request shows when it is larger than the budget."""

from __future__ import annotations

import subprocess

import pytest

from tfagent.agent.core.change import Change, write_change
from tfagent.agent.core.output import OutputError
from tfagent.agent.loop.folder import Folder, budget_tokens, deletions


def test_the_diff_applies_with_git_and_names_added_modified_and_deleted_files(tmp_path):
    original = {"main.tf": "a\nb\nc\n", "old.tf": "x\n", "keep.tf": "k\n"}
    change = Change(original, {"main.tf": "a\nB\nc\n", "new.tf": "n\n", "keep.tf": "k\n"}, ["old.tf"])
    assert change.status() == [("modified", "main.tf"), ("added", "new.tf"), ("deleted", "old.tf")]
    assert change.result() == {"main.tf": "a\nB\nc\n", "new.tf": "n\n", "keep.tf": "k\n"}
    for rel, text in original.items():
        (tmp_path / rel).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "change.diff").write_text(change.diff())
    subprocess.run(["git", "apply", "change.diff"], cwd=tmp_path, check=True)
    assert {p: (tmp_path / p).read_text() for p in ("main.tf", "new.tf", "keep.tf")} == change.result()
    assert not (tmp_path / "old.tf").exists()


def test_write_change_is_all_or_nothing_when_a_file_was_edited_meanwhile(tmp_path):
    (tmp_path / "a.tf").write_text("one\n")
    (tmp_path / "b.tf").write_text("two\n")
    change = Change({"a.tf": "one\n", "b.tf": "two\n"}, {"a.tf": "ONE\n", "b.tf": "TWO\n"})
    (tmp_path / "b.tf").write_text("someone else's edit\n")
    with pytest.raises(OutputError, match=r"nothing written.*b\.tf \(edited since it was read\)"):
        write_change(tmp_path, change)
    assert (tmp_path / "a.tf").read_text() == "one\n"
    (tmp_path / "b.tf").write_text("two\n")
    written = write_change(tmp_path, change)
    assert [p.name for p in written] == ["a.tf", "b.tf"] and (tmp_path / "b.tf").read_text() == "TWO\n"
    assert not list(tmp_path.glob("*.tfagent-tmp"))


def test_a_large_folder_shows_provider_variables_and_the_files_the_sentence_is_about_first(tmp_path):
    (tmp_path / "versions.tf").write_text('provider "aws" {\n  region = "us-east-1"\n}\n')
    (tmp_path / "variables.tf").write_text('variable "name" {}\n')
    (tmp_path / "dns.tf").write_text('resource "aws_route53_zone" "main" {\n  name = "example.com"\n}\n' * 20)
    (tmp_path / "buckets.tf").write_text('resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n' * 20)
    folder = Folder.read(tmp_path).fit("add a lifecycle rule to the logs bucket", 2200)
    assert budget_tokens(2200) == 512
    assert folder.shown == ["buckets.tf", "variables.tf", "versions.tf"] and folder.listed() == ["dns.tf"]
    turn = folder.first_turn("add a lifecycle rule to the logs bucket")
    assert "- dns.tf: resource aws_route53_zone.main" in turn and 'name = "example.com"' not in turn


def test_delete_lines_count_only_outside_code_blocks():
    reply = 'DELETE FILE: old.tf\n```hcl title="x.tf"\nDELETE FILE: inside.tf\n```\nDELETE FILE: `../etc/passwd`\n'
    paths, problems = deletions(reply)
    assert paths == ["old.tf"] and len(problems) == 1 and "../etc/passwd" in problems[0]
