"""SageMakerRegistry: SageMaker Model Package Groups, one per model name, with artifacts in the registry's S3 bucket
(`modelRegistry.engine: sagemaker`); no Kubernetes objects.

Each group carries a resource policy that lets the listed reader accounts (default: this account) describe and list
its model packages (model_package_groups.py). `grant_log_models(role)` also lets the role register packages.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from ..blocks import iam
from ..blocks.bucket import VpcEndpointGuard
from ..blocks.naming import child
from ..blocks.observability import MonitoringRefs
from ..blocks.platform_facts import guarded_bucket_problem
from ..blocks.refs import ClusterRefs, NetworkRefs, refuse
from .artifacts import ArtifactRegistry
from .config import SageMakerModelRegistryConfig
from .model_package_groups import ModelPackageGroups, ModelPackageGroupsArgs
from .observability import ModelRegistryObservability, ModelRegistryObservabilityArgs

TYPE = "mlops:registry:SageMakerRegistry"
RELEASED_GROUPS_TYPE = "mlops:sagemaker_registry:SageMakerRegistry"
"""Before issue 29 `SageMakerRegistry` was the component of the groups alone (args `model_names`/`name_prefix`), now
`ModelPackageGroups`. A program that built it directly and now builds this engine under the same name keeps the
released groups: the engine's groups component aliases `<RELEASED_GROUPS_TYPE>::<name>` beside the engine, and its
children inherit that alias (`name-sagemaker-<model>` -> `name-<model>`, the released child names)."""


@dataclass(frozen=True)
class SageMakerRegistryArgs:
    config: SageMakerModelRegistryConfig
    tags: dict[str, str]
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the key and bucket. Default: true."""
    name_prefix: str | None = None
    """Prefix of the group names, e.g. `mlops-prod` (environments sharing an account never collide). Default: the
    component's name."""
    bucket_guard: VpcEndpointGuard | None = None
    """Deny artifact access from outside the VPC endpoint (exfiltration guard). Default: off."""
    network: NetworkRefs | None = None
    """The VPC whose pods read and write the artifacts (e.g. `NetworkRefs.from_stack_outputs(platform)`): when its S3
    gateway endpoint is guarded (`s3_endpoint_bucket_prefixes`, the platform's `consumerBucketPrefixes`), the bucket's
    name must be one it admits, or the component is refused (blocks/platform_facts.py). Default: none (unchecked)."""
    monitoring: MonitoringRefs | None = None
    """A monitoring core to contribute to (registry/observability.py). Default: none."""
    cluster: ClusterRefs | None = None
    """The cluster the monitoring core runs on (its rules and dashboards are Kubernetes objects bound to its
    provider). Required with `monitoring`; else unused. Default: none."""


class SageMakerRegistry(ArtifactRegistry):
    """Outputs: `artifact_bucket_name`, `model_package_group_arns`."""

    groups: ModelPackageGroups
    model_package_group_arns: dict[str, pulumi.Output[str]]
    # Deprecated, for one release: what the single ModelRegistry of earlier releases had for engine sagemaker (None
    # without MLflow), so `if registry.tracking_uri is not None` keeps working. New code tests the engine's class.
    tracking_uri: None = None
    internal_tracking_uri: None = None
    database_endpoint: None = None
    database_address: None = None

    def __init__(self, name: str, args: SageMakerRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, TYPE, opts)
        refuse(name, [guarded_bucket_problem(child(name, "artifacts"), args.network)])
        cfg = args.config
        self._artifacts(name, tags=args.tags, protect=args.protect, guard=args.bucket_guard)
        self.mlflow_credentials: dict[str, pulumi.Output[str]] = {}
        """Deprecated, for one release: always empty (MLflow's users exist with engine mlflow only)."""
        released = pulumi.Alias(name=name, type_=RELEASED_GROUPS_TYPE,  # the released direct usage (see the token)
                                parent=opts.parent if opts and opts.parent else pulumi.ROOT_STACK_RESOURCE)
        self.groups = ModelPackageGroups(child(name, "sagemaker"), ModelPackageGroupsArgs(
            model_names=cfg.model_names, name_prefix=args.name_prefix or name, tags=args.tags,
            reader_account_ids=cfg.reader_account_ids), pulumi.ResourceOptions(parent=self, aliases=[released]))
        self.model_package_group_arns = self.groups.group_arns
        outputs: dict[str, object] = {"artifactBucketName": self.artifact_bucket_name}
        if self.model_package_group_arns:
            outputs["modelPackageGroupArns"] = self.model_package_group_arns
        if args.monitoring is not None:  # no server or database of its own: the shared rules only
            cluster = args.cluster
            if cluster is None:  # its rules and dashboards are Kubernetes objects of the monitoring cluster
                raise ValueError(f"{name}: monitoring contributions need the cluster refs (cluster=...)")
            ModelRegistryObservability(child(name, "observability"), ModelRegistryObservabilityArgs(
                monitoring=args.monitoring, tags=args.tags, cluster=cluster),
                pulumi.ResourceOptions(parent=self))
        self._done(outputs)

    @property
    def sagemaker(self) -> ModelPackageGroups:
        """Deprecated, for one release: `groups` (the single ModelRegistry's `.sagemaker` of earlier releases)."""
        return self.groups

    def log_models_statements(self) -> list[iam.Statement]:
        """Training roles: write artifacts under the artifact prefix and register model packages."""
        return super().log_models_statements() + self.groups.write_statements()

    def read_models_statements(self) -> list[iam.Statement]:
        """Serving roles: read artifacts under the artifact prefix and the groups' packages."""
        return super().read_models_statements() + self.groups.read_statements()
