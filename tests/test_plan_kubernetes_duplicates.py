"""The offline engine refuses one Kubernetes object registered twice on one cluster (review of issue 29, finding 5):
the URNs differ, so the plan used to pass, but pulumi-kubernetes (>= 4.29 creates client-side) answers the second
create with AlreadyExists."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_infra.plan import PlanError, plan_program

PROGRAM = '''
import pulumi_kubernetes as k8s

cluster = k8s.Provider("cluster", kubeconfig="{}")
other = k8s.Provider("other", kubeconfig="{}")
for name, namespace, provider in OBJECTS:
    meta = {"name": "settings", **({"namespace": namespace} if namespace is not None else {})}
    k8s.core.v1.ConfigMap(name, metadata=meta, data={"a": "b"},
                          opts=__import__("pulumi").ResourceOptions(provider=cluster if provider == "cluster" else other))
for name in PATCHES:
    k8s.core.v1.ConfigMapPatch(name, metadata={"name": "settings", "namespace": "team"}, data={"c": "d"},
                               opts=__import__("pulumi").ResourceOptions(provider=cluster))
'''


def program(tmp_path: Path, objects: list[tuple[str, str | None, str]], patches: tuple[str, ...] = ()) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: dup\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(f"OBJECTS = {objects!r}\nPATCHES = {patches!r}\n{PROGRAM}",
                                          encoding="utf-8")
    return tmp_path


def test_one_object_twice_on_one_cluster_is_refused_naming_both_registrations(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as refused:
        plan_program(program(tmp_path, [("first", "team", "cluster"), ("second", "team", "cluster")]), "dev")
    message = str(refused.value)
    assert "Kubernetes object core/ConfigMap team/settings is registered twice on one cluster" in message
    assert "::first" in message and "::second" in message


@pytest.mark.parametrize("objects", [
    [("first", "team", "cluster"), ("second", "other-team", "cluster")],  # another namespace
    [("first", "team", "cluster"), ("second", "team", "other")],  # another cluster
], ids=["namespace", "cluster"])
def test_the_same_name_elsewhere_plans(tmp_path: Path, objects: list[tuple[str, str, str]]) -> None:
    inv = plan_program(program(tmp_path, objects), "dev")
    assert len(inv.of_type("kubernetes:core/v1:ConfigMap")) == 2


def test_a_patch_of_an_object_is_not_a_second_object(tmp_path: Path) -> None:
    inv = plan_program(program(tmp_path, [("first", "team", "cluster")], patches=("patch",)), "dev")
    assert len(inv.of_type("kubernetes:core/v1:ConfigMapPatch")) == 1


def test_no_namespace_is_the_default_namespace(tmp_path: Path) -> None:
    """A namespaced object without metadata.namespace lands in `default`: the same object as one naming it."""
    with pytest.raises(PlanError, match="Kubernetes object core/ConfigMap default/settings is registered twice"):
        plan_program(program(tmp_path, [("first", None, "cluster"), ("second", "default", "cluster")]), "dev")


CLUSTER_SCOPED_PROGRAM = '''
import pulumi
import pulumi_kubernetes as k8s

cluster = k8s.Provider("cluster", kubeconfig="{}")
opts = pulumi.ResourceOptions(provider=cluster)
k8s.apiextensions.v1.CustomResourceDefinition("crd", metadata={"name": "widgets.example.com"}, spec={
    "group": "example.com", "scope": SCOPE, "names": {"kind": "Widget", "plural": "widgets"},
    "versions": [{"name": "v1", "served": True, "storage": True}]}, opts=opts)
for name, namespace in OBJECTS:
    meta = {"name": "w", **({"namespace": namespace} if namespace else {})}
    k8s.apiextensions.CustomResource(name, api_version="example.com/v1", kind="Widget", metadata=meta, opts=opts)
    if SCOPE == "Cluster":  # a core cluster-scoped kind beside it
        k8s.rbac.v1.ClusterRole(f"{name}-role", metadata={**meta, "name": "reader"}, rules=[], opts=opts)
'''


def cluster_program(tmp_path: Path, scope: str, objects: list[tuple[str, str | None]]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text("name: dup\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(f"SCOPE = {scope!r}\nOBJECTS = {objects!r}\n{CLUSTER_SCOPED_PROGRAM}",
                                          encoding="utf-8")
    return tmp_path


def test_a_cluster_scoped_object_has_no_namespace_whatever_its_metadata_says(tmp_path: Path) -> None:
    """A core cluster-scoped kind and a custom kind whose registered CRD says Cluster: a namespace in metadata is
    ignored by the API server, so these are one object each."""
    with pytest.raises(PlanError) as refused:
        plan_program(cluster_program(tmp_path, "Cluster", [("first", "team"), ("second", None)]), "dev")
    message = str(refused.value)
    assert "Kubernetes object rbac.authorization.k8s.io/ClusterRole reader is registered twice" in message
    assert "Kubernetes object example.com/Widget w is registered twice" in message


def test_a_namespaced_custom_kind_keeps_its_namespaces_apart(tmp_path: Path) -> None:
    inv = plan_program(cluster_program(tmp_path / "ns", "Namespaced", [("first", "team"), ("second", "other")]),
                       "dev")
    assert len(inv.of_type("kubernetes:example.com/v1:Widget")) == 2
    with pytest.raises(PlanError, match=r"Kubernetes object example\.com/Widget default/w is registered twice"):
        plan_program(cluster_program(tmp_path / "default", "Namespaced", [("first", "default"), ("second", None)]),
                     "dev")
