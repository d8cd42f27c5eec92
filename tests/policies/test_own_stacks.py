"""The library's own stacks pass every mandatory policy; any waiver they use carries its reason in config."""

from __future__ import annotations

import json

import pytest
from mlops_policies.enforcement import parse_waivers

from mlops_infra import charts
from mlops_infra.cli.main import main
from mlops_infra.plan import ResourceRecord
from tests.conftest import KFP_BASES, ROOT, planned, stored_chart_missing
from tests.nonempty import each
from tests.platform.test_rendered_relations import NOT_YET_LOCKED
from tests.policies.test_rendered_waivers import ON_OUR_RESOURCES, UNUSED_ANYWHERE, WAIVER_CHART, _waivers

KNOWN_RENDERED = ROOT / "tests" / "data" / "rendered-findings"
"""Per stack, the mandatory findings on objects rendered from charts that are known and owned by open issues
("Works when deployed" core and add-ons): one `policy: resource: message` per line. Any other mandatory finding
fails the test; fixing one means deleting its line."""


RELEASE = "kubernetes:helm.sh/v3:Release"


def _chart_of(release: ResourceRecord) -> tuple[str, str, str]:
    """The (chart, repo, version) key `mlops_infra.charts` looks a release's chart up by."""
    repo = str((release.inputs.get("repositoryOpts") or {}).get("repo") or "")
    return str(release.inputs["chart"]), repo, str(release.inputs["version"])


def unrenderable(stack: str) -> dict[str, str]:
    """Release name -> its chart's name, for each release of `stack` whose chart this machine's store lacks: one the
    lock does not hold (no pull can store it: tests/platform/test_rendered_relations.py NOT_YET_LOCKED says why), or
    a locked one not pulled here (`mlops-infra charts pull`)."""
    return {release.name: _chart_of(release)[0].rsplit("/", 1)[-1]
            for release in planned(stack, render=True).of_type(RELEASE) if charts.find(*_chart_of(release)) is None}


def unlocked(stack: str) -> set[str]:
    """The releases of `stack` whose chart the lock does not hold (no machine can render them)."""
    locked = charts.lock()
    return {r.name for r in planned(stack, render=True).of_type(RELEASE) if charts._key(*_chart_of(r)) not in locked}


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
    # What does not render is exactly what this machine's store lacks; where it holds every locked chart the stack
    # installs, exactly the releases whose chart the lock does not hold (derived from the lock, whatever the pins).
    unrendered = {r["name"] for r in rendering if r["status"] != "rendered"}
    cannot = unrenderable(stack)
    kfp_missing = stored_chart_missing(KFP_BASES)  # the kustomize Directories' remote bases (locked, pullable)
    directories = {r["name"] for r in rendering if str(r.get("chart", "")).startswith("kustomize ")}
    assert unrendered == set(cannot) | (directories if kfp_missing else set())
    store_is_full = not set(cannot) - unlocked(stack) and not kfp_missing
    if store_is_full:
        assert unrendered == unlocked(stack)
    # Only a waiver written for the objects of a chart that did not render may match nothing (beside Metaflow's).
    missing_charts = set(cannot.values()) | ({KFP_BASES} if kfp_missing else set())
    assert unmatched - UNUSED_ANYWHERE == {(policy, glob) for policy, glob in unmatched - UNUSED_ANYWHERE
                                           if WAIVER_CHART.get(glob) in missing_charts}
    flagged = {f["resource"]["name"] for f in report["findings"] if f["policy"] == "mlops-helm-release-rendered"}
    assert flagged == unrendered
    assert all(f["enforcement"] == ("advisory" if stack == "dev" else "mandatory") for f in each(report["findings"])
               if f["policy"] == "mlops-helm-release-rendered")
    known_file = KNOWN_RENDERED / f"{stack}.txt"
    known = set(known_file.read_text().splitlines()) if known_file.exists() else set()
    fired = {f"{f['policy']}: {f['resource']['name']}: {f['message']}" for f in mandatory
             if f["policy"] != "mlops-helm-release-rendered"}
    assert sorted(fired - known) == []
    # Where every locked chart was rendered, the ledger is exact: a fixed finding must leave it.
    if store_is_full:
        assert sorted(known - fired) == [], f"fixed: delete these lines from {known_file.name}"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stack_policy_config_waivers_are_complete(stack: str) -> None:
    config = json.loads((ROOT / "policies" / "config" / f"{stack}.json").read_text())
    for policy, entry in each(config.items()):
        if isinstance(entry, dict):
            for waiver in parse_waivers(policy, entry.get("waivers")):
                assert waiver.reason.strip() and waiver.expires


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_waiver_for_a_charts_objects_names_its_chart(stack: str) -> None:
    """test_stack_has_no_mandatory_violation lets such a waiver match nothing only where its chart did not render."""
    for policy, glob in each(_waivers(stack)):
        if (policy, glob) not in ON_OUR_RESOURCES | UNUSED_ANYWHERE:
            assert glob in WAIVER_CHART, f"{policy} {glob!r}: add the chart whose objects it waives to WAIVER_CHART"


def test_the_releases_that_cannot_render_anywhere_are_the_pins_the_lock_lacks() -> None:
    """Derived from the lock, not named here: a pin the lock does not hold is found whatever its version."""
    found = {(chart, repo.rstrip("/"), version.lstrip("v")) for stack in ("dev", "staging", "prod")
             for release in planned(stack, render=True).of_type(RELEASE) if release.name in unlocked(stack)
             for chart, repo, version in [_chart_of(release)]}
    assert found and found <= NOT_YET_LOCKED
