"""Ordering family, a CRD applied from YAML text with `kubernetes.yaml.ConfigGroup`, its controller as a raw
Deployment, and a custom resource that waits for the controller: InferenceGraph `ensemble` -> Deployment
`graph-controller` -> ConfigGroup `inference-graph-crds` (yaml/v2). The good twin waits for the CRD only transitively.

bad: the controller Deployment does not wait for the ConfigGroup, so nothing orders the custom resource after its
CRD."""

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")

CRDS = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: inferencegraphs.serving.acme.dev
spec:
  group: serving.acme.dev
  scope: Namespaced
  names: {kind: InferenceGraph, plural: inferencegraphs, singular: inferencegraph}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""
# yaml/v2 ConfigGroup: `depends_on` a v1 `k8s.yaml.ConfigGroup` does not wait for its objects (the Python SDK expands a
# local component to the children registered so far, and v1 registers them inside an apply after the decode invoke;
# pulumi-kubernetes issues #1773 and #1833, fixed by the v2 ConfigGroup, whose docs say dependsOn on it waits for the
# objects in the group: provider/pkg/gen/examples/overlays/configGroupV2.md at v4.32.0).
crds = k8s.yaml.v2.ConfigGroup("inference-graph-crds", yaml=CRDS)
ns = k8s.core.v1.Namespace("serving", metadata={"name": "serving"})
k8s.core.v1.ServiceAccount("graph-controller", metadata={"name": "graph-controller", "namespace": "serving"},
                           opts=pulumi.ResourceOptions(depends_on=[ns]))
controller = k8s.apps.v1.Deployment(
    "graph-controller",
    metadata={"name": "graph-controller", "namespace": "serving"},
    spec={"replicas": 1, "selector": {"matchLabels": {"app": "graph-controller"}}, "template": {
        "metadata": {"labels": {"app": "graph-controller"}},
        "spec": {"serviceAccountName": "graph-controller",
                 "securityContext": {"runAsNonRoot": True, "runAsUser": 65532,
                                     "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "manager", "image": "ghcr.io/acme/graph-controller:0.6.0",
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                               "limits": {"memory": "256Mi"}},
                                 "securityContext": {"allowPrivilegeEscalation": False,
                                                     "readOnlyRootFilesystem": True,
                                                     "capabilities": {"drop": ["ALL"]}}}]}}},
    opts=pulumi.ResourceOptions(depends_on=[ns, crds] if variant == "good" else [ns]),
)
k8s.apiextensions.CustomResource(
    "ensemble",
    api_version="serving.acme.dev/v1",
    kind="InferenceGraph",
    metadata={"name": "ensemble", "namespace": "serving"},
    spec={"nodes": {"root": {"routerType": "Ensemble", "steps": [{"serviceName": "ranker"},
                                                                 {"serviceName": "reranker"}]}}},
    opts=pulumi.ResourceOptions(depends_on=[controller]),
)
