"""Rendering what the cluster receives: releases rendered from the chart store at their pins, into the inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlops_policies.runner import evaluate

from mlops_infra import charts
from mlops_infra.plan import plan_program
from mlops_infra.plan.inventory import Inventory
from tests.nonempty import each

PROGRAM = Path(__file__).parent / "programs" / "rendered_chart"
_PLANS: dict[str, Inventory] = {}


def rendered_plan(case: str) -> Inventory:
    if case not in _PLANS:
        _PLANS[case] = plan_program(PROGRAM, case, render=True)
    return _PLANS[case]


def objects(inv: Inventory, kind: str) -> list[dict[str, Any]]:
    return [r.inputs for r in inv.rendered() if r.inputs.get("kind") == kind]


def test_every_locked_chart_names_its_upstream_source_and_digest() -> None:
    locked = charts.lock()
    assert locked, "mlops_infra/charts/lock.json is empty"
    for key, entry in each(locked.items()):
        source = entry["source"]
        assert "/" in source["repository"] and len(source["commit"]) == 40 and source["ref"], key
        assert entry["digest"].startswith("sha256:") and len(entry["digest"]) == 71, key


def test_every_usable_stored_chart_matches_its_digest() -> None:
    stored = charts.entries()
    assert stored  # the tests' own chart at least
    for entry in stored:
        assert charts.tree_digest(entry.path) == entry.digest, entry.path


def test_find_matches_chart_repo_and_version_like_helm() -> None:
    repo = "https://charts.example.test"
    assert charts.find("demo-exporter", repo + "/", "v1.0.0") is not None  # Helm: v-prefix and slash agnostic
    assert charts.find("demo-exporter", repo, "0.9.0") is None
    assert charts.find("demo-exporter", "https://example.com/charts", "1.0.0") is None


def test_a_stored_chart_whose_files_changed_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    copy = tmp_path / "demo-exporter-1.0.0"
    shutil.copytree(charts.find("demo-exporter", "https://charts.example.test", "1.0.0").path, copy)  # type: ignore[union-attr]
    monkeypatch.setenv(charts.STORE_ENV, str(tmp_path))
    assert charts.find("demo-exporter", "https://charts.example.test", "1.0.0") is not None
    (copy / "values.yaml").write_text((copy / "values.yaml").read_text() + "extra: true\n")
    charts._scan.cache_clear()
    assert charts.find("demo-exporter", "https://charts.example.test", "1.0.0") is None
    assert any("do not match" in p for p in charts.store_problems())


def test_release_objects_join_the_inventory_as_children_with_the_values_the_plan_resolved() -> None:
    inv = rendered_plan("ok")
    release = next(r for r in inv.declared() if r.type == "kubernetes:helm.sh/v3:Release")
    children = [r for r in inv.rendered() if r.parent == release.urn]
    assert {r.inputs["kind"] for r in children} >= {"Deployment", "Service", "ServiceAccount"}
    deployment = objects(inv, "Deployment")[0]
    # The namespace the install would use, and the release name in the chart's labels.
    assert deployment["metadata"]["namespace"] == "metrics"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/instance"] == "demo"
    # Helm installs the chart's CRDs (cluster-scoped: no namespace); test hooks are never installed.
    assert [r.inputs["metadata"] for r in children if r.inputs["kind"] == "CustomResourceDefinition"] == [
        {"name": "exporters.demo.example.test"}]
    assert not [r for r in children if r.inputs["kind"] == "Pod"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True  # our values reached the template
    assert container["resources"]["limits"] == {"memory": "64Mi"}
    assert inv.rendering == [{"urn": release.urn, "name": "demo", "status": "rendered", "detail": "",
                              "objects": len(children), "chart": "demo-exporter 1.0.0"}]
    assert f"demo (demo-exporter 1.0.0): {len(children)} objects" in inv.summary()
    assert all(r.type.startswith("kubernetes:") and r.urn.startswith("urn:pulumi:ok::") for r in each(children))


def test_an_auto_named_release_renders_under_a_generated_name() -> None:
    inv = rendered_plan("auto-named")
    deployment = objects(inv, "Deployment")[0]
    instance = deployment["metadata"]["labels"]["app.kubernetes.io/instance"]
    assert instance.startswith("demo-") and len(instance) == len("demo-") + 8
    assert inv.rendering[0]["detail"] == f"auto-named {instance}"


def test_a_chart_not_in_the_store_is_reported_unrendered_advisory_in_dev_and_mandatory_in_prod() -> None:
    inv = rendered_plan("unstored")
    assert inv.rendering[0]["status"] == "unrendered" and "not in the chart store" in inv.rendering[0]["detail"]
    assert not inv.rendered()
    doc = inv.to_json()
    for env, level in (("dev", "advisory"), ("prod", "mandatory")):
        report = evaluate(doc, environment=env, only=["mlops-helm-release-rendered"])
        found = [f for f in report.findings if f.policy == "mlops-helm-release-rendered"]
        assert [(f.name, f.enforcement) for f in found] == [("demo", level)]
        assert found[0].message.startswith("demo-exporter 0.9.0 was not rendered (unrendered: chart demo-exporter "
                                           "0.9.0 from https://charts.example.test is not in the chart store: it is "
                                           "not in mlops-infra's chart lock, so `mlops-infra charts pull` cannot "
                                           "fetch it")


def test_a_plan_without_rendering_keeps_the_inventory_declared_only() -> None:
    inv = plan_program(PROGRAM, "ok")
    assert inv.rendering == [] and inv.rendered() == [] and inv.declared()


@pytest.mark.parametrize("case", ["ok"])
def test_rendering_twice_is_served_from_the_cache(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops_infra.plan import render, render_cache

    monkeypatch.setenv("MLOPS_INFRA_CACHE", str(tmp_path))
    monkeypatch.setattr(render_cache, "_MEMORY", {})
    first = plan_program(PROGRAM, case, render=True)
    cached = list((tmp_path / "render").glob("*.json"))
    assert len(cached) == 2  # the chart's CRDs and its templates
    monkeypatch.setattr(render_cache, "_MEMORY", {})
    monkeypatch.setattr(render, "_load_chart", lambda path: pytest.fail("rendered again despite the disk cache"))
    second = plan_program(PROGRAM, case, render=True)
    assert [r.inputs for r in second.rendered()] == [r.inputs for r in first.rendered()]


def test_the_cli_renders_unless_told_not_to(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from mlops_infra.cli.main import main

    assert main(["plan", "--program", str(PROGRAM), "--stack", "ok", "--format", "json"]) == 0
    rendered = json.loads(capsys.readouterr().out)
    assert rendered["rendering"][0]["status"] == "rendered"
    assert any(r["options"].get("rendered") for r in rendered["resources"])
    assert main(["plan", "--program", str(PROGRAM), "--stack", "ok", "--format", "json", "--no-render"]) == 0
    bare = json.loads(capsys.readouterr().out)
    assert bare["rendering"] == [] and not any(r["options"].get("rendered") for r in bare["resources"])
    # check: an unstored chart is a finding only when rendering ran
    assert main(["check", "--program", str(PROGRAM), "--stack", "unstored", "--format", "json"]) == 1
    assert "mlops-helm-release-rendered" in [f["policy"] for f in json.loads(capsys.readouterr().out)["findings"]
                                             if f["enforcement"] == "mandatory"]
    main(["check", "--program", str(PROGRAM), "--stack", "unstored", "--format", "json", "--no-render"])
    assert "mlops-helm-release-rendered" not in capsys.readouterr().out


def test_a_stack_deployed_with_generated_release_names_keeps_them() -> None:
    """Sending a name where state holds a generated one replaces the release (create before delete), which Helm
    refuses: such stacks send no name (mlops:helmReleaseNames: generated) and pulumi-kubernetes keeps the old one."""
    from tests.conftest import planned

    variants = Path(__file__).parent / "integration" / "variants"
    legacy = planned("generated-release-names", variants)
    releases = legacy.of_type("kubernetes:helm.sh/v3:Release")
    assert releases and all("name" not in r.inputs for r in releases)
    explicit = planned("podidentity", variants).of_type("kubernetes:helm.sh/v3:Release")
    assert explicit and all(r.inputs.get("name") for r in explicit)
