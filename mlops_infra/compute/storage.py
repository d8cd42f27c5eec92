"""The cluster's default StorageClass: encrypted gp3 EBS volumes through the EBS CSI driver.

Prometheus (`monitoring.prometheus.storageClass`, default `gp3`) and any other PVC name this class. EKS no longer
marks `gp2` as default on clusters created at 1.30 or later (EKS 1.30 release notes), so `gp3` is the only default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..blocks.naming import child_options
from ..blocks.refs import ClusterRefs

GP3 = "gp3"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"


def gp3_storage_class(name: str, parent: pulumi.Resource, *, kms_key_arn: pulumi.Input[str],
                      labels: Mapping[str, str], retain: bool, cluster: ClusterRefs,
                      depends_on: Sequence[pulumi.Resource]) -> k8s.storage.v1.StorageClass:
    """`WaitForFirstConsumer` creates the volume in the zone the pod is scheduled to; with `retain` (protected
    stacks) a deleted PVC keeps its volume (Prometheus history) until someone deletes it, otherwise it is deleted.
    Parameters: aws-ebs-csi-driver docs/parameters.md (`type`, `encrypted`, `kmsKeyId`, `csi.storage.k8s.io/fstype`).
    The driver's role must be able to use `kms_key_arn` (cluster_addons gives it `ebs_csi_statements`)."""
    return k8s.storage.v1.StorageClass(
        name,
        metadata={"name": GP3, "labels": dict(labels), "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        provisioner=EBS_CSI_PROVISIONER,
        parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": kms_key_arn, "csi.storage.k8s.io/fstype": "ext4"},
        volume_binding_mode="WaitForFirstConsumer",
        reclaim_policy="Retain" if retain else "Delete",
        allow_volume_expansion=True,
        opts=cluster.bind(child_options(parent, depends_on=depends_on)),
    )
