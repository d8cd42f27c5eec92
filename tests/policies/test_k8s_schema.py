"""mlops-k8s-core-schema: built-in objects against the Kubernetes API schema of the cluster version."""

from __future__ import annotations

from typing import Any

from .cases import Case, check, params
from .helpers import R

POLICY = "mlops-k8s-core-schema"


def deployment(spec_extra: dict[str, Any] | None = None, image: Any = "nginx:1.27") -> R:
    spec = {"selector": {"matchLabels": {"app": "web"}}, "template": {
        "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}}}
    return R("kubernetes:apps/v1:Deployment", "web", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
        "spec": {**spec, **(spec_extra or {})}})


CASES = [
    Case("valid", POLICY, [deployment({"replicas": 2})], []),
    Case("unknown-values-not-judged", POLICY, [deployment(image="[unknown]")], []),
    # The offline plan writes null for an output it cannot compute (an ECR repository URL): unknown, not a null.
    Case("null-output-not-judged", POLICY, [deployment(image=None)], []),
    Case("misspelled", POLICY, [deployment({"replica": 2})],
         ["web: Deployment apps/web: spec: Additional properties are not allowed ('replica' was unexpected) "
          "(Kubernetes 1.35 schema)"]),
    Case("wrong-type", POLICY, [deployment({"replicas": "two"})],
         ["web: Deployment apps/web: spec.replicas: 'two' is not of type 'integer', 'null' (Kubernetes 1.35 schema)"]),
    Case("custom-resource-not-judged-here", POLICY, [R("kubernetes:example.com/v1:Widget", "w", {
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"anything": 1}})], []),
]


@params(CASES)
def test_core_schema(case: Case) -> None:
    check(case)
