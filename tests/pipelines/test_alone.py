"""Each orchestration engine composes alone (issue 29): a tiny program per engine (examples/<engine>)
builds it on ClusterRefs and NetworkRefs read through a StackReference from the dev platform's planned outputs, with
`EngineRefs` and no PlatformContext; the platform builds the same components through its adapter
(mlops_infra/platform/addon_pipelines.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlops_infra.plan import SECRET, Inventory, ResourceRecord
from tests.conftest import EXAMPLES, ROOT, planned
from tests.platform.test_standalone import kubernetes_objects, standalone, unbound
from tests.test_layout import imported_modules

ENGINES = {"airflow": "mlops:pipelines:Airflow", "kfp": "mlops:pipelines:KubeflowPipelines",
           "metaflow": "mlops:pipelines:Metaflow", "prefect": "mlops:pipelines:Prefect"}
NAMESPACE = "kubernetes:core/v1:Namespace"


def alone(engine: str) -> Inventory:
    return standalone(EXAMPLES / {"kfp": "kubeflow_pipelines"}.get(engine, engine))


def component(inv: Inventory, engine: str) -> ResourceRecord:
    (record,) = [r for r in inv if r.type == ENGINES[engine]]
    return record


def descends_from(inv: Inventory, record: ResourceRecord, ancestor: str) -> bool:
    by_urn, parent = inv.by_urn(), record.parent
    while parent is not None:
        if parent == ancestor:
            return True
        parent = by_urn[parent].parent if parent in by_urn else None
    return False


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_an_engine_alone_binds_every_kubernetes_object_to_the_stack_references_cluster(engine: str) -> None:
    inv = alone(engine)
    (provider,) = inv.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == SECRET  # the platform's secret output
    objects = kubernetes_objects(inv)
    assert len(objects) >= 5
    assert unbound(inv) == []
    assert {r.options["provider"] for r in objects} == {provider.urn}


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_an_engine_alone_needs_no_platform_component(engine: str) -> None:
    inv = alone(engine)
    assert len(inv.resources) > 10
    assert [r.urn for r in inv if r.type.startswith("mlops:platform:")] == []
    engine_urn = component(inv, engine).urn
    # Everything but the StackReference and the provider built from its kubeconfig is the engine's.
    outside = sorted(r.type for r in inv if r.parent is not None and not descends_from(inv, r, engine_urn)
                     and r.type not in ("pulumi:pulumi:StackReference", "pulumi:providers:kubernetes"))
    assert outside == []


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_an_engine_alone_creates_its_namespace_and_key_itself(engine: str) -> None:
    inv = alone(engine)
    engine_urn = component(inv, engine).urn
    (namespace,) = inv.of_type(NAMESPACE)
    assert namespace.parent == engine_urn
    assert namespace.inputs["metadata"]["labels"]["mlops.io/orchestrator"] == engine
    keys = inv.of_type("aws:kms/key:Key")
    assert keys, "no KMS key given: the engine makes its own"
    assert all(descends_from(inv, k, engine_urn) for k in keys)


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_an_engine_alone_sits_in_the_platforms_vpc_and_trusts_its_oidc_provider(engine: str) -> None:
    platform, inv = planned("dev").outputs, alone(engine)
    subnet_groups = inv.of_type("aws:rds/subnetGroup:SubnetGroup")
    assert subnet_groups, "every engine alone here has a database"
    assert {tuple(g.inputs["subnetIds"]) for g in subnet_groups} == {tuple(platform["privateSubnetIds"])}
    roles = [r for r in inv.of_type("aws:iam/role:Role") if "AssumeRoleWithWebIdentity" in r.inputs["assumeRolePolicy"]]
    assert roles, "the executor and the database secret reader use IRSA"
    for role in roles:
        assert platform["oidcProviderArn"] in role.inputs["assumeRolePolicy"]


def test_an_engine_alone_attaches_the_grant_policies_it_is_handed() -> None:
    """examples/airflow passes the platform's managed policies (StackReference outputs): the executor role gets both;
    the other programs pass none, and their executors get none."""
    platform, inv = planned("dev").outputs, alone("airflow")
    granted = sorted([platform["featureStoreReadPolicyArn"], platform["modelArtifactWritePolicyArn"]])
    assert attached(inv, "airflow") == granted
    for engine in ("kfp", "metaflow", "prefect"):
        assert attached(alone(engine), engine) == []


def attached(inv: Inventory, engine: str) -> list[str]:
    """The policy ARNs attached to the engine's executor role (the shared wiring's)."""
    (executor,) = [r for r in inv.of_type("aws:iam/role:Role") if r.name.endswith(f"-{engine}-wiring-executor-role")]
    return sorted(a.inputs["policyArn"] for a in inv.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                  if a.inputs["role"] == executor.id)


def test_the_platform_creates_engine_namespaces_under_itself_and_hands_them_in() -> None:
    """The adapter keeps each engine namespace where the released platform had it (a child of the platform, so its
    URN is unchanged); the engine finds it in `ClusterRefs.namespaces` and creates none."""
    inv = planned("prod")
    (platform,) = inv.of_type("mlops:platform:MlopsPlatform")
    (airflow,) = inv.of_type(ENGINES["airflow"])
    engine_namespaces = [r for r in inv.of_type(NAMESPACE)
                         if r.inputs["metadata"]["labels"].get("mlops.io/orchestrator") == "airflow"]
    assert [r.parent for r in engine_namespaces] == [platform.urn]
    assert not [r for r in inv.of_type(NAMESPACE) if descends_from(inv, r, airflow.urn)]


def test_the_platform_registers_the_bucket_airflow_exposes_as_a_platform_bucket() -> None:
    """The adapter registers `Airflow.bucket` (task logs, no guard): the guarded S3 endpoint admits it, and the
    trail records its object events as it records the data buckets' (review FSEC #6: the task pods read data
    buckets and write this one)."""
    inv = planned("prod")
    (airflow,) = inv.of_type(ENGINES["airflow"])
    (logs,) = [b for b in inv.of_type("aws:s3/bucket:Bucket") if descends_from(inv, b, airflow.urn)]
    (features,) = inv.of_type("mlops:features:FeastFeatureStore")
    data = [b for b in inv.of_type("aws:s3/bucket:Bucket") if descends_from(inv, b, features.urn)]
    assert logs.id and data and all(b.id for b in data)
    (endpoint_policy,) = inv.of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy")
    (trail,) = inv.of_type("aws:cloudtrail/trail:Trail")
    assert logs.id in json.dumps(endpoint_policy.inputs)
    assert logs.id in json.dumps(trail.inputs)
    assert all(b.id in json.dumps(trail.inputs) for b in data if b.id)


def test_no_pipelines_module_imports_the_platform_or_the_output_contract() -> None:
    files = sorted((ROOT / "mlops_infra" / "pipelines").glob("*.py"))
    assert len(files) > 10
    wrong = {f.name: sorted(m for m in imported_modules(f)
                            if m.startswith(("mlops_infra.platform", "mlops_infra.outputs", "mlops_infra.config.platform")))
             for f in files}
    assert {f: m for f, m in wrong.items() if m} == {}


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_an_engine_imported_first_loads_no_platform_module(engine: str) -> None:
    """The runtime relation behind the import rule, lazy imports included: a fresh interpreter that imports an engine
    loads no module of `mlops_infra.platform`. (`mlops_infra.outputs` still comes in through blocks/refs.py, whose
    `from_stack_outputs` reads CONTRACT: that import belongs to the blocks' part of issue 29.)"""
    out = subprocess.run(
        [sys.executable, "-c", f"import sys, mlops_infra.pipelines.{engine}; print(sorted(m for m in sys.modules "
         "if m.startswith(('mlops_infra.platform', 'mlops_infra.pipelines'))))"],
        capture_output=True, text=True, check=False, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.replace("'", '"'))
    assert f"mlops_infra.pipelines.{engine}" in loaded
    assert [m for m in loaded if not m.startswith("mlops_infra.pipelines")] == []
