"""A team workspace (stacks/team-workspace, another stack on the platform's outputs) gets what a platform team gets:
admitted by the platform services' ingress NetworkPolicies, the teams' Pod Security level, and the platform's GPU
software on its own GPU pool's nodes (tests/programs/team_gpu: team `vision`, not one of prod's `cluster.teams`)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
import yaml

from mlops_infra.compute.gpu_config import GpuPoolConfig
from mlops_infra.plan import Inventory, PlanError, plan_program
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.platform.team_workspace import gpu_pool_problems
from tests.conftest import PROGRAMS, ROOT, planned
from tests.netpol_eval import Ip, Pod, Policy, allows, policies_in
from tests.nonempty import each
from tests.scheduling import node_taints, schedulable

REF = "organization/mlops-platform/prod"
WORKSPACE = "vision"
SERVICES = {"mlflow", "lakefs", "qdrant", "serving"}
"""The platform services whose ingress policies the issue names (namespaces of the prod stack's config)."""


def prod_config() -> Any:
    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))["config"]
    return load_platform_config(raw["mlops:platform"])


@pytest.fixture(scope="module")
def platform() -> Inventory:
    return planned("prod", render=True)


@pytest.fixture(scope="module")
def team(platform: Inventory) -> Inventory:
    return plan_program(PROGRAMS / "team_gpu", "prod", stack_refs={REF: platform.outputs})


def namespace_labels(team: Inventory) -> dict[str, str]:
    (ns,) = team.of_type("kubernetes:core/v1:Namespace")
    assert ns.inputs["metadata"]["name"] == WORKSPACE
    return dict(ns.inputs["metadata"]["labels"])


def service_namespaces() -> dict[str, str]:
    cfg = prod_config()
    assert cfg.mlflow and cfg.data.lakefs.enabled and cfg.data.qdrant.enabled and cfg.serving.enabled
    return {"mlflow": cfg.mlflow.namespace, "lakefs": cfg.data.lakefs.namespace,
            "qdrant": cfg.data.qdrant.namespace, "serving": cfg.serving.namespace}


def admitted_ports(policies: list[Policy], source: Pod, namespace: str,
                   labels: dict[str, dict[str, str]]) -> set[tuple[str, int]]:
    """(pod selector, port) of every ingress rule in `namespace` that `source` may open a connection to."""
    out = set()
    for policy in (p for p in policies if p.namespace == namespace and "Ingress" in p.spec.get("policyTypes", [])):
        dest = Pod(namespace, dict(policy.spec.get("podSelector", {}).get("matchLabels") or {}))
        for rule in policy.spec.get("ingress") or []:
            for port in (e["port"] for e in rule.get("ports") or [] if isinstance(e.get("port"), int)):
                if allows(policies, source, dest, port, namespace_labels=labels):
                    out.add((str(sorted(dest.labels.items())), port))
    return out


def test_a_workspace_is_admitted_by_every_service_a_platform_team_is(platform: Inventory, team: Inventory) -> None:
    policies, cfg = policies_in(platform), prod_config()
    teams = [t.name for t in cfg.cluster.teams]
    assert teams and WORKSPACE not in teams
    labels = {WORKSPACE: namespace_labels(team)}
    for service, ns in each(service_namespaces().items()):
        for t in teams:
            team_ports = admitted_ports(policies, Pod(t), ns, labels)
            assert team_ports, f"{service}: team {t} is admitted nowhere (the relation below would be vacuous)"
            assert team_ports <= admitted_ports(policies, Pod(WORKSPACE), ns, labels), service


def test_a_workspace_without_the_platforms_labels_is_not_admitted(platform: Inventory) -> None:
    """The relation above comes from the labels the platform exports, not from open policies."""
    policies = policies_in(platform)
    for service, ns in each(service_namespaces().items()):
        assert not admitted_ports(policies, Pod("stranger"), ns, {"stranger": {"mlops.io/team": "stranger"}}), service


def test_the_workspace_runs_at_the_platform_teams_pod_security_level(platform: Inventory, team: Inventory) -> None:
    enforce = "pod-security.kubernetes.io/enforce"
    teams = {t.name for t in prod_config().cluster.teams}
    levels = {r.inputs["metadata"]["labels"][enforce] for r in platform.of_type("kubernetes:core/v1:Namespace")
              if r.inputs["metadata"]["name"] in teams}
    assert levels == {"baseline"}
    assert namespace_labels(team)[enforce] == "baseline"


def daemonset(platform: Inventory, release: str, name: str) -> dict[str, Any]:
    (ds,) = [r.inputs for r in platform.rendered() if r.type == "kubernetes:apps/v1:DaemonSet"
             and r.parent.endswith(f"::{release}") and r.inputs["metadata"]["name"] == name]
    return dict(ds["spec"]["template"]["spec"])


@pytest.mark.parametrize(("release", "name"), [
    pytest.param("mlops-prod-gpu-software-deviceplugin", "nvidia-device-plugin",
                 marks=pytest.mark.charts("nvidia-device-plugin")),
    pytest.param("mlops-prod-gpu-software-efa", "aws-efa-k8s-device-plugin",
                 marks=pytest.mark.charts("aws-efa-k8s-device-plugin")),
    pytest.param("mlops-prod-monitoring-dcgm", "mlops-prod-monitoring-dcgm-exporter",
                 marks=pytest.mark.charts("dcgm-exporter"))])
def test_the_workspace_pools_nodes_get_the_platforms_gpu_daemonsets(platform: Inventory, team: Inventory,
                                                                    release: str, name: str) -> None:
    assert {e["name"]: e["status"] for e in platform.rendering}[release] == "rendered"
    (group,) = team.of_type("aws:eks/nodeGroup:NodeGroup")
    spec, taints = daemonset(platform, release, name), node_taints(group.inputs.get("taints"))
    assert group.inputs["instanceTypes"] and taints
    for itype in group.inputs["instanceTypes"]:
        node = {**group.inputs["labels"], "node.kubernetes.io/instance-type": itype, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64"}
        assert schedulable(spec, node, taints), itype
        assert not schedulable(spec, {k: v for k, v in node.items() if "gpu" not in k and "efa" not in k}, []), \
            "the DaemonSet would run on any node: the check above proves nothing"


def refused(outputs: dict[str, Any]) -> str:
    with pytest.raises(PlanError) as err:
        plan_program(PROGRAMS / "team_gpu", "prod", stack_refs={REF: outputs})
    return str(err.value)


def test_a_pool_the_platforms_gpu_software_would_not_serve_is_refused(platform: Inventory) -> None:
    outputs = platform.outputs
    software = outputs["teamWorkspace"]["gpuSoftware"]
    no_efa = {**outputs, "teamWorkspace": {**outputs["teamWorkspace"], "gpuSoftware": {**software, "efaPlugin": False}}}
    assert "efa: true, but the platform installs no EFA device plugin" in refused(no_efa)
    without_terms = {k: v for k, v in outputs.items() if k != "teamWorkspace"}
    assert f"stack reference '{REF}' has no output 'teamWorkspace'; every platform stack" in refused(without_terms)
    pool = GpuPoolConfig.model_validate({"name": "p", "instanceTypes": ["g6.xlarge"], "maxSize": 2,
                                         "taint": {"key": "vision.io/gpu"}})
    assert gpu_pool_problems(pool, software) == [
        "taint vision.io/gpu:NoSchedule is not tolerated by the platform's device plugin (it tolerates "
        "[('nvidia.com/gpu', 'NoSchedule')]): use one of those, or add a pool with it to the platform"]
    assert gpu_pool_problems(pool.model_copy(update={"taint": None}), software) == []
    assert "runs no cluster-autoscaler" in gpu_pool_problems(pool, {**software, "clusterAutoscaler": False})[-1]
    assert "runs no NVIDIA device plugin" in gpu_pool_problems(pool, None)[0]


def egress_probes(platform: Inventory, team: str) -> list[tuple[Pod | Ip, int, str]]:
    """Destinations a pod may try: every port a platform ingress policy opens to the pods it selects, cluster DNS,
    one address in every ipBlock a platform team's egress names (on each of its ports), and the internet."""
    probes: list[tuple[Pod | Ip, int, str]] = [(Pod("kube-system", {"k8s-app": "kube-dns"}), 53, "UDP"),
                                               (Ip("8.8.8.8"), 443, "TCP"), (Ip("8.8.8.8"), 80, "TCP")]
    for policy in policies_in(platform):
        pod = Pod(policy.namespace, dict(policy.spec.get("podSelector", {}).get("matchLabels") or {}))
        for rule in policy.spec.get("ingress") or []:
            probes += [(pod, e["port"], "TCP") for e in rule.get("ports") or [] if isinstance(e.get("port"), int)]
        if policy.namespace == team:
            for rule in policy.spec.get("egress") or []:
                ports = [e["port"] for e in rule.get("ports") or []] or [443]
                probes += [(Ip(str(ipaddress.ip_network(p["ipBlock"]["cidr"])[-1])), port, "TCP")
                           for p in rule.get("to") or [] if "ipBlock" in p for port in ports]
    return probes


def test_the_workspace_gets_the_egress_guard_a_platform_team_gets(platform: Inventory, team: Inventory) -> None:
    """Default-deny egress plus the same allow rules: from a workspace pod, exactly what a team pod may reach."""
    policies = [*policies_in(platform), *policies_in(team)]
    labels = {WORKSPACE: namespace_labels(team)}
    teams = [t.name for t in prod_config().cluster.teams]
    assert teams
    probes = egress_probes(platform, teams[0])
    verdicts = [(dest, port, proto, allows(policies, Pod(teams[0]), dest, port, proto, labels))
                for dest, port, proto in probes]
    assert any(v[-1] for v in verdicts) and not all(v[-1] for v in each(verdicts)), "teams' egress unguarded: vacuous"
    assert not allows(policies, Pod(WORKSPACE), Ip("8.8.8.8"), 443, "TCP", labels)
    for dest, port, proto, team_may in each(verdicts):
        assert allows(policies, Pod(WORKSPACE), dest, port, proto, labels) == team_may, (dest, port, proto)
    assert allows(policies, Pod(WORKSPACE), Pod(WORKSPACE), 29500), "pods of one workspace reach each other"


def test_the_workspace_egress_follows_the_platforms_guard_setting(platform: Inventory) -> None:
    outputs, terms = platform.outputs, platform.outputs["teamWorkspace"]
    unguarded = plan_program(PROGRAMS / "team_gpu", "prod", stack_refs={REF: {
        **outputs, "teamWorkspace": {**terms, "egressRules": [{}]}}})
    allow = [r.inputs["spec"] for r in unguarded.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
             if r.inputs["metadata"]["name"] == "allow-platform-egress"]
    assert allow and allow[0]["egress"] == [{}], "an unguarded platform's teams reach anything; so does a workspace"
    older = {**outputs, "teamWorkspace": {k: v for k, v in terms.items() if k != "egressRules"}}
    assert "has no egressRules" in refused(older)
