"""SageMakerFeatureStore: SageMaker Feature Store feature groups (online and offline, both KMS-encrypted) with the
offline store in this component's bucket (`featureStore.engine: sagemaker`); no Kubernetes objects.

`grant_read(role)` / `grant_write(role)` give another workload records of exactly these groups, their offline files
and the key; `read_policy` is the read grant's policy (offline_store.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi

from ..blocks import iam
from ..blocks.bucket import VpcEndpointGuard
from ..blocks.kms import KmsKey
from ..blocks.naming import child
from ..blocks.observability import MonitoringRefs
from ..blocks.platform_facts import guarded_bucket_problem
from ..blocks.refs import ClusterRefs, NetworkRefs, refuse
from .config import SageMakerFeatureStoreConfig
from .feature_store_sagemaker import SageMakerFeatureGroups, SageMakerFeatureGroupsArgs
from .observability import FeatureStoreObservability, FeatureStoreObservabilityArgs
from .offline_store import OfflineFeatureStore

TYPE = "mlops:features:SageMakerFeatureStore"


@dataclass(frozen=True)
class SageMakerFeatureStoreArgs:
    config: SageMakerFeatureStoreConfig
    tags: dict[str, str]
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the bucket and key. Default: true."""
    kms_key: KmsKey | None = None
    """Customer key for the groups and the offline bucket. Default: the component creates its own."""
    bucket_guard: VpcEndpointGuard | None = None
    """Deny offline-store access from outside the VPC endpoint (exfiltration guard); SageMaker's offline role is
    exempted by ARN. Default: off."""
    network: NetworkRefs | None = None
    """The VPC whose pods read and write the offline store (e.g. `NetworkRefs.from_stack_outputs(platform)`): when its S3
    gateway endpoint is guarded (`s3_endpoint_bucket_prefixes`, the platform's `consumerBucketPrefixes`), the bucket's
    name must be one it admits, or the component is refused (blocks/platform_facts.py). Default: none (unchecked)."""
    monitoring: MonitoringRefs | None = None
    """A monitoring core to contribute to (features/observability.py). Default: none."""
    cluster: ClusterRefs | None = None
    """The cluster the monitoring core runs on (its rules and dashboards are Kubernetes objects bound to its
    provider). Required with `monitoring`; else unused. Default: none."""


class SageMakerFeatureStore(OfflineFeatureStore):
    """The feature store on SageMaker Feature Store: the offline bucket and key, and the feature groups."""
    groups: SageMakerFeatureGroups
    group_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: SageMakerFeatureStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, TYPE, opts)
        refuse(name, [guarded_bucket_problem(child(name, "offline"), args.network)])
        guard, resolve_role = args.bucket_guard, None
        if guard is not None:
            # SageMaker writes the offline store as the offline role (exempt by ARN; the role is created after the
            # bucket, so its ARN arrives through a deferred output resolved once the feature groups exist).
            deferred: tuple[pulumi.Output[str], Callable[[pulumi.Output[str]], None]] = pulumi.deferred_output()
            role_arn, resolve_role = deferred
            guard = guard.with_exemptions(service_role_arns=[role_arn])
        self._offline(name, tags=args.tags, protect=args.protect, kms_key=args.kms_key, guard=guard)
        self.groups = SageMakerFeatureGroups(child(name, "groups"), SageMakerFeatureGroupsArgs(
            groups=list(args.config.feature_groups), bucket=self.bucket, tags=args.tags),
            pulumi.ResourceOptions(parent=self))
        if resolve_role is not None:
            resolve_role(self.groups.offline_role_arn)
        self.group_names = self.groups.group_names
        self.outputs["featureGroupNames"] = self.group_names
        if args.monitoring is not None:  # no server, CronJob or data store of its own: the shared rules only
            cluster = args.cluster
            if cluster is None:  # its rules and dashboards are Kubernetes objects of the monitoring cluster
                raise ValueError(f"{name}: monitoring contributions need the cluster refs (cluster=...)")
            FeatureStoreObservability(child(name, "observability"), FeatureStoreObservabilityArgs(
                monitoring=args.monitoring, tags=args.tags, cluster=cluster),
                pulumi.ResourceOptions(parent=self))
        self._done()

    @property
    def sagemaker(self) -> SageMakerFeatureGroups:
        """Deprecated, for one release: `groups` (the single FeatureStore's `.sagemaker` of earlier releases)."""
        return self.groups

    def read_statements(self) -> list[iam.Statement]:
        """Records of exactly these groups, their offline files, and the key (decrypt)."""
        return self.groups.statements(write=False)

    def write_statements(self) -> list[iam.Statement]:
        """Read and write records of these groups."""
        return self.groups.statements(write=True)
