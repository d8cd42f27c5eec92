"""Rendering sees the cluster a real install sees: `.Capabilities.KubeVersion` is the plan's EKS version and
`.Capabilities.APIVersions` holds the built-in kinds and the plan's CRDs (pulumi-kubernetes installs against the live
cluster, whose discovery Helm reads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_infra import charts
from mlops_infra.config.versions import DEFAULT_EKS_VERSION
from mlops_infra.plan import render_cache
from mlops_infra.plan.capabilities import builtin_api_versions, capabilities
from mlops_infra.plan.inventory import Inventory, ResourceRecord
from mlops_infra.plan.render import render_chart, render_inventory

pytest.importorskip("helm_python")

CAPS_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: caps
data:
  kube: "{{ .Capabilities.KubeVersion.Version }}"
  monitor: "{{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" }}"
  deployment: "{{ .Capabilities.APIVersions.Has "apps/v1/Deployment" }}"
{{- if semverCompare "<1.34-0" .Capabilities.KubeVersion.Version }}
  old: "true"
{{- end }}
"""


def _record(typ: str, name: str, inputs: dict[str, Any]) -> ResourceRecord:
    return ResourceRecord(urn=f"urn:pulumi:s::p::{typ}::{name}", type=typ, name=name, parent=None, custom=True,
                          id=None, inputs=inputs, options={})


def _crd(group: str, kind: str, versions: list[tuple[str, bool]]) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "spec": {"group": group, "names": {"kind": kind},
                     "versions": [{"name": v, "served": served} for v, served in versions]}}


@pytest.fixture()
def caps_chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> charts.StoredChart:
    monkeypatch.setenv("MLOPS_INFRA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(render_cache, "_MEMORY", {})
    root = tmp_path / "caps-0.1.0"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: caps\nversion: 0.1.0\n")
    (root / "templates" / "caps.yaml").write_text(CAPS_TEMPLATE)
    return charts.StoredChart(chart="caps", repo="https://x.test", version="0.1.0", path=root,
                              digest=f"test:{tmp_path.name}", source={})


def _data(objects: list[dict[str, Any]]) -> dict[str, str]:
    [cm] = [o for o in objects if o.get("kind") == "ConfigMap"]
    return dict(cm["data"])


def test_the_cluster_version_and_the_plans_crds_reach_the_templates(caps_chart: charts.StoredChart) -> None:
    inv = Inventory("p", "s", [
        _record("aws:eks/cluster:Cluster", "cluster", {"version": "1.33"}),
        _record("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "sm",
                _crd("monitoring.coreos.com", "ServiceMonitor", [("v1", True)])),
    ], {})
    caps = capabilities(inv, [])
    assert caps.kube_version == "v1.33.0"
    data = _data(render_chart(caps_chart, {}, "caps", "ns", caps=caps))
    assert data == {"kube": "v1.33.0", "monitor": "true", "deployment": "true", "old": "true"}


def test_without_a_cluster_or_crd_the_default_eks_version_and_builtins_only(caps_chart: charts.StoredChart) -> None:
    caps = capabilities(Inventory("p", "s", [], {}), [])
    data = _data(render_chart(caps_chart, {}, "caps", "ns", caps=caps))
    assert data["kube"] == f"v{DEFAULT_EKS_VERSION}.0" and data["monitor"] == "false"
    assert data["deployment"] == "true" and "old" not in data


def test_a_chart_installs_crds_other_releases_see(caps_chart: charts.StoredChart) -> None:
    """The CRDs of a stored chart's `crds/` count (kube-prometheus-stack installs ServiceMonitor that way)."""
    caps = capabilities(Inventory("p", "s", [], {}), [_crd("monitoring.coreos.com", "ServiceMonitor",
                                                           [("v1", True), ("v1alpha1", False)])])
    assert "monitoring.coreos.com/v1/ServiceMonitor" in caps.api_versions
    assert "monitoring.coreos.com/v1alpha1" not in caps.api_versions  # not served
    assert _data(render_chart(caps_chart, {}, "caps", "ns", caps=caps))["monitor"] == "true"


def test_builtin_api_versions_are_the_stable_served_kinds() -> None:
    found = builtin_api_versions((1, 35))
    assert {"v1/Pod", "apps/v1/Deployment", "batch/v1/CronJob", "networking.k8s.io/v1/NetworkPolicy",
            "policy/v1/PodDisruptionBudget", "apps/v1"} <= found
    assert not any("alpha" in v or "beta" in v for v in found)
    assert not any(v.endswith("List") for v in found)


def test_the_stored_demo_chart_renders_with_the_plans_capabilities() -> None:
    """End to end through render_inventory: the demo chart's release in a plan with an EKS 1.33 cluster."""
    stored = charts.find("demo-exporter", "https://charts.example.test", "1.0.0")
    assert stored is not None
    release = _record("kubernetes:helm.sh/v3:Release", "demo", {
        "chart": "demo-exporter", "version": "1.0.0", "repositoryOpts": {"repo": "https://charts.example.test"},
        "name": "demo", "namespace": "demo", "values": {}})
    inv = Inventory("p", "s", [_record("aws:eks/cluster:Cluster", "cluster", {"version": "1.33"}), release], {})
    report = render_inventory(inv)
    assert [r.status for r in report.releases] == ["rendered"] and inv.rendered()
