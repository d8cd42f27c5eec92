"""Every component that creates a namespace or a bucket checks the platform's facts (review of issue 29, second
round): a namespace the platform stack owns (`platformNamespaces`) is refused, and so is a bucket its pods use whose
name the guarded S3 gateway endpoint does not admit (`consumerBucketPrefixes`). Run as a user runs them: each
component's example planned on the dev platform's outputs, with the one fact under test changed."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.blocks.platform_facts import guarded_bucket_problem, occupied_namespace_problem
from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs
from mlops_infra.plan import Inventory, PlanError, plan_program
from tests.conftest import EXAMPLES, planned
from tests.nonempty import each
from tests.platform.test_standalone import PLATFORM_STACK, platform_outputs
from tests.test_examples import platform_outputs as variant_outputs

# example: (its stack config key, the path to the component's namespace in it, the platform's namespace of the
# same component: each component's default)
NAMESPACED = {
    "lakefs": ("lakefs:lakefs", ("namespace",), "lakefs"),
    "qdrant": ("qdrant:qdrant", ("namespace",), "qdrant"),
    "model_serving": ("model_serving:serving", ("namespace",), "serving"),
    "feast_feature_store": ("mlops:platform", ("featureStore", "namespace"), "feast"),
    "mlflow_registry": ("mlops:platform", ("modelRegistry", "namespace"), "mlflow"),
}
# example: the buckets (Pulumi names) its component creates and its pods use
BUCKETS = {
    "lakefs": ["search-lakefs-blockstore"],
    "qdrant": ["search-qdrant-snapshots"],
    "feast_feature_store": ["search-dev-features-offline"],
    "mlflow_registry": ["search-dev-registry-artifacts"],
    "dvc_remotes": ["search-dvc-bucket"],
}


def plan_example(tmp_path: Path, example: str, namespace: str | None = None, **outputs: Any) -> Inventory:
    """examples/<example> (its dev stack, with the component's namespace set to `namespace` if given), planned on the
    dev platform's outputs with `outputs` replacing some."""
    target = tmp_path / example
    shutil.copytree(EXAMPLES / example, target)
    if namespace is not None:
        key, path, _ = NAMESPACED[example]
        stack_file = target / "Pulumi.dev.yaml"
        stack = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
        section = stack["config"][key]
        for step in path[:-1]:
            section = section[step]
        section[path[-1]] = namespace
        stack_file.write_text(yaml.safe_dump(stack), encoding="utf-8")
    return plan_program(target, "dev", stack_refs={PLATFORM_STACK: platform_outputs(**outputs)})


def namespaces(inv: Inventory) -> set[str]:
    return {r.inputs["metadata"]["name"] for r in inv.of_type("kubernetes:core/v1:Namespace")}


@pytest.mark.parametrize("example", sorted(NAMESPACED))
def test_a_component_alone_refuses_a_namespace_the_platform_owns(tmp_path: Path, example: str) -> None:
    """Finding 1: prod's platform runs this component in its default namespace; the same component alone there would
    create the namespace, or its fixed-name objects, again (AlreadyExists). Its own namespace plans. (The dev
    platform's namespaces plus that one: prod's also name KServe's, which the dev platform's cluster lacks.)"""
    platform_namespace = NAMESPACED[example][2]
    assert platform_namespace in planned("prod").outputs["platformNamespaces"]  # type: ignore[operator]
    dev = planned("dev").outputs["platformNamespaces"]
    assert isinstance(dev, list) and dev
    owned = sorted({*dev, platform_namespace})
    own = plan_example(tmp_path / "own", example, platformNamespaces=owned)
    assert namespaces(own) and not namespaces(own) & set(owned)
    with pytest.raises(PlanError) as refused:
        plan_example(tmp_path / "platform", example, platform_namespace, platformNamespaces=owned)
    assert f"namespace {platform_namespace!r} already belongs to the platform stack" in str(refused.value)
    assert "`platformNamespaces` output" in str(refused.value)


@pytest.mark.parametrize("example", sorted(BUCKETS))
def test_a_component_bucket_plans_on_a_guarded_vpc_only_under_an_admitted_prefix(tmp_path: Path, example: str) -> None:
    """Finding 2: a guarded platform's S3 gateway endpoint admits consumer buckets named `<prefix>-*` only: the
    component's buckets plan when their names start with one, and are refused otherwise (as on prod, which admits
    none)."""
    assert planned("prod").outputs["consumerBucketPrefixes"] == []
    admitted = plan_example(tmp_path / "admitted", example, consumerBucketPrefixes=["search"])
    buckets = sorted(b.name for b in admitted.of_type("aws:s3/bucket:Bucket"))
    assert buckets and set(BUCKETS[example]) <= set(buckets)
    with pytest.raises(PlanError) as refused:
        plan_example(tmp_path / "refused", example, consumerBucketPrefixes=[])
    for bucket in each(BUCKETS[example]):
        assert f"bucket {bucket!r} (autonamed `{bucket}-<random>`) is outside the names" in str(refused.value)
    assert "`consumerBucketPrefixes` output" in str(refused.value)


# A cluster add-on the platform variant does not run: the namespace its example creates for it.
ADD_ONS = {("cluster_addons", "cpu"): "gpu-system", ("monitoring_core", "bare"): "search-monitoring",
           ("security_baseline", "dev"): "external-secrets"}


@pytest.mark.parametrize(("example", "stack"), sorted(ADD_ONS))
def test_a_cluster_add_on_alone_refuses_a_namespace_the_platform_owns(example: str, stack: str) -> None:
    """The singletons' namespaces too (GpuSoftware, MonitoringCore, SecretsDelivery): a platform whose cluster does
    not run the add-on but lists its namespace among its own is refused, naming the namespace."""
    reference, outputs = variant_outputs(example, stack)
    listed = outputs["platformNamespaces"]
    assert isinstance(listed, list) and ADD_ONS[(example, stack)] not in listed
    assert plan_program(EXAMPLES / example, stack, stack_refs={reference: outputs})  # what the examples test plans
    taken = {**outputs, "platformNamespaces": [*listed, ADD_ONS[(example, stack)]]}
    with pytest.raises(PlanError, match=rf"namespace '{ADD_ONS[(example, stack)]}' already belongs to the platform"):
        plan_program(EXAMPLES / example, stack, stack_refs={reference: taken})


def test_the_checks_pass_what_they_do_not_know() -> None:
    """No guarded endpoint known (no network, or no prefixes) admits every name; a prefix admits `<prefix>-*` only."""
    net = NetworkRefs.existing("vpc-1", "10.0.0.0/16", ["subnet-1"])
    assert guarded_bucket_problem("any-bucket", None) is None
    assert guarded_bucket_problem("any-bucket", net) is None
    guarded = NetworkRefs(vpc_id="vpc-1", vpc_cidr="10.0.0.0/16", private_subnet_ids=["s"],
                          s3_endpoint_bucket_prefixes=("team",))
    assert guarded_bucket_problem("team-dvc", guarded) is None
    assert guarded_bucket_problem("teamx-dvc", guarded)  # a prefix is a whole name segment
    assert guarded_bucket_problem("team", guarded)


def test_a_namespace_is_refused_only_when_the_platform_lists_it() -> None:
    """A cluster made elsewhere lists nothing (`occupied_namespaces` empty): every namespace is the caller's."""
    provider: Any = object()
    cluster = ClusterRefs.existing("c", provider=provider, security_group_id="sg-1", version="1.33")
    assert occupied_namespace_problem("lakefs", cluster) is None
    taken = replace(cluster, occupied_namespaces=frozenset({"lakefs"}))
    assert occupied_namespace_problem("lakefs-team", taken) is None
    assert "namespace 'lakefs' already belongs" in str(occupied_namespace_problem("lakefs", taken))
