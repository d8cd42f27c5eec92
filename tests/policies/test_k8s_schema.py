"""mlops-k8s-core-schema: built-in objects against the Kubernetes API schema of the cluster version."""

from __future__ import annotations

from typing import Any

from .cases import Case, check, params
from .helpers import R, messages

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


def test_a_verdict_is_kept_per_object_and_never_served_for_a_changed_one(tmp_path: Any, monkeypatch: Any) -> None:
    """Warm checks read earlier verdicts from disk; the key is the object itself (and the cluster version)."""
    import json

    from mlops_policies import k8s_schema

    monkeypatch.setenv("MLOPS_INFRA_CACHE", str(tmp_path))
    monkeypatch.setattr(k8s_schema._Verdicts, "_loaded", None)
    bad = ["web: Deployment apps/web: spec: Additional properties are not allowed ('replica' was unexpected) "
           "(Kubernetes 1.35 schema)"]
    assert messages(POLICY, [deployment({"replica": 2})]) == bad
    [file] = (tmp_path / "policy").glob("mlops-k8s-core-schema-*.json")
    stored = json.loads(file.read_text())
    assert list(stored.values()) == [bad[0].split(": ", 1)[1:]]
    # A new process reads the file: the verdict comes from it (validation is not run again) ...
    monkeypatch.setattr(k8s_schema._Verdicts, "_loaded", None)
    monkeypatch.setattr(k8s_schema, "_errors", lambda *a: (_ for _ in ()).throw(AssertionError("validated again")))
    assert messages(POLICY, [deployment({"replica": 2})]) == bad
    # ... and a changed object is validated (here: the stub says so).
    import pytest

    with pytest.raises(AssertionError, match="validated again"):
        messages(POLICY, [deployment({"replica": 3})])


def test_evaluation_leaves_the_inventory_as_it_was() -> None:
    """Rules read records in place (no copy for the marker-free ones): none may write to them."""
    import copy
    import json
    from pathlib import Path

    from mlops_policies.runner import evaluate

    from mlops_infra.plan import plan_program

    doc = plan_program(Path(__file__).parents[2], "dev").to_json()
    before = copy.deepcopy(doc)
    assert doc["resources"]
    evaluate(doc, environment="dev")
    assert json.dumps(doc, sort_keys=True, default=str) == json.dumps(before, sort_keys=True, default=str)
