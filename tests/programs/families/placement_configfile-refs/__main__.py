"""Placement family, a manifest file applied with `kubernetes.yaml.ConfigFile` (reranker.yaml: ServiceAccount,
Deployment, PVC in namespace `inference`) plus the ConfigMap its pods load with envFrom, created by the program.

bad: the ConfigMap `reranker-config` is created in namespace `serving`; a pod can only reference a ConfigMap in
its own namespace, so the reranker's containers fail with CreateContainerConfigError."""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")

ns = k8s.core.v1.Namespace("inference", metadata={"name": "inference", "labels": {
    "pod-security.kubernetes.io/enforce": "restricted"}})
config_ns = "inference" if variant == "good" else "serving"
config = k8s.core.v1.ConfigMap(
    "reranker-config",
    metadata={"name": "reranker-config", "namespace": config_ns},
    data={"MODEL_ID": "acme/reranker-base-v2", "MAX_BATCH_SIZE": "32", "LOG_LEVEL": "info"},
    opts=pulumi.ResourceOptions(depends_on=[ns]),
)
k8s.yaml.ConfigFile("reranker", file=str(Path(__file__).parent / "reranker.yaml"),
                    opts=pulumi.ResourceOptions(depends_on=[ns, config]))
