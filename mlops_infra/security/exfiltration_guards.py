"""ExfiltrationGuards: data leaves the platform only through paths we name, except DNS (below, and docs/security.md).

- Data buckets deny every S3 action that does not come through the VPC's S3 gateway endpoint, except for
  break-glass roles and the named AWS-service paths (`data_bucket_guard`, applied by the components that own the
  buckets, which add their own service exemptions: Athena, the SageMaker offline-store role).
- The S3 gateway endpoint's policy allows only the platform's own buckets (to this account's principals) and the
  buckets that serve container image layers to nodes (`REGISTRY_LAYER_BUCKETS`).
- ML namespaces deny all egress by default, then allow (`egress_rules`): their own namespace (distributed training),
  DNS, the platform services (feature store, MLflow), the Pushgateway, the EKS Pod Identity agent, HTTPS to the
  VPC CIDR (interface endpoints such as STS, the API server's private endpoint by its EKS DNS name) and to the
  region's S3 prefix list (and DynamoDB's, `gateway_services`, for Feast's online store), and HTTPS to the
  `kubernetes` Service's ClusterIP (`kubernetes.default.svc`).

In-cluster API clients (client-go's rest.InClusterConfig, the KubeRay autoscaler, operator sidecars) dial the
`kubernetes` Service's ClusterIP, the first address of the Service CIDR, which lies outside the VPC CIDR. The VPC
CNI's network policy agent judges a pod's egress with eBPF on the pod's host-side veth (aws/aws-network-policy-agent
README), before kube-proxy rewrites the ClusterIP to the API server's ENIs, and enforces only the addresses its
PolicyEndpoint lists (aws/amazon-network-policy-controller-k8s#222: traffic to a ClusterIP missing from it is
dropped). The controller adds a Service's ClusterIP only for selector peers whose pods back that Service, and the
`kubernetes` Service has no pods: the ClusterIP must be named as an ipBlock.

NetworkPolicy cannot name an AWS prefix list. Traffic through the S3 *gateway* endpoint goes to S3's public
addresses (the `com.amazonaws.<region>.s3` prefix list), not to the VPC CIDR, so the guard reads that prefix list's
CIDRs at deploy time (`ec2:DescribePrefixLists` via `aws.ec2.get_prefix_list`) and opens exactly those on 443
(when AWS changes that prefix list, the next `pulumi up` follows). Other S3 traffic from the private subnets
passes the gateway endpoint too, where the endpoint policy limits it to the platform's and the registries' buckets.

A gateway endpoint policy only judges traffic routed through the endpoint: requests to S3 in the endpoint's own
region. Image layers served from a CDN (ghcr.io via Fastly, public.ecr.aws via CloudFront) or from S3 in another
region leave through NAT and never meet it. The order of the endpoint policy and the Helm releases does not matter
for correctness: the policy judges every later pull (new nodes, restarts), so a missing bucket would break the
platform later even if the first install raced ahead of the policy. `REGISTRY_LAYER_BUCKETS` is the contract, and
tests check every image the stack runs against it.

Not closed: DNS. Guarded pods may query kube-dns (UDP/TCP 53), and CoreDNS forwards every name outside the cluster
domain to the VPC's Amazon-provided resolver, which resolves any public name by asking its authoritative servers. A
pod that can read data can therefore encode it in query names under a domain whose name servers an attacker runs
(DNS tunnelling), at a few hundred bytes per query; nothing here limits which names resolve. Pods cannot reach any
other resolver (53 to the internet, to the VPC resolver's own address or to 169.254.169.253 is refused; tests pin
it). What closes it is a Route 53 Resolver DNS Firewall on the VPC that allows the names the VPC needs (the AWS
service endpoints, the cluster's names, the registries in `REGISTRY_LAYER_BUCKETS`/`REGISTRIES_OFF_S3` and their
CDNs, the alert receivers) and blocks the rest; it judges every query of the VPC, nodes and AWS-managed agents
included, so its allowlist must be complete before it blocks: it is not built yet. What records it: GuardDuty's
foundational analysis of the Amazon-provided resolver's DNS logs (on wherever the detector is), and Route 53 Resolver
query logging if configured outside this stack.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..blocks import iam
from ..blocks.bucket import SECURITY_SERVICE_READERS, VpcEndpointGuard
from ..blocks.endpoints import ServicePort
from ..blocks.naming import child, child_options
from ..blocks.refs import ClusterRefs, NetworkRefs
from .config import SecurityBaselineConfig, prefixes_overlap

NAMESPACE_LABEL = "kubernetes.io/metadata.name"
POD_IDENTITY_AGENT = ("169.254.170.23/32", 80)  # EKS Pod Identity agent (hostNetwork, link-local), HTTP
# The Service CIDRs EKS picks when the cluster names none (EKS API reference, serviceIpv4Cidr).
EKS_DEFAULT_SERVICE_CIDRS = ("10.100.0.0/16", "172.20.0.0/16")
API_SERVICE_PORT = 443  # the `kubernetes` Service's port (the agent sees the pre-DNAT destination)

# Registry host -> the S3 buckets that serve its layers to clients on AWS addresses (`{region}` = the VPC's region).
# Only same-region buckets pass the gateway endpoint, but a bucket ARN has no region, so listing all is harmless.
REGISTRY_LAYER_BUCKETS: dict[str, tuple[str, ...]] = {
    # Amazon ECR user guide, "Minimum Amazon S3 bucket permissions for Amazon ECR" (EKS add-ons, AWS charts).
    "dkr.ecr": ("prod-{region}-starport-layer-bucket",),
    # kubernetes/registry.k8s.io redirects AWS clients to the regional bucket.
    "registry.k8s.io": ("prod-registry-k8s-io-{region}",),
    # quay/quay storage/cloud.py CloudFrontedS3Storage.get_direct_download_url: a request from an AWS address gets
    # a signed S3 URL instead of CloudFront; quay.io's bucket is quayio-production-s3 (us-east-1).
    "quay.io": ("quayio-production-s3",),
    # Docker Hub layers for AWS clients: docker-images-prod (us-east-1; docker/hub-feedback#1318, rancher/os#2032).
    "docker.io": ("docker-images-prod",),
}
# Registries whose layers come from a CDN through NAT, never through the gateway endpoint.
REGISTRIES_OFF_S3: dict[str, str] = {
    "ghcr.io": "pkg-containers.githubusercontent.com (Fastly)",
    "public.ecr.aws": "CloudFront (d2glxqk2uabbnd.cloudfront.net; docker/sbx-releases#525)",
    "nvcr.io": "NGC's CDN (not verified offline; mirror to ECR if a pull is denied by the endpoint)",
}


def aws_owned_bucket_objects(region: str, partition: str = "aws") -> list[str]:
    """Object ARNs of the buckets nodes read image layers and packages from through the gateway endpoint
    (GetObject only): every bucket in `REGISTRY_LAYER_BUCKETS`, and the AL2023 package repositories
    `al2023-repos-<region>-de612dc2` (Amazon Linux 2023 user guide). ARNs in `partition` (default aws)."""
    buckets = sorted({b.format(region=region) for names in REGISTRY_LAYER_BUCKETS.values() for b in names})
    return [f"arn:{partition}:s3:::{b}/*" for b in [*buckets, f"al2023-repos-{region}-de612dc2"]]


def _nth_object_arn(partition: pulumi.Output[str], region: str, i: int) -> pulumi.Output[str]:
    return partition.apply(lambda p: aws_owned_bucket_objects(region, p)[i])


def registry_of(image: str) -> str:
    """The registry key of an image reference: `dkr.ecr` for any private ECR, else the host (`docker.io` when the
    reference names none)."""
    first = image.split("/", 1)[0]
    host = first if "/" in image and ("." in first or ":" in first or first == "localhost") else "docker.io"
    return "dkr.ecr" if ".dkr.ecr." in host else host


# What pulumi-aws v7 calls to read, update and delete an `s3.Bucket` and its companion resources: bucket-level
# actions only (the IAM names of the bucket APIs; GetObjectLockConfiguration is s3:GetBucketObjectLockConfiguration).
DEPLOYER_BUCKET_ACTIONS = [
    "s3:DeleteBucket*", "s3:GetAccelerateConfiguration", "s3:GetBucket*", "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:ListBucket*", "s3:PutBucket*",
    "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration",
]

# Pulumi's S3 backend (gocloud.dev/blob/s3blob): list, read, write and delete state, lock and backup objects.
STATE_BUCKET_ACTIONS = [
    "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
    "s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts", "s3:PutObject",
]

PLATFORM_BUCKET_ACTIONS = [
    "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetBucketLocation", "s3:GetObject", "s3:GetObjectVersion",
    "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts", "s3:PutObject",
]


def data_bucket_guard(config: SecurityBaselineConfig, network: NetworkRefs,
                      deployer_role_arns: Sequence[str] = ()) -> VpcEndpointGuard | None:
    """The `vpc_endpoint_guard` for the platform's data buckets, or None when exfiltration guards are off.

    Raises when the guards are on but the VPC has no S3 gateway endpoint: silently unguarded buckets would be worse.
    """
    if not (config.enabled and config.exfiltration_guards):
        return None
    if network.s3_gateway_endpoint_id is None:
        raise ValueError("securityBaseline.exfiltrationGuards needs the VPC's S3 gateway endpoint "
                         "(NetworkRefs.s3_gateway_endpoint_id is None)")
    return VpcEndpointGuard(vpc_endpoint_ids=[network.s3_gateway_endpoint_id],
                            break_glass_role_arns=tuple(config.break_glass_role_arns),
                            deployer_role_arns=tuple(deployer_role_arns),
                            # Access Analyzer, GuardDuty and the Config recorder read every bucket's settings, and
                            # so may the roles the config adds (a Control Tower recorder's).
                            service_linked_readers=(*SECURITY_SERVICE_READERS, *config.settings_readers))


@dataclass(frozen=True)
class ExfiltrationGuardsArgs:
    config: SecurityBaselineConfig
    network: NetworkRefs
    """The VPC: its S3 gateway endpoint (required) and CIDR."""
    region: str
    cluster: ClusterRefs
    """The cluster the egress NetworkPolicies go to: its provider (every Kubernetes child binds to it through
    `cluster.bind`), its namespaces (the policies wait for them) and its Service CIDR (`kubernetes.default.svc`;
    None or "": the API ClusterIPs of both EKS default Service CIDRs)."""
    platform_bucket_arns: pulumi.Input[Sequence[pulumi.Input[str]]] = field(default_factory=tuple)
    """Every platform bucket reached from the VPC (a list, or an Output of one that resolves once every component
    added its buckets). Default: none (only image-layer buckets pass the endpoint)."""
    ml_namespaces: Sequence[str] = field(default_factory=tuple)
    """Namespaces that get default-deny egress. Default: none."""
    service_namespaces: Sequence[str] = field(default_factory=tuple)
    """Namespaces ML pods may reach on any port (the feature store's, MLflow's). Default: none."""
    service_ports: Sequence[ServicePort] = field(default_factory=tuple)
    """Single ports ML pods may reach in other namespaces (the Pushgateway). Default: none."""
    gateway_services: Sequence[str] = field(default_factory=tuple)
    """Gateway-endpoint services besides S3 whose prefix lists ML pods reach on 443 (`dynamodb`: Feast's online
    store). Default: none."""
    vpc_ports: Sequence[int] = field(default_factory=tuple)
    """TCP ports ML pods may open to the VPC's CIDR (5432: Feast's SQL registry RDS, whose address is known only at
    deploy time; the teams hold its read-only logins). Default: none."""
    namespaces: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Namespaces created elsewhere, by name, besides `cluster.namespaces`, so policies wait for them. Default:
    none (plain names)."""
    deployer_role_arns: Sequence[str] = field(default_factory=tuple)
    """Roles that run `pulumi up`: the endpoint policy lets them administer the platform buckets (bucket settings,
    not only objects) when they run inside the VPC. Default: none."""
    deployer_bucket_prefixes: Sequence[str] = field(default_factory=tuple)
    """Name prefixes the platform's buckets are created under (Pulumi autonaming: `<prefix>-<random>`): the deployer
    roles may create and administer buckets named `<prefix>-*` through the endpoint. Default: none."""
    consumer_bucket_prefixes: Sequence[str] = field(default_factory=tuple)
    """Name prefixes of consumer stacks' buckets (`securityBaseline.consumerBucketPrefixes`): the endpoint admits this
    account's principals to this account's buckets named `<prefix>-*`, and the deployer roles create them. Default:
    none."""
    trail_bucket_arn: pulumi.Input[str] | None = None
    """The audit trail's bucket: the deployer roles administer it through the endpoint. Default: none."""
    deployer_state_bucket: str | None = None
    """The Pulumi state bucket's name: the deployer roles read and write its objects. Default: none."""


def api_service_ips(service_cidr: str | None) -> list[str]:
    """`kubernetes.default.svc` as /32s: the first address of the Service CIDR (the API server allocates it to the
    `kubernetes` Service), or of both EKS defaults when the CIDR is unknown (None or "")."""
    cidrs = [service_cidr] if service_cidr else list(EKS_DEFAULT_SERVICE_CIDRS)
    return [f"{ipaddress.ip_network(c)[1]}/32" for c in cidrs]


def _https_peers(vpc_cidr: str, extra: Sequence[str], s3_cidrs: Sequence[str]) -> list[dict[str, object]]:
    cidrs = [vpc_cidr, *sorted(set(s3_cidrs) | set(extra))]
    return [{"ip_block": {"cidr": c}} for c in dict.fromkeys(cidrs)]


def egress_rules(config: SecurityBaselineConfig, vpc_cidr: pulumi.Input[str], service_namespaces: Sequence[str],
                 s3_cidrs: pulumi.Input[Sequence[str]] = (),
                 service_ports: Sequence[ServicePort] = (), service_ipv4_cidr: pulumi.Input[str] | None = None,
                 vpc_ports: Sequence[int] = ()) -> list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict]:
    """The allowlist every ML namespace gets on top of default-deny. `s3_cidrs`: the region's S3 prefix list;
    `service_ipv4_cidr`: the cluster's Service CIDR (default None: both EKS defaults)."""
    https = pulumi.Output.all(vpc_cidr, s3_cidrs).apply(
        lambda a: _https_peers(str(a[0]), config.s3_egress_cidrs, list(a[1] or [])))
    rules: list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict] = [
        {"to": [{"pod_selector": {}}]},  # same namespace: rendezvous and NCCL between training pods
        {"to": [{"namespace_selector": {"match_labels": {NAMESPACE_LABEL: "kube-system"}},
                 "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
    ]
    if service_namespaces:
        rules.append({"to": [{"namespace_selector": {"match_expressions": [
            {"key": NAMESPACE_LABEL, "operator": "In", "values": sorted(service_namespaces)}]}}]})
    for sp in service_ports:
        rules.append({"to": [{"namespace_selector": {"match_labels": {NAMESPACE_LABEL: sp.namespace}}}],
                      "ports": [{"protocol": "TCP", "port": sp.port}]})
    for port in vpc_ports:
        rules.append({"to": [{"ip_block": {"cidr": vpc_cidr}}], "ports": [{"protocol": "TCP", "port": port}]})
    # EKS Pod Identity: the SDK's container credentials provider calls the node-local agent over HTTP.
    rules.append({"to": [{"ip_block": {"cidr": POD_IDENTITY_AGENT[0]}}],
                  "ports": [{"protocol": "TCP", "port": POD_IDENTITY_AGENT[1]}]})
    rules.append({"to": https, "ports": [{"protocol": "TCP", "port": 443}]})  # type: ignore[typeddict-item]
    api = pulumi.Output.from_input(service_ipv4_cidr).apply(
        lambda cidr: [{"ip_block": {"cidr": ip}} for ip in api_service_ips(cidr)])
    rules.append({"to": api, "ports": [{"protocol": "TCP", "port": API_SERVICE_PORT}]})  # type: ignore[typeddict-item]
    return rules


_API_KEYS = {"pod_selector": "podSelector", "namespace_selector": "namespaceSelector", "ip_block": "ipBlock",
             "match_labels": "matchLabels", "match_expressions": "matchExpressions"}


def api_egress_rules(rules: Sequence[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict]) -> pulumi.Output[list[Any]]:
    """`rules` as the Kubernetes API spells them (camelCase, every value resolved): what a stack output carries
    and any NetworkPolicy's `spec.egress` takes as is (label keys and values are kept)."""
    def api(value: Any, labels: bool = False) -> Any:
        if isinstance(value, Mapping):
            return {k if labels else _API_KEYS.get(k, k): api(v, k == "match_labels") for k, v in value.items()}
        return [api(v) for v in value] if isinstance(value, list) else value
    return pulumi.Output.from_input(list(rules)).apply(lambda resolved: [api(r) for r in resolved])


def prefix_list_cidrs(region: str, service: str, parent: pulumi.Resource) -> pulumi.Output[list[str]]:
    """CIDRs of `com.amazonaws.<region>.<service>` (s3, dynamodb), the prefix list a gateway endpoint routes (read
    at deploy time). DynamoDB, like S3, has no interface endpoint a policy could admit through the VPC CIDR."""
    found = aws.ec2.get_prefix_list_output(name=f"com.amazonaws.{region}.{service}",
                                           opts=pulumi.InvokeOutputOptions(parent=parent))
    return found.cidr_blocks.apply(lambda cidrs: sorted(cidrs or []))



class ExfiltrationGuards(pulumi.ComponentResource):
    """Exfiltration guards: VPC endpoint policies and network policies that keep data inside the platform."""
    def __init__(self, name: str, args: ExfiltrationGuardsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:security:ExfiltrationGuards", name, None, args.cluster.bind(opts))
        network = args.network
        if network.s3_gateway_endpoint_id is None:
            raise ValueError(f"{name}: exfiltration guards need the VPC's S3 gateway endpoint "
                             "(NetworkRefs.s3_gateway_endpoint_id is None)")
        for consumer in args.consumer_bucket_prefixes:
            own = next((p for p in args.deployer_bucket_prefixes if prefixes_overlap(consumer, p)), None)
            if own is not None:
                raise ValueError(f"{name}: consumer bucket prefix {consumer!r} matches the platform's own bucket names "
                                 f"({own}-*): name the consumer stack's own prefix")
        self.endpoint_policy = self._endpoint_policy(name, args, network.s3_gateway_endpoint_id)
        gateway_cidrs = pulumi.Output.all(*(prefix_list_cidrs(args.region, s, self)
                                            for s in ("s3", *args.gateway_services))).apply(
            lambda lists: [c for cidrs in lists for c in cidrs])
        rules = egress_rules(args.config, network.vpc_cidr, args.service_namespaces,
                             gateway_cidrs, args.service_ports, args.cluster.service_ipv4_cidr, args.vpc_ports)
        self.egress_rules = rules
        """The allow rules every ML namespace gets on top of default-deny (`api_egress_rules` for the output)."""
        namespaces = {**args.cluster.namespaces, **args.namespaces}
        for ns in args.ml_namespaces:
            ref = namespaces.get(ns, ns)
            k8s.networking.v1.NetworkPolicy(
                child(name, f"{ns}-deny-egress"),
                metadata={"name": "default-deny-egress", "namespace": ref},
                spec={"pod_selector": {}, "policy_types": ["Egress"]}, opts=child_options(self))
            k8s.networking.v1.NetworkPolicy(
                child(name, f"{ns}-allow-egress"),
                metadata={"name": "allow-platform-egress", "namespace": ref},
                spec={"pod_selector": {}, "policy_types": ["Egress"], "egress": rules}, opts=child_options(self))
        self.register_outputs({"s3EndpointPolicy": self.endpoint_policy})

    def _endpoint_policy(self, name: str, args: ExfiltrationGuardsArgs,
                         endpoint_id: pulumi.Input[str]) -> pulumi.Output[str]:
        """The S3 endpoint's policy document, written onto the endpoint when this stack owns it. An existing VPC's
        endpoint is shared: writing ours would replace what its other users need, and deleting a
        `VpcEndpointPolicy` resets the endpoint to full access (terraform-provider-aws
        resourceVPCEndpointPolicyDelete: ModifyVpcEndpoint ResetPolicy=true), so the document is only returned
        (the component's `s3EndpointPolicy` output) for the endpoint's owner to merge."""
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        statements: list[iam.Statement | pulumi.Output[iam.Statement]] = []
        # The list may be an Output (or hold Outputs): the statements are built once it is known.
        bucket_list = args.platform_bucket_arns
        buckets: pulumi.Output[list[str]] = pulumi.Output.from_input(bucket_list).apply(
            lambda arns: list(dict.fromkeys(arns or [])))  # type: ignore[arg-type]
        if not isinstance(bucket_list, Sequence) or bucket_list:
            statements.append(pulumi.Output.all(buckets, identity.account_id).apply(lambda a: iam.statement(
                "PlatformBucketsOwnPrincipals", PLATFORM_BUCKET_ACTIONS, [*a[0], *(f"{arn}/*" for arn in a[0])],
                principals={"AWS": "*"}, conditions={"StringEquals": {"aws:PrincipalAccount": a[1]}})))
        if args.consumer_bucket_prefixes:  # buckets of stacks that use components alone on this VPC (their names only)
            consumers = list(args.consumer_bucket_prefixes)
            statements.append(pulumi.Output.all(partition, identity.account_id).apply(lambda a: iam.statement(
                "ConsumerBucketsOwnPrincipals", PLATFORM_BUCKET_ACTIONS,
                [r for p in consumers for r in (f"arn:{a[0]}:s3:::{p}-*", f"arn:{a[0]}:s3:::{p}-*/*")],
                principals={"AWS": "*"}, conditions={"StringEquals": {"aws:PrincipalAccount": a[1],
                                                                      "aws:ResourceAccount": a[1]}})))
        if args.deployer_role_arns:
            statements += deployer_statements(args, buckets, partition, identity.account_id)
        statements.append(iam.statement(
            "ImageAndPackageBucketsRead", ["s3:GetObject"],
            [_nth_object_arn(partition, args.region, i) for i in range(len(aws_owned_bucket_objects(args.region)))],
            principals={"AWS": "*"}))
        document = iam.document(statements)
        if args.network.owns_endpoints:
            aws.ec2.VpcEndpointPolicy(child(name, "s3-endpoint-policy"), vpc_endpoint_id=endpoint_id,
                                      policy=document, opts=child_options(self))
        return document


def deployer_statements(args: ExfiltrationGuardsArgs, buckets: pulumi.Output[list[str]],
                        partition: pulumi.Output[str], account: pulumi.Input[str]) -> list[pulumi.Output[iam.Statement]]:
    """What `pulumi up`, `refresh` and `destroy` need through the gateway endpoint when the runner is in the VPC:
    every bucket setting of the platform's buckets and the audit trail's, bucket creation under the platform's
    names (a bucket added later has no ARN in the list yet), and the Pulumi state bucket's objects. The platform's
    names are matched in this account only (`aws:ResourceAccount`: a bucket of the same name in another account is
    not the platform's); the state bucket may live in a central account, so it is named exactly instead."""
    deployers = {"ArnLike": {"aws:PrincipalArn": list(args.deployer_role_arns)}}
    prefixes = [*args.deployer_bucket_prefixes, *args.consumer_bucket_prefixes]
    trail, state = args.trail_bucket_arn, args.deployer_state_bucket
    admin = pulumi.Output.all(buckets, partition, trail, account).apply(lambda a: iam.statement(
        "PlatformBucketsDeployers", [*DEPLOYER_BUCKET_ACTIONS, "s3:CreateBucket"],
        list(dict.fromkeys([*a[0], *([a[2]] if a[2] else []), *(f"arn:{a[1]}:s3:::{p}-*" for p in prefixes)])),
        principals={"AWS": "*"}, conditions={**deployers, "StringEquals": {"aws:ResourceAccount": a[3]}}))
    out = [admin]
    if state:
        out.append(partition.apply(lambda p: iam.statement(
            "PulumiStateDeployers", STATE_BUCKET_ACTIONS, [f"arn:{p}:s3:::{state}", f"arn:{p}:s3:::{state}/*"],
            principals={"AWS": "*"}, conditions=deployers)))
    return out
