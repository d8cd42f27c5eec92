"""An ingress NetworkPolicy for an engine's own API server that only the engine's namespace may call.

Prefect's server (port 4200) and Metaflow's metadata service (port 8080) have no authentication in the platform's
setup: whoever reaches the port can create flow runs (run by the worker with the flows' IAM role) or rewrite run
metadata. Their callers all run in the engine's namespace (the worker and flow-run pods; Metaflow's step pods,
which `--with kubernetes` and the namespaced Argo controller both start there), so the policy admits that
namespace's pods and nothing else. People reach the API with `kubectl port-forward`, which enters the pod's network
namespace on loopback, and kubelet probes come from the node's address, which the VPC CNI's policy agent always
admits (aws-network-policy-agent#65): neither needs a rule. The policy names the pod's port (the policy agent
judges the port the pod listens on, not the Service's).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from ..blocks.naming import child_options


def same_namespace_ingress(owner: pulumi.Resource, name: str, *, object_name: str, namespace: pulumi.Input[str],
                           pod_labels: Mapping[str, str], port: int,
                           provider: pulumi.ProviderResource | None) -> k8s.networking.v1.NetworkPolicy:
    """`object_name` in `namespace`: the pods matching `pod_labels` accept TCP `port` from pods of `namespace` only
    (a `podSelector: {}` peer is the policy's own namespace) and nothing else."""
    return k8s.networking.v1.NetworkPolicy(
        name, metadata={"name": object_name, "namespace": namespace},
        spec={"pod_selector": {"match_labels": dict(pod_labels)}, "policy_types": ["Ingress"],
              "ingress": [{"from_": [{"pod_selector": {}}], "ports": [{"protocol": "TCP", "port": port}]}]},
        opts=child_options(owner, provider=provider))
