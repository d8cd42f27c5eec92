"""TrainingCluster: EKS control plane, encryption, logs, access, identity, add-ons, system nodes, provider."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.compute.config import KUBEFLOW_MANAGER_MEMORY_REQUEST_MIB, TrainingOperatorConfig
from mlops_infra.compute.training_foundations import kubeflow_manager
from mlops_infra.config import ConfigError
from mlops_infra.config.versions import (
    ADDON_CLOUDWATCH_OBSERVABILITY,
    ADDON_EBS_CSI,
    ADDON_KUBE_PROXY,
    ADDON_METRICS_SERVER,
    ADDON_NODE_MONITORING_AGENT,
    KUBEFLOW_TRAINER,
    KUBERAY,
)
from mlops_infra.plan import SECRET, Inventory
from mlops_infra.platform.config import cluster_network_problems
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import PROGRAMS, planned
from tests.nonempty import each

COMPUTE = PROGRAMS / "compute"
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


@pytest.fixture(scope="module")
def dev() -> Inventory:
    return planned("dev", COMPUTE)


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod", COMPUTE)


def cluster(inv: Inventory) -> Any:
    (c,) = inv.of_type("aws:eks/cluster:Cluster")
    return c


def test_prod_cluster_is_private_encrypted_and_logs_everything(prod: Inventory) -> None:
    c = cluster(prod)
    assert c.inputs["name"] == "mlops-prod" and c.inputs["version"] == "1.35"
    assert c.inputs["vpcConfig"]["endpointPublicAccess"] is False
    assert c.inputs["vpcConfig"]["endpointPrivateAccess"] is True
    assert "publicAccessCidrs" not in c.inputs["vpcConfig"]
    assert c.inputs["encryptionConfig"]["resources"] == ["secrets"]
    (key,) = [k for k in prod.of_type("aws:kms/key:Key") if k.name == "mlops-prod-key"]
    assert c.inputs["encryptionConfig"]["provider"]["keyArn"].endswith(key.id)
    assert key.inputs["enableKeyRotation"] is True
    assert c.inputs["enabledClusterLogTypes"] == LOG_TYPES
    assert c.inputs["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert c.inputs["deletionProtection"] is True
    assert c.options["protect"] is True and c.options["retainOnDelete"] is True


def test_control_plane_log_group_exists_before_the_cluster(prod: Inventory) -> None:
    group = next(g for g in prod.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name == "mlops-prod-control-plane-logs")
    assert group.inputs["name"] == "/aws/eks/mlops-prod/cluster" and group.inputs["retentionInDays"] == 365
    assert group.urn in cluster(prod).options["dependsOn"]


def test_dev_endpoint_is_public_only_to_the_allowlist(dev: Inventory) -> None:
    vpc = cluster(dev).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert cluster(dev).options["protect"] is False and cluster(dev).inputs["deletionProtection"] is False


def test_cluster_role_trusts_eks_and_uses_the_key_least_privilege(prod: Inventory) -> None:
    role = next(r for r in prod.of_type("aws:iam/role:Role") if r.name == "mlops-prod-cluster")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "eks.amazonaws.com"}
    kms = json.loads(prod.named("mlops-prod-cluster-kms").inputs["policy"])["Statement"][0]
    assert kms["Action"] == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"]
    assert len(kms["Resource"]) == 1 and kms["Resource"][0].startswith("arn:aws:kms:")


def test_admin_roles_get_access_entries_with_cluster_admin(prod: Inventory) -> None:
    entries = prod.of_type("aws:eks/accessEntry:AccessEntry")
    assert sorted(e.inputs["principalArn"] for e in entries) == [
        "arn:aws:iam::123456789012:role/platform-admin", "arn:aws:iam::123456789012:role/platform-breakglass"]
    assert {e.inputs["type"] for e in entries} == {"STANDARD"}
    assocs = prod.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert {a.inputs["policyArn"] for a in assocs} == {
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"}
    assert {a.inputs["accessScope"]["type"] for a in assocs} == {"cluster"}


def test_irsa_creates_an_oidc_provider_from_the_cluster_issuer(prod: Inventory, dev: Inventory) -> None:
    (oidc,) = prod.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.inputs["url"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert prod.outputs["oidcProviderArn"] == f"arn:aws:iam::123456789012:oidc-provider/{oidc.inputs['url'][8:]}"
    assert dev.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []  # podIdentity
    assert dev.outputs["oidcProviderArn"] is None


def addons(inv: Inventory) -> dict[str, Any]:
    return {a.inputs["addonName"]: a for a in inv.of_type("aws:eks/addon:Addon")}


def test_managed_addons_pinned(prod: Inventory) -> None:
    found = addons(prod)
    assert sorted(found) == ["amazon-cloudwatch-observability", "aws-ebs-csi-driver", "coredns",
                             "eks-node-monitoring-agent", "eks-pod-identity-agent", "kube-proxy", "metrics-server",
                             "vpc-cni"]
    assert found["kube-proxy"].inputs["addonVersion"] == ADDON_KUBE_PROXY
    assert found["aws-ebs-csi-driver"].inputs["addonVersion"] == ADDON_EBS_CSI
    assert found["metrics-server"].inputs["addonVersion"] == ADDON_METRICS_SERVER
    # Node repair (the system group always, GPU pools by default) acts on the conditions this agent reports.
    assert found["eks-node-monitoring-agent"].inputs["addonVersion"] == ADDON_NODE_MONITORING_AGENT
    repairing = [g.name for g in prod.of_type("aws:eks/nodeGroup:NodeGroup")
                 if (g.inputs.get("nodeRepairConfig") or {}).get("enabled")]
    assert repairing, "no node group repairs: the agent would be for nothing"
    assert found["amazon-cloudwatch-observability"].inputs["addonVersion"] == ADDON_CLOUDWATCH_OBSERVABILITY


def test_upgrade_policy_is_explicit(prod: Inventory) -> None:
    assert cluster(prod).inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    cfg = load_platform_config({**BASE, "cluster": {"publicAccessCidrs": ["203.0.113.0/24"],
                                                    "upgradeSupportType": "EXTENDED"}})
    assert cfg.cluster.upgrade_support_type == "EXTENDED"


def test_everything_that_uses_a_role_waits_for_its_policies(prod: Inventory) -> None:
    """Deletion runs in reverse dependency order: the cluster, node groups and add-ons go before the policies
    their roles need while they shut down (EKS cannot delete a cluster or drain nodes without them)."""
    by_urn = prod.by_urn()
    depends = cluster(prod).options["dependsOn"]
    assert {by_urn[u].name for u in depends} >= {"mlops-prod-cluster-policy", "mlops-prod-cluster-kms"}
    (ng,) = [n for n in prod.of_type("aws:eks/nodeGroup:NodeGroup") if n.name == "mlops-prod-system"]
    node_policies = {a.urn for a in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                     if a.name.startswith("mlops-prod-node-")}
    assert len(node_policies) == 2 and node_policies <= set(ng.options["dependsOn"])
    for rec in each(addons(prod).values()):
        role = next((r for r in prod.of_type("aws:iam/role:Role") if r.name == f"{rec.name}-role"), None)
        if role is None:
            continue
        policies = {p.urn for p in prod if p.type in ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                                                      "aws:iam/rolePolicy:RolePolicy")
                    and p.name.startswith(f"{rec.name}-role")}
        assert policies and policies <= set(rec.options["dependsOn"]), rec.name


def test_service_linked_roles_only_on_request_and_never_deleted(prod: Inventory) -> None:
    assert prod.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole") == []
    inv = planned("karpenter", COMPUTE)  # asks for the Spot role (Karpenter SPOT pool)
    (slr,) = inv.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert slr.inputs["awsServiceName"] == "spot.amazonaws.com" and slr.options["retainOnDelete"] is True


def test_ebs_csi_and_vpc_cni_have_their_own_irsa_roles(prod: Inventory) -> None:
    for addon, sa, policy in (("aws-ebs-csi-driver", "ebs-csi-controller-sa", "AmazonEBSCSIDriverPolicy"),
                              ("vpc-cni", "aws-node", "AmazonEKS_CNI_Policy")):
        rec = addons(prod)[addon]
        role = next(r for r in prod.of_type("aws:iam/role:Role") if r.name == f"{rec.name}-role")
        assert rec.property_dependencies["serviceAccountRoleArn"] == [role.urn]
        cond = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
        issuer = next(k for k in cond if k.endswith(":sub")).removesuffix(":sub")
        assert cond == {f"{issuer}:sub": f"system:serviceaccount:kube-system:{sa}", f"{issuer}:aud": "sts.amazonaws.com"}
        (attach,) = [a for a in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                     if a.name == f"{rec.name}-role"]
        assert attach.inputs["policyArn"].endswith(f"/{policy}")


def test_pod_identity_mode_uses_addon_associations(dev: Inventory) -> None:
    rec = addons(dev)["aws-ebs-csi-driver"]
    (assoc,) = rec.inputs["podIdentityAssociations"]
    assert assoc["serviceAccount"] == "ebs-csi-controller-sa" and assoc["roleArn"].startswith("arn:aws:iam::")
    assert "serviceAccountRoleArn" not in rec.inputs
    role = next(r for r in dev.of_type("aws:iam/role:Role") if r.name == f"{rec.name}-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}


def test_node_role_has_only_the_worker_policies(prod: Inventory) -> None:
    attached = sorted(a.inputs["policyArn"] for a in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                      if a.name.startswith("mlops-prod-node-"))
    assert attached == ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
                        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"]


def test_system_node_group_is_small_on_demand_and_hardened(prod: Inventory) -> None:
    (ng,) = [n for n in prod.of_type("aws:eks/nodeGroup:NodeGroup") if n.name == "mlops-prod-system"]
    assert ng.inputs["capacityType"] == "ON_DEMAND" and ng.inputs["instanceTypes"] == ["m7i.xlarge"]
    assert ng.inputs["scalingConfig"] == {"minSize": 2, "desiredSize": 2, "maxSize": 4}
    assert ng.options["ignoreChanges"] == ["scalingConfig.desiredSize"]
    lt = next(r for r in prod.of_type("aws:ec2/launchTemplate:LaunchTemplate") if r.name == "mlops-prod-system")
    assert lt.inputs["metadataOptions"]["httpTokens"] == "required"
    ebs = lt.inputs["blockDeviceMappings"][0]["ebs"]
    assert (ebs["volumeType"], ebs["encrypted"], ebs["volumeSize"]) == ("gp3", "true", 50)
    # networking add-ons come first; coredns and the EBS driver wait for the nodes
    early = {addons(prod)[n].urn for n in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")}
    assert early <= set(ng.options["dependsOn"])
    assert ng.urn in addons(prod)["coredns"].options["dependsOn"]


def test_kubernetes_provider_uses_exec_auth_and_a_secret_kubeconfig(prod: Inventory) -> None:
    (provider,) = prod.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == SECRET
    assert prod.outputs["kubeconfig"] == SECRET
    assert "mock-ca" not in prod.dumps()
    for ns in each(prod.of_type("kubernetes:core/v1:Namespace")):
        assert ns.options["provider"] is not None and ns.options["provider"].startswith(provider.urn)


def test_kubeconfig_builder() -> None:
    from mlops_infra.compute.cluster import kubeconfig
    cfg = json.loads(kubeconfig("c1", "https://x.eks.amazonaws.com", "Q0E=", "eu-west-1"))
    assert cfg["clusters"][0]["cluster"] == {"server": "https://x.eks.amazonaws.com", "certificate-authority-data": "Q0E="}
    assert cfg["users"][0]["user"]["exec"]["args"] == [
        "eks", "get-token", "--cluster-name", "c1", "--region", "eu-west-1", "--output", "json"]


def test_team_namespaces_with_gpu_quota_and_priority_classes(prod: Inventory) -> None:
    quotas = {q.inputs["metadata"]["namespace"]: q.inputs["spec"]["hard"]
              for q in prod.of_type("kubernetes:core/v1:ResourceQuota")}
    assert quotas == {"research": {"requests.nvidia.com/gpu": "16"}, "ranking": {"requests.nvidia.com/gpu": "32"}}
    classes = {p.inputs["metadata"]["name"]: (p.inputs["value"], p.inputs["preemptionPolicy"])
               for p in prod.of_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")}
    assert classes == {"training-critical": (100000, "PreemptLowerPriority"),
                       "training-standard": (10000, "PreemptLowerPriority"),
                       "training-preemptible": (1000, "Never")}


def test_training_operator_release_is_pinned(prod: Inventory, dev: Inventory) -> None:
    def operator(inv: Inventory) -> Any:
        return next(r for r in inv.of_type("kubernetes:helm.sh/v3:Release") if "training" in r.name)

    assert (operator(prod).inputs["chart"], operator(prod).inputs["version"]) == (
        KUBEFLOW_TRAINER.chart, KUBEFLOW_TRAINER.version)
    assert operator(prod).inputs["namespace"] == "training-system"
    assert (operator(dev).inputs["chart"], operator(dev).inputs["version"]) == (KUBERAY.chart, KUBERAY.version)
    assert operator(dev).inputs["repositoryOpts"] == {"repo": KUBERAY.repo}


BASE: dict[str, Any] = {"environment": "dev", "tags": {"owner": "o", "costCenter": "c"}}


def problems(**cluster: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_platform_config({**BASE, "cluster": {"publicAccessCidrs": ["203.0.113.0/24"], **cluster}})
    return info.value.problems


@pytest.mark.parametrize(("cluster", "expected"), [
    ({"version": "1.34"}, "cluster.addons.kubeProxy: kube-proxy v1.35.3-eksbuild.2 does not match cluster version 1.34"),
    ({"addons": {"coredns": "1.12"}},
     "cluster.addons.coredns: must be an EKS add-on version like v1.2.3-eksbuild.1 (got '1.12')"),
    ({"teams": [{"name": "a"}, {"name": "a"}]}, "cluster.teams[1].name: duplicate team 'a'"),
    ({"teams": [{"name": "kube-public"}]}, "cluster.teams[0].name: 'kube-public' is reserved for the platform"),
    ({"priorityClasses": [{"name": "system-x", "value": 1}]},
     "cluster.priorityClasses[0].name: the 'system-' prefix is reserved by Kubernetes ('system-x')"),
    ({"serviceIpv4Cidr": "172.20.0.0/28"}, "cluster.serviceIpv4Cidr: prefix length must be between /12 and /24 (got /28)"),
    ({"trainingOperator": {"kind": "volcano"}},
     "cluster.trainingOperator.kind: must be one of 'kubeflow', 'kuberay' or 'none' (got 'volcano')"),
    ({"upgradeSupportType": "FOREVER"},
     "cluster.upgradeSupportType: must be one of 'STANDARD' or 'EXTENDED' (got 'FOREVER')"),
    ({"createServiceLinkedRoles": ["spot.amazonaws.com", "spot.amazonaws.com"]},
     "cluster.createServiceLinkedRoles[1]: duplicate service 'spot.amazonaws.com'"),
])
def test_cluster_messages(cluster: dict[str, Any], expected: str) -> None:
    assert problems(**cluster) == [expected]


def test_cidrs_overlapping_the_vpc_are_reported_with_root_paths() -> None:
    with pytest.raises(ConfigError) as info:  # wired into PlatformConfig: one error, paths from the root
        load_platform_config({**BASE, "cluster": {"publicAccessCidrs": ["10.0.0.0/8", "203.0.113.0/24"],
                                                  "serviceIpv4Cidr": "10.0.128.0/20"}})
    assert info.value.problems == [
        "cluster.publicAccessCidrs[0]: 10.0.0.0/8 overlaps the VPC CIDR 10.0.0.0/16 (the public endpoint only "
        "sees public source addresses; in-VPC clients use the private endpoint)",
        "cluster.serviceIpv4Cidr: 10.0.128.0/20 overlaps the VPC CIDR 10.0.0.0/16",
    ]
    ok = load_platform_config({**BASE, "cluster": {"publicAccessCidrs": ["203.0.113.0/24"],
                                                   "serviceIpv4Cidr": "172.20.0.0/16"}})
    assert list(cluster_network_problems(ok.cluster, ok.network)) == []


def test_a_cluster_without_admin_roles_keeps_its_creator_as_admin(prod: Inventory) -> None:
    """#27 minor: with API authentication and no access entry, nobody could reach the Kubernetes API (the kubeconfig
    authenticates as whoever runs `pulumi up`); with no adminRoleArns the creator stays admin, and only then."""
    bare = planned("prod", PROGRAMS / "existing_vpc")
    assert not bare.of_type("aws:eks/accessEntry:AccessEntry")
    (c,) = bare.of_type("aws:eks/cluster:Cluster")
    assert c.inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is True
    assert prod.of_type("aws:eks/accessEntry:AccessEntry")
    assert cluster(prod).inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False


@pytest.mark.charts("kubeflow-trainer")
def test_no_rendered_pod_installs_an_unpinned_kubectl() -> None:
    """kubeflow-trainer 2.3.0's runtime installer Jobs run `apk add --no-cache kubectl` (whatever Alpine serves that
    day) in `docker.io/alpine:3.21`: off unless `builtInRuntimes` opts in with a digest-pinned image."""
    inv = planned("prod", render=True)
    assert {e["name"]: e["status"] for e in inv.rendering}["mlops-prod-eks-training-kubeflow"] == "rendered"
    trainer = [r for r in inv.rendered() if r.parent.endswith("::mlops-prod-eks-training-kubeflow")]
    assert any(r.type == "kubernetes:apps/v1:Deployment" for r in trainer), "the trainer rendered: not vacuous"
    def containers(value: Any) -> list[dict[str, Any]]:  # of any pod template, however deep (CronJobs, Jobs, ...)
        if isinstance(value, dict):
            own = [*(value.get("containers") or []), *(value.get("initContainers") or [])]
            return [c for c in own if isinstance(c, dict)] + [c for v in value.values() for c in containers(v)]
        return [c for v in value for c in containers(v)] if isinstance(value, list) else []

    for r in each(inv.rendered()):
        for c in containers(r.inputs.get("spec")):
            assert "apk add" not in " ".join([*(c.get("command") or []), *(c.get("args") or [])]), (r.name, c["name"])


def test_built_in_runtimes_need_an_installer_image_pinned_by_digest() -> None:
    digest = "docker.io/library/alpine:3.21@sha256:" + "a" * 64
    assert "builtInRuntimes needs kind kubeflow and a runtimesInstallerImage pinned by digest" in " ".join(
        problems(trainingOperator={"builtInRuntimes": True}))
    assert problems(trainingOperator={"builtInRuntimes": True, "runtimesInstallerImage": "docker.io/alpine:3.21"})
    cfg = load_platform_config({**BASE, "cluster": {"publicAccessCidrs": ["203.0.113.0/24"], "trainingOperator": {
        "builtInRuntimes": True, "runtimesInstallerImage": digest}}}).cluster.training_operator
    image = cfg.runtimes_values()["installer"]["image"]
    # templates/runtimes/installer-job.yaml: image: "{{ registry }}/{{ repository }}:{{ tag }}"
    assert f"{image['registry']}/{image['repository']}:{image['tag']}" == digest
    assert cfg.model_copy(update={"built_in_runtimes": False}).runtimes_values() == {"defaultEnabled": False}


@pytest.mark.charts("kubeflow-trainer")
def test_the_trainer_managers_memory_limit_is_the_configured_one_and_never_below_its_request() -> None:
    """`trainingOperator.managerMemoryLimit` reaches the rendered manager; a limit under the request is refused (the
    API server would refuse the Deployment's pods)."""
    inv = planned("prod", render=True)
    (manager,) = [r for r in inv.rendered() if r.type == "kubernetes:apps/v1:Deployment"
                  and r.parent.endswith("::mlops-prod-eks-training-kubeflow") and "controller-manager" in r.name]
    (container,) = manager.inputs["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["memory"] == TrainingOperatorConfig().manager_memory_limit == "1Gi"
    assert container["resources"]["requests"]["memory"] == f"{KUBEFLOW_MANAGER_MEMORY_REQUEST_MIB}Mi"
    assert kubeflow_manager("2Gi")["resources"]["limits"]["memory"] == "2Gi"
    assert "is below the manager's memory request (256Mi)" in " ".join(
        problems(trainingOperator={"managerMemoryLimit": "128Mi"}))
    assert problems(trainingOperator={"managerMemoryLimit": "1G"})  # Mi or Gi only
    load_platform_config({**BASE, "cluster": {"publicAccessCidrs": ["203.0.113.0/24"],
                                              "trainingOperator": {"managerMemoryLimit": "256Mi"}}})
