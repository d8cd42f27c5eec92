"""The library's own stacks pass every mandatory policy; any waiver they use carries its reason in config."""

from __future__ import annotations

import json

import pytest
from mlops_policies.enforcement import parse_waivers

from mlops_infra.cli.main import main
from tests.conftest import ROOT, planned
from tests.nonempty import each
from tests.policies.test_rendered_waivers import ON_OUR_RESOURCES, UNUSED_ANYWHERE, _waivers

KNOWN_RENDERED = ROOT / "tests" / "data" / "rendered-findings"
"""Per stack, the mandatory findings on objects rendered from charts that are known and owned by open issues
("Works when deployed" core and add-ons): one `policy: resource: message` per line. Any other mandatory finding
fails the test; fixing one means deleting its line."""


UNVENDORABLE = {"airflow 1.19.0", "external-secrets 2.11.0"}
"""Charts no machine here can vendor (tests/platform/test_rendered_relations.py NOT_YET_LOCKED says why)."""


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stack_has_no_mandatory_violation(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--program", str(ROOT), "--stack", stack, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["environment"] == stack  # from the stack's mlops:platform config
    mandatory = [f for f in report["findings"] if f["enforcement"] == "mandatory"]
    assert code == (1 if mandatory else 0)
    # A release renders when its chart is in this machine's chart store (upstream charts are not redistributed in
    # the repository: `mlops-infra charts pull` fills the store). One that did not is reported, and nothing else is.
    rendering = planned(stack, render=True).rendering
    assert rendering and not [r for r in rendering if r["status"] == "failed"], rendering
    # Every waiver in policies/config/<stack>.json still matches a resource (a renamed resource would drop it), but
    # those kept for Metaflow, which no shipped stack enables (a copy that turns it on needs them), and, where the
    # store lacks charts (CI's is empty), those on objects only a chart renders (test_rendered_waivers.py proves
    # each of them fires where the charts are).
    unmatched = {(w["policy"], w["resource"]) for w in report["unmatchedWaivers"]}
    assert ("mlops-k8s-run-as-non-root", "*-metaflow-service") in unmatched
    if {r["chart"] for r in rendering if r["status"] != "rendered"} <= UNVENDORABLE:
        assert unmatched == UNUSED_ANYWHERE
    else:
        assert unmatched - UNUSED_ANYWHERE <= set(_waivers(stack)) - ON_OUR_RESOURCES
    unrendered = {r["name"] for r in rendering if r["status"] != "rendered"}
    flagged = {f["resource"]["name"] for f in report["findings"] if f["policy"] == "mlops-helm-release-rendered"}
    assert flagged == unrendered
    assert all(f["enforcement"] == ("advisory" if stack == "dev" else "mandatory") for f in each(report["findings"])
               if f["policy"] == "mlops-helm-release-rendered")
    known_file = KNOWN_RENDERED / f"{stack}.txt"
    known = set(known_file.read_text().splitlines()) if known_file.exists() else set()
    fired = {f"{f['policy']}: {f['resource']['name']}: {f['message']}" for f in mandatory
             if f["policy"] != "mlops-helm-release-rendered"}
    assert sorted(fired - known) == []
    # Where every chart that can be vendored was rendered, the ledger is exact: a fixed finding must leave it.
    if {r["chart"] for r in rendering if r["status"] != "rendered"} <= UNVENDORABLE:
        assert sorted(known - fired) == [], f"fixed: delete these lines from {known_file.name}"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stack_policy_config_waivers_are_complete(stack: str) -> None:
    config = json.loads((ROOT / "policies" / "config" / f"{stack}.json").read_text())
    for policy, entry in each(config.items()):
        if isinstance(entry, dict):
            for waiver in parse_waivers(policy, entry.get("waivers")):
                assert waiver.reason.strip() and waiver.expires
