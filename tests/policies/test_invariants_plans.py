"""Invariants on planned programs (the relations as the components really build them) and their cost."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from mlops_policies import invariants_index
from mlops_policies.packs import rules_for
from mlops_policies.runner import evaluate

from tests.conftest import PROGRAMS, planned
from tests.nonempty import each

from .helpers import R, inventory

SM = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
POLICY = "mlops-inv-servicemonitor-target"


@pytest.fixture(scope="module")
def monitoring() -> dict[str, Any]:
    return planned("full", PROGRAMS / "monitoring").to_json()


def findings(inv: dict[str, Any], policy: str) -> list[str]:
    return [f"{f.name}: {f.message}" for f in evaluate(inv, environment="prod", only=[policy]).findings]


def edit_monitor(inv: dict[str, Any], name: str, **spec: Any) -> dict[str, Any]:
    out = copy.deepcopy(inv)
    [record] = [r for r in out["resources"] if r["name"] == name]
    record["inputs"]["spec"].update(spec)
    return out


def test_every_planned_service_monitor_selects_a_service_port(monitoring: dict[str, Any]) -> None:
    assert len([r for r in monitoring["resources"] if r["type"] == SM]) >= 2
    assert findings(monitoring, POLICY) == []


def test_a_peer_style_dcgm_selector_is_caught(monitoring: dict[str, Any]) -> None:
    """The ai-on-eks DCGM ServiceMonitor selects `app: nvidia-dcgm-exporter`, a label the chart does not set."""
    broken = edit_monitor(monitoring, "mlops-prod-monitoring-dcgm-servicemonitor",
                          selector={"matchLabels": {"app": "nvidia-dcgm-exporter"}})
    assert findings(broken, POLICY) == [
        "mlops-prod-monitoring-dcgm-servicemonitor: ServiceMonitor selector {'app': 'nvidia-dcgm-exporter'} in "
        "namespaces ['monitoring'] matches no Service in the stack"]


def test_a_dcgm_monitor_watching_the_wrong_namespace_or_port_is_caught(monitoring: dict[str, Any]) -> None:
    name = "mlops-prod-monitoring-dcgm-servicemonitor"
    wrong_ns = edit_monitor(monitoring, name, namespaceSelector={"matchNames": ["gpu-operator"]})
    assert [m.split(": ", 1)[1] for m in findings(wrong_ns, POLICY)] == [
        "ServiceMonitor selector {'app.kubernetes.io/component': 'mlops-prod-monitoring-dcgm-exporter', "
        "'app.kubernetes.io/name': 'mlops-prod-monitoring-dcgm-exporter'} in namespaces ['gpu-operator'] matches no "
        "Service in the stack"]
    wrong_port = edit_monitor(monitoring, name, endpoints=[{"port": "http-metrics", "path": "/metrics"}])
    assert [m.split(": ", 1)[1] for m in findings(wrong_port, POLICY)] == [
        "ServiceMonitor endpoint port 'http-metrics' is not a port of release mlops-prod-monitoring-dcgm "
        "(ports: ['metrics'])"]


def test_the_stack_is_indexed_once_per_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every invariant shares one index of the inventory: cost is one pass, not one pass per invariant."""
    built = []
    original = invariants_index.Index.__init__

    def counting(self: invariants_index.Index, stack: Any) -> None:
        built.append(stack)
        original(self, stack)

    monkeypatch.setattr(invariants_index.Index, "__init__", counting)
    resources = [R("aws:eks/cluster:Cluster", "eks", {}), R("aws:s3/bucket:Bucket", "b", {"bucket": "b"})]
    report = evaluate(inventory(resources), environment="prod", packs=["mlops-invariants"])
    assert len(report.rules) == len(rules_for("mlops-invariants")) >= 15
    assert len(built) == 1


def test_list_policies_names_every_invariant_with_severity_and_frameworks(capsys: pytest.CaptureFixture[str]) -> None:
    from mlops_infra.cli.main import main

    assert main(["check", "--list-policies", "--format", "json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out) if p["pack"] == "mlops-invariants"}
    assert {n for n in listed if n.startswith("mlops-inv-")} >= {
        "mlops-inv-networkpolicy-enforced", "mlops-inv-scale-from-zero-autoscaler", "mlops-inv-ingress-controller",
        "mlops-inv-hpa-metrics-source", "mlops-inv-storage-class-exists", "mlops-inv-alarm-topic-subscribed",
        "mlops-inv-servicemonitor-target", "mlops-inv-workload-identity", "mlops-inv-pod-reference",
        "mlops-inv-kms-key-users", "mlops-inv-iam-action-exists", "mlops-inv-pdb-allows-disruption",
        "mlops-inv-vpce-deny-covers-versions", "mlops-inv-crd-before-custom-resource", "mlops-inv-rds-single-vpc",
        "mlops-inv-shared-cluster-assumptions"}
    for name, p in each(listed.items()):
        assert p["kind"] == "stack" and p["severity"] in ("low", "medium", "high") and p["controls"], name
    assert main(["check", "--list-policies"]) == 0
    text = capsys.readouterr().out
    assert "mlops-invariants (" in text and "mlops-inv-networkpolicy-enforced" in text and "CIS-EKS 4.3.2" in text


def test_pack_entry_point_serves_the_invariants_to_the_engine() -> None:
    """mlops_infra/policy_packs/mlops-invariants as `pulumi preview --policy-pack` runs it: AnalyzeStack over the engine's resources
    (no offline runner, no shared index cache) finds the unenforced NetworkPolicy."""
    import grpc
    from google.protobuf import empty_pb2, json_format, struct_pb2
    from pulumi.runtime import proto
    from pulumi.runtime.proto import analyzer_pb2_grpc

    from .test_runner import _serve

    def resource(type_: str, name: str, props: dict[str, Any]) -> Any:
        struct = struct_pb2.Struct()
        json_format.ParseDict(props, struct)
        return proto.AnalyzerResource(type=type_, properties=struct, urn=f"urn:pulumi:prod::p::{type_}::{name}",
                                      name=name)

    proc, port = _serve("mlops-invariants")
    try:
        stub = analyzer_pb2_grpc.AnalyzerStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
        assert info.name == "mlops-invariants" and len(info.policies) == len(rules_for("mlops-invariants"))
        response = stub.AnalyzeStack(proto.AnalyzeStackRequest(resources=[
            resource("aws:eks/cluster:Cluster", "eks", {"name": "c"}),
            resource("aws:eks/addon:Addon", "cni", {"addonName": "vpc-cni"}),
            resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", "np", {"metadata": {"name": "deny"}})]),
            timeout=10)
        found = [(d.policyName, d.message.splitlines()[-1]) for d in response.diagnostics]
        assert found == [("mlops-inv-networkpolicy-enforced", 'vpc-cni add-on does not enforce NetworkPolicies '
                          '(configurationValues has no enableNetworkPolicy "true"), but the stack creates 1: np')]
    finally:
        proc.kill()
        proc.wait(timeout=10)
