"""What components hand each other: typed references, not whole components, so each is testable alone.

Network and cluster refs accept `pulumi.Input[...]` everywhere, so another stack's outputs work
(`NetworkRefs.from_stack_outputs`, `ClusterRefs.from_stack_outputs`). Components never count, iterate or index
an Input: resource counts come from config, never from a ref's value (`known_len` tells what is known now).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import iam
from .endpoints import ServicePort
from .grants import Grant, Grants
from .identity import ClusterIdentity
from .platform_contract import PLATFORM_OUTPUTS as PLATFORM_OUTPUTS  # re-exported: the contract the refs read
from .platform_contract import PLATFORM_PRODUCERS, _optional_value, _output_key, _require, _stack_add_ons, _value
from .stack_identity import is_this_stack

StringList = pulumi.Input[Sequence[pulumi.Input[str]]]
"""A list of ids: a plain list, or an Output of one (e.g. a StackReference output)."""


def known_len(values: StringList) -> int | None:
    """How many `values` there are, when that is known while the program runs (a plain list); None for an
    Output or an awaitable."""
    return len(values) if isinstance(values, Sequence) else None


class RefsError(pulumi.RunError, ValueError):
    """A component refuses the refs it was handed: one error listing every problem, each with its fix (a
    `pulumi.RunError`: the engine prints the message without a traceback, the offline plan exits 2)."""

    def __init__(self, component: str, problems: Sequence[str]) -> None:
        self.component, self.problems = component, list(problems)
        count = len(self.problems)
        super().__init__("\n".join([f"{component}: {count} problem{'s' if count != 1 else ''} with its refs",
                                    *(f"  - {p}" for p in self.problems)]))


def refuse(component: str, problems: Sequence[str | None]) -> None:
    """Raise one `RefsError` for every problem in `problems` (None: no problem), or nothing."""
    found = [p for p in problems if p]
    if found:
        raise RefsError(component, found)


CLUSTER_FACTS = ("load_balancer_controller", "network_policy_enforced", "container_insights", "metrics_server",
                 "storage_classes")
"""What a cluster runs, read from the platform's outputs by `ClusterRefs.from_stack_outputs` (same-named fields)."""


@dataclass(frozen=True)
class NetworkRefs:
    """The VPC a component deploys into (created by `Network`, an existing one, or another stack's)."""

    vpc_id: pulumi.Input[str]
    vpc_cidr: pulumi.Input[str]
    private_subnet_ids: StringList
    public_subnet_ids: StringList = ()
    availability_zones: Sequence[str] = ()
    s3_gateway_endpoint_id: pulumi.Input[str] | None = None
    """The S3 gateway endpoint (used by exfiltration guards). None when the VPC is not ours."""
    private_route_table_ids: StringList = ()
    owns_endpoints: bool = True
    """The endpoints are this stack's: it may write their policies. False for a VPC made elsewhere, whose shared
    endpoints other workloads use (a policy written there would replace theirs, and pulumi-aws resets it to full
    access on destroy)."""
    interface_endpoints: Sequence[str] | None = None
    """AWS services with an interface endpoint (private DNS) in the VPC, e.g. `sts`: pods behind an egress policy
    reach them at the VPC CIDR. None: unknown (a VPC made elsewhere; its owner says which it has)."""
    s3_endpoint_bucket_prefixes: Sequence[str] | None = None
    """The VPC's S3 gateway endpoint is guarded and admits this stack's buckets only when named `<prefix>-*` for one
    of these (the platform's `consumerBucketPrefixes` output): components refuse buckets named otherwise. None: no
    such limit known (the stack owns the endpoint and admits its own buckets, or the VPC is not guarded)."""

    @classmethod
    def existing(cls, vpc_id: pulumi.Input[str], vpc_cidr: pulumi.Input[str], private_subnet_ids: StringList,
                 *, s3_gateway_endpoint_id: pulumi.Input[str] | None = None) -> NetworkRefs:
        """A VPC made elsewhere (another tool, or a look-up). Private subnets only: data stores never go public."""
        return cls(vpc_id=vpc_id, vpc_cidr=vpc_cidr, private_subnet_ids=private_subnet_ids,
                   s3_gateway_endpoint_id=s3_gateway_endpoint_id, owns_endpoints=False)

    @classmethod
    def from_stack_outputs(cls, ref: pulumi.StackReference) -> NetworkRefs:
        """The platform stack's VPC, read through its output contract (`PLATFORM_OUTPUTS`); its S3 gateway endpoint
        when the stack exports one (`vpcS3GatewayEndpointId`; None otherwise, as for any VPC made elsewhere)."""
        refs = cls.existing(
            vpc_id=_require(ref, "vpc_id"), vpc_cidr=_require(ref, "vpc_cidr"),
            private_subnet_ids=_require(ref, "private_subnet_ids"))
        # An older platform stack lacks `vpcInterfaceEndpoints`: unknown (None), as for any VPC made elsewhere.
        endpoints = _optional_value(ref, "interface_endpoints")
        # ...and `vpcS3GatewayEndpointId`: None, as for a VPC whose endpoint is not known (no exfiltration guards).
        s3_endpoint = _optional_value(ref, "s3_gateway_endpoint_id")
        # `consumerBucketPrefixes` is exported exactly when the platform guards the endpoint and writes its policy
        # (absent: unguarded, a VPC made elsewhere, or a platform older than it).
        prefixes = _optional_value(ref, "consumer_bucket_prefixes")
        return replace(refs, interface_endpoints=None if endpoints is None else tuple(endpoints),
                       s3_gateway_endpoint_id=s3_endpoint or None,
                       s3_endpoint_bucket_prefixes=None if prefixes is None else tuple(prefixes))


@dataclass(frozen=True)
class ClusterRefs:
    """The EKS cluster a component runs on. Components bind their Kubernetes children to `provider`."""

    name: pulumi.Input[str]
    identity: ClusterIdentity
    cluster_security_group_id: pulumi.Input[str]
    """The EKS-managed security group on the control plane and every managed node: "admits only the cluster"."""
    version: str
    namespaces: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Namespaces created by the cluster (team namespaces), by name."""
    occupied_namespaces: frozenset[str] = frozenset()
    """Namespaces another stack's components own on the cluster (the platform's `platformNamespaces` output): a
    component here neither creates nor shares one (each holds objects of fixed names). Default: none."""
    egress_guarded_namespaces: frozenset[str] = frozenset()
    """Namespaces another stack holds to default-deny egress (the platform's `egressGuardedNamespaces` output): their
    pods reach a Service here only on a port `consumer_service_ports` lists. Default: none."""
    egress_guarded_workspaces: frozenset[str] = frozenset()
    """Of `egress_guarded_namespaces`, those whose guard a team workspace stack writes, not the platform stack (the
    platform's `egressGuardedWorkspaces` output): a change of the admitted ports reaches them at that stack's next
    `pulumi up`. Default: none."""
    consumer_service_ports: frozenset[ServicePort] = frozenset()
    """The ports of other stacks' Services those namespaces' egress admits (the platform's `consumerServicePorts`
    output). Default: none."""
    oidc_provider_arn: pulumi.Input[str] | None = None
    load_balancer_controller: bool = False
    """The AWS Load Balancer Controller runs, so an Ingress of class `alb` gets an ALB (`cluster.loadBalancerController`)."""
    ingress_dependencies: Sequence[pulumi.Resource] = ()
    """What an `alb` Ingress must wait for: the controller's release, whose Ingress webhooks fail closed (an Ingress
    created before the controller answers is refused). Default: none (a cluster made by another stack)."""
    container_insights: bool = False
    """amazon-cloudwatch-observability runs: Container Insights metrics (e.g. `cluster_failed_node_count`) and its
    `/aws/containerinsights/<cluster>/*` log groups exist (`cluster.containerInsights`)."""
    metrics_server: bool = False
    """metrics-server runs: HorizontalPodAutoscalers get CPU and memory metrics."""
    network_policy_enforced: bool = False
    """The VPC CNI enforces NetworkPolicies (`enableNetworkPolicy`)."""
    service_ipv4_cidr: pulumi.Input[str] | None = None
    """The cluster's Service CIDR (its first address is `kubernetes.default.svc`). Default: None (unknown, e.g. a
    cluster made by another stack; None or "" make egress guards admit the API ClusterIP of both EKS defaults)."""
    storage_classes: Sequence[str] = ()
    """StorageClasses the cluster creates; the first is the default (`gp3`, encrypted)."""
    # Serving and data alone (review of #29): read from the platform's outputs when it exports them.
    system_node_disk_gib: int | None = None
    """Root volume of a system node (GiB), where pods without a node selector run: what they can request as
    ephemeral storage. None: unknown."""
    add_ons: frozenset[str] | None = None
    """The cluster-wide singletons the cluster already runs (blocks/cluster_add_ons.py: `clusterAutoscaler`,
    `monitoring`, ...), which a component refuses to install a second time: a platform stack's `clusterAddOns`
    output. Default: None (unknown: a cluster made elsewhere, or a platform stack older than that output)."""
    add_on_owners: Mapping[str, str] | None = None
    """The stack that owns each add-on in `add_ons` (`<organization>/<project>/<stack>` or `<project>/<stack>`; a
    platform stack's `clusterAddOnOwners` output): the owning stack's own components may install it again, so that
    stack's next `pulumi up` keeps it (blocks/cluster_add_ons.claim). Default: None (no owner known: refused)."""
    external_secrets_store: str | None = None
    """The External Secrets operator runs on the cluster, serving `external-secrets.io/v1`, with this
    ClusterSecretStore (a platform stack's `externalSecretsStore`; a component creates its own namespaced
    SecretStores and only needs the operator). None: not known to run, so a component alone that delivers Secrets
    through it is refused (`external_secrets_problem`) unless the caller hands in what installs it."""
    provider: k8s.Provider = field(kw_only=True)
    """The cluster's Kubernetes provider (`TrainingCluster.provider`, or `cluster_provider(...)` for a cluster made
    elsewhere). Components bind every Kubernetes child to it through `bind` (never an ambient kubeconfig)."""

    @property
    def kserve_installed(self) -> bool | None:
        """KServe and cert-manager already run on the cluster, installed by another stack (`kserve` in `add_ons`, the
        platform's `clusterAddOns`, owned by a stack other than this one: `add_on_owners`): a `ModelServing` then
        installs neither (`install_controller` false). False for the stack that owns it. None: unknown."""
        return self.runs_from_another_stack("kserve")

    def runs_from_another_stack(self, add_on: str) -> bool | None:
        """The cluster runs `add_on` (`add_ons`) and a stack other than this one owns it (`add_on_owners`; an owner
        not recorded counts as another). The owning stack gets False: its install is its to keep. None: unknown."""
        if self.add_ons is None:
            return None
        owner = (self.add_on_owners or {}).get(add_on)
        return add_on in self.add_ons and not (owner is not None and is_this_stack(owner))

    def bind(self, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
        """A component's `opts` plus `providers={"kubernetes": provider}`, passed to its `super().__init__`: every
        Kubernetes child, however deep, inherits the cluster's provider. The one binding rule of every component."""
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(providers={"kubernetes": self.provider}))

    @classmethod
    def existing(
            cls, name: pulumi.Input[str], *, provider: k8s.Provider, security_group_id: pulumi.Input[str],
            version: str, workload_identity: Literal["irsa", "podIdentity"] = "irsa",
            oidc_provider_arn: pulumi.Input[str] | None = None, oidc_issuer: pulumi.Input[str] | None = None,
            **features: Any) -> ClusterRefs:
        """A cluster made elsewhere, reached through `provider` (made once by the caller, e.g. with
        `cluster_provider`: refs never register resources). `features`: the other fields (e.g.
        `network_policy_enforced=True`, `load_balancer_controller=True`) for what the cluster runs."""
        identity = ClusterIdentity(cluster_name=name, mode=workload_identity, oidc_provider_arn=oidc_provider_arn,
                                   oidc_issuer=oidc_issuer)
        return cls(name=name, identity=identity, cluster_security_group_id=security_group_id, version=version,
                   oidc_provider_arn=oidc_provider_arn, provider=provider, **features)

    @classmethod
    def from_stack_outputs(cls, ref: pulumi.StackReference, provider: k8s.Provider, *, version: str | None = None,
                           workload_identity: Literal["irsa", "podIdentity"] | None = None,
                           **features: Any) -> ClusterRefs:
        """The platform stack's cluster, read through its output contract, reached through `provider` (e.g.
        `cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(ref))`, made once per program): its name,
        security group and identity, and what it runs (`clusterVersion`, `workloadIdentity`, the controller flags,
        `serviceIpv4Cidr`, `storageClasses`), whose values decide which resources exist and are read now (a
        StackReference's outputs are known in a preview). An argument given here wins over the output (e.g. for a
        platform stack older than the output). A missing output fails with an error naming it and the stack."""
        mode = workload_identity or _value(ref, "workload_identity")
        # The facts are optional outputs (newer than some platform stacks): an argument given wins, and a missing
        # one without an argument fails naming the argument.
        facts = {attr: features[attr] if attr in features else _value(ref, attr, f"{attr}=...")
                 for attr in CLUSTER_FACTS}
        facts["storage_classes"] = tuple(facts["storage_classes"])
        # Newer still: None when the platform stack lacks them (unknown, as for a cluster made elsewhere). Numbers
        # come back from a StackReference as floats.
        disk = _optional_value(ref, "system_node_disk_gib")
        newer = {"system_node_disk_gib": int(disk) if isinstance(disk, float) else disk}
        irsa = mode == "irsa"
        return cls.existing(
            _require(ref, "cluster_name"), provider=provider,
            security_group_id=_require(ref, "cluster_security_group_id"),
            version=version or str(_value(ref, "cluster_version", "version=...")), workload_identity=mode,
            oidc_provider_arn=_require(ref, "oidc_provider_arn") if irsa else None,
            oidc_issuer=_require(ref, "oidc_issuer") if irsa else None,
            # An older platform stack lacks `serviceIpv4Cidr`: None, as for any cluster whose Service CIDR is unknown.
            # `externalSecretsStore` is exported only with the operator: absent, None (an argument given wins).
            **{"service_ipv4_cidr": ref.get_output(_output_key("service_ipv4_cidr")),
               "add_ons": _stack_add_ons(ref), "add_on_owners": _optional_value(ref, "cluster_add_on_owners"),
               "external_secrets_store": _optional_value(ref, "external_secrets_store"),
               "occupied_namespaces": frozenset(_optional_value(ref, "platform_namespaces") or ()),
               "egress_guarded_namespaces": frozenset(_optional_value(ref, "egress_guarded_namespaces") or ()),
               "egress_guarded_workspaces": frozenset(_optional_value(ref, "egress_guarded_workspaces") or ()),
               "consumer_service_ports": frozenset(
                   ServicePort(str(p["namespace"]), int(p["port"]))
                   for p in _optional_value(ref, "consumer_service_ports") or () if isinstance(p, Mapping)),
               **newer, **features, **facts})

    def external_secrets_problem(self, needs: str) -> str | None:
        """Why a component alone cannot deliver `needs` (what it syncs, e.g. "its database password") through
        External Secrets on this cluster, or None: the operator is known to run (`external_secrets_store`). A
        component handed the resource that installs the operator in the same program does not ask."""
        if self.external_secrets_store is not None:
            return None
        output, producer = _output_key("external_secrets_store"), PLATFORM_PRODUCERS["external_secrets_store"]
        return (f"External Secrets delivers {needs}, and nothing says this cluster runs its operator: "
                f"ClusterRefs.external_secrets_store is None (from a platform stack: its output {output!r}, exported "
                f"only with {producer}, in its `mlops:platform`). Fix: set that and run `pulumi up` on the platform "
                f"stack; or, for an operator installed otherwise, name its ClusterSecretStore: "
                f"`ClusterRefs.from_stack_outputs(..., external_secrets_store=\"<name>\")` (or `ClusterRefs.existing`)")

    @staticmethod
    def stack_kubeconfig(ref: pulumi.StackReference) -> pulumi.Output[str]:
        """The platform stack's (secret) `kubeconfig` output, for `cluster_provider`."""
        return _require(ref, "kubeconfig")


@dataclass(frozen=True)
class NodeRefs:
    """What a node group joining a cluster runs as (`TrainingCluster.node_refs`, or another stack's outputs)."""

    role_arn: pulumi.Input[str]
    """The IAM role of the cluster's nodes (EKS access entries already admit it)."""
    volume_key_arn: pulumi.Input[str]
    """The KMS key of the nodes' encrypted root volumes (the cluster's key)."""
    role_policies: Sequence[pulumi.Resource] = ()
    """The role's policy attachments when made in this program: node groups depend on them, so `pulumi destroy`
    removes the nodes before their permissions. Default: none (another stack's role)."""

    @property
    def role_name(self) -> pulumi.Output[str]:
        """The node role's name, from `role_arn` (exact, paths included: `iam.role_name`), e.g. for Karpenter."""
        return pulumi.Output.from_input(self.role_arn).apply(iam.role_name)

    @classmethod
    def from_stack_outputs(cls, ref: pulumi.StackReference) -> NodeRefs:
        """The platform stack's node role and cluster key, read through its output contract."""
        return cls(role_arn=_require(ref, "node_role_arn"), volume_key_arn=_require(ref, "cluster_kms_key_arn"))


def cluster_provider(name: str, kubeconfig: pulumi.Input[str],
                     opts: pulumi.ResourceOptions | None = None) -> k8s.Provider:
    """The Kubernetes provider of a cluster made elsewhere: the one place a program creates it, once, named `name`
    under the parent the caller names in `opts` (none: the stack). Every `ClusterRefs` of that cluster takes it, so
    two components on one cluster share it (a second provider of the same name would be a duplicate URN)."""
    return k8s.Provider(name, kubeconfig=kubeconfig, opts=opts)


@dataclass(frozen=True)
class BucketRefs:
    """An S3 bucket a component reads or writes but does not own (e.g. the model registry's artifact bucket, from
    this stack or a StackReference), with the KMS key its objects are encrypted with."""

    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]

    @classmethod
    def model_artifacts(cls, ref: pulumi.StackReference) -> BucketRefs:
        """The platform stack's model artifact bucket and the key its objects are encrypted with (the registry's
        own: `modelArtifactBucket`, `modelArtifactKeyArn`), read through its output contract."""
        bucket = _require(ref, "model_artifact_bucket")
        return cls(bucket_name=bucket, bucket_arn=pulumi.Output.concat("arn:aws:s3:::", bucket),
                   kms_key_arn=_require(ref, "model_artifact_key_arn"))

    def objects_arn(self, prefix: str = "") -> pulumi.Output[str]:
        return pulumi.Output.concat(self.bucket_arn, "/", f"{prefix.strip('/')}/*" if prefix else "*")

    def read_statements(self, prefix: str = "", *, missing_key_404: bool = False) -> list[dict[str, Any]]:
        """Least-privilege read of `prefix` (whole bucket by default) and decrypt with the bucket's key.
        ListBucket has no prefix condition for the whole bucket: HeadBucket (which S3 clients send) carries none.

        `missing_key_404`: ListBucket on the bucket without the prefix condition, for a client that tells a missing
        key from a refusal. S3 answers a GET or HEAD of a missing key with 404 only when the caller has s3:ListBucket
        on the bucket, else 403 (S3 API reference, GetObject and HeadObject, "Permissions"); that check is of a
        request without a `prefix` parameter, so `s3:prefix` is absent from its context and a `StringLike` on it is
        false (IAM: a condition on a key missing from the request context does not match). It lets the holder list
        key names anywhere in the bucket, never read their contents. Default: false (listing confined to `prefix`)."""
        conditioned = prefix and not missing_key_404
        list_cond = {"StringLike": {"s3:prefix": [f"{prefix.strip('/')}/*"]}} if conditioned else None
        return [
            iam.statement("ListBucket", ["s3:ListBucket"], [self.bucket_arn], conditions=list_cond),
            iam.statement("ReadObjects", ["s3:GetObject", "s3:GetObjectVersion"], [self.objects_arn(prefix)]),
            iam.statement("DecryptObjects", ["kms:Decrypt", "kms:DescribeKey"], [self.kms_key_arn]),
        ]

    def write_statements(self, prefix: str = "", *, missing_key_404: bool = False) -> list[dict[str, Any]]:
        """Read, plus put/delete objects under `prefix` and encrypt with the bucket's key (`missing_key_404`: as
        `read_statements`)."""
        return [
            *self.read_statements(prefix, missing_key_404=missing_key_404),
            iam.statement("WriteObjects", ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"],
                          [self.objects_arn(prefix)]),
            iam.statement("EncryptObjects", ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                                             "kms:ReEncrypt*"], [self.kms_key_arn]),
        ]

    def grant_read(self, grants: Grants, principal: aws.iam.Role, prefix: str = "", *, grant: str = "read") -> Grant:
        """`read_statements(prefix)` as the managed policy `<owner>-<grant>[-<prefix>]-policy` of `grants` (the
        granting component's registry, e.g. `Grants(self, name)`), attached to `principal` once. Name `grant`
        apart (e.g. `artifacts-read`) when one owner grants reads of several buckets."""
        return grants.grant(principal, grant + prefix_suffix(prefix), lambda: self.read_statements(prefix))

    def grant_write(self, grants: Grants, principal: aws.iam.Role, prefix: str = "", *, grant: str = "write") -> Grant:
        """`write_statements(prefix)` granted like `grant_read`. Idempotent per principal."""
        return grants.grant(principal, grant + prefix_suffix(prefix), lambda: self.write_statements(prefix))


def prefix_suffix(prefix: str) -> str:
    """`""` for the whole bucket (the released names), else `-<prefix with / as ->`."""
    slug = prefix.strip("/").replace("/", "-")
    return f"-{slug}" if slug else ""
