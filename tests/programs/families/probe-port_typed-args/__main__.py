"""Probe-port family, typed argument classes (`k8s.core.v1.ContainerArgs`, `ProbeArgs`, ...) instead of dicts: an
embedding StatefulSet whose container serves gRPC on port `grpc-api` (50051) and gates start-up with a TCP startup
probe.

bad: the startup probe names port `grpc`, which the container does not declare (its port is `grpc-api`). The
kubelet cannot resolve the name in the container's ports, the startup probe never succeeds, and after
failureThreshold periods the container is killed and restarted, forever."""

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apps.v1 import StatefulSetSpecArgs
from pulumi_kubernetes.core.v1 import (
    CapabilitiesArgs,
    ContainerArgs,
    ContainerPortArgs,
    PodSecurityContextArgs,
    PodSpecArgs,
    PodTemplateSpecArgs,
    ProbeArgs,
    ResourceRequirementsArgs,
    SeccompProfileArgs,
    SecurityContextArgs,
    TCPSocketActionArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs

variant = pulumi.Config("fixture").require("variant")
startup_port = "grpc-api" if variant == "good" else "grpc"

ns = k8s.core.v1.Namespace("embeddings", metadata=ObjectMetaArgs(name="embeddings"))
opts = pulumi.ResourceOptions(depends_on=[ns])
k8s.core.v1.ServiceAccount("embedder", metadata=ObjectMetaArgs(name="embedder", namespace="embeddings"),
                           automount_service_account_token=False, opts=opts)
k8s.core.v1.Service("embedder", metadata=ObjectMetaArgs(name="embedder", namespace="embeddings"),
                    spec={"clusterIP": "None", "selector": {"app": "embedder"},
                          "ports": [{"name": "grpc", "port": 50051, "targetPort": "grpc-api"}]}, opts=opts)
k8s.apps.v1.StatefulSet(
    "embedder",
    metadata=ObjectMetaArgs(name="embedder", namespace="embeddings"),
    spec=StatefulSetSpecArgs(
        service_name="embedder",
        replicas=2,
        selector=LabelSelectorArgs(match_labels={"app": "embedder"}),
        template=PodTemplateSpecArgs(
            metadata=ObjectMetaArgs(labels={"app": "embedder"}),
            spec=PodSpecArgs(
                service_account_name="embedder",
                security_context=PodSecurityContextArgs(run_as_non_root=True, run_as_user=10001,
                                                        seccomp_profile=SeccompProfileArgs(type="RuntimeDefault")),
                containers=[ContainerArgs(
                    name="embedder",
                    image="ghcr.io/acme/embedder-grpc:1.4.0",
                    ports=[ContainerPortArgs(name="grpc-api", container_port=50051)],
                    startup_probe=ProbeArgs(tcp_socket=TCPSocketActionArgs(port=startup_port), period_seconds=5,
                                            failure_threshold=60),
                    resources=ResourceRequirementsArgs(requests={"cpu": "2", "memory": "4Gi"},
                                                       limits={"memory": "4Gi"}),
                    security_context=SecurityContextArgs(allow_privilege_escalation=False,
                                                         read_only_root_filesystem=True, run_as_non_root=True,
                                                         capabilities=CapabilitiesArgs(drop=["ALL"])),
                )],
            ),
        ),
    ),
    opts=opts,
)
