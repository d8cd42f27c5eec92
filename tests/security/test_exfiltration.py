"""Exfiltration guards on the planned root stacks, judged as the runtime would judge them:

- the egress NetworkPolicies of ML namespaces (through `tests/netpol_eval.py`) let a training pod reach every
  endpoint it really uses, and nothing else we sample;
- the S3 gateway endpoint policy (through `tests/iam_eval.py`) lets nodes pull the layers of every image the stack
  runs, wherever that registry serves layers through the endpoint;
- a platform on an existing VPC with guards on plans, and one without the endpoint id is a config error.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest

from mlops_infra.config import ConfigError
from mlops_infra.plan import Inventory, PlanError
from mlops_infra.plan.outputs import invoke_result
from mlops_infra.platform.config import workload_endpoint_services
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.security.exfiltration_guards import (
    EKS_DEFAULT_SERVICE_CIDRS,
    POD_IDENTITY_AGENT,
    REGISTRIES_OFF_S3,
    REGISTRY_LAYER_BUCKETS,
    api_service_ips,
    aws_owned_bucket_objects,
    registry_of,
)
from tests import iam_eval, netpol_eval
from tests.conftest import PROD_API_ACCESS, PROD_GUARDS, PROGRAMS, planned
from tests.netpol_eval import Ip, Pod
from tests.nonempty import each

ACCOUNT = "123456789012"
REGION = "us-east-1"  # stacks/Pulumi.prod.yaml


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod")


def template_labels(inv: Inventory, kind: str, name: str) -> dict[str, str]:
    spec = inv.named(name).inputs["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if kind == "CronJob" else spec["template"]
    labels: dict[str, str] = template["metadata"]["labels"]
    return labels


def pod_port(inv: Inventory, service: str, namespace: str, port: int, deployment: str) -> int:
    """The container port behind `<service>.<namespace>:<port>` (its targetPort, by number or by name)."""
    (svc,) = [r for r in inv.of_type("kubernetes:core/v1:Service")
              if (r.inputs["metadata"]["name"], r.inputs["metadata"]["namespace"]) == (service, namespace)]
    (target,) = [p.get("targetPort", port) for p in svc.inputs["spec"]["ports"] if p["port"] == port]
    if isinstance(target, int):
        return target
    containers = inv.named(deployment).inputs["spec"]["template"]["spec"]["containers"]
    (number,) = [p["containerPort"] for c in containers for p in c.get("ports", []) if p.get("name") == target]
    return int(number)


def first_host(cidr: str) -> str:
    return str(next(ipaddress.ip_network(cidr).hosts()))


def kubernetes_service_ip(inv: Inventory) -> str:
    """The ClusterIP of `kubernetes.default.svc`: the first address of the cluster's Service CIDR, which is the one
    configured or else EKS's pick, 172.20.0.0/16 for a VPC inside 10.0.0.0/8 and 10.100.0.0/16 otherwise (EKS API
    reference, KubernetesNetworkConfigRequest.serviceIpv4Cidr)."""
    (cluster,) = inv.of_type("aws:eks/cluster:Cluster")
    (vpc,) = inv.of_type("aws:ec2/vpc:Vpc")
    default = "172.20.0.0/16" if ipaddress.ip_network(vpc.inputs["cidrBlock"]).subnet_of(
        ipaddress.ip_network("10.0.0.0/8")) else "10.100.0.0/16"
    return first_host(cluster.inputs.get("kubernetesNetworkConfig", {}).get("serviceIpv4Cidr") or default)


# --- NetworkPolicies -------------------------------------------------------------------------------------------

def training_destinations(prod: Inventory) -> Iterator[tuple[str, Pod | Ip, int, str]]:
    """(what, destination, port, protocol) a training pod in a team namespace really opens."""
    s3 = invoke_result("aws:ec2/getPrefixList:getPrefixList", {"name": f"com.amazonaws.{REGION}.s3"}, REGION)
    for cidr in s3["cidrBlocks"]:  # the gateway endpoint's prefix list: S3's regional public addresses
        yield f"S3 {cidr}", Ip(first_host(cidr)), 443, "TCP"
    # STS (IRSA's AssumeRoleWithWebIdentity): the private cluster's interface endpoint, private DNS on, so
    # sts.<region>.amazonaws.com resolves to ENIs in the private subnets.
    (sts,) = [e for e in prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["serviceName"].endswith(".sts")]
    assert sts.inputs["privateDnsEnabled"] is True
    for subnet in prod.of_type("aws:ec2/subnet:Subnet"):
        if subnet.id in sts.inputs["subnetIds"]:
            yield f"STS endpoint in {subnet.inputs['cidrBlock']}", Ip(first_host(subnet.inputs["cidrBlock"])), 443, "TCP"
    yield "EKS Pod Identity agent", Ip(POD_IDENTITY_AGENT[0].split("/")[0]), POD_IDENTITY_AGENT[1], "TCP"
    # In-cluster API clients (KubeRay's autoscaler, client-go InClusterConfig) dial the `kubernetes` Service's
    # ClusterIP; the VPC CNI policy agent judges that pre-DNAT address (see exfiltration_guards' docstring).
    yield "Kubernetes API (kubernetes.default.svc)", Ip(kubernetes_service_ip(prod)), 443, "TCP"
    yield "CoreDNS udp", Pod("kube-system", {"k8s-app": "kube-dns"}), 53, "UDP"
    yield "CoreDNS tcp", Pod("kube-system", {"k8s-app": "kube-dns"}), 53, "TCP"
    push = urlparse(prod.outputs["pushgatewayUrl"])  # http://<svc>.<ns>.svc:<port>, what jobs push to
    assert push.hostname is not None and push.port is not None
    yield "Pushgateway", Pod(push.hostname.split(".")[1], {"app.kubernetes.io/name": "prometheus-pushgateway"}), \
        push.port, "TCP"
    # What SDKs call (the platform's exported URLs), judged at the pod's port: after the Service's DNAT.
    for what, output, deployment in (("MLflow", "mlflowTrackingUri", "mlops-prod-registry-mlflow-deployment"),
                                     ("Feast feature server", "featureStoreFeatureServerUrl",
                                      "mlops-prod-features-server-deployment")):
        url = urlparse(prod.outputs[output])
        assert url.hostname is not None
        service, namespace = url.hostname.split(".")[:2]
        port = pod_port(prod, service, namespace, url.port or 80, deployment)
        yield f"{what} :{port}", Pod(namespace, template_labels(prod, "Deployment", deployment)), port, "TCP"
    yield "a peer training pod (torch rendezvous)", Pod("research", {"job": "peer"}), 29500, "TCP"


FORBIDDEN: list[tuple[str, Pod | Ip, int, str]] = [
    ("instance metadata (node role credentials)", Ip("169.254.169.254"), 80, "TCP"),
    ("the internet over HTTPS", Ip("1.1.1.1"), 443, "TCP"),
    ("the internet on another port", Ip("8.8.8.8"), 53, "UDP"),
    # DNS leaves only through CoreDNS (the documented gap: docs/security.md), never straight to a resolver.
    ("the VPC's Amazon-provided resolver (VPC base + 2)", Ip("10.0.0.2"), 53, "UDP"),
    ("the VPC's Amazon-provided resolver over TCP", Ip("10.0.0.2"), 53, "TCP"),
    ("the Route 53 Resolver's link-local address", Ip("169.254.169.253"), 53, "UDP"),
    ("another team's pods", Pod("ranking", {"job": "other"}), 29500, "TCP"),
    ("the Pod Identity agent on another port", Ip("169.254.170.23"), 8080, "TCP"),
    ("the kubernetes Service's ClusterIP on another port", Ip("172.20.0.1"), 80, "TCP"),
    ("a neighbouring address of the Service CIDR (no selector peer backs it)", Ip("172.20.0.2"), 443, "TCP"),
]


def test_the_api_clusterip_is_the_first_address_of_the_service_cidr() -> None:
    assert api_service_ips("10.96.0.0/12") == ["10.96.0.1/32"]
    # A cluster from another stack (CIDR unknown) admits the API ClusterIP of both EKS defaults, nothing wider.
    assert api_service_ips(None) == api_service_ips("") == [first_host(c) + "/32" for c in EKS_DEFAULT_SERVICE_CIDRS]


def test_training_pods_reach_every_endpoint_they_use(prod: Inventory) -> None:
    policies = netpol_eval.policies_in(prod)
    trainer = Pod("research", {"job": "train"})
    assert not netpol_eval.allows(policies, trainer, Ip("1.1.1.1"), 443)  # egress is isolated at all
    blocked = [what for what, dest, port, proto in training_destinations(prod)
               if not netpol_eval.allows(policies, trainer, dest, port, proto)]
    assert blocked == []


@pytest.mark.parametrize(("what", "dest", "port", "proto"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_training_pods_cannot_reach_what_they_do_not_need(prod: Inventory, what: str, dest: Pod | Ip, port: int,
                                                          proto: str) -> None:
    assert not netpol_eval.allows(netpol_eval.policies_in(prod), Pod("research", {"job": "train"}), dest, port, proto)


# --- S3 gateway endpoint policy vs. the images the stack runs ---------------------------------------------------

# Registries of each pinned chart's default images (its values.yaml at the pinned version), for the releases
# whose values do not override the image. A chart missing here fails the test: add it with its registries.
CHART_REGISTRIES: dict[str, set[str]] = {
    # kube-prometheus-stack 82.x values.yaml: prometheus, alertmanager, operator, config-reloader, node-exporter
    # and thanos from quay.io; kube-state-metrics and kube-webhook-certgen from registry.k8s.io; the grafana
    # subchart from docker.io/grafana/grafana and quay.io/kiwigrid/k8s-sidecar.
    "kube-prometheus-stack": {"quay.io", "registry.k8s.io", "docker.io"},
    "prometheus-pushgateway": {"quay.io"},  # quay.io/prometheus/pushgateway
    "dcgm-exporter": {"nvcr.io"},  # nvcr.io/nvidia/k8s/dcgm-exporter
    "nvidia-device-plugin": {"nvcr.io"},  # nvcr.io/nvidia/k8s-device-plugin
    "aws-efa-k8s-device-plugin": {"dkr.ecr"},  # 602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/...
    "external-secrets": {"ghcr.io"},  # ghcr.io/external-secrets/external-secrets
    "kubeflow-trainer": {"ghcr.io"},  # ghcr.io/kubeflow/trainer/*
    "kuberay-operator": {"quay.io"},  # quay.io/kuberay/operator
    "cluster-autoscaler": {"registry.k8s.io"},  # registry.k8s.io/autoscaling/cluster-autoscaler
    "metrics-server": {"registry.k8s.io"},  # registry.k8s.io/metrics-server/metrics-server
    "aws-load-balancer-controller": {"public.ecr.aws"},  # public.ecr.aws/eks/aws-load-balancer-controller
    "karpenter": {"public.ecr.aws"},  # public.ecr.aws/karpenter/controller
    "cert-manager": {"quay.io"},  # v1.21.1 values `imageRegistry: quay.io` (jetstack/cert-manager-*)
    "kserve-crd": set(),  # CRDs only
    # kserve-resources v0.20.0: kserve/kserve-controller and kserve/storage-initializer (Docker Hub),
    # quay.io/brancz/kube-rbac-proxy.
    "kserve-resources": {"docker.io", "quay.io"},
    "lakefs": {"docker.io"},  # lakefs 1.12.16: treeverse/lakefs (Docker Hub); the setup Job runs the same image
    "qdrant": {"docker.io"},  # qdrant 1.19.0 values `image.repository: docker.io/qdrant/qdrant` (-unprivileged tag)
    # airflow 1.19.0: apache/airflow (Docker Hub), quay.io/prometheus/statsd-exporter, registry.k8s.io/git-sync.
    "airflow": {"docker.io", "quay.io", "registry.k8s.io"},
}
WORKLOAD_TYPES = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:StatefulSet",
                  "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob")


def _images_in(value: Any) -> Iterator[str]:
    """Every `image` string, and every `image: {registry, repository}` map, in a manifest or Helm values."""
    if isinstance(value, dict):
        image = value.get("image")
        if isinstance(image, str):
            yield image
        elif isinstance(image, dict) and isinstance(image.get("repository"), str):
            registry = image.get("registry")
            yield f"{registry}/{image['repository']}" if registry else image["repository"]
        for child in value.values():
            yield from _images_in(child)
    elif isinstance(value, list):
        for child in value:
            yield from _images_in(child)


def registries_used(inv: Inventory) -> dict[str, set[str]]:
    """Registry -> where it is used: the stack's own workloads, Helm values overrides, chart defaults, add-ons."""
    used: dict[str, set[str]] = {}
    for kind in WORKLOAD_TYPES:
        for r in inv.of_type(kind):
            for image in _images_in(r.inputs.get("spec", {})):
                used.setdefault(registry_of(image), set()).add(r.name)
    for release in inv.of_type("kubernetes:helm.sh/v3:Release"):
        chart = str(release.inputs["chart"]).rsplit("/", 1)[-1]
        assert chart in CHART_REGISTRIES, f"{release.name}: add chart {chart!r} and its image registries"
        for registry in CHART_REGISTRIES[chart]:
            used.setdefault(registry, set()).add(release.name)
        for image in _images_in(release.inputs.get("values", {})):
            used.setdefault(registry_of(image), set()).add(release.name)
    if inv.of_type("aws:eks/addon:Addon"):  # EKS add-on images: 602401143452.dkr.ecr.<region>.amazonaws.com
        used.setdefault("dkr.ecr", set()).add("eks add-ons")
    return used


def endpoint_policy(inv: Inventory) -> list[dict[str, Any]]:
    (policy,) = inv.of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy")
    doc: dict[str, Any] = json.loads(policy.inputs["policy"])
    return [doc]


def test_nodes_can_pull_every_image_the_stack_runs_through_the_endpoint(prod: Inventory) -> None:
    docs = endpoint_policy(prod)
    node = {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/node", "aws:PrincipalAccount": ACCOUNT}
    used = registries_used(prod)
    assert {"quay.io", "docker.io", "registry.k8s.io", "dkr.ecr"} <= set(used)
    missing = []
    for registry, users in sorted(used.items()):
        if registry in REGISTRIES_OFF_S3:
            continue  # layers come from a CDN through NAT; the gateway endpoint never sees them
        buckets = REGISTRY_LAYER_BUCKETS.get(registry)
        if buckets is None:
            missing.append(f"{registry} (used by {sorted(users)}): unknown layer store")
            continue
        for bucket in buckets:
            layer = f"arn:aws:s3:::{bucket.format(region=REGION)}/sha256/0123abcd"
            if not iam_eval.resource_allows(docs, "s3:GetObject", layer, node):
                missing.append(f"{registry} (used by {sorted(users)}): {bucket}")
    assert missing == []


@pytest.mark.parametrize(("image", "registry"), [
    ("quay.io/feastdev/feature-server:0.66.0", "quay.io"), ("burakince/mlflow:3.14.0", "docker.io"),
    ("docker.io/burakince/mlflow:3.14.0", "docker.io"), ("nginx", "docker.io"),
    ("602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.6", "dkr.ecr"),
    ("registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.0", "registry.k8s.io"),
])
def test_registry_of_image_references(image: str, registry: str) -> None:
    assert registry_of(image) == registry


# --- existing VPC (#26) ------------------------------------------------------------------------------------------

EXISTING = {"vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": ["subnet-0a", "subnet-0b", "subnet-0c"]}
BASE: dict[str, Any] = {"environment": "prod", "tags": {"owner": "o", "costCenter": "c"},
                        "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}},
                        "securityBaseline": PROD_GUARDS, "cluster": PROD_API_ACCESS}


def test_guards_on_an_existing_vpc_without_its_endpoint_are_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_platform_config({**BASE, "network": {"existingVpc": EXISTING}})
    assert sorted(info.value.problems) == [
        "network.existingVpc.dynamodbGatewayEndpointId: required: egress-guarded pods use DynamoDB (Feast's online "
        "store) through its gateway endpoint",
        "network.existingVpc.interfaceEndpointIds.sts: required: egress-guarded pods call sts, and their "
        "NetworkPolicies admit only the VPC CIDR (the platform creates no endpoint in an existing VPC)",
        "network.existingVpc.s3GatewayEndpointId: required when securityBaseline.exfiltrationGuards is true (data "
        "buckets deny S3 access that does not come through this endpoint)"]


def test_guards_on_a_public_irsa_cluster_are_valid_the_platform_creates_sts_inside_the_vpc() -> None:
    """Issue 28 #7: STS's interface endpoint is created whenever a namespace is egress-guarded, public cluster or
    not (platform/config.py workload_endpoint_services), so the config no longer has to refuse this shape."""
    public = {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}
    config = load_platform_config({**BASE, "cluster": public})
    assert workload_endpoint_services(config) == ["sts"]
    pod_identity = load_platform_config({**BASE, "cluster": {**public, "workloadIdentity": "podIdentity"},
                                         "data": {"lakefs": {"enabled": False}, "qdrant": {"enabled": False}}})
    assert workload_endpoint_services(pod_identity) == []  # the node-local agent calls EKS Auth, not the pod


def test_prod_on_an_existing_vpc_plans_with_guards_on_the_configured_endpoint() -> None:
    inv = planned("prod", PROGRAMS / "existing_vpc")
    assert inv.of_type("aws:ec2/vpc:Vpc") == [] and inv.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") == []
    # The existing VPC's endpoint is shared: no policy is written onto it (destroying one would reset the endpoint to
    # full access); the guards return the document for its owner to merge.
    assert inv.of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy") == []
    outside = {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/data-scientist"}
    inside = {**outside, "aws:SourceVpce": "vpce-0e1e2e3e4e5e6e7e8"}
    for name in ("mlops-prod-features-offline", "mlops-prod-registry-artifacts"):
        (bucket,) = [r for r in inv.of_type("aws:s3/bucket:Bucket") if r.name == name]
        arn = f"arn:aws:s3:::{bucket.id}"
        doc = [json.loads(inv.named(f"{name}-policy").inputs["policy"])]
        assert iam_eval.denies(doc, "s3:GetObjectVersion", f"{arn}/k", outside)
        assert not iam_eval.denies(doc, "s3:GetObjectVersion", f"{arn}/k", inside)
    # Training pods reach the existing VPC's CIDR (interface endpoints) on 443.
    assert netpol_eval.allows(netpol_eval.policies_in(inv), Pod("research"), Ip("10.20.1.10"), 443)


def test_existing_vpc_without_endpoint_is_an_input_error_not_a_crash() -> None:
    with pytest.raises(PlanError) as info:
        planned("noendpoint", PROGRAMS / "existing_vpc")
    assert info.value.kind == "input"  # the CLI maps it to exit 2
    assert "network.existingVpc.s3GatewayEndpointId: required" in str(info.value)


DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"  # prod: cluster.adminRoleArns, the default deployers
TEAM_ROLE = f"arn:aws:iam::{ACCOUNT}:role/research-workload"
# What the provider calls to read and update a guarded bucket (pulumi-aws v7 `s3.Bucket` and its companions).
BUCKET_ADMIN = ["s3:ListBucket", "s3:GetBucketVersioning", "s3:GetEncryptionConfiguration",
                "s3:GetLifecycleConfiguration", "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:PutBucketVersioning",
                "s3:GetBucketTagging", "s3:DeleteBucket"]


def guarded_buckets(inv: Inventory) -> list[tuple[str, list[dict[str, Any]]]]:
    """(bucket ARN, bucket policy) of every bucket whose policy carries the VPC-endpoint guard."""
    out = []
    for policy in inv.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        doc = json.loads(policy.inputs["policy"])
        if any(s["Sid"] == "DenyOutsideVpcEndpoint" for s in doc["Statement"]):
            (bucket,) = [r for r in inv.of_type("aws:s3/bucket:Bucket") if r.urn in policy.property_dependencies["bucket"]]
            out.append((f"arn:aws:s3:::{bucket.id}", [doc]))
    return out


@pytest.mark.parametrize("action", BUCKET_ADMIN)
def test_the_deployer_can_administer_guarded_buckets_from_outside_and_inside_the_vpc(prod: Inventory, action: str) -> None:
    """The provider reads and writes bucket settings on every `pulumi up`/`refresh`/`destroy`. From outside the VPC
    only the bucket policy judges the deployer; from inside, the gateway endpoint policy judges it too."""
    buckets = guarded_buckets(prod)
    # The feature store's offline bucket, the model artifacts, the DVC remotes, LakeFS's blockstore, Qdrant's snapshots.
    assert len(buckets) == 5
    endpoint = endpoint_policy(prod)
    deployer = {"aws:PrincipalArn": DEPLOYER, "aws:PrincipalAccount": ACCOUNT, "aws:SecureTransport": "true",
                "aws:ResourceAccount": ACCOUNT}  # the buckets are this account's
    for arn, policy in buckets:
        assert not iam_eval.denies(policy, action, arn, deployer), (arn, action)
        inside = {**deployer, "aws:SourceVpce": "vpce-any"}
        assert iam_eval.resource_allows(endpoint, action, arn, inside), (arn, action)


@pytest.mark.parametrize("action", BUCKET_ADMIN)
def test_other_roles_cannot_administer_guarded_buckets(prod: Inventory, action: str) -> None:
    buckets = guarded_buckets(prod)
    endpoint = endpoint_policy(prod)
    team = {"aws:PrincipalArn": TEAM_ROLE, "aws:PrincipalAccount": ACCOUNT, "aws:SecureTransport": "true"}
    for arn, policy in each(buckets):
        assert iam_eval.denies(policy, action, arn, team), (arn, action)  # from outside the endpoint
        if action != "s3:ListBucket":  # workloads list their prefixes through the endpoint
            assert not iam_eval.resource_allows(endpoint, action, arn, team), (arn, action)


def test_bucket_policies_are_written_after_every_bucket_setting(prod: Inventory) -> None:
    """A guard in place before the versioning, encryption or lifecycle writes could refuse them."""
    settings = ("aws:s3/bucketVersioning:BucketVersioning",
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for policy in each(prod.of_type("aws:s3/bucketPolicy:BucketPolicy")):
        bucket_urns = set(policy.property_dependencies["bucket"])
        for typ in settings:
            (setting,) = [r for r in prod.of_type(typ) if set(r.property_dependencies["bucket"]) == bucket_urns]
            assert setting.urn in policy.dependencies, (policy.name, typ)


def test_aws_owned_bucket_objects_follow_the_partition() -> None:
    assert all(a.startswith("arn:aws-cn:s3:::") for a in each(aws_owned_bucket_objects("cn-north-1", "aws-cn")))
    assert aws_owned_bucket_objects("us-east-1") == [
        a.replace("arn:aws-cn:", "arn:aws:") for a in aws_owned_bucket_objects("us-east-1", "aws-cn")]
