"""SARIF results point at the line a person would fix: the stack file's line for a config-driven finding, else the
program's (or component's) line that constructed the resource. Read back from the files themselves."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_infra.cli.main import main
from mlops_infra.cli.sarif_locations import config_leaves
from tests.conftest import ROOT

STACK_FILE = "stacks/Pulumi.prod.yaml"
TEST_VERSION = "0.0.0+sarif-test"


@pytest.fixture(scope="module")
def sarif() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        import io
        import sys

        import mlops_infra

        out = io.StringIO()
        mp.setattr(sys, "stdout", out)
        mp.setattr(mlops_infra, "__version__", TEST_VERSION)  # not the old hard-coded 0.1.0: the relation is tested
        main(["check", "--program", str(ROOT), "--stack", "prod", "--format", "sarif", "--quiet"])
    doc: dict[str, Any] = json.loads(out.getvalue())
    return doc


@pytest.fixture(scope="module")
def results(sarif: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = sarif["runs"][0]["results"]
    return found


def test_the_tool_version_is_the_library_version(sarif: dict[str, Any]) -> None:
    assert sarif["runs"][0]["tool"]["driver"]["version"] == TEST_VERSION


def _where(result: dict[str, Any]) -> tuple[str, int, str]:
    physical = result["locations"][0]["physicalLocation"]
    uri, line = physical["artifactLocation"]["uri"], physical["region"]["startLine"]
    path = ROOT / uri
    assert path.is_file(), f"{uri} is not a file of this checkout"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert 1 <= line <= len(lines), (uri, line)
    return uri, line, lines[line - 1]


def _class(type_token: str) -> str:
    return type_token.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def test_no_result_points_at_line_1_and_both_kinds_occur(results: list[dict[str, Any]]) -> None:
    assert results
    kinds = {"config" if _where(r)[0] == STACK_FILE else "program" for r in results}
    assert kinds == {"config", "program"}
    assert not [r for r in results if _where(r)[1] == 1]


def test_config_driven_results_name_the_line_holding_the_value(results: list[dict[str, Any]]) -> None:
    config = [r for r in results if _where(r)[0] == STACK_FILE]
    assert config
    for result in config:
        _, _, text = _where(result)
        value = text.split(":", 1)[1].strip().strip("-[] ") if ":" in text else text.strip("-[] ")
        value = value.strip("'\"")
        # The line holds a value the message quotes (a `name:` a resource is merely named after is not the fix).
        assert value and value in result["message"]["text"], (text, result["message"]["text"])
        assert result["locations"][0]["message"]["text"].startswith("set in the stack file")


def test_a_library_default_points_at_the_registration_site_and_names_the_block_to_override(
        results: list[dict[str, Any]]) -> None:
    """The churn model's monitor runs the library's image: the finding is not at the model's `name: churn` line (the
    image is not set there) but at the line that registered it, and says where the model's block is."""
    churn = [r for r in results if r["locations"][0]["logicalLocations"][0]["name"].endswith("serving-monitor-churn")]
    assert churn, "premise: prod reports the churn model's monitor"
    for result in churn:
        uri, _, _ = _where(result)
        why = result["locations"][0]["message"]["text"]
        assert uri.endswith(".py") and why.startswith("registered here"), (uri, why)
        assert f"{STACK_FILE}:" in why


def test_placeholder_results_point_at_the_placeholder_in_the_stack_file(results: list[dict[str, Any]]) -> None:
    placeholders = [r for r in results if r["ruleId"] == "mlops-no-placeholders"]
    assert placeholders
    texts = {_where(r)[2].strip() for r in placeholders}
    assert "emailAddresses: [ml-platform-oncall@example.com]" in texts
    assert "- arn:aws:iam::123456789012:role/platform-admin" in texts
    # Every placeholder the stack file holds is located there (KServe's chart default ingress domain is not in it).
    values = {leaf.value for leaf in config_leaves(ROOT / STACK_FILE)}
    quoted = [(r, re.findall(r"\((arn:[^)]*)\)$|'([^']*)'", r["message"]["text"])) for r in placeholders]
    from_config = [r for r, found in quoted if any(v in values for pair in found for v in pair)]
    assert len(from_config) >= 5
    assert [r["message"]["text"] for r in from_config if _where(r)[0] != STACK_FILE] == []


def test_program_results_name_the_line_that_constructs_the_resource(results: list[dict[str, Any]]) -> None:
    program = [r for r in results if _where(r)[0] != STACK_FILE]
    assert program
    calls = 0
    for result in program:
        uri, _, text = _where(result)
        assert uri.endswith(".py") and "(" in text, (uri, text)
        typ = result["locations"][0]["logicalLocations"][0]["decoratedName"]
        calls += f"{_class(typ)}(" in text or "release(" in text or (
            "CustomResource(" in text and typ.startswith("kubernetes:") and "apiextensions" not in typ)
    # Rendered chart objects point at the component line that pins their chart (`pinned_release(`); custom
    # resources at their `k8s.apiextensions.CustomResource(` line (many more findings name them when the chart store
    # lacks the charts that install their CRDs, as in CI); the rest at their own constructor. Some go through a
    # factory (`cls(...)`), so not every line names the class.
    assert calls >= 0.8 * len(program), calls


def test_config_leaves_keep_lines() -> None:
    leaves = config_leaves(ROOT / STACK_FILE)
    lines = (ROOT / STACK_FILE).read_text().splitlines()
    assert leaves
    for leaf in leaves:
        assert leaf.value in lines[leaf.line - 1], leaf
