"""Ordering family, two Helm releases: `exporters` (demo-exporter, whose crds/ installs exporters.demo.example.test)
and `scrape-targets` (demo-targets, an app chart whose templates are Exporter custom resources), as an app chart
ships ServiceMonitors for an operator another release installs.

bad: the second release does not wait for the first; Pulumi may install both at once and Helm fails the second
(no matches for kind "Exporter" in version "demo.example.test/v1")."""

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
REPO = {"repo": "https://charts.example.test"}

ns = k8s.core.v1.Namespace("metrics", metadata={"name": "metrics", "labels": {
    "pod-security.kubernetes.io/enforce": "restricted"}})
operator = k8s.helm.v3.Release(
    "exporters", name="exporters", chart="demo-exporter", version="1.0.0", repository_opts=REPO, namespace="metrics",
    values={"containerSecurityContext": {"runAsNonRoot": True, "runAsUser": 65534, "allowPrivilegeEscalation": False,
                                         "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
                                         "seccompProfile": {"type": "RuntimeDefault"}},
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}}},
    opts=pulumi.ResourceOptions(depends_on=[ns]),
)
k8s.helm.v3.Release(
    "scrape-targets", name="scrape-targets", chart="demo-targets", version="0.1.0", repository_opts=REPO,
    namespace="metrics",
    values={"targets": [{"name": "gpu-nodes", "target": "dcgm-exporter.gpu:9400"},
                        {"name": "feature-server", "target": "feature-server.features:8081"}]},
    opts=pulumi.ResourceOptions(depends_on=[ns, operator] if variant == "good" else [ns]),
)
