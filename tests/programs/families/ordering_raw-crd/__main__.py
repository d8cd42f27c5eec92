"""Ordering family, raw objects: a CustomResourceDefinition registered with
`apiextensions.v1.CustomResourceDefinition` and a custom resource of that kind.

bad: the custom resource has no dependency on the CRD, so Pulumi may create both at once and the API server rejects
the custom resource (no matches for kind "ModelDeployment" in version "ml.acme.dev/v1alpha1")."""

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")

crd = k8s.apiextensions.v1.CustomResourceDefinition(
    "modeldeployments.ml.acme.dev",
    metadata={"name": "modeldeployments.ml.acme.dev"},
    spec={
        "group": "ml.acme.dev",
        "scope": "Namespaced",
        "names": {"kind": "ModelDeployment", "plural": "modeldeployments", "singular": "modeldeployment",
                  "shortNames": ["mdep"]},
        "versions": [{"name": "v1alpha1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
            "type": "object",
            "properties": {"spec": {"type": "object", "required": ["model", "replicas"], "properties": {
                "model": {"type": "string"}, "replicas": {"type": "integer", "minimum": 1},
                "runtime": {"type": "string"}}}}}}}],
    },
)
ns = k8s.core.v1.Namespace("models", metadata={"name": "models"})
k8s.apiextensions.CustomResource(
    "ranker",
    api_version="ml.acme.dev/v1alpha1",
    kind="ModelDeployment",
    metadata={"name": "ranker", "namespace": "models"},
    spec={"model": "s3://acme-models/ranker/v12", "replicas": 2, "runtime": "triton"},
    opts=pulumi.ResourceOptions(depends_on=[ns, crd] if variant == "good" else [ns]),
)
