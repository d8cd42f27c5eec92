"""`mlops-infra audit` on moto: a compliant platform passes; drift made outside Pulumi is found by tag.

The Resource Groups Tagging API in moto lists S3, RDS and DynamoDB (as in AWS); EKS clusters and launch
templates are found through their own APIs, as the audit does in AWS too.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from mlops_infra.aws.audit import eks_checks
from mlops_infra.platform.loader import load_platform_config

from .conftest import PROGRAM, REGION, run_cli

pytestmark = [pytest.mark.usefixtures("moto_aws"), pytest.mark.slow]  # moto: the slow tier (.ci/run)

PROD_TAGS = {"environment": "prod", "owner": "ml-platform", "cost-center": "cc-1234"}
LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def deploy(tags: dict[str, str] = PROD_TAGS, prefix: str = "mlops-prod") -> dict[str, Any]:
    """A compliant slice of the platform, as the components would leave it."""
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3", region_name=REGION)
    bucket = f"{prefix}-shared-1a2b3c"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list(tags)})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
        "BucketKeyEnabled": True}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    rds = boto3.client("rds", region_name=REGION)
    db = f"{prefix}-mlflow-db"
    rds.create_db_instance(DBInstanceIdentifier=db, DBInstanceClass="db.m7g.large", Engine="postgres",
                           MasterUsername="mlflow", ManageMasterUserPassword=True, StorageEncrypted=True,
                           KmsKeyId=key, PubliclyAccessible=False, DeletionProtection=True,
                           BackupRetentionPeriod=14, Tags=tag_list(tags))

    ddb = boto3.client("dynamodb", region_name=REGION)
    table = f"{prefix}-online"
    ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST", Tags=tag_list(tags))
    ddb.update_continuous_backups(TableName=table,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})

    ec2 = boto3.client("ec2", region_name=REGION)
    lt = ec2.create_launch_template(
        LaunchTemplateName=f"{prefix}-gpu", LaunchTemplateData={"MetadataOptions": {
            "HttpTokens": "required", "HttpPutResponseHopLimit": 1}},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": tag_list(tags)}])["LaunchTemplate"]
    eks = boto3.client("eks", region_name=REGION)
    cluster = prefix
    eks.create_cluster(
        name=cluster, roleArn="arn:aws:iam::123456789012:role/eks", tags=tags,
        resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"], "endpointPublicAccess": False,
                            "endpointPrivateAccess": True},
        logging={"clusterLogging": [{"types": LOGS, "enabled": True}]},
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key}}])  # type: ignore[list-item]
    eks.create_nodegroup(clusterName=cluster, nodegroupName="gpu", subnets=["subnet-0a1b2c3d"],
                         nodeRole="arn:aws:iam::123456789012:role/node",
                         launchTemplate={"id": lt["LaunchTemplateId"], "version": "1"})
    return {"bucket": bucket, "db": db, "table": table, "cluster": cluster, "lt": lt["LaunchTemplateId"]}


def rows(out: str) -> list[list[str]]:
    """(STATUS, SUBJECT, CONTROL, DETAIL) of each table row."""
    return [re.split(r"\s{2,}", line, maxsplit=3) for line in out.splitlines()
            if line.startswith(("PASS ", "WARN ", "FAIL "))]


def test_compliant_platform_passes(capsys: pytest.CaptureFixture[str]) -> None:
    ids = deploy()
    # Not the platform's: an untagged public-ish bucket and a dev-tagged table are out of scope.
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="someone-elses-bucket")
    deploy(tags={**PROD_TAGS, "environment": "dev"}, prefix="mlops-dev")
    code, out, err = run_cli(capsys, "audit", "--program", str(PROGRAM), "--stack", "prod")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == ("Audit of stack prod: region us-east-1, account 123456789012, tagged environment=prod, "
                        "owner=ml-platform")
    assert lines[1] == ("Found: 1 s3 buckets, 1 eks clusters, 1 rds instances, 1 dynamodb tables, "
                        "1 launch templates")
    assert {r[0] for r in rows(out)} == {"PASS"}
    assert [(r[1], r[2]) for r in rows(out)] == [
        ("s3:mlops-prod-shared-1a2b3c", "encryption"), ("s3:mlops-prod-shared-1a2b3c", "public access block"),
        ("s3:mlops-prod-shared-1a2b3c", "versioning"),
        ("eks:mlops-prod", "endpoint"), ("eks:mlops-prod", "control-plane logging"),
        ("eks:mlops-prod", "secrets encryption"),
        (f"eks:mlops-prod/nodegroup:gpu ({ids['lt']} v1)", "IMDSv2"),
        ("rds:mlops-prod-mlflow-db", "storage encryption"), ("rds:mlops-prod-mlflow-db", "public access"),
        ("rds:mlops-prod-mlflow-db", "deletion protection"), ("rds:mlops-prod-mlflow-db", "backups"),
        ("dynamodb:mlops-prod-online", "point-in-time recovery"),
    ]
    assert lines[-1] == "12 checks: 0 FAIL, 0 WARN, 12 PASS"


def drift(ids: dict[str, Any]) -> None:
    """Changes made in the console, behind Pulumi's back."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.delete_bucket_encryption(Bucket=ids["bucket"])
    s3.delete_public_access_block(Bucket=ids["bucket"])
    s3.put_bucket_versioning(Bucket=ids["bucket"], VersioningConfiguration={"Status": "Suspended"})
    boto3.client("rds", region_name=REGION).modify_db_instance(
        DBInstanceIdentifier=ids["db"], DeletionProtection=False, BackupRetentionPeriod=1, PubliclyAccessible=True,
        ApplyImmediately=True)
    boto3.client("dynamodb", region_name=REGION).update_continuous_backups(
        TableName=ids["table"], PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    boto3.client("eks", region_name=REGION).update_cluster_config(
        name=ids["cluster"], logging={"clusterLogging": [  # moto stores the list as given, so send both entries
            {"types": ["api", "authenticator", "controllerManager"], "enabled": True},
            {"types": ["audit", "scheduler"], "enabled": False}]})
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.create_launch_template(LaunchTemplateName="mlops-prod-stray", LaunchTemplateData={
        "MetadataOptions": {"HttpTokens": "optional"}},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": tag_list(PROD_TAGS)}])


def test_drift_is_found_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    drift(deploy())
    code, out, _ = run_cli(capsys, "audit", "--program", str(PROGRAM), "--stack", "prod")
    assert code == 1
    failed = [r[1:] for r in rows(out) if r[0] == "FAIL"]
    assert failed == [
        ["s3:mlops-prod-shared-1a2b3c", "encryption", "default encryption is none, want SSE-KMS with a customer key"],
        ["s3:mlops-prod-shared-1a2b3c", "public access block",
         "off: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets"],
        ["s3:mlops-prod-shared-1a2b3c", "versioning", "Suspended, want Enabled"],
        ["eks:mlops-prod", "control-plane logging", "off: audit, scheduler"],
        ["rds:mlops-prod-mlflow-db", "public access", "publicly accessible"],
        ["rds:mlops-prod-mlflow-db", "deletion protection", "off; config wants it on"],
        ["rds:mlops-prod-mlflow-db", "backups", "1 days, config wants 14"],
        ["dynamodb:mlops-prod-online", "point-in-time recovery", "disabled"],
        ["ec2:launch-template/mlops-prod-stray", "IMDSv2", "HttpTokens is optional"],
    ]
    assert out.splitlines()[-1] == "13 checks: 9 FAIL, 0 WARN, 4 PASS (drift found)"
    assert "      -> re-enable point-in-time recovery" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    drift(deploy())
    code, out, _ = run_cli(capsys, "audit", "--program", str(PROGRAM), "--stack", "prod", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert (data["stack"], data["region"], data["drift"]) == ("prod", REGION, True)
    assert data["tags"] == {"environment": "prod", "owner": "ml-platform"}
    assert data["resources"]["launch templates"] == 2
    assert {"subject": "dynamodb:mlops-prod-online", "control": "point-in-time recovery", "status": "FAIL",
            "detail": "disabled", "remedy": "re-enable point-in-time recovery"} in data["checks"]


def test_nothing_tagged_reports_zero_resources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "audit", "--program", str(PROGRAM), "--stack", "prod")
    assert code == 0
    assert out.splitlines()[1:] == [
        "Found: 0 s3 buckets, 0 eks clusters, 0 rds instances, 0 dynamodb tables, 0 launch templates",
        "0 checks: 0 FAIL, 0 WARN, 0 PASS"]


@pytest.mark.parametrize(("public", "cidrs", "status", "detail"), [
    (False, [], "PASS", "private only"),
    (True, ["203.0.113.0/24"], "PASS", "private + public for 203.0.113.0/24"),
    (True, ["0.0.0.0/0"], "FAIL", "public endpoint allows 0.0.0.0/0, not in cluster.publicAccessCidrs"),
])
def test_endpoint_expectation_follows_config(public: bool, cidrs: list[str], status: str, detail: str) -> None:
    config = load_platform_config({"environment": "dev", "tags": {"owner": "o", "costCenter": "c"},
                                   "cluster": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}})
    cluster = {"name": "c", "resourcesVpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": public,
                                                   "publicAccessCidrs": cidrs}}
    [endpoint, *_] = eks_checks(cluster, config)
    assert (endpoint.status, endpoint.detail) == (status, detail)
