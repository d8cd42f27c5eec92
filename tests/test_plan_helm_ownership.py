"""The offline engine refuses what Helm refuses when two releases share a cluster (third review of #29, minor):

- one release name twice in one namespace: Helm keeps a release's history there under its name, so the second
  install fails ("cannot re-use a name that is still in use");
- two releases (of one chart, under different names) that render one object, or a release rendering an object a
  Pulumi resource creates: Helm adopts an existing object only when its ownership metadata names the installing
  release (helm pkg/action/validate.go `checkOwnership`), so the later install fails ("invalid ownership metadata").

The programs install tests/data/chart-store/tiny-app (a chart written for the tests, always in the store): its
ServiceAccount is named after the release unless `serviceAccount.name` fixes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_infra.plan import PlanError, plan_program

PROGRAM = '''
import pulumi
import pulumi_kubernetes as k8s

cluster = k8s.Provider("cluster", kubeconfig="{}")
other = k8s.Provider("other", kubeconfig="{}")
for logical, release, namespace, provider, values in RELEASES:
    k8s.helm.v3.Release(logical, name=release, chart="tiny-app", version="0.1.0", namespace=namespace,
                        repository_opts={"repo": "https://charts.example.test"}, values=values,
                        opts=pulumi.ResourceOptions(provider=cluster if provider == "cluster" else other))
for logical, name, namespace in SERVICE_ACCOUNTS:
    k8s.core.v1.ServiceAccount(logical, metadata={"name": name, "namespace": namespace},
                               opts=pulumi.ResourceOptions(provider=cluster))
'''
FIXED = {"serviceAccount": {"name": "app-runner"}}  # a fixed-name object, whatever the release is called


def program(tmp_path: Path, releases: list[tuple[str, str, str, str, dict[str, Any]]],
            service_accounts: tuple[tuple[str, str, str], ...] = ()) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: helmdup\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(f"RELEASES = {releases!r}\nSERVICE_ACCOUNTS = {service_accounts!r}\n"
                                          f"{PROGRAM}", encoding="utf-8")
    return tmp_path


def test_one_release_name_twice_in_one_namespace_is_refused_without_rendering(tmp_path: Path) -> None:
    path = program(tmp_path, [("first", "web", "apps", "cluster", {}), ("second", "web", "apps", "cluster", {})])
    with pytest.raises(PlanError) as refused:
        plan_program(path, "dev")
    message = str(refused.value)
    assert refused.value.kind == "input"
    assert "Helm release apps/web is installed twice on one cluster" in message
    assert "cannot re-use a name that is still in use" in message
    assert "::first" in message and "::second" in message


@pytest.mark.parametrize("releases", [
    [("first", "web", "apps", "cluster", {}), ("second", "web", "batch", "cluster", {})],  # another namespace
    [("first", "web", "apps", "cluster", {}), ("second", "web", "apps", "other", {})],  # another cluster
    [("first", "web-a", "apps", "cluster", {}), ("second", "web-b", "apps", "cluster", {})],  # names of their own
], ids=["namespace", "cluster", "release-names"])
def test_releases_that_share_nothing_plan_and_render(tmp_path: Path, releases: list[Any]) -> None:
    inv = plan_program(program(tmp_path, releases), "dev", render=True)
    # each release rendered its own (so the check had objects to compare)
    assert len(inv.of_type("kubernetes:core/v1:ServiceAccount")) == 2


def test_two_releases_of_one_chart_colliding_on_a_fixed_name_object_are_refused(tmp_path: Path) -> None:
    path = program(tmp_path, [("first", "web-a", "apps", "cluster", FIXED), ("second", "web-b", "apps", "cluster", FIXED)])
    plan_program(path, "dev")  # unrendered, the engine cannot know what the releases create
    with pytest.raises(PlanError) as refused:
        plan_program(path, "dev", render=True)
    message = str(refused.value)
    assert refused.value.kind == "input"
    assert "Kubernetes object core/ServiceAccount apps/app-runner is created by Helm release" in message
    assert "invalid ownership metadata" in message
    assert "::first" in message and "::second" in message


def test_the_same_fixed_name_on_another_cluster_plans(tmp_path: Path) -> None:
    path = program(tmp_path, [("first", "web-a", "apps", "cluster", FIXED), ("second", "web-b", "apps", "other", FIXED)])
    assert plan_program(path, "dev", render=True).of_type("kubernetes:core/v1:ServiceAccount")


def test_a_release_rendering_an_object_a_resource_creates_is_refused(tmp_path: Path) -> None:
    path = program(tmp_path, [("web", "web", "apps", "cluster", FIXED)],
                   service_accounts=(("runner", "app-runner", "apps"),))
    with pytest.raises(PlanError, match=r"core/ServiceAccount apps/app-runner is created by (resource|Helm release) "
                                        r".*invalid ownership metadata"):
        plan_program(path, "dev", render=True)
