"""TrainingCluster: the EKS control plane, its identity and access, add-ons, system nodes, the Kubernetes provider
other components use, and the training foundations (team namespaces, quotas, priorities, operator)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..blocks import iam
from ..blocks.identity import ClusterIdentity
from ..blocks.kms import KmsKey, KmsKeyArgs, ec2_volume_statements
from ..blocks.naming import child, child_options, retyped
from ..blocks.refs import ClusterRefs, NetworkRefs, NodeRefs
from . import _cluster_access as cluster_access
from . import _cluster_nodes as cluster_nodes
from . import cluster_addons, storage
from .config import ClusterConfig
from .load_balancer_controller import LoadBalancerController, LoadBalancerControllerArgs
from .training_foundations import TrainingFoundations, TrainingFoundationsArgs

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
CLUSTER_POLICY = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
SYSTEM_LABEL = {"mlops.io/node-role": "system"}
CONTAINER_INSIGHTS_LOG_TYPES = ("application", "dataplane", "host", "performance")
"""Log groups the CloudWatch agent and Fluent Bit write (`/aws/containerinsights/<cluster>/<type>`)."""


@dataclass(frozen=True)
class TrainingClusterArgs:
    config: ClusterConfig
    network: NetworkRefs
    region: str
    tags: dict[str, str]
    protect: bool = True
    """`protect` + `retain_on_delete` and EKS deletion protection on the cluster, its key and log group. Default: true."""
    cluster_name: str | None = None
    """The EKS cluster's name. Default: the component name."""
    k8s_labels: Mapping[str, str] = field(default_factory=lambda: {"app.kubernetes.io/part-of": "mlops-platform"})
    """Labels on the Kubernetes objects the cluster creates. Default: app.kubernetes.io/part-of=mlops-platform."""


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that authenticates with `aws eks get-token` (no long-lived token is ever stored)."""
    user: dict[str, Any] = {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws", "interactiveMode": "Never",
        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"]}}
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": cluster_name,
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "users": [{"name": cluster_name, "user": user}],
    })


class TrainingCluster(pulumi.ComponentResource):
    """The only component that builds a Kubernetes provider: it owns the cluster the provider points at."""

    cluster: aws.eks.Cluster
    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str] | None
    node_role: aws.iam.Role
    node_role_policies: list[pulumi.Resource]
    """The node role's policy attachments: every node group depends on them (so deletion detaches them last)."""
    api_access_rules: list[aws.vpc.SecurityGroupIngressRule]
    """HTTPS to the API from `privateEndpointAccess` (one rule per security group and CIDR) on the cluster security
    group."""
    kms_key: KmsKey
    storage_class: k8s.storage.v1.StorageClass
    """The default `gp3` class: PVC consumers may list it in `depends_on`."""
    refs: ClusterRefs
    node_refs: NodeRefs
    """What a node group joining the cluster runs as: the node role (with its attachments) and the volume key."""

    def __init__(self, name: str, args: TrainingClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:compute:TrainingCluster", name, None, retyped(opts, "mlops:cluster:TrainingCluster"))
        cfg, tags = args.config, args.tags
        cluster_name = args.cluster_name or name
        self.kms_key = self._key(name, args)
        log_group = aws.cloudwatch.LogGroup(
            child(name, "control-plane-logs"), name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=cfg.log_retention_days, kms_key_id=self.kms_key.arn, deletion_protection_enabled=args.protect,
            tags=tags, opts=child_options(self, stateful=True, protect=args.protect))
        self.cluster = self._control_plane(name, args, cluster_name, log_group)
        self.api_access_rules = self._private_api_access(name, args)
        self._service_linked_roles(name, cfg)
        issuer = self.cluster.identities.apply(lambda ids: str(ids[0].oidcs[0].issuer))  # type: ignore[index]
        self.oidc_provider_arn = None
        if cfg.workload_identity == "irsa":
            self.oidc_provider_arn = cluster_access.oidc_provider(child(name, "oidc"), self, issuer, tags).arn
        identity = ClusterIdentity(
            cluster_name=self.cluster.name, mode=cfg.workload_identity, oidc_provider_arn=self.oidc_provider_arn,
            oidc_issuer=issuer.apply(lambda url: url.removeprefix("https://")))
        admins = cluster_access.admin_access(child(name, "access"), self, self.cluster.name, cfg.admin_role_arns, tags)
        early = cluster_addons.before_nodes(child(name, "addon"), self, identity, cfg.addons, tags)
        self.node_role_policies = []
        self.node_role = cluster_nodes.node_role(child(name, "node"), self, tags, self.node_role_policies)
        system = self._system_nodes(name, args, [*early, *self.node_role_policies])
        late = cluster_addons.after_nodes(child(name, "addon"), self, identity, cfg.addons, tags, [system],
                                          storage_key_arn=self.kms_key.arn)
        if cfg.container_insights:
            cluster_addons.container_insights(child(name, "addon"), self, identity, cfg.addons, tags,
                                              [system, *self._insights_log_groups(name, args, cluster_name)],
                                              role_name=cfg.container_insights_role_name)
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority.data).apply(
            lambda a: kubeconfig(str(a[0]), str(a[1]), str(a[2]), args.region)))
        # Every Kubernetes object waits for admin access, API access, the system nodes and CoreDNS through the provider.
        self.provider = k8s.Provider(child(name, "k8s"), kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     opts=child_options(self, depends_on=[*admins, *self.api_access_rules, system, *late]))
        # The cluster's own Kubernetes children bind like every component's, through its refs (the namespaces and
        # the ingress dependencies are added once they exist).
        bare = ClusterRefs(
            name=self.cluster.name, identity=identity, version=cfg.version,
            cluster_security_group_id=self.cluster.vpc_config.cluster_security_group_id,
            oidc_provider_arn=self.oidc_provider_arn, load_balancer_controller=cfg.runs_load_balancer_controller,
            container_insights=cfg.container_insights,
            metrics_server=True, network_policy_enforced=True, storage_classes=(storage.GP3,), provider=self.provider,
            system_node_disk_gib=cfg.system_nodes.disk_size_gib,
            service_ipv4_cidr=self.cluster.kubernetes_network_config.apply(
                lambda n: (n.service_ipv4_cidr if n is not None else None) or ""))
        self.foundations = TrainingFoundations(
            child(name, "training"), TrainingFoundationsArgs(config=cfg, labels=dict(args.k8s_labels), cluster=bare),
            pulumi.ResourceOptions(parent=self))
        self._kubernetes_services(name, args, bare, late)
        self.refs = dataclasses.replace(bare, namespaces=dict(self.foundations.namespaces),
                                        ingress_dependencies=self.ingress_dependencies)
        self.node_refs = NodeRefs(role_arn=self.node_role.arn, volume_key_arn=self.kms_key.arn,
                                  role_policies=tuple(self.node_role_policies))
        self.register_outputs({"clusterName": self.cluster.name, "endpoint": self.cluster.endpoint,
                               "kubeconfig": self.kubeconfig, "nodeRoleArn": self.node_role.arn,
                               "oidcProviderArn": self.oidc_provider_arn,
                               "containerInsights": cfg.container_insights,
                               "loadBalancerController": cfg.runs_load_balancer_controller})

    def _control_plane(self, name: str, args: TrainingClusterArgs, cluster_name: str,
                       log_group: aws.cloudwatch.LogGroup) -> aws.eks.Cluster:
        """The EKS cluster. It depends on its role's policies: EKS needs them while it deletes the cluster."""
        cfg = args.config
        role, role_policies = self._cluster_role(name, args.tags)
        vpc: aws.eks.ClusterVpcConfigArgsDict = {
            "subnet_ids": args.network.private_subnet_ids, "endpoint_private_access": True,
            "endpoint_public_access": cfg.endpoint_public_access}
        if cfg.endpoint_public_access:
            vpc["public_access_cidrs"] = list(cfg.public_access_cidrs)
        network: aws.eks.ClusterKubernetesNetworkConfigArgsDict = {"ip_family": "ipv4"}
        if cfg.service_ipv4_cidr is not None:
            network["service_ipv4_cidr"] = cfg.service_ipv4_cidr
        return aws.eks.Cluster(
            name, name=cluster_name, version=cfg.version, role_arn=role.arn, vpc_config=vpc,
            encryption_config={"provider": {"key_arn": self.kms_key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            access_config={"authentication_mode": cfg.authentication_mode,
                           # Without admin roles the creator (the deployer, whose credentials the kubeconfig
                           # uses) is the only admin; else nobody could reach the API, `pulumi up` included.
                           "bootstrap_cluster_creator_admin_permissions": not cfg.admin_role_arns},
            kubernetes_network_config=network, bootstrap_self_managed_addons=False,
            deletion_protection=args.protect, upgrade_policy={"support_type": cfg.upgrade_support_type},
            tags=args.tags,
            opts=child_options(self, stateful=True, protect=args.protect, depends_on=[log_group, *role_policies]))

    def _private_api_access(self, name: str, args: TrainingClusterArgs) -> list[aws.vpc.SecurityGroupIngressRule]:
        """HTTPS to the API from each security group and CIDR of `privateEndpointAccess`, on the cluster security
        group EKS creates (the one its private endpoint's interfaces use; it admits only itself otherwise). The
        Kubernetes provider depends on these rules: a deployer admitted by one of them can reach the API only once
        it exists."""
        access, rules = args.config.private_endpoint_access, []
        group = self.cluster.vpc_config.cluster_security_group_id
        sources: list[tuple[str, dict[str, str]]] = [
            (sg, {"referenced_security_group_id": sg}) for sg in access.security_group_ids]
        for cidr in access.cidrs:
            key = "cidr_ipv6" if ":" in cidr else "cidr_ipv4"
            sources.append((cidr.replace(".", "-").replace(":", "-").replace("/", "-"), {key: cidr}))
        for suffix, source in sources:
            rules.append(aws.vpc.SecurityGroupIngressRule(
                child(name, f"api-https-{suffix}"), security_group_id=group, ip_protocol="tcp", from_port=443,
                to_port=443, description=f"Kubernetes API (private endpoint) from {next(iter(source.values()))}",
                tags=args.tags, opts=child_options(self), **source))
        return rules

    def _kubernetes_services(self, name: str, args: TrainingClusterArgs, cluster: ClusterRefs,
                             addons: list[aws.eks.Addon]) -> None:
        """What every stack's workloads rely on: the default encrypted gp3 StorageClass (after the EBS CSI
        driver) and, when configured, the AWS Load Balancer Controller for `alb` Ingresses."""
        self.storage_class = storage.gp3_storage_class(
            child(name, "gp3"), self, kms_key_arn=self.kms_key.arn, labels=args.k8s_labels, retain=args.protect,
            cluster=cluster, depends_on=addons)
        self.ingress_dependencies: list[pulumi.Resource] = []
        if args.config.load_balancer_controller:
            controller = LoadBalancerController(child(name, "lb-controller"), LoadBalancerControllerArgs(
                cluster=cluster, region=args.region, vpc_id=args.network.vpc_id, tags=args.tags,
                node_selector=SYSTEM_LABEL), pulumi.ResourceOptions(parent=self))
            self.ingress_dependencies.append(controller.release)

    def _key(self, name: str, args: TrainingClusterArgs) -> KmsKey:
        """Secrets envelope encryption, control-plane and Container Insights logs, node volumes and the gp3
        StorageClass. EC2 service-linked roles (Auto Scaling, Spot, Fleet) may use it for node root volumes without
        being named (`ec2_volume_statements`): naming a role the account lacks fails key creation."""
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        return KmsKey(child(name, "key"), KmsKeyArgs(
            description=f"{name} EKS secrets, logs and node volumes", tags=args.tags, protect=args.protect,
            service_principals=[f"logs.{args.region}.amazonaws.com"],
            extra_statements=ec2_volume_statements(partition.partition, identity.account_id, args.region)),
            pulumi.ResourceOptions(parent=self))

    def _service_linked_roles(self, name: str, cfg: ClusterConfig) -> None:
        """Only on request: an account-wide role that already exists cannot be created again. Never deleted with
        the stack (other workloads of the account rely on it)."""
        for service in cfg.create_service_linked_roles:
            aws.iam.ServiceLinkedRole(child(name, f"slr-{service.split('.')[0]}"), aws_service_name=service,
                                      opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True))

    def _insights_log_groups(self, name: str, args: TrainingClusterArgs,
                             cluster_name: str) -> list[aws.cloudwatch.LogGroup]:
        """Created before the CloudWatch agent, encrypted with the cluster key and with the control plane's
        retention; otherwise the agent creates them unencrypted and kept forever."""
        return [aws.cloudwatch.LogGroup(
            child(name, f"insights-{log_type}"), name=f"/aws/containerinsights/{cluster_name}/{log_type}",
            retention_in_days=args.config.log_retention_days, kms_key_id=self.kms_key.arn,
            deletion_protection_enabled=args.protect, tags=args.tags,
            opts=child_options(self, stateful=True, protect=args.protect)) for log_type in CONTAINER_INSIGHTS_LOG_TYPES]

    def _cluster_role(self, name: str, tags: dict[str, str]) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        trust = iam.trust_document([iam.statement("EksControlPlane", ["sts:AssumeRole", "sts:TagSession"], [],
                                                  principals={"Service": "eks.amazonaws.com"})])
        role = aws.iam.Role(child(name, "cluster"), assume_role_policy=trust, tags=tags, opts=child_options(self))
        attachment = aws.iam.RolePolicyAttachment(child(name, "cluster-policy"), role=role.name,
                                                  policy_arn=CLUSTER_POLICY, opts=child_options(self))
        kms = aws.iam.RolePolicy(child(name, "cluster-kms"), role=role.id, policy=iam.document([iam.statement(
            "EnvelopeEncryption", ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"],
            [self.kms_key.arn])]), opts=child_options(self))
        return role, [attachment, kms]

    def _system_nodes(self, name: str, args: TrainingClusterArgs,
                      depends_on: list[pulumi.Resource]) -> aws.eks.NodeGroup:
        sys_cfg = args.config.system_nodes
        template = cluster_nodes.launch_template(
            child(name, "system"), self, ami_type=sys_cfg.ami_type, volume_gib=sys_cfg.disk_size_gib,
            kms_key_arn=self.kms_key.arn, tags=args.tags)
        return aws.eks.NodeGroup(
            child(name, "system"), cluster_name=self.cluster.name, node_role_arn=self.node_role.arn,
            subnet_ids=args.network.private_subnet_ids, instance_types=list(sys_cfg.instance_types),
            ami_type=sys_cfg.ami_type, capacity_type="ON_DEMAND",
            # The cluster's version (an output: the control plane is upgraded first, then the nodes roll). The
            # launch template sets no image_id, so EKS picks the AMI of this version for the amiType.
            version=self.cluster.version,
            scaling_config={"min_size": sys_cfg.min_size, "desired_size": sys_cfg.effective_desired_size,
                            "max_size": sys_cfg.max_size},
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels=SYSTEM_LABEL, update_config={"max_unavailable": 1}, node_repair_config={"enabled": True},
            tags=args.tags,
            opts=pulumi.ResourceOptions.merge(
                child_options(self, depends_on=depends_on, ignore_changes=["scalingConfig.desiredSize"]),
                cluster_nodes.NODE_GROUP_TIMEOUTS))
