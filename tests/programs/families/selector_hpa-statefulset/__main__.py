"""Selector family, a StatefulSet (an online feature cache) with a PodDisruptionBudget and a
HorizontalPodAutoscaler, labels in the `component`/`instance` scheme.

bad: the HPA's scaleTargetRef names kind Deployment `feature-cache`, but the workload is a StatefulSet; the HPA
reports FailedGetScale and never scales it."""

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
NS = "cache"
LABELS = {"component": "feature-cache", "instance": "online"}

ns = k8s.core.v1.Namespace("cache", metadata={"name": NS})
opts = pulumi.ResourceOptions(depends_on=[ns])
k8s.core.v1.ServiceAccount("feature-cache", metadata={"name": "feature-cache", "namespace": NS},
                           automount_service_account_token=False, opts=opts)
k8s.core.v1.Service("feature-cache-headless", metadata={"name": "feature-cache-headless", "namespace": NS},
                    spec={"clusterIP": "None", "selector": LABELS,
                          "ports": [{"name": "redis", "port": 6379, "targetPort": "redis"}]}, opts=opts)
cache = k8s.apps.v1.StatefulSet(
    "feature-cache",
    metadata={"name": "feature-cache", "namespace": NS, "labels": LABELS},
    spec={"serviceName": "feature-cache-headless", "replicas": 3, "selector": {"matchLabels": LABELS},
          "template": {"metadata": {"labels": LABELS}, "spec": {
              "serviceAccountName": "feature-cache",
              "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "seccompProfile": {"type": "RuntimeDefault"}},
              "containers": [{"name": "redis", "image": "redis:7.4.1",
                              "ports": [{"name": "redis", "containerPort": 6379}],
                              "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}},
                              "securityContext": {"allowPrivilegeEscalation": False,
                                                  "capabilities": {"drop": ["ALL"]}}}]}}},
    opts=opts,
)
k8s.policy.v1.PodDisruptionBudget("feature-cache", metadata={"name": "feature-cache", "namespace": NS},
                                  spec={"maxUnavailable": 1, "selector": {"matchLabels": LABELS}}, opts=opts)
k8s.autoscaling.v2.HorizontalPodAutoscaler(
    "feature-cache",
    metadata={"name": "feature-cache-hpa", "namespace": NS},
    spec={"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet" if variant == "good" else "Deployment",
                             "name": "feature-cache"},
          "minReplicas": 3, "maxReplicas": 6,
          "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {
              "type": "Utilization", "averageUtilization": 75}}}]},
    opts=pulumi.ResourceOptions(depends_on=[cache]),
)
