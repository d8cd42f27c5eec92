"""Which Kubernetes object a registration is, for the duplicate-object refusal (fresh review of the strict plan,
findings 1 and 2): a kind's scope comes from what is known, never from its name, and an unnamespaced namespaced
object lands in its provider's default namespace (the provider's `namespace`, else its kubeconfig context's, else
`default`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_infra.plan import PlanError, plan_program
from mlops_infra.plan.inventory import SECRET, UNKNOWN
from mlops_infra.plan.kube_identity import cluster_scoped, provider_namespace

PROGRAM = '''
import pulumi
import pulumi_kubernetes as k8s

PROVIDER.setdefault("kubeconfig", "{}")
if PROVIDER["kubeconfig"] == "secret":
    PROVIDER["kubeconfig"] = pulumi.Output.secret("{}")
cluster = k8s.Provider("cluster", **PROVIDER)
opts = pulumi.ResourceOptions(provider=cluster)
if CRD_SCOPE:
    k8s.apiextensions.v1.CustomResourceDefinition("crd", metadata={"name": "clusters.postgresql.cnpg.io"}, spec={
        "group": "postgresql.cnpg.io", "scope": CRD_SCOPE, "names": {"kind": "Cluster", "plural": "clusters"},
        "versions": [{"name": "v1", "served": True, "storage": True}]}, opts=opts)
for name, kind, namespace in OBJECTS:
    meta = {"name": "pg", **({"namespace": namespace} if namespace is not None else {})}
    if kind == "Cluster":  # CloudNativePG's Cluster: a namespaced kind whose name starts with "Cluster"
        k8s.apiextensions.CustomResource(name, api_version="postgresql.cnpg.io/v1", kind="Cluster", metadata=meta,
                                         spec={"instances": 1}, opts=opts)
    else:
        k8s.core.v1.ConfigMap(name, metadata=meta, data={"a": "b"}, opts=opts)
'''


def program(tmp_path: Path, objects: list[tuple[str, str, str | None]], provider: dict[str, str] | None = None,
            crd_scope: str | None = None) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text("name: dup\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(
        f"PROVIDER = {provider or {}!r}\nCRD_SCOPE = {crd_scope!r}\nOBJECTS = {objects!r}\n{PROGRAM}",
        encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("crd_scope", [None, "Namespaced"], ids=["no-crd", "namespaced-crd"])
def test_a_namespaced_kind_named_cluster_keeps_its_namespaces_apart(tmp_path: Path, crd_scope: str | None) -> None:
    """Two CloudNativePG `Cluster pg` in team-a and team-b are two objects, with or without their CRD in the
    program; the same two in one namespace are one object registered twice."""
    apart = plan_program(program(tmp_path / "apart", [("a", "Cluster", "team-a"), ("b", "Cluster", "team-b")],
                                 crd_scope=crd_scope), "dev")
    assert {r.inputs["metadata"]["namespace"] for r in apart.of_type("kubernetes:postgresql.cnpg.io/v1:Cluster")} \
        == {"team-a", "team-b"}
    with pytest.raises(PlanError, match=r"postgresql\.cnpg\.io/Cluster team-a/pg is registered twice"):
        plan_program(program(tmp_path / "same", [("a", "Cluster", "team-a"), ("b", "Cluster", "team-a")],
                             crd_scope=crd_scope), "dev")


def test_a_kind_whose_crd_says_cluster_has_no_namespace(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"postgresql\.cnpg\.io/Cluster pg is registered twice"):
        plan_program(program(tmp_path, [("a", "Cluster", "team-a"), ("b", "Cluster", "team-b")],
                             crd_scope="Cluster"), "dev")


CONTEXT_KUBECONFIG = json.dumps({
    "apiVersion": "v1", "kind": "Config", "current-context": "work",
    "contexts": [{"name": "work", "context": {"cluster": "c", "user": "u", "namespace": "from-context"}},
                 {"name": "plain", "context": {"cluster": "c", "user": "u"}}]})


@pytest.mark.parametrize(("provider", "lands_in", "elsewhere"), [
    ({"namespace": "ml"}, "ml", "default"),
    ({"kubeconfig": CONTEXT_KUBECONFIG}, "from-context", "default"),
    ({"kubeconfig": CONTEXT_KUBECONFIG, "namespace": "ml"}, "ml", "from-context"),
    ({"kubeconfig": CONTEXT_KUBECONFIG, "context": "plain"}, "default", "from-context"),
], ids=["provider-namespace", "context-namespace", "namespace-over-context", "chosen-context"])
def test_an_unnamespaced_object_is_the_one_in_its_providers_namespace(
        tmp_path: Path, provider: dict[str, str], lands_in: str, elsewhere: str) -> None:
    with pytest.raises(PlanError, match=f"core/ConfigMap {lands_in}/pg is registered twice"):
        plan_program(program(tmp_path / "same", [("a", "ConfigMap", None), ("b", "ConfigMap", lands_in)],
                             provider), "dev")
    inv = plan_program(program(tmp_path / "apart", [("a", "ConfigMap", None), ("b", "ConfigMap", elsewhere)],
                               provider), "dev")
    assert len(inv.of_type("kubernetes:core/v1:ConfigMap")) == 2


@pytest.mark.parametrize("provider", [{"kubeconfig": "secret"}, {"kubeconfig": "kubeconfig.yaml"}],
                         ids=["secret-kubeconfig", "kubeconfig-path"])
def test_an_unknown_provider_namespace_is_not_judged(tmp_path: Path, provider: dict[str, str]) -> None:
    """The context's namespace is not known at plan time: an unnamespaced object may be any namespace's, but two
    unnamespaced ones on that provider are still one object."""
    inv = plan_program(program(tmp_path / "apart", [("a", "ConfigMap", None), ("b", "ConfigMap", "default")],
                               provider), "dev")
    assert len(inv.of_type("kubernetes:core/v1:ConfigMap")) == 2
    with pytest.raises(PlanError, match=r"core/ConfigMap \(the provider's namespace\)/pg is registered twice"):
        plan_program(program(tmp_path / "same", [("a", "ConfigMap", None), ("b", "ConfigMap", None)], provider),
                     "dev")


@pytest.mark.parametrize(("inputs", "namespace"), [
    ({}, None),  # the ambient kubeconfig
    ({"kubeconfig": ""}, None),
    ({"kubeconfig": SECRET}, None),
    ({"kubeconfig": "{}", "namespace": UNKNOWN}, None),
    ({"kubeconfig": CONTEXT_KUBECONFIG, "context": UNKNOWN}, None),
    ({"kubeconfig": "{}"}, "default"),
    ({"kubeconfig": CONTEXT_KUBECONFIG, "context": "missing"}, "default"),
    ({"namespace": "ml"}, "ml"),
    ({"kubeconfig": CONTEXT_KUBECONFIG}, "from-context"),
])
def test_provider_namespace(inputs: dict[str, str], namespace: str | None) -> None:
    assert provider_namespace(inputs) == namespace


@pytest.mark.parametrize(("group", "kind", "crds", "scoped"), [
    ("", "Namespace", {}, True),
    ("rbac.authorization.k8s.io", "ClusterRole", {}, True),
    ("certificates.k8s.io", "ClusterTrustBundle", {}, True),
    ("", "ConfigMap", {}, False),
    ("postgresql.cnpg.io", "Cluster", {}, None),
    ("cluster.x-k8s.io", "ClusterClass", {}, None),
    ("operators.coreos.com", "ClusterServiceVersion", {}, None),
    ("gateway.networking.k8s.io", "GatewayClass", {}, None),
    ("postgresql.cnpg.io", "Cluster", {("postgresql.cnpg.io", "Cluster"): "Namespaced"}, False),
    ("example.com", "Widget", {("example.com", "Widget"): "Cluster"}, True),
])
def test_scope_comes_from_what_is_known(group: str, kind: str, crds: dict[tuple[str, str], str],
                                        scoped: bool | None) -> None:
    assert cluster_scoped(group, kind, crds) is scoped
