"""Probe-port family, raw objects: a query proxy Deployment whose container listens on 8082, with HTTP liveness and
readiness probes on a named port.

bad: the container's port is named `web` while both probes name port `http` (the promxy manifest bug: the probes
named a port the container did not declare). The kubelet resolves a probe's named port among that container's own
ports only; `http` is not found, the probes never succeed, the pod never becomes Ready and is restarted.

Both variants mount the configuration promxy's `--config` names (the image ships none): a ConfigMap with one server
group (promxy's `promxy.server_groups[].static_configs`), so the twins differ only in the port name."""

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
port_name = "http" if variant == "good" else "web"

ns = k8s.core.v1.Namespace("observability", metadata={"name": "observability"})
opts = pulumi.ResourceOptions(depends_on=[ns])
k8s.core.v1.ServiceAccount("query-proxy", metadata={"name": "query-proxy", "namespace": "observability"},
                           automount_service_account_token=False, opts=opts)
config = k8s.core.v1.ConfigMap(
    "query-proxy-config", metadata={"name": "query-proxy-config", "namespace": "observability"},
    data={"config.yaml": "promxy:\n  server_groups:\n    - static_configs:\n        - targets:\n"
                         "            - prometheus.observability.svc:9090\n"},
    opts=opts)
probe = {"httpGet": {"path": "/-/healthy", "port": "http"}, "periodSeconds": 10}
k8s.apps.v1.Deployment(
    "query-proxy",
    metadata={"name": "query-proxy", "namespace": "observability"},
    spec={
        "replicas": 2,
        "selector": {"matchLabels": {"app": "query-proxy"}},
        "template": {
            "metadata": {"labels": {"app": "query-proxy"}},
            "spec": {
                "serviceAccountName": "query-proxy",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65534,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "volumes": [{"name": "config", "configMap": {"name": "query-proxy-config"}}],
                "containers": [{
                    "name": "proxy",
                    "image": "quay.io/jacksontj/promxy:v0.0.93",
                    "args": ["--config=/etc/promxy/config.yaml", "--bind-addr=:8082"],
                    "ports": [{"name": port_name, "containerPort": 8082}],
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/promxy", "readOnly": True}],
                    "livenessProbe": probe,
                    "readinessProbe": probe,
                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
                }],
            },
        },
    },
    opts=pulumi.ResourceOptions(depends_on=[ns, config]),
)
