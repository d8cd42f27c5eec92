"""Ordering family, a Helm release whose chart installs a CRD (tests/data/chart-store/demo-exporter ships
exporters.demo.example.test in crds/) and a custom resource of that kind that waits for it transitively:
Exporter `node-targets` -> ConfigMap `exporter-targets` -> Release `exporters`. Transitive dependencies count:
this good twin must not be flagged for lacking a direct edge.

bad: the ConfigMap does not wait for the release, so the custom resource's only dependency says nothing about the
CRD and it may be created before the chart has installed it."""

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")

ns = k8s.core.v1.Namespace("metrics", metadata={"name": "metrics", "labels": {
    "pod-security.kubernetes.io/enforce": "restricted"}})
release = k8s.helm.v3.Release(
    "exporters",
    name="exporters",
    chart="demo-exporter",
    version="1.0.0",
    repository_opts={"repo": "https://charts.example.test"},
    namespace="metrics",
    values={"containerSecurityContext": {"runAsNonRoot": True, "runAsUser": 65534, "allowPrivilegeEscalation": False,
                                         "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
                                         "seccompProfile": {"type": "RuntimeDefault"}},
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}}},
    opts=pulumi.ResourceOptions(depends_on=[ns]),
)
targets = k8s.core.v1.ConfigMap(
    "exporter-targets",
    metadata={"name": "exporter-targets", "namespace": "metrics"},
    data={"targets.txt": "node-a:9100\nnode-b:9100\n"},
    opts=pulumi.ResourceOptions(depends_on=[ns, release] if variant == "good" else [ns]),
)
k8s.apiextensions.CustomResource(
    "node-targets",
    api_version="demo.example.test/v1",
    kind="Exporter",
    metadata={"name": "node-targets"},
    spec={"target": "configmap:metrics/exporter-targets"},
    opts=pulumi.ResourceOptions(depends_on=[targets]),
)
