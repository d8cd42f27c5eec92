"""The composed platform per environment: real differences between dev, staging and prod, and the output contract."""

from __future__ import annotations

import json

import pytest

from mlops_infra.blocks.bucket import SECURITY_SERVICE_READERS
from mlops_infra.plan import SECRET, Inventory, plan_program
from tests.conftest import ROOT, planned
from tests.nonempty import each

STATEFUL = ("aws:rds/instance:Instance", "aws:dynamodb/table:Table", "aws:s3/bucket:Bucket", "aws:kms/key:Key",
            "aws:eks/cluster:Cluster")


def count(inv: Inventory, typ: str) -> int:
    return len(inv.of_type(typ))


def private_subnets(inv: Inventory) -> list[str]:
    return [r.name for r in inv.of_type("aws:ec2/subnet:Subnet") if "private" in r.name]


@pytest.mark.parametrize(("stack", "azs", "nats"), [("dev", 2, 1), ("staging", 3, 1), ("prod", 3, 3)])
def test_network_shape_per_environment(stack: str, azs: int, nats: int) -> None:
    inv = planned(stack)
    assert len(private_subnets(inv)) == azs
    assert count(inv, "aws:ec2/natGateway:NatGateway") == nats


@pytest.mark.parametrize(("stack", "public"), [("dev", True), ("staging", True), ("prod", False)])
def test_cluster_endpoint_per_environment(stack: str, public: bool) -> None:
    (cluster,) = planned(stack).of_type("aws:eks/cluster:Cluster")
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is public
    assert vpc["endpointPrivateAccess"] is True
    assert vpc.get("publicAccessCidrs", []) == (["203.0.113.0/24"] if stack == "dev" else
                                                ["198.51.100.0/24"] if stack == "staging" else [])


def test_prod_data_stores_are_multi_az_and_deletion_protected() -> None:
    databases = planned("prod").of_type("aws:rds/instance:Instance")  # the registry's, and the orchestrators'
    assert databases
    for db in databases:
        assert (db.inputs["multiAz"], db.inputs["deletionProtection"], db.inputs["storageEncrypted"]) == (
            True, True, True), db.name
        assert db.inputs["backupRetentionPeriod"] >= 7 and db.inputs["publiclyAccessible"] is False
    for table in each(planned("prod").of_type("aws:dynamodb/table:Table")):
        assert table.inputs["deletionProtectionEnabled"] is True
        assert table.inputs["pointInTimeRecovery"]["enabled"] is True


def test_dev_data_stores_are_small_and_single_az() -> None:
    (db,) = planned("dev").of_type("aws:rds/instance:Instance")
    assert (db.inputs["multiAz"], db.inputs["deletionProtection"]) == (False, False)
    assert db.inputs["instanceClass"] == "db.t4g.medium"
    assert db.inputs["backupRetentionPeriod"] == 3


@pytest.mark.parametrize(("stack", "protected"), [("dev", False), ("staging", False), ("prod", True)])
def test_protect_on_stateful_resources_follows_the_environment(stack: str, protected: bool) -> None:
    stateful = [r for r in planned(stack) if r.type in STATEFUL]
    assert stateful
    assert {(r.options["protect"], r.options["retainOnDelete"]) for r in stateful} == {(protected, protected)}


def test_gpu_pools_per_environment() -> None:
    def pools(stack: str) -> dict[str, str]:
        return {r.name: r.inputs["capacityType"]
                for r in planned(stack).of_type("aws:eks/nodeGroup:NodeGroup") if "gpu" in r.name}

    assert sorted(pools("dev").values()) == ["SPOT"]
    assert sorted(pools("prod").values()) == ["ON_DEMAND", "ON_DEMAND", "SPOT"]
    for r in each(planned("dev").of_type("aws:eks/nodeGroup:NodeGroup")):
        if "gpu" in r.name:
            assert r.inputs["scalingConfig"]["minSize"] == 0


def test_security_baseline_is_off_in_dev_and_on_in_prod() -> None:
    assert count(planned("dev"), "aws:cloudtrail/trail:Trail") == 0
    assert count(planned("prod"), "aws:cloudtrail/trail:Trail") == 1
    assert count(planned("prod"), "aws:guardduty/detector:Detector") == 1


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_secret_and_environment_outputs(stack: str) -> None:
    """The exported key set equals the contract's: tests/platform/test_output_contract.py."""
    outputs = planned(stack).outputs
    assert outputs["kubeconfig"] == SECRET
    assert outputs["environment"] == stack


def test_team_workspace_consumes_the_platform_outputs() -> None:
    platform = planned("dev")
    team = plan_program(ROOT / "stacks" / "team-workspace", "dev",
                        stack_refs={"organization/mlops-platform/dev": platform.outputs})
    (ref,) = team.of_type("pulumi:pulumi:StackReference")
    assert ref.inputs["name"] == "organization/mlops-platform/dev"
    attached = {r.name: r.inputs["policyArn"] for r in team.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attached == {
        "team-vision-feature-store-read": platform.outputs["featureStoreReadPolicyArn"],
        "team-vision-model-artifacts-write": platform.outputs["modelArtifactWritePolicyArn"],
    }
    (role,) = team.of_type("aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    issuer = platform.outputs["oidcIssuer"]
    assert trust["Principal"] == {"Federated": platform.outputs["oidcProviderArn"]}
    assert trust["Condition"]["StringEquals"] == {f"{issuer}:sub": "system:serviceaccount:vision:workload",
                                                  f"{issuer}:aud": "sts.amazonaws.com"}
    (quota,) = team.of_type("kubernetes:core/v1:ResourceQuota")
    assert quota.inputs["spec"]["hard"] == {"requests.nvidia.com/gpu": "4"}
    (provider,) = team.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == SECRET
    (pool,) = team.of_type("aws:eks/nodeGroup:NodeGroup")
    assert pool.inputs["clusterName"] == platform.outputs["clusterName"]
    assert pool.inputs["nodeRoleArn"] == platform.outputs["nodeRoleArn"]
    assert pool.inputs["subnetIds"] == platform.outputs["privateSubnetIds"]
    assert (pool.inputs["capacityType"], pool.inputs["scalingConfig"]["minSize"]) == ("SPOT", 0)


def test_prod_guards_its_data_buckets_and_ml_namespaces() -> None:
    prod, dev = planned("prod"), planned("dev")
    guarded = sorted(r.name for r in prod.of_type("aws:s3/bucketPolicy:BucketPolicy")
                     if "aws:SourceVpce" in r.inputs["policy"])
    # The data add-ons' buckets (DVC remotes, LakeFS blockstore, Qdrant snapshots) carry the same guard.
    assert guarded == ["mlops-prod-dvc-bucket-policy", "mlops-prod-features-offline-policy",
                       "mlops-prod-lakefs-blockstore-policy", "mlops-prod-qdrant-snapshots-policy",
                       "mlops-prod-registry-artifacts-policy"]
    assert not [r for r in dev.of_type("aws:s3/bucketPolicy:BucketPolicy") if "aws:SourceVpce" in r.inputs["policy"]]
    deny = sorted(r.inputs["metadata"]["namespace"] for r in prod.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                  if r.name.endswith("-deny-egress"))
    assert deny == ["ranking", "research"]
    (trail,) = prod.of_type("aws:cloudtrail/trail:Trail")
    assert trail.inputs["isMultiRegionTrail"] is True and trail.inputs["enableLogFileValidation"] is True
    (lock,) = prod.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 365}}
    for policy in each(guarded):
        statements = json.loads(prod.named(policy).inputs["policy"])["Statement"]
        (deny,) = [s for s in statements if s["Sid"] == "DenyOutsideVpcEndpoint"]
        # Break-glass, then the deployers (cluster.adminRoleArns by default), each once; then the security services'
        # service-linked readers, which a second Deny keeps to the bucket's settings.
        assert deny["Condition"]["ArnNotLike"] == {"aws:PrincipalArn": [
            "arn:aws:iam::123456789012:role/platform-breakglass", "arn:aws:iam::123456789012:role/platform-admin",
            *SECURITY_SERVICE_READERS]}
        (readers,) = [s for s in statements if s["Sid"] == "DenyServiceLinkedReadersBeyondSettings"]
        assert readers["Condition"]["ArnLike"] == {"aws:PrincipalArn": [*SECURITY_SERVICE_READERS]}
