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
    k8s.core.v1.ConfigMap(name, metadata={"name": "settings", "namespace": namespace}, data={"a": "b"},
                          opts=__import__("pulumi").ResourceOptions(provider=cluster if provider == "cluster" else other))
for name in PATCHES:
    k8s.core.v1.ConfigMapPatch(name, metadata={"name": "settings", "namespace": "team"}, data={"c": "d"},
                               opts=__import__("pulumi").ResourceOptions(provider=cluster))
'''


def program(tmp_path: Path, objects: list[tuple[str, str, str]], patches: tuple[str, ...] = ()) -> Path:
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
