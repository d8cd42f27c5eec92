"""Each serving and data component alone (issue #29): a tiny program (examples/<component>/) builds it on
refs from a StackReference to the dev platform, whose outputs are the platform's planned ones, and reads only its
own config section. Planned by the offline engine: no platform component exists, every Kubernetes object binds to
the provider built from the platform's secret kubeconfig, and what the refs carry reaches the resources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_infra.plan import SECRET, Inventory
from tests.conftest import EXAMPLES, ROOT, planned
from tests.nonempty import each
from tests.platform.test_standalone import PLATFORM_STACK, kubernetes_objects, standalone, unbound
from tests.test_layout import imported_modules

ALONE = {
    "model-serving": ("model_serving", "mlops:serving:ModelServing"),
    "sagemaker-serving": ("sagemaker_serving", "mlops:serving:SageMakerServing"),
    "lakefs": ("lakefs", "mlops:data:LakeFs"),
    "dvc-remotes": ("dvc_remotes", "mlops:data:DvcRemotes"),
    "qdrant": ("qdrant", "mlops:data:Qdrant"),
}
ON_THE_CLUSTER = ["model-serving", "lakefs", "qdrant"]


def alone(component: str) -> Inventory:
    return standalone(EXAMPLES / ALONE[component][0])


def test_every_alone_program_exists() -> None:
    for program, _ in each(ALONE.values()):
        assert (EXAMPLES / program / "__main__.py").is_file() and (EXAMPLES / program / "Pulumi.dev.yaml").is_file()


@pytest.mark.parametrize("component", sorted(ALONE))
def test_the_component_plans_alone_on_the_stack_reference(component: str) -> None:
    inv = alone(component)
    (ref,) = inv.of_type("pulumi:pulumi:StackReference")
    assert ref.inputs["name"] == PLATFORM_STACK
    (built,) = inv.of_type(ALONE[component][1])
    assert built.options.get("parent") in (None, "")  # a top-level component of the user's program
    types = {r.type for r in inv}
    assert [t for t in types if t.startswith("mlops:platform:")] == []
    assert not [t for t in types if t.startswith("mlops:") and t.split(":")[1] in {"security", "observability"}]


@pytest.mark.parametrize("component", ON_THE_CLUSTER)
def test_every_kubernetes_object_binds_to_the_platforms_cluster(component: str) -> None:
    inv = alone(component)
    (provider,) = inv.of_type("pulumi:providers:kubernetes")
    assert provider.name == "platform-cluster"
    assert provider.inputs["kubeconfig"] == SECRET  # the platform's secret output, never a plaintext copy
    objects = kubernetes_objects(inv)
    assert len(objects) >= 5
    assert unbound(inv) == []
    assert {r.options["provider"] for r in objects} == {provider.urn}


@pytest.mark.parametrize("component", sorted(set(ALONE) - set(ON_THE_CLUSTER)))
def test_a_component_off_the_cluster_makes_no_kubernetes_object(component: str) -> None:
    inv = alone(component)
    assert kubernetes_objects(inv) == [] and inv.of_type("pulumi:providers:kubernetes") == []


@pytest.mark.parametrize("component", ON_THE_CLUSTER)
def test_workload_roles_trust_the_platforms_oidc_provider(component: str) -> None:
    platform, roles = planned("dev").outputs, alone(component).of_type("aws:iam/role:Role")
    workloads = [r for r in roles if "sts:AssumeRoleWithWebIdentity" in r.inputs["assumeRolePolicy"]]
    assert workloads
    for role in workloads:
        assert platform["oidcProviderArn"] in role.inputs["assumeRolePolicy"]


def test_model_serving_reads_the_platforms_artifact_bucket() -> None:
    platform, inv = planned("dev").outputs, alone("model-serving")
    (isvc,) = inv.of_type("kubernetes:serving.kserve.io/v1beta1:InferenceService")
    assert isvc.inputs["spec"]["predictor"]["model"]["storageUri"].startswith(f"s3://{platform['modelArtifactBucket']}/")
    (policy,) = inv.of_type("aws:iam/rolePolicy:RolePolicy")
    assert f"arn:aws:s3:::{platform['modelArtifactBucket']}" in json.dumps(json.loads(policy.inputs["policy"]))


def test_sagemaker_serving_runs_in_the_platforms_vpc_and_captures_to_its_shared_bucket() -> None:
    platform, inv = planned("dev").outputs, alone("sagemaker-serving")
    (model,) = inv.of_type("aws:sagemaker/model:Model")
    assert model.inputs["vpcConfig"]["subnets"] == platform["privateSubnetIds"]
    (group,) = inv.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["vpcId"] == platform["vpcId"]
    (config,) = inv.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    capture = config.inputs["dataCaptureConfig"]
    assert capture["destinationS3Uri"].startswith(f"s3://{platform['sharedBucketName']}/")
    assert capture["kmsKeyId"] == platform["dataKeyArn"]


def test_lakefs_database_sits_in_the_platforms_private_subnets() -> None:
    platform, inv = planned("dev").outputs, alone("lakefs")
    (subnets,) = inv.of_type("aws:rds/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == platform["privateSubnetIds"]
    rules = inv.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rules and {r.inputs["referencedSecurityGroupId"] for r in rules} == {platform["clusterSecurityGroupId"]}


def test_dvc_remotes_alone_give_each_team_its_remote() -> None:
    inv = alone("dvc-remotes")
    assert set(inv.outputs["dvcRemotes"]) == {"search", "ranking"}
    assert len(inv.of_type("aws:iam/policy:Policy")) == 4  # read and write, per team


def test_alone_programs_are_plain_user_programs() -> None:
    """They import no platform module and never the output contract: a user copies them as they are."""
    sources = {p: (EXAMPLES / p / "__main__.py").read_text(encoding="utf-8") for p, _ in ALONE.values()}
    for path, text in each(sources.items()):
        assert "mlops_infra.platform" not in text and "mlops_infra.outputs" not in text, Path(path).name


@pytest.mark.parametrize("concern", ["serving", "data", "security"])
def test_the_concern_imports_neither_the_platform_nor_the_output_contract(concern: str) -> None:
    """Every import of every module, those inside functions and under TYPE_CHECKING included."""
    files = sorted((ROOT / "mlops_infra" / concern).glob("*.py"))
    assert len(files) > 3
    wrong = {f.name: sorted(m for m in imported_modules(f) if m.startswith(("mlops_infra.platform",
                                                                            "mlops_infra.outputs")))
             for f in files}
    assert {f: m for f, m in wrong.items() if m} == {}


def test_lakefs_alone_refuses_a_pod_identity_cluster() -> None:
    """Its SecretStore authenticates with an IRSA ServiceAccount token: on a Pod Identity platform nothing would ever
    sync, so the component refuses (the platform refuses the same in config)."""
    from mlops_infra.plan import PlanError, plan_program
    outputs = {**planned("dev").outputs, "workloadIdentity": "podIdentity"}
    with pytest.raises(PlanError, match="LakeFS's SecretStore authenticates with an IRSA ServiceAccount token"):
        plan_program(EXAMPLES / "lakefs", "dev", stack_refs={PLATFORM_STACK: outputs})


def test_add_on_secret_stores_wait_for_the_operator_not_for_what_is_built_last() -> None:
    """The audit trail and the guards are built last, from every bucket; an add-on's SecretStore waits for the External
    Secrets operator (SecretsDelivery, expanded by the engine to its children) and for nothing built last."""
    inv = planned("prod")
    built_last = ("mlops:security:AuditTrail", "mlops:security:ExfiltrationGuards", "aws:cloudtrail/trail:Trail")
    stores = [r for r in inv.of_type("kubernetes:external-secrets.io/v1:SecretStore")
              if "lakefs" in r.name or "airflow" in r.name]
    for store in each(stores):
        waits = [u for u in store.options.get("dependsOn", []) if isinstance(u, str)]
        assert any("$mlops:security:SecretsDelivery$" in u for u in waits), store.name
        assert [u for u in waits if any(t in u for t in built_last)] == [], store.name
