"""Selector family, an AWS Load Balancer Controller Ingress (ingressClassName alb, target-type ip) in front of a
model gateway, with numeric ports and the `app`/`tier` label scheme.

The Service exposes port 8000 (targetPort 8000). bad: the Ingress backend names service port 80, which the
Service does not expose; the controller cannot resolve the backend and registers no targets."""

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
NS = "gateway"
LABELS = {"app": "model-gateway", "tier": "edge"}

ns = k8s.core.v1.Namespace("gateway", metadata={"name": NS})
opts = pulumi.ResourceOptions(depends_on=[ns])
k8s.core.v1.ServiceAccount("model-gateway", metadata={"name": "model-gateway", "namespace": NS},
                           automount_service_account_token=False, opts=opts)
k8s.apps.v1.Deployment(
    "model-gateway",
    metadata={"name": "model-gateway", "namespace": NS, "labels": LABELS},
    spec={"replicas": 3, "selector": {"matchLabels": LABELS}, "template": {
        "metadata": {"labels": LABELS},
        "spec": {"serviceAccountName": "model-gateway",
                 "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                     "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "gateway", "image": "ghcr.io/acme/model-gateway:1.0.3",
                                 "ports": [{"containerPort": 8000, "protocol": "TCP"}],
                                 "readinessProbe": {"httpGet": {"path": "/ready", "port": 8000}},
                                 "resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                                               "limits": {"memory": "512Mi"}},
                                 "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                     "capabilities": {"drop": ["ALL"]}}}]}}},
    opts=opts,
)
k8s.core.v1.Service(
    "model-gateway-svc",
    metadata={"name": "model-gateway-svc", "namespace": NS},
    spec={"selector": LABELS, "ports": [{"port": 8000, "targetPort": 8000, "protocol": "TCP"}]},
    opts=opts,
)
k8s.networking.v1.Ingress(
    "model-gateway-alb",
    metadata={"name": "model-gateway-alb", "namespace": NS, "annotations": {
        "alb.ingress.kubernetes.io/scheme": "internal",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/healthcheck-path": "/ready",
        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS": 443}]',
    }},
    spec={"ingressClassName": "alb", "rules": [{"host": "models.internal.example.test", "http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "model-gateway-svc", "port": {"number": 8000 if variant == "good" else 80}}},
    }]}}]},
    opts=opts,
)
