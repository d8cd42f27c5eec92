"""A Helm release without `namespace` is installed in its provider's default namespace (pulumi-kubernetes
helm_release.go `setDefaults` takes the provider's `defaultNamespace`: its `namespace`, else its kubeconfig context's),
not in `default` (second review of the strict plan, finding 1). Both the release-name check and the rendered
objects' ownership check place it there; when the provider's namespace is not known at plan time, an unnamespaced
release is compared only with other unnamespaced releases and objects on that provider.

The programs install tests/data/chart-store/tiny-app (always in the store): its ServiceAccount is named after the
release unless `serviceAccount.name` fixes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_infra.plan import PlanError, plan_program

PROGRAM = '''
import pulumi
import pulumi_kubernetes as k8s

cluster = k8s.Provider("cluster", **PROVIDER)
opts = pulumi.ResourceOptions(provider=cluster)
for logical, release, namespace in RELEASES:
    k8s.helm.v3.Release(logical, name=release, chart="tiny-app", version="0.1.0",
                        repository_opts={"repo": "https://charts.example.test"}, opts=opts,
                        values={"serviceAccount": {"name": "app-runner"}},
                        **({"namespace": namespace} if namespace is not None else {}))
for logical, namespace in SERVICE_ACCOUNTS:
    k8s.core.v1.ServiceAccount(logical, metadata={"name": "app-runner",
                                                  **({"namespace": namespace} if namespace is not None else {})},
                               opts=opts)
'''
KNOWN = {"kubeconfig": "{}", "namespace": "ml"}  # the provider's default namespace is `ml`
AMBIENT: dict[str, Any] = {}  # no kubeconfig: the one where `pulumi up` runs, not known at plan time


def program(tmp_path: Path, provider: dict[str, Any], releases: list[tuple[str, str, str | None]],
            service_accounts: list[tuple[str, str | None]] | None = None) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text("name: helmns\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(
        f"PROVIDER = {provider!r}\nRELEASES = {releases!r}\nSERVICE_ACCOUNTS = {service_accounts or []!r}\n{PROGRAM}",
        encoding="utf-8")
    return tmp_path


def test_an_unnamespaced_release_and_one_in_default_are_two_releases_when_the_provider_says_ml(
        tmp_path: Path) -> None:
    inv = plan_program(program(tmp_path, KNOWN, [("a", "x", None), ("b", "x", "default")]), "dev")
    assert len(inv.of_type("kubernetes:helm.sh/v3:Release")) == 2


@pytest.mark.parametrize(("provider", "namespace", "shown"), [
    (KNOWN, "ml", "ml"),  # the provider's namespace
    (AMBIENT, None, "(the provider's namespace)"),  # both unnamespaced: one namespace, whichever it is
], ids=["provider-ml", "unknown"])
def test_an_unnamespaced_release_clashes_with_one_in_the_providers_namespace(
        tmp_path: Path, provider: dict[str, Any], namespace: str | None, shown: str) -> None:
    with pytest.raises(PlanError) as refused:
        plan_program(program(tmp_path, provider, [("a", "x", None), ("b", "x", namespace)]), "dev")
    assert refused.value.kind == "input"
    assert f"Helm release {shown}/x is installed twice on one cluster" in str(refused.value)


@pytest.mark.parametrize("namespace", ["default", "ml"])
def test_when_the_providers_namespace_is_unknown_a_named_one_is_not_judged(tmp_path: Path, namespace: str) -> None:
    inv = plan_program(program(tmp_path, AMBIENT, [("a", "x", None), ("b", "x", namespace)]), "dev")
    assert len(inv.of_type("kubernetes:helm.sh/v3:Release")) == 2


def test_an_unnamespaced_releases_objects_are_rendered_into_the_providers_namespace(tmp_path: Path) -> None:
    path = program(tmp_path / "apart", KNOWN, [("web", "web", None)], [("runner", "default")])
    accounts = plan_program(path, "dev", render=True).of_type("kubernetes:core/v1:ServiceAccount")
    assert sorted(a.inputs["metadata"]["namespace"] for a in accounts) == ["default", "ml"]
    with pytest.raises(PlanError, match=r"core/ServiceAccount ml/app-runner is created by .*invalid ownership"):
        plan_program(program(tmp_path / "same", KNOWN, [("web", "web", None)], [("runner", "ml")]), "dev",
                     render=True)


@pytest.mark.parametrize("namespace", ["default", "ml"])
def test_with_an_unknown_provider_namespace_rendered_objects_meet_no_named_ones(tmp_path: Path, namespace: str) -> None:
    path = program(tmp_path, AMBIENT, [("web", "web", None)], [("runner", namespace)])
    assert len(plan_program(path, "dev", render=True).of_type("kubernetes:core/v1:ServiceAccount")) == 2


def test_with_an_unknown_provider_namespace_rendered_objects_meet_unnamespaced_ones(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"core/ServiceAccount \(the provider's namespace\)/app-runner is created by"):
        plan_program(program(tmp_path, AMBIENT, [("web", "web", None)], [("runner", None)]), "dev", render=True)
