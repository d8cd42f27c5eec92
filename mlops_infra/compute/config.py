"""EKS cluster config: version, endpoint access, identity, add-ons, system nodes and training foundations."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, model_validator

from ..config import versions
from ..config.base import ConfigModel, Problem
from ..config.types import ChartVersion, Cidr, IamRoleArn, Ipv4Cidr, K8sName, LogRetentionDays, SecurityGroupId
from ..config.versions import DEFAULT_EKS_VERSION, SUPPORTED_EKS_VERSIONS

WorkloadIdentityMode = Literal["irsa", "podIdentity"]
UpgradeSupportType = Literal["STANDARD", "EXTENDED"]
ServiceLinkedRoleService = Literal["autoscaling.amazonaws.com", "spot.amazonaws.com"]
TrainingOperator = Literal["kubeflow", "kuberay", "none"]
KUBEFLOW_MANAGER_MEMORY_REQUEST_MIB = 256
"""The Trainer controller manager's memory request; `trainingOperator.managerMemoryLimit` may not be below it."""


class AddonVersions(ConfigModel):
    """Managed add-on versions, pinned (`aws eks describe-addon-versions --kubernetes-version 1.35`)."""

    vpc_cni: str = Field(versions.ADDON_VPC_CNI, description=f"vpc-cni version. Default: {versions.ADDON_VPC_CNI}.")
    coredns: str = Field(versions.ADDON_COREDNS, description=f"coredns version. Default: {versions.ADDON_COREDNS}.")
    kube_proxy: str = Field(
        versions.ADDON_KUBE_PROXY, description=f"kube-proxy version (must match the cluster minor). "
        f"Default: {versions.ADDON_KUBE_PROXY}.")
    ebs_csi_driver: str = Field(
        versions.ADDON_EBS_CSI, description=f"aws-ebs-csi-driver version. Default: {versions.ADDON_EBS_CSI}.")
    pod_identity_agent: str = Field(
        versions.ADDON_POD_IDENTITY_AGENT,
        description=f"eks-pod-identity-agent version. Default: {versions.ADDON_POD_IDENTITY_AGENT}.")
    metrics_server: str = Field(
        versions.ADDON_METRICS_SERVER,
        description=f"metrics-server version (always installed: HPAs read metrics.k8s.io). "
        f"Default: {versions.ADDON_METRICS_SERVER}.")
    node_monitoring_agent: str = Field(
        versions.ADDON_NODE_MONITORING_AGENT,
        description=f"eks-node-monitoring-agent version (always installed: node repair acts on the conditions it "
        f"reports). Default: {versions.ADDON_NODE_MONITORING_AGENT}.")
    cloudwatch_observability: str = Field(
        versions.ADDON_CLOUDWATCH_OBSERVABILITY,
        description=f"amazon-cloudwatch-observability version (installed when containerInsights is true). "
        f"Default: {versions.ADDON_CLOUDWATCH_OBSERVABILITY}.")

    def problems(self) -> Iterable[Problem]:
        for name, value in self.model_dump(by_alias=True).items():
            if not value.startswith("v") or "-eksbuild." not in value:
                yield name, f"must be an EKS add-on version like v1.2.3-eksbuild.1 (got {value!r})"


SystemAmiType = Literal["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD", "BOTTLEROCKET_x86_64",
                        "BOTTLEROCKET_ARM_64"]


def system_node_ephemeral_gib(disk_gib: int) -> int:
    """What a system node can give pods' ephemeral storage: its root volume less kubelet's kube-reserved 1Gi and
    the 10% `nodefs.available` hard-eviction threshold (amazon-eks-ami nodeadm internal/kubelet/config.go)."""
    return int(disk_gib * 0.9) - 1


class SystemNodesConfig(ConfigModel):
    """The small on-demand node group that runs cluster add-ons and operators."""

    ami_type: SystemAmiType = Field("AL2023_x86_64_STANDARD", description="AMI type. Default: AL2023_x86_64_STANDARD.")
    instance_types: list[str] = Field(
        ["m7i.xlarge"], min_length=1, description="Instance types. Default: [m7i.xlarge] (2 x m7i.large cannot hold the "
        "requests of the platform's own pods: tests/compute/test_cluster_autoscaler.py sums them).")
    min_size: int = Field(2, ge=1, le=20, description="Minimum nodes. Default: 2.")
    desired_size: int | None = Field(None, description="Desired nodes. Default: minSize.")
    max_size: int = Field(4, ge=1, le=50, description="Maximum nodes. Default: 4.")
    disk_size_gib: int = Field(50, ge=20, le=1000, description="Root volume size (GiB). Default: 50.")

    @property
    def effective_desired_size(self) -> int:
        return self.desired_size if self.desired_size is not None else self.min_size

    def problems(self) -> Iterable[Problem]:
        if self.max_size < self.min_size:
            yield "maxSize", f"must be >= minSize ({self.max_size} < {self.min_size})"
        if self.desired_size is not None and not self.min_size <= self.desired_size <= self.max_size:
            yield "desiredSize", f"must be between minSize and maxSize ({self.desired_size} not in {self.min_size}..{self.max_size})"


class TeamConfig(ConfigModel):
    """A team namespace with a GPU quota."""

    name: K8sName = Field(..., description="Namespace name (RFC 1123). Required.")
    gpu_quota: int = Field(8, ge=0, le=1024, description="Quota on requests.nvidia.com/gpu. Default: 8.")


class PriorityClassConfig(ConfigModel):
    """A PriorityClass training jobs choose from (`priorityClassName`)."""

    name: K8sName = Field(..., description="PriorityClass name. Required.")
    value: int = Field(..., ge=-1000, le=1_000_000_000, description="Priority (higher preempts lower). Required.")
    preempting: bool = Field(True, description="May preempt lower-priority pods. Default: true.")
    description: str = Field("", description="What the class is for. Default: empty.")


DEFAULT_PRIORITY_CLASSES: tuple[PriorityClassConfig, ...] = (
    PriorityClassConfig(name="training-critical", value=100_000,
                        description="Production training and evaluation that must not be preempted by experiments."),
    PriorityClassConfig(name="training-standard", value=10_000, description="Regular training jobs."),
    PriorityClassConfig(name="training-preemptible", value=1_000, preempting=False,
                        description="Experiments and sweeps: never preempt, first to be preempted."),
)


class TrainingOperatorConfig(ConfigModel):
    """The training operator, installed as a pinned Helm release."""

    kind: TrainingOperator = Field(
        "kubeflow", description="kubeflow (Kubeflow Trainer v2), kuberay or none. Default: kubeflow.")
    version: ChartVersion | None = Field(
        None, description=f"Chart version. Default: {versions.KUBEFLOW_TRAINER.version} (kubeflow), "
        f"{versions.KUBERAY.version} (kuberay).")
    namespace: K8sName = Field("training-system", description="Namespace of the operator. Default: training-system.")
    built_in_runtimes: bool = Field(
        False, description="kubeflow: install the chart's built-in ClusterTrainingRuntimes (torch-distributed, ...). "
        "kubeflow-trainer 2.3.0 applies them with a hook Job that runs `apk add --no-cache kubectl` "
        "(templates/runtimes/installer-job.yaml, cleanup-job.yaml): the kubectl it runs is whatever Alpine's "
        "repository serves that day, fetched through NAT, and no value pins it. Turning this on accepts that; "
        "`runtimesInstallerImage` then pins the image. Default: false (apply your runtimes yourself).")
    runtimes_installer_image: str | None = Field(
        None, pattern=r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+:[\w.-]+@sha256:[0-9a-f]{64}$",
        description="`builtInRuntimes`: the installer Jobs' image as `<registry>/<repository>:<tag>@sha256:<digest>` "
        "(a shell and apk, e.g. an alpine digest you mirrored). Required with builtInRuntimes: the chart's default "
        "`docker.io/alpine:3.21` is a moving tag.")
    manager_memory_limit: str = Field(
        "1Gi", pattern=r"^[1-9][0-9]*(Mi|Gi)$",
        description="kubeflow: the Trainer controller manager's memory limit (its request is 256Mi, the least this "
        "may be). Its informers cache, cluster-wide, every TrainJob, JobSet and runtime and (the MPI plugin's "
        "watches, registered whatever the runtimes) every ConfigMap and Secret, Helm's release Secrets and the "
        "dashboard ConfigMaps included (kubeflow/trainer v2.3.0 sets no cache selector): it grows with the cluster, "
        "not only with jobs. Neither the chart (2.3.0: `manager.resources: {}`) nor upstream's manifests set a "
        "limit; the same chart gives the JobSet controller, which caches Jobs cluster-wide, 4Gi. 1Gi (4x the "
        "request, a quarter of JobSet's) is a judgment, not a measurement: raise it if the manager is OOM-killed "
        "(`kubectl -n <namespace> get pod -l app.kubernetes.io/name=kubeflow-trainer -o "
        "jsonpath='{..lastState.terminated.reason}'`). Default: 1Gi.")

    @model_validator(mode="after")
    def _manager_memory_at_least_its_request(self) -> TrainingOperatorConfig:
        amount, unit = int(self.manager_memory_limit[:-2]), self.manager_memory_limit[-2:]
        if amount * (1024 if unit == "Gi" else 1) < KUBEFLOW_MANAGER_MEMORY_REQUEST_MIB:
            raise ValueError(f"managerMemoryLimit {self.manager_memory_limit} is below the manager's memory request "
                             f"({KUBEFLOW_MANAGER_MEMORY_REQUEST_MIB}Mi), which Kubernetes refuses")
        return self

    @model_validator(mode="after")
    def _pinned_installer(self) -> TrainingOperatorConfig:
        if self.built_in_runtimes and (self.kind != "kubeflow" or self.runtimes_installer_image is None):
            raise ValueError("builtInRuntimes needs kind kubeflow and a runtimesInstallerImage pinned by digest "
                             "(<registry>/<repository>:<tag>@sha256:<digest>)")
        return self

    def runtimes_values(self) -> dict[str, Any]:
        """The kubeflow-trainer chart's `runtimes` values: off, or on with the pinned installer image."""
        if not self.built_in_runtimes or self.runtimes_installer_image is None:
            return {"defaultEnabled": False}
        registry, rest = self.runtimes_installer_image.split("/", 1)
        repository, tag = rest.split(":", 1)  # the chart joins `<registry>/<repository>:<tag>`; tag keeps the digest
        return {"defaultEnabled": True, "installer": {"image": {"registry": registry, "repository": repository,
                                                                "tag": tag}}}

    @property
    def chart(self) -> versions.ChartPin | None:
        """The chart to install with its effective version, or None for `kind: none`."""
        base = {"kubeflow": versions.KUBEFLOW_TRAINER, "kuberay": versions.KUBERAY}.get(self.kind)
        if base is None:
            return None
        return versions.ChartPin(base.chart, base.repo, self.version or base.version)


class PrivateEndpointAccessConfig(ConfigModel):
    """Who may reach the private API endpoint (HTTPS, tcp 443). EKS puts the endpoint's network interfaces in the
    cluster security group, which admits only itself (the control plane and the managed nodes): a deployer elsewhere
    in the VPC, or in a peered network, is refused until a rule admits it (EKS user guide, "Cluster API server
    endpoint": with the public endpoint off, the cluster security group must admit 443 from the connected network).
    Each entry becomes one ingress rule (tcp 443) on the cluster security group."""

    security_group_ids: list[SecurityGroupId] = Field(
        default_factory=list, description="Security groups whose members may call the API, e.g. the deploy runner's "
        "own group in the VPC (the least-privilege choice). Default: none.")
    cidrs: list[Cidr] = Field(
        default_factory=list, description="Networks that may call the API: a peered VPC, a VPN or Direct Connect "
        "range. Default: none.")

    @property
    def configured(self) -> bool:
        return bool(self.security_group_ids or self.cidrs)

    def problems(self) -> Iterable[Problem]:
        for i, cidr in enumerate(self.cidrs):
            if ipaddress.ip_network(cidr).prefixlen == 0:
                yield f"cidrs[{i}]", f"must not admit every address ({cidr})"
        for key, values in (("securityGroupIds", self.security_group_ids), ("cidrs", self.cidrs)):
            for i, value in enumerate(values):
                if value in values[:i]:
                    yield f"{key}[{i}]", f"duplicate {value!r}"


PRIVATE_ENDPOINT_FIX = (
    "the API endpoint is private only (endpointPublicAccess false) and nothing may reach it: the cluster security "
    "group admits only itself, so `pulumi up`, kubectl and every deployer would be refused. Set "
    "cluster.privateEndpointAccess.securityGroupIds (the deploy runner's security group in the VPC) or "
    "cluster.privateEndpointAccess.cidrs (a peered or VPN network); docs/deploying.md, \"Private API endpoint\", "
    "gives the bootstrap order")


class ClusterConfig(ConfigModel):
    """The EKS training cluster."""

    version: str = Field(
        DEFAULT_EKS_VERSION,
        description=f"EKS Kubernetes minor version, one of {', '.join(SUPPORTED_EKS_VERSIONS)}. "
        f"Default: {DEFAULT_EKS_VERSION}.",
    )
    endpoint_public_access: bool = Field(
        False, description="Expose the API endpoint publicly (restricted to publicAccessCidrs). "
        "Default: false (profiles: dev/staging true). The private endpoint is always on.",
    )
    public_access_cidrs: list[Cidr] = Field(
        default_factory=list, description="CIDRs allowed to reach a public endpoint. Default: none; "
        "required when endpointPublicAccess is true.",
    )
    private_endpoint_access: PrivateEndpointAccessConfig = Field(
        default_factory=PrivateEndpointAccessConfig,
        description="Security groups and CIDRs admitted to the private API endpoint (tcp 443 on the cluster security "
        "group). Default: none; required when endpointPublicAccess is false (nothing could reach the API).")
    authentication_mode: Literal["API", "API_AND_CONFIG_MAP"] = Field(
        "API", description="Cluster access mode. Default: API (access entries only)."
    )
    admin_role_arns: list[IamRoleArn] = Field(
        default_factory=list, description="IAM roles granted cluster admin through access entries (include the role "
        "that runs `pulumi up`: the kubeconfig uses its credentials). Default: none: then the cluster's creator is "
        "its only admin (bootstrapClusterCreatorAdminPermissions; changing this later replaces the cluster)."
    )
    workload_identity: WorkloadIdentityMode = Field(
        "irsa", description="How pods get AWS credentials: irsa or podIdentity. Default: irsa."
    )
    log_retention_days: LogRetentionDays = Field(
        365, description="Control-plane log retention in days. Default: 365 (profiles: dev 30, staging 90)."
    )
    addons: AddonVersions = Field(default_factory=AddonVersions, description="Managed add-on versions.")
    system_nodes: SystemNodesConfig = Field(default_factory=SystemNodesConfig, description="System node group.")
    teams: list[TeamConfig] = Field(default_factory=list, description="Team namespaces. Default: none.")
    workspaces: list[K8sName] = Field(
        default_factory=list, description="Namespaces of team workspaces other stacks create (platform/team_workspace.py): "
        "each gets its MLflow user and the Qdrant key a team gets, delivered through External Secrets (IRSA). "
        "Default: none.")
    training_operator: TrainingOperatorConfig = Field(
        default_factory=TrainingOperatorConfig, description="Training operator Helm release."
    )
    priority_classes: list[PriorityClassConfig] = Field(
        default_factory=lambda: list(DEFAULT_PRIORITY_CLASSES),
        description="PriorityClasses for training. Default: training-critical (100000), training-standard (10000), "
        "training-preemptible (1000, never preempts).")
    service_ipv4_cidr: Ipv4Cidr | None = Field(
        None, description="Kubernetes Service CIDR (/12 to /24). Default: chosen by EKS (10.100.0.0/16 or 172.20.0.0/16).")
    upgrade_support_type: UpgradeSupportType = Field(
        "STANDARD", description="EKS upgrade policy: STANDARD (EKS upgrades the control plane when standard support "
        "ends) or EXTENDED (stays on the minor version for 12 more months, at extra cost). Default: STANDARD.")
    standard_support_notice_days: int = Field(
        90, ge=0, le=365, description="With upgradeSupportType STANDARD, `mlops-infra preflight` reports the version "
        "this many days before its end of standard support (EKS then upgrades the control plane itself, and the "
        "stack's cluster.version becomes a downgrade: docs/upgrades.md). Default: 90.")
    standard_support_ending: Literal["warn", "fail"] = Field(
        "warn", description="What that preflight check reports inside the notice window (and after standard support "
        "ended): warn or fail. Default: warn (profiles: prod fail).")
    load_balancer_controller: bool = Field(
        False, description="Install the AWS Load Balancer Controller (pinned chart, its own IAM role), which serves "
        "the `alb` IngressClass. Required by any `alb` Ingress (e.g. modelRegistry.ingress). Default: false.")
    add_ons_installed_elsewhere: dict[str, str] | list[str] = Field(
        default_factory=dict, description="Cluster-wide singletons (`clusterAddOns` names, mlops_infra.blocks."
        "cluster_add_ons.ADD_ONS, e.g. `kserve`, `loadBalancerController`) another stack installed on this cluster, "
        "each mapped to the stack that owns it, fully qualified: `<organization>/<project>/<stack>` (a "
        "self-managed backend's organization is `organization`), e.g. `kserve: organization/model_serving/dev`; a "
        "two-part name is refused (Pulumi Cloud reads it as `<organization>/<stack>`). The platform lists them in "
        "its `clusterAddOns` output and "
        "their owners in `clusterAddOnOwners`: no other stack installs them again, and the owning stack's next plan "
        "keeps its own (blocks/cluster_add_ons.claim matches the owner against pulumi.get_organization(), "
        "get_project() and get_stack()). The platform uses `kserve` and `gpuSoftware` listed here instead of "
        "installing its own, and `externalSecrets` with cluster.externalSecretsStore; it refuses config that would "
        "make it install any other listed one itself. After installing an add-on in another stack, add it here. "
        "The older list form (no owners) is still read: its owners are unknown, so the owning stack's own next "
        "plan is refused until it is named. Default: none.")
    external_secrets_store: K8sName | None = Field(
        None, description="The ClusterSecretStore of the External Secrets operator another stack installed "
        "(`externalSecrets` in addOnsInstalledElsewhere): required then, refused otherwise. That operator must "
        "serve `external-secrets.io/v1`, the API version of every ExternalSecret and SecretStore the platform and "
        "components write (External Secrets 0.17.0 or newer, which serves only v1; v1beta1-only releases fail "
        "them). The platform exports it as `externalSecretsStore` (components alone on the cluster need it; "
        "examples/security_baseline exports its own) and its own components that sync Secrets through the operator "
        "rely on it running. Default: none.")
    gpu_software_elsewhere_serves: list[K8sName] = Field(
        default_factory=list, description="Only with `gpuSoftware` in addOnsInstalledElsewhere: the gpuPools (by "
        "name) the other stack's GpuSoftware serves although this library's GpuSoftware would not by default, a "
        "pool tainted other than nvidia.com/gpu:NoSchedule (its DaemonSets tolerate that taint alone) or with "
        "`efa: true` (its EFA plugin runs only for EFA pools it is given). List one only when that stack's "
        "GpuSoftware is given a pool with the same taint (and EFA), e.g. examples/cluster_addons with the same "
        "gpuPools: the platform cannot see it, refuses such a pool otherwise (no device plugin on its nodes: no "
        "`nvidia.com/gpu`, pods stay Pending), and exports in `teamWorkspace.gpuSoftware` only the tolerations "
        "and EFA plugin known from the default and these pools. Default: none.")
    container_insights: bool = Field(
        True, description="Install the amazon-cloudwatch-observability add-on (CloudWatch agent + Fluent Bit) with "
        "its encrypted log groups: Container Insights metrics such as cluster_failed_node_count. Billed per "
        "observation. Default: true.")
    container_insights_role_name: str | None = Field(
        None, pattern=r"^[\w+=,.@-]{1,64}$", description="Explicit IAM role name of the amazon-cloudwatch-observability "
        "add-on. Only for a stack deployed before the release after 0.1.0, which gave that role a fixed name when "
        "`<name>-<environment>-eks-addon-amazon-cloudwatch-observability-role` was too long for an auto-name: set it "
        "to that name to keep the role instead of replacing it (docs/upgrades.md). IAM role names are account-wide, "
        "so a second copy of the stack in the same account must not set the same name. Default: none (an auto-name, "
        "or a name prefix with a unique suffix).")
    create_service_linked_roles: list[ServiceLinkedRoleService] = Field(
        default_factory=list, description="Service-linked roles to create (autoscaling.amazonaws.com, "
        "spot.amazonaws.com). Only for accounts that lack them: creating one that exists fails ('has been taken'); "
        "`aws iam get-role --role-name AWSServiceRoleForEC2Spot` tells. The cluster key never names them, so key "
        "creation works either way. Default: none (EKS creates the Auto Scaling one with the first node group).")

    @property
    def add_ons_elsewhere(self) -> dict[str, str | None]:
        """`addOnsInstalledElsewhere` as add-on -> owning stack (None: the list form, owner unknown)."""
        found = self.add_ons_installed_elsewhere
        return dict(found) if isinstance(found, dict) else dict.fromkeys(found)

    @property
    def runs_load_balancer_controller(self) -> bool:
        """The platform installs the controller, or another stack did (`addOnsInstalledElsewhere`)."""
        return self.load_balancer_controller or "loadBalancerController" in self.add_ons_elsewhere

    def problems(self) -> Iterable[Problem]:
        if self.version not in SUPPORTED_EKS_VERSIONS:
            yield "version", f"unsupported EKS version {self.version!r} (supported: {', '.join(SUPPORTED_EKS_VERSIONS)})"
        if self.endpoint_public_access:
            if not self.public_access_cidrs:
                yield "publicAccessCidrs", "required when endpointPublicAccess is true"
            for i, cidr in enumerate(self.public_access_cidrs):
                if ipaddress.ip_network(cidr).prefixlen == 0:
                    yield f"publicAccessCidrs[{i}]", f"must not allow the whole internet ({cidr})"
        elif not self.private_endpoint_access.configured:
            yield "privateEndpointAccess", PRIVATE_ENDPOINT_FIX
        seen: set[str] = set()
        for i, team in enumerate(self.teams):
            if team.name in seen:
                yield f"teams[{i}].name", f"duplicate team {team.name!r}"
            elif team.name == self.training_operator.namespace or team.name.startswith("kube-"):
                yield f"teams[{i}].name", f"{team.name!r} is reserved for the platform"
            seen.add(team.name)
        classes = [p.name for p in self.priority_classes]
        for i, name in enumerate(classes):
            if name in classes[:i]:
                yield f"priorityClasses[{i}].name", f"duplicate priority class {name!r}"
            elif name.startswith("system-"):
                yield f"priorityClasses[{i}].name", f"the 'system-' prefix is reserved by Kubernetes ({name!r})"
        if self.service_ipv4_cidr is not None:
            prefix = ipaddress.ip_network(self.service_ipv4_cidr).prefixlen
            if not 12 <= prefix <= 24:
                yield "serviceIpv4Cidr", f"prefix length must be between /12 and /24 (got /{prefix})"
        for i, service in enumerate(self.create_service_linked_roles):
            if service in self.create_service_linked_roles[:i]:
                yield f"createServiceLinkedRoles[{i}]", f"duplicate service {service!r}"
        if self.version in SUPPORTED_EKS_VERSIONS and self.kube_proxy_minor not in (None, self.version):
            yield ("addons.kubeProxy",
                   f"kube-proxy {self.addons.kube_proxy} does not match cluster version {self.version}")

    @property
    def kube_proxy_minor(self) -> str | None:
        """`v1.35.3-eksbuild.2` -> `1.35` (kube-proxy must match the control plane's minor version)."""
        parts = self.addons.kube_proxy.lstrip("v").split(".")
        return ".".join(parts[:2]) if len(parts) >= 2 else None
