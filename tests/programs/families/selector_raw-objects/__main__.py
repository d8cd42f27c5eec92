"""Selector family, raw objects: a Deployment behind a Service, with a PodDisruptionBudget and an HPA.

bad: the Service selects `app.kubernetes.io/name: orders` (its own name) while the pods carry
`app.kubernetes.io/name: orders-api`, so the Service has no endpoints."""

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
NS = "shop"
POD_LABELS = {"app.kubernetes.io/name": "orders-api", "app.kubernetes.io/part-of": "shop"}
CONTAINER_SC = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}

ns = k8s.core.v1.Namespace("shop", metadata={"name": NS, "labels": {
    "pod-security.kubernetes.io/enforce": "restricted"}})
opts = pulumi.ResourceOptions(depends_on=[ns])
sa = k8s.core.v1.ServiceAccount("orders-api", metadata={"name": "orders-api", "namespace": NS},
                                automount_service_account_token=False, opts=opts)
deployment = k8s.apps.v1.Deployment(
    "orders-api",
    metadata={"name": "orders-api", "namespace": NS, "labels": POD_LABELS},
    spec={
        "replicas": 3,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "orders-api"}},
        "template": {
            "metadata": {"labels": POD_LABELS},
            "spec": {
                "serviceAccountName": "orders-api",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "api",
                    "image": "ghcr.io/acme/orders-api:2.3.1",
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}},
                    "securityContext": CONTAINER_SC,
                }],
            },
        },
    },
    opts=pulumi.ResourceOptions(depends_on=[ns, sa]),
)
selector = {"app.kubernetes.io/name": "orders-api" if variant == "good" else "orders"}
k8s.core.v1.Service(
    "orders",
    metadata={"name": "orders", "namespace": NS},
    spec={"type": "ClusterIP", "selector": selector,
          "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]},
    opts=opts,
)
k8s.policy.v1.PodDisruptionBudget(
    "orders-api",
    metadata={"name": "orders-api", "namespace": NS},
    spec={"minAvailable": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": "orders-api"}}},
    opts=opts,
)
k8s.autoscaling.v2.HorizontalPodAutoscaler(
    "orders-api",
    metadata={"name": "orders-api", "namespace": NS},
    spec={"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders-api"},
          "minReplicas": 3, "maxReplicas": 10,
          "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
              "type": "Utilization", "averageUtilization": 70}}}]},
    opts=pulumi.ResourceOptions(depends_on=[deployment]),
)
