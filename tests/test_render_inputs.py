"""What else a Release or Directory says about what the cluster receives: `valueYamlFiles` (merged under `values`),
`postrender` (not run offline: reported), and a Directory's `resourcePrefix` (the children's Pulumi names)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.plan import plan_program
from mlops_infra.plan.inventory import Inventory, ResourceRecord
from mlops_infra.plan.render import render_inventory

PROGRAM = Path(__file__).parent / "programs" / "rendered_chart"
DIRECTORY = "kubernetes:kustomize/v2:Directory"


def test_values_files_merge_under_values_as_helm_installs_them() -> None:
    pytest.importorskip("helm_python")
    inv = plan_program(PROGRAM, "value-files", render=True)
    [deployment] = [r.inputs for r in inv.rendered() if r.inputs.get("kind") == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    # From the values file (a key `values` does not set), merged into the hardened context `values` gives ...
    assert container["securityContext"]["privileged"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # ... while a key both set keeps the `values` one (the StringAsset said 32Mi).
    assert container["resources"]["limits"] == {"memory": "64Mi"}


def _release(inputs: dict[str, Any]) -> ResourceRecord:
    return ResourceRecord(urn="urn:pulumi:s::p::kubernetes:helm.sh/v3:Release::r", type="kubernetes:helm.sh/v3:Release",
                          name="r", parent=None, custom=True, id=None, inputs=inputs, options={})


def test_a_postrender_release_is_reported_not_rendered_without_its_command() -> None:
    inv = Inventory("p", "s", [_release({"chart": "demo-exporter", "version": "1.0.0", "name": "r",
                                         "repositoryOpts": {"repo": "https://charts.example.test"},
                                         "postrender": "./kustomize-wrapper.sh"})], {})
    report = render_inventory(inv)
    assert [(r.status, r.detail) for r in report.releases] == [
        ("unrendered", "postrender command './kustomize-wrapper.sh' is not run offline")]
    assert not inv.rendered()


def test_a_missing_values_file_fails_the_render_with_its_reason(tmp_path: Path) -> None:
    inv = Inventory("p", "s", [_release({"chart": "demo-exporter", "version": "1.0.0", "name": "r",
                                         "repositoryOpts": {"repo": "https://charts.example.test"},
                                         "valueYamlFiles": [{"path": "missing.yaml"}]})], {})
    report = render_inventory(inv, base=tmp_path)
    assert report.releases[0].status == "failed" and report.releases[0].detail.startswith("valueYamlFiles: ")
    assert "missing.yaml" in report.releases[0].detail


@pytest.mark.parametrize(("prefix", "expected"), [(None, "cm:app/settings"), ("team", "team:app/settings"),
                                                  ("", "app/settings")])
def test_a_directorys_children_are_named_by_its_resource_prefix(tmp_path: Path, prefix: str | None,
                                                                expected: str) -> None:
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl (kustomize v5.5.0) is on the machine image and CI installs none: it must be on PATH")
    base = tmp_path / "base"
    base.mkdir()
    (base / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (base / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n"
                                  f"  prefix: '{prefix}'\n")
    inputs: dict[str, Any] = {"directory": "base", "namespace": "app"}
    if prefix is not None:
        inputs["resourcePrefix"] = prefix
    record = ResourceRecord(urn=f"urn:pulumi:s::p::{DIRECTORY}::cm", type=DIRECTORY, name="cm", parent=None,
                            custom=False, id=None, inputs=inputs, options={})
    inv = Inventory("p", "s", [record], {})
    render_inventory(inv, base=tmp_path)  # a relative directory resolves against the program's directory
    [child] = inv.rendered()
    assert child.urn.endswith(f"::{expected}") and child.inputs["metadata"]["namespace"] == "app"


def test_a_directorys_objects_wait_for_what_it_waits_for_and_the_critical_path_has_no_cycle(tmp_path: Path) -> None:
    """Review finding: rendered kustomize objects depended on their Directory (a component, which means its
    children), so every sibling waited for every other and `graph --critical-path` reported a cycle. pulumi-kubernetes
    registers them with `Parent(comp)` only (yaml/v2 Register): they wait for what the Directory waits for."""
    from mlops_infra.plan.critical_path import critical_path

    if shutil.which("kubectl") is None:
        pytest.fail("kubectl (kustomize v5.5.0) is on the machine image: it must be on PATH")
    base = tmp_path / "base"
    base.mkdir()
    (base / "kustomization.yaml").write_text("resources: [a.yaml]\n")
    (base / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    db = ResourceRecord(urn="urn:pulumi:s::p::aws:rds/instance:Instance::db", type="aws:rds/instance:Instance",
                        name="db", parent=None, custom=True, id=None, inputs={}, options={})
    directory = ResourceRecord(urn=f"urn:pulumi:s::p::{DIRECTORY}::dir", type=DIRECTORY, name="dir", parent=None,
                               custom=False, id=None, inputs={"directory": "base", "namespace": "app"},
                               options={"dependsOn": [db.urn]}, dependencies=[db.urn])
    inv = Inventory("p", "s", [db, directory], {})
    render_inventory(inv, base=tmp_path)
    children = inv.rendered()
    assert len(children) == 2 and all(c.dependencies == [db.urn] for c in children)
    path = critical_path(inv)  # raised "dependency cycle" before
    assert path.steps[0].name == "db"


def test_a_local_base_outside_the_directory_is_part_of_the_render_cache_key(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding: editing `../base` served the old render from the cache."""
    from mlops_infra.plan import render_cache
    from mlops_infra.plan.render_kustomize import render_kustomize

    if shutil.which("kubectl") is None:
        pytest.fail("kubectl (kustomize v5.5.0) is on the machine image: it must be on PATH")
    monkeypatch.setenv("MLOPS_INFRA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(render_cache, "_MEMORY", {})
    (tmp_path / "base").mkdir()
    (tmp_path / "overlay").mkdir()
    (tmp_path / "base" / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (tmp_path / "overlay" / "kustomization.yaml").write_text("resources: [../base]\n")
    for value in ("one", "two"):
        (tmp_path / "base" / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n"
                                                   f"data: {{v: {value}}}\n")
        [obj] = render_kustomize(tmp_path / "overlay")
        assert obj["data"] == {"v": value}
