"""yaml/v2 ConfigFile and ConfigGroup objects join the inventory as the provider registers them (render_yaml.py)."""

from __future__ import annotations

from pathlib import Path

from mlops_infra.plan.inventory import Inventory, ResourceRecord
from mlops_infra.plan.render import render_inventory

SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: app}\nspec: {selector: {app: api}}\n"
CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}


def component(type_: str, name: str, inputs: dict[str, object]) -> ResourceRecord:
    return ResourceRecord(f"urn:pulumi:s::p::kubernetes:yaml/v2:{type_}::{name}", f"kubernetes:yaml/v2:{type_}",
                          name, None, False, None, inputs, {"dependsOn": ["urn:pulumi:s::p::aws:eks/cluster:Cluster::c"]})


def test_config_file_and_group_render_their_objects(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text(SERVICE)
    inv = Inventory("p", "s", [component("ConfigFile", "cf", {"file": "svc.yaml"}),
                               component("ConfigGroup", "cg", {"yaml": [SERVICE.replace("api", "web")],
                                                               "objs": [CONFIG_MAP], "resourcePrefix": ""})], {})
    report = render_inventory(inv, tmp_path)
    assert [e.status for e in report.releases] == ["rendered", "rendered"]
    rendered = {r.urn.rsplit("::", 1)[-1]: r for r in inv.resources if r.parent}
    assert sorted(rendered) == ["app/web", "cf:app/api", "default/settings"]
    assert rendered["default/settings"].inputs["metadata"]["namespace"] == "default"
    assert rendered["cf:app/api"].parent == inv.resources[0].urn
    assert rendered["cf:app/api"].dependencies == ["urn:pulumi:s::p::aws:eks/cluster:Cluster::c"]


def test_a_url_or_a_missing_file_is_reported_unrendered(tmp_path: Path) -> None:
    inv = Inventory("p", "s", [component("ConfigFile", "url", {"file": "https://example.com/x.yaml"}),
                               component("ConfigFile", "gone", {"file": "missing.yaml"})], {})
    report = render_inventory(inv, tmp_path)
    assert [(e.status, "URL" in e.detail) for e in report.releases] == [("unrendered", True), ("unrendered", False)]
    assert not [r for r in inv.resources if r.parent]
