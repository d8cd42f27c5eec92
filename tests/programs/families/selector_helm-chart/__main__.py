"""Selector family, a Helm release (tests/data/chart-store/tiny-app) plus a raw NetworkPolicy in front of its pods.

The chart's pods listen on container port 8080 (named `http`); its Service maps port 80 to it.
bad: the NetworkPolicy admits TCP 80, the Service's port. NetworkPolicy ports are matched against the pod's port
after Service translation, so the gateway's traffic to 8080 is dropped."""

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
NS = "ranking"

ns = k8s.core.v1.Namespace("ranking", metadata={"name": NS, "labels": {
    "pod-security.kubernetes.io/enforce": "baseline"}})
release = k8s.helm.v3.Release(
    "ranker",
    name="ranker",
    chart="tiny-app",
    version="0.1.0",
    repository_opts={"repo": "https://charts.example.test"},
    namespace=NS,
    values={"image": "ghcr.io/acme/ranker:5.0.2", "containerPort": 8080, "containerPortName": "http",
            "service": {"port": 80, "targetPort": "http"},
            "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}}},
    opts=pulumi.ResourceOptions(depends_on=[ns]),
)
k8s.networking.v1.NetworkPolicy(
    "ranker-ingress",
    metadata={"name": "ranker-ingress", "namespace": NS},
    spec={
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "tiny-app", "app.kubernetes.io/instance": "ranker"}},
        "policyTypes": ["Ingress"],
        "ingress": [{
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}}}],
            "ports": [{"protocol": "TCP", "port": 8080 if variant == "good" else 80}],
        }],
    },
    opts=pulumi.ResourceOptions(depends_on=[ns]),
)
