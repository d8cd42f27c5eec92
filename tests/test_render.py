"""Rendering what the cluster receives: releases rendered from the chart store at their pins, into the inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlops_policies.runner import evaluate

from mlops_infra import charts
from mlops_infra.plan import plan_program
from mlops_infra.plan.inventory import Inventory

PROGRAM = Path(__file__).parent / "programs" / "rendered_chart"
_PLANS: dict[str, Inventory] = {}


def rendered_plan(case: str) -> Inventory:
    if case not in _PLANS:
        _PLANS[case] = plan_program(PROGRAM, case, render=True)
    return _PLANS[case]


def objects(inv: Inventory, kind: str) -> list[dict[str, Any]]:
    return [r.inputs for r in inv.rendered() if r.inputs.get("kind") == kind]


def test_store_is_not_empty_and_every_digest_matches_its_files() -> None:
    stored = charts.entries()
    assert stored, "the chart store is empty"
    for entry in stored:
        assert charts.tree_digest(entry.path) == entry.digest, f"{entry.path.name}: files changed after vendoring"
        assert entry.source.get("repository") and entry.source.get("commit"), f"{entry.path.name}: no source"


def test_find_matches_chart_repo_and_version_like_helm() -> None:
    repo = "https://prometheus-community.github.io/helm-charts"
    assert charts.find("prometheus-pushgateway", repo + "/", "v3.8.0") is not None  # Helm: v-prefix and slash agnostic
    assert charts.find("prometheus-pushgateway", repo, "3.7.0") is None
    assert charts.find("prometheus-pushgateway", "https://example.com/charts", "3.8.0") is None


def test_release_objects_join_the_inventory_as_children_with_the_values_the_plan_resolved() -> None:
    inv = rendered_plan("ok")
    release = next(r for r in inv.declared() if r.type == "kubernetes:helm.sh/v3:Release")
    children = [r for r in inv.rendered() if r.parent == release.urn]
    assert {r.inputs["kind"] for r in children} >= {"Deployment", "Service", "ServiceAccount"}
    deployment = objects(inv, "Deployment")[0]
    # The namespace the install would use, and the release name in the chart's labels.
    assert deployment["metadata"]["namespace"] == "metrics"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/instance"] == "pushgateway"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True  # our values reached the template
    assert container["resources"]["limits"] == {"memory": "64Mi"}
    assert inv.rendering == [{"urn": release.urn, "name": "pushgateway", "status": "rendered", "detail": "",
                              "objects": len(children), "chart": "prometheus-pushgateway 3.8.0"}]
    assert f"pushgateway (prometheus-pushgateway 3.8.0): {len(children)} objects" in inv.summary()
    assert all(r.type.startswith("kubernetes:") and r.urn.startswith("urn:pulumi:ok::") for r in children)


def test_an_auto_named_release_renders_under_a_generated_name() -> None:
    inv = rendered_plan("auto-named")
    deployment = objects(inv, "Deployment")[0]
    instance = deployment["metadata"]["labels"]["app.kubernetes.io/instance"]
    assert instance.startswith("pushgateway-") and len(instance) == len("pushgateway-") + 8
    assert inv.rendering[0]["detail"] == f"auto-named {instance}"


def test_a_chart_not_in_the_store_is_reported_unrendered_advisory_in_dev_and_mandatory_in_prod() -> None:
    inv = rendered_plan("unstored")
    assert inv.rendering[0]["status"] == "unrendered" and "not in the chart store" in inv.rendering[0]["detail"]
    assert not inv.rendered()
    # Any rendered object elsewhere in the stack makes the rule apply; give it one (a second, stored release).
    stored = rendered_plan("ok")
    doc = inv.to_json()
    doc["resources"] += [r.to_json() for r in stored.resources if r.type == "kubernetes:helm.sh/v3:Release"
                         or r.options.get("rendered")]
    for env, level in (("dev", "advisory"), ("prod", "mandatory")):
        report = evaluate(doc, environment=env, only=["mlops-helm-release-rendered"])
        found = [f for f in report.findings if f.policy == "mlops-helm-release-rendered"]
        assert [(f.name, f.enforcement) for f in found] == [("pushgateway", level)]
        assert "3.7.0" in found[0].message and "not rendered" in found[0].message


def test_a_plan_without_rendering_keeps_the_inventory_declared_only() -> None:
    inv = plan_program(PROGRAM, "ok")
    assert inv.rendering == [] and inv.rendered() == [] and inv.declared()


@pytest.mark.parametrize("case", ["ok"])
def test_rendering_twice_is_served_from_the_cache(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops_infra.plan import render

    monkeypatch.setenv("MLOPS_INFRA_CACHE", str(tmp_path))
    monkeypatch.setattr(render, "_MEMORY", {})
    first = plan_program(PROGRAM, case, render=True)
    cached = list((tmp_path / "render").glob("*.json"))
    assert len(cached) == 1
    monkeypatch.setattr(render, "_MEMORY", {})
    monkeypatch.setattr(render, "_load_chart", lambda path: pytest.fail("rendered again despite the disk cache"))
    second = plan_program(PROGRAM, case, render=True)
    assert [r.inputs for r in second.rendered()] == [r.inputs for r in first.rendered()]
