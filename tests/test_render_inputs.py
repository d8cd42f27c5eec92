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
