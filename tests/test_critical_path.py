"""`graph --critical-path`: the longest chain of creates, walked the way the Pulumi engine waits.

A resource waits for its `dependencies` (dependsOn + property dependencies) and its provider, never for its parent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.cli.main import main
from mlops_infra.plan.critical_path import CreateTimes, critical_path, waits_on
from mlops_infra.plan.inventory import Inventory, ResourceRecord
from tests.conftest import ROOT, planned
from tests.nonempty import each

TABLE: dict[str, Any] = {
    "default": {"seconds": 7, "source": "none", "assumption": "7 s default"},
    "types": {
        "t:a": {"seconds": 10, "source": "s", "assumption": "a"},
        "t:slow": {"seconds": 100, "source": "s", "assumption": "slow",
                   "variants": [{"input": "big", "equals": True, "seconds": 300, "assumption": "big"}]},
        "t:fast": {"seconds": 5, "source": "s", "assumption": "fast"},
        "t:one": {"seconds": 1, "source": "s", "assumption": "one"},
    },
    "prefixes": {"pulumi:providers:": {"seconds": 0, "source": "s", "assumption": "0 s"}},
    "helmCharts": {
        "_release": {"seconds": 120, "source": "s", "assumption": "release"},
        "_skipAwait": {"seconds": 10, "source": "s", "assumption": "skip"},
        "kube-prometheus-stack": {"seconds": 240, "source": "s", "assumption": "kps"},
    },
}


def rec(name: str, typ: str, deps: tuple[str, ...] = (), *, parent: str | None = None, custom: bool = True,
        provider: str | None = None, inputs: dict[str, Any] | None = None) -> ResourceRecord:
    return ResourceRecord(urn=f"urn:{name}", type=typ, name=name, parent=f"urn:{parent}" if parent else None,
                          custom=custom, id=name, inputs=inputs or {},
                          options={"provider": f"urn:{provider}" if provider else None, "dependsOn": []},
                          dependencies=[f"urn:{d}" for d in deps])


def synthetic() -> Inventory:
    """a(10) -> slow(100) -> join(1); a -> fast(5) -> join; comp depends on slow, its child `orphan` does not;
    prov (a provider) depends on slow, and `via_provider` (5) only names prov; `late` depends on the component
    (= its children); `mystery` has a type without an entry (default 7 s)."""
    return Inventory("p", "s", [
        rec("a", "t:a"),
        rec("slow", "t:slow", ("a",)),
        rec("fast", "t:fast", ("a",)),
        rec("join", "t:one", ("slow", "fast")),
        rec("comp", "my:comp", ("slow",), custom=False),
        rec("orphan", "t:fast", parent="comp"),
        rec("prov", "pulumi:providers:kubernetes", ("slow",)),
        rec("via_provider", "t:fast", provider="prov"),
        rec("late", "t:one", ("comp",)),
        rec("mystery", "x:unknown", ("via_provider",)),
    ], {})


def test_longest_path_on_a_synthetic_graph_is_the_hand_computed_one() -> None:
    path = critical_path(synthetic(), CreateTimes(TABLE))
    # hand-computed finishes: a 10, slow 110, fast 15, join 111, orphan 5, prov 110, via_provider 115,
    # late = orphan 5 + 1 = 6, mystery = 115 + 7 = 122
    assert [s.name for s in path.steps] == ["a", "slow", "prov", "via_provider", "mystery"]
    assert [(s.start, s.finish) for s in path.steps] == [(0, 10), (10, 110), (110, 110), (110, 115), (115, 122)]
    assert path.total == 122
    assert set(path.defaulted) == {"x:unknown"} and path.defaulted["x:unknown"].assumption == "7 s default"


def test_a_child_does_not_wait_for_its_parent_and_a_component_dependency_means_its_children() -> None:
    inventory = synthetic()
    index = inventory.by_urn()
    assert waits_on(index["urn:orphan"], index) == set()  # its parent `comp` waits on slow; the child does not
    assert waits_on(index["urn:late"], index) == {"urn:orphan"}
    assert waits_on(index["urn:via_provider"], index) == {"urn:prov"}


def test_variants_and_helm_charts_pick_their_own_times() -> None:
    times = CreateTimes(TABLE)
    assert times.estimate(rec("x", "t:slow", inputs={"big": True})).seconds == 300
    assert times.estimate(rec("x", "t:slow", inputs={"big": False})).seconds == 100
    helm = "kubernetes:helm.sh/v3:Release"
    assert times.estimate(rec("x", helm, inputs={"chart": "kube-prometheus-stack"})).seconds == 240
    assert times.estimate(rec("x", helm, inputs={"chart": "oci://ghcr.io/x/charts/other"})).seconds == 120
    assert times.estimate(rec("x", helm, inputs={"chart": "kube-prometheus-stack", "skipAwait": True})).seconds == 10
    assert times.estimate(rec("x", "my:comp", custom=False)).seconds == 0


def test_a_cycle_is_reported() -> None:
    inventory = Inventory("p", "s", [rec("a", "t:a", ("b",)), rec("b", "t:a", ("a",))], {})
    with pytest.raises(ValueError, match="dependency cycle"):
        critical_path(inventory, CreateTimes(TABLE))


def test_the_committed_table_covers_every_planned_type_with_a_source() -> None:
    table = CreateTimes.load().table
    entries = [table["default"], *table["types"].values(), *table["prefixes"].values(), *table["helmCharts"].values()]
    assert all(e["source"].strip() and e["assumption"].strip() and e["seconds"] >= 0 for e in each(entries))
    for stack in ("dev", "prod"):
        assert critical_path(planned(stack)).defaulted == {}, stack


# What the prod path may hold beyond the floor (cluster, one node group, the slowest chart), each wait needed:
NEEDED = {
    # the cluster's secrets key and its role's policies: EKS needs them to create and to delete the cluster
    "aws:kms/key:Key", "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    # before nodes: bootstrapSelfManagedAddons=False, so nodes are Ready only once vpc-cni exists; vpc-cni takes
    # its credentials from the Pod Identity agent, so it waits for the agent add-on (eksctl user guide "EKS Pod
    # Identity Associations": the agent is a prerequisite; terraform-aws-eks#3260: vpc-cni created before the agent
    # crashes; amazon-vpc-cni-k8s#3840: aws-node crashes without the agent). After nodes: CoreDNS (and the EBS CSI
    # driver and metrics-server, same typical time) before any Kubernetes object, through the provider.
    "aws:eks/addon:Addon",
    # the provider itself (0 s), the chart's namespace, its ServiceAccount and the IRSA role bound to it,
    # and the chart's CRD consumers
    "pulumi:providers:kubernetes", "kubernetes:core/v1:Namespace", "kubernetes:core/v1:ServiceAccount",
    "aws:iam/role:Role", "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    # an orchestrator's atomic release waits for the ExternalSecret that writes its database Secret (issue 28 item
    # 11), which waits for its SecretStore and the External Secrets operator's chart and ClusterSecretStore
    "kubernetes:helm.sh/v3:Release", "kubernetes:external-secrets.io/v1:ClusterSecretStore",
    "kubernetes:external-secrets.io/v1:SecretStore", "kubernetes:external-secrets.io/v1:ExternalSecret",
}


def test_prod_path_is_cluster_addons_system_nodes_then_the_slowest_chart() -> None:
    path = critical_path(planned("prod"))
    names = [s.name for s in path.steps]
    chain = ["mlops-prod-eks", "mlops-prod-eks-addon-eks-pod-identity-agent", "mlops-prod-eks-addon-vpc-cni",
             "mlops-prod-eks-system", "mlops-prod-eks-k8s"]
    assert [n for n in names if n in chain] == chain
    # then the slowest chart: Airflow's, behind External Secrets and the ExternalSecret of its database Secret
    assert [s.type for s in path.steps if s.name not in chain][-2:] == [
        "kubernetes:helm.sh/v3:Release", "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"]
    assert path.floor is not None and path.floor.seconds == 18 * 60
    assert [n for n, _ in path.floor.parts] == ["mlops-prod-eks", "mlops-prod-eks-system",
                                                "mlops-prod-monitoring-kube-prometheus-stack"]
    floor_names = {n for n, _ in path.floor.parts}
    extra = [s for s in path.steps if s.name not in floor_names]
    assert {s.type for s in extra} <= NEEDED, [s.name for s in extra if s.type not in NEEDED]
    # exactly three add-ons on the path: the agent and vpc-cni before the nodes, one add-on the provider waits on
    assert sum(s.type == "aws:eks/addon:Addon" for s in extra) == 3
    # 21.6 min against an 18 min floor: the 10% target is missed by the needed add-on waits (see NEEDED)
    assert path.ratio is not None and path.ratio <= 1.20


def test_cli_prints_the_path_as_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["graph", "--stack", "dev", "--critical-path", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totalSeconds"] == data["steps"][-1]["finish"] and data["floor"]["seconds"] == 18 * 60
    assert data["steps"][0]["start"] == 0 and data["assumedTypes"] == {}
    assert main(["graph", "--stack", "dev", "--critical-path"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Critical path of a first `pulumi up` for dev: ") and "Path / floor = " in text


def test_what_a_helm_release_renders_is_part_of_the_release_not_a_step_after_it() -> None:
    """Review finding: rendered hook Jobs showed up after their release on the path (they are created by the release
    and inside its estimate); a kustomize Directory's objects are resources of their own and keep their time."""
    base = synthetic()
    rendered = [rec("hook", "t:slow", ("slow",)), rec("kobj", "t:fast", ("mystery",))]
    rendered[0].options["rendered"] = {"by": "helm:demo-1.0.0", "release": "urn:slow"}
    rendered[1].options["rendered"] = {"by": "kustomize", "release": "urn:mystery"}
    with_rendered = Inventory("p", "s", [*base.resources, *rendered], {})
    path = critical_path(with_rendered, CreateTimes(TABLE))
    names = [s.name for s in path.steps]
    assert "hook" not in names and names[-1] == "kobj"
    assert path.total == critical_path(base, CreateTimes(TABLE)).total + 5
