"""Family kms-users: each user of something encrypted with a customer key, broken (both ends named) and repaired."""

from __future__ import annotations

import json
from typing import Any

from .cases import Case, check, params
from .helpers import R

KMS = "mlops-inv-kms-key-users"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/k"
ROOT = {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*",
        "Resource": "*"}
ROLE = "aws:iam/role:Role"


def key(*statements: dict[str, Any], root: bool = True, arn: bool = True) -> R:
    doc = {"Statement": [*([ROOT] if root else []), *statements]}
    return R("aws:kms/key:Key", "key", {"policy": json.dumps(doc), **({"arn": KEY_ARN} if arn else {})})


def service(name: str, *actions: str, **condition: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"Service": name}, "Action": list(actions), "Resource": "*",
            **({"Condition": condition} if condition else {})}


def role(name: str, *statements: dict[str, Any]) -> list[R]:
    """A role named `name` (physical name too) with one inline RolePolicy of `statements`."""
    out = [R(ROLE, name, {"name": name, "assumeRolePolicy": "{}"})]
    if statements:
        out.append(R("aws:iam/rolePolicy:RolePolicy", f"{name}-policy",
                     {"role": name, "policy": json.dumps({"Statement": list(statements)})}, deps={"role": [name]}))
    return out


def allow(actions: list[str], resource: str, **condition: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource,
            **({"Condition": condition} if condition else {})}


# --- CloudWatch Logs (folds in mlops-inv-log-group-key-grants-logs) -------------------------------------------------

LOGS = service("logs.us-east-1.amazonaws.com", "kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*",
               "kms:GenerateDataKey*", "kms:Describe*")
GROUP = R("aws:cloudwatch/logGroup:LogGroup", "lg", {"name": "/aws/eks/c/cluster", "kmsKeyId": KEY_ARN},
          deps={"kmsKeyId": ["key"]})
NO_LOGS = ("lg: log group lg (/aws/eks/c/cluster) is encrypted with KMS key key, whose policy does not let "
           "logs.us-east-1.amazonaws.com Encrypt/Decrypt/GenerateDataKey for it: add that service statement to key "
           "key's policy (condition kms:EncryptionContext:aws:logs:arn matching the group)")


def logs_scoped(pattern: str) -> dict[str, Any]:
    return {**LOGS, "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": pattern}}}


# --- S3 ---------------------------------------------------------------------------------------------------------

BUCKET = R("aws:s3/bucket:Bucket", "data", {"bucket": "data-bkt"})
SSE = R("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "data-sse", {
    "bucket": "data-bkt", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms",
                                                                            "kmsMasterKeyId": KEY_ARN}}]},
    deps={"bucket": ["data"], "rules": ["key"]})
READ = allow(["s3:GetObject", "s3:ListBucket"], "arn:aws:s3:::data-bkt/*")
WRITE = allow(["s3:PutObject"], "arn:aws:s3:::data-bkt/*")
DECRYPT = allow(["kms:Decrypt"], KEY_ARN)


def reader_message(name: str, verb: str, thing: str, actions: str, via: str) -> str:
    return (f"key: role {name} {verb} {thing}, encrypted with KMS key key, but neither the key policy nor {name}'s "
            f"IAM policies allow it {actions} (via {via}): grant {actions} on key key to role {name}")


# --- SNS ----------------------------------------------------------------------------------------------------------

TOPIC = R("aws:sns/topic:Topic", "alerts", {"name": "alerts", "kmsMasterKeyId": KEY_ARN},
          deps={"kmsMasterKeyId": ["key"]})
ALARM = R("aws:cloudwatch/metricAlarm:MetricAlarm", "cpu-alarm", {"alarmActions": ["arn:aws:sns:us-east-1:1:alerts"]},
          deps={"alarmActions": ["alerts"]})
RULE = R("aws:cloudwatch/eventTarget:EventTarget", "findings-target", {"arn": "arn:aws:sns:us-east-1:1:alerts"},
         deps={"arn": ["alerts"]})
ALERTS = "arn:aws:sns:us-east-1:111122223333:alerts"
TOPIC_ARN = R(TOPIC.type, "alerts", {**TOPIC.inputs, "arn": ALERTS}, deps=TOPIC.deps)
PUBLISH = ("kms:Decrypt", "kms:GenerateDataKey*")


def publisher_message(senders: str, service_name: str) -> str:
    return (f"key: {senders} publish to SNS topic alerts through {service_name}, but the policy of its KMS key key "
            f"does not allow {service_name} kms:Decrypt, kms:GenerateDataKey: add a statement for Service "
            f"{service_name} with kms:Decrypt and kms:GenerateDataKey* to the key policy")


# --- EBS: Auto Scaling launch templates and the CSI driver -------------------------------------------------------

LT = R("aws:ec2/launchTemplate:LaunchTemplate", "gpu-lt", {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
    "encrypted": "true", "kmsKeyId": KEY_ARN}}]}, deps={"blockDeviceMappings": ["key"]})
NODES = R("aws:eks/nodeGroup:NodeGroup", "gpu-nodes", {"launchTemplate": {"id": "lt-1", "version": "1"}},
          deps={"launchTemplate": ["gpu-lt"]})
SLR = "arn:aws:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
SLR_BY_NAME = [{"Effect": "Allow", "Principal": {"AWS": SLR}, "Action": [*USE, "kms:CreateGrant"], "Resource": "*"}]
SLR_BY_CONDITION = [  # mlops_infra.blocks.kms.ec2_volume_statements: principal * narrowed by aws:PrincipalArn
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": USE, "Resource": "*", "Condition": {
        "StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}, "ArnEquals": {"aws:PrincipalArn": [SLR]}}},
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:CreateGrant"], "Resource": "*", "Condition": {
        "ArnEquals": {"aws:PrincipalArn": [SLR]}, "Bool": {"kms:GrantIsForAWSResource": True}}}]
NO_SLR = ("key: gpu-nodes launch instances from launch template gpu-lt, whose volumes are encrypted with KMS key key, "
          "but the key policy does not let AWSServiceRoleForAutoScaling kms:Decrypt, "
          "kms:GenerateDataKeyWithoutPlaintext, kms:CreateGrant: add the Auto Scaling service-linked role to the key "
          "policy (or a KMS grant to it)")
SC = R("kubernetes:storage.k8s.io/v1:StorageClass", "gp3-encrypted", {
    "metadata": {"name": "gp3"}, "provisioner": "ebs.csi.aws.com", "parameters": {"encrypted": "true",
                                                                                  "kmsKeyId": KEY_ARN}})
CSI_TRUST = json.dumps({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                                       "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc"},
                                       "Condition": {"StringEquals": {
                                           "oidc:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa"}}}]})


def csi_role(*statements: dict[str, Any]) -> list[R]:
    out = role("ebs-csi", *statements)
    out[0] = R(ROLE, "ebs-csi", {"name": "ebs-csi", "assumeRolePolicy": CSI_TRUST})
    return out


CSI_DATA_KEYS = allow(["kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext"], KEY_ARN)
GRANT = allow(["kms:CreateGrant"], KEY_ARN, Bool={"kms:GrantIsForAWSResource": "true"})

# --- Secrets Manager and DynamoDB -------------------------------------------------------------------------------------

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"
SECRET = R("aws:secretsmanager/secret:Secret", "db-secret", {"name": "db", "kmsKeyId": KEY_ARN, "arn": SECRET_ARN},
           deps={"kmsKeyId": ["key"]})
TABLE = R("aws:dynamodb/table:Table", "features", {"name": "features", "serverSideEncryption": {
    "enabled": True, "kmsKeyArn": KEY_ARN}}, deps={"serverSideEncryption": ["key"]})
TABLE_ARN = "arn:aws:dynamodb:us-east-1:111122223333:table/features"
DB = R("aws:rds/instance:Instance", "kfp-db", {"manageMasterUserPassword": True, "masterUserSecretKmsKeyId": KEY_ARN},
       deps={"masterUserSecretKmsKeyId": ["key"]})


def master_secret_reader(*extra: dict[str, Any]) -> list[R]:
    """The master secret's ARN is an output of the database: the reader's policy depends on it."""
    read = allow(["secretsmanager:GetSecretValue"], "arn:aws:secretsmanager:us-east-1:111122223333:secret:rds!db-1")
    return [R(ROLE, "kfp", {"name": "kfp", "assumeRolePolicy": "{}"}),
            R("aws:iam/rolePolicy:RolePolicy", "kfp-policy", {"role": "kfp", "policy": json.dumps(
                {"Statement": [read, *extra]})}, deps={"role": ["kfp"], "policy": ["kfp-db"]})]

CASES = [
    Case("logs-granted", KMS, [key(LOGS), GROUP], []),
    Case("logs-scoped-by-context", KMS, [key(logs_scoped("arn:aws:logs:us-east-1:1:log-group:/aws/eks/*")), GROUP], []),
    Case("logs-context-other-group", KMS, [key(logs_scoped("arn:aws:logs:us-east-1:1:log-group:/aws/vpc/*")), GROUP],
         [NO_LOGS]),
    Case("logs-other-region", KMS, [key({**LOGS, "Principal": {"Service": "logs.eu-west-1.amazonaws.com"}}), GROUP],
         [NO_LOGS]),
    Case("logs-default-key-policy", KMS, [R("aws:kms/key:Key", "key", {"arn": KEY_ARN}), GROUP], [NO_LOGS]),
    # A plan records inputs only: the key's ARN is learned from the log group's kmsKeyId that came from it.
    Case("key-arn-from-its-users", KMS, [key(arn=False), GROUP], [NO_LOGS]),
    # S3 readers and writers, through IAM when the key policy delegates to the account.
    Case("s3-reader-with-decrypt", KMS, [key(), BUCKET, SSE, *role("reader", READ, DECRYPT)], []),
    Case("s3-reader-without-decrypt", KMS, [key(), BUCKET, SSE, *role("reader", READ)],
         [reader_message("reader", "reads bucket", "data", "kms:Decrypt", "s3")]),
    Case("s3-reader-decrypt-via-other-service", KMS, [
        key(), BUCKET, SSE, *role("reader", READ, allow(
            ["kms:Decrypt"], KEY_ARN, StringEquals={"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}))],
         [reader_message("reader", "reads bucket", "data", "kms:Decrypt", "s3")]),
    Case("s3-reader-decrypt-via-s3", KMS, [key(), BUCKET, SSE, *role("reader", READ, allow(
        ["kms:Decrypt"], KEY_ARN, StringEquals={"kms:ViaService": "s3.us-east-1.amazonaws.com"}))], []),
    Case("s3-iam-grant-without-delegation", KMS, [key(root=False), BUCKET, SSE, *role("reader", READ, DECRYPT)],
         [reader_message("reader", "reads bucket", "data", "kms:Decrypt", "s3")]),
    Case("s3-reader-named-in-key-policy", KMS, [
        key({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/reader"},
             "Action": ["kms:Decrypt"], "Resource": "*"}, root=False), BUCKET, SSE, *role("reader", READ)], []),
    Case("s3-writer-without-data-key", KMS, [key(), BUCKET, SSE, *role("writer", WRITE, DECRYPT)],
         [reader_message("writer", "writes bucket", "data", "kms:GenerateDataKey", "s3")]),
    Case("s3-star-resource-not-judged", KMS, [key(), BUCKET, SSE, *role("any", allow(["s3:GetObject"], "*"))], []),
    # SNS: AWS services that publish alarms and events, and IAM publishers.
    Case("alarm-publisher-granted", KMS, [key(service("cloudwatch.amazonaws.com", *PUBLISH)), TOPIC, ALARM], []),
    Case("alarm-publisher-missing", KMS, [key(), TOPIC, ALARM],
         [publisher_message("cpu-alarm", "cloudwatch.amazonaws.com")]),
    Case("eventbridge-publisher-missing", KMS, [key(service("cloudwatch.amazonaws.com", *PUBLISH)), TOPIC, RULE],
         [publisher_message("findings-target", "events.amazonaws.com")]),
    Case("role-publisher-missing", KMS, [key(), TOPIC_ARN, *role("notifier", allow(["sns:Publish"], ALERTS))],
         [reader_message("notifier", "publishes to topic", "alerts", "kms:Decrypt, kms:GenerateDataKey", "sns")]),
    Case("role-publisher-granted", KMS, [key(), TOPIC_ARN, *role("notifier", allow(["sns:Publish"], ALERTS), allow(
        ["kms:Decrypt", "kms:GenerateDataKey*"], KEY_ARN))], []),
    # EBS: Auto Scaling's service-linked role, and the EBS CSI driver's role.
    Case("node-group-slr-named", KMS, [key(*SLR_BY_NAME), LT, NODES], []),
    Case("node-group-slr-by-condition", KMS, [key(*SLR_BY_CONDITION), LT, NODES], []),
    Case("node-group-slr-missing", KMS, [key(), LT, NODES], [NO_SLR]),
    Case("launch-template-unused-not-judged", KMS, [key(), LT], []),
    Case("csi-role-granted", KMS, [key(), SC, *csi_role(GRANT, CSI_DATA_KEYS)], []),
    Case("csi-role-without-grant", KMS, [key(), SC, *csi_role(CSI_DATA_KEYS)],
         [reader_message("ebs-csi", "(the EBS CSI driver) provisions volumes of StorageClass", "gp3-encrypted",
                         "kms:CreateGrant", "ec2")]),
    # aws-ebs-csi-driver docs/install.md: Decrypt, GenerateDataKeyWithoutPlaintext and CreateGrant
    Case("csi-role-without-data-key", KMS, [key(), SC, *csi_role(GRANT, DECRYPT)],
         [reader_message("ebs-csi", "(the EBS CSI driver) provisions volumes of StorageClass", "gp3-encrypted",
                         "kms:GenerateDataKeyWithoutPlaintext", "ec2")]),
    # Secrets Manager and DynamoDB readers.
    Case("secret-reader-with-decrypt", KMS, [key(), SECRET, *role("app", allow(["secretsmanager:GetSecretValue"],
                                                                             SECRET_ARN), DECRYPT)], []),
    Case("secret-reader-without-decrypt", KMS, [key(), SECRET, *role("app", allow(["secretsmanager:GetSecretValue"],
                                                                                SECRET_ARN))],
         [reader_message("app", "reads secret", "db-secret", "kms:Decrypt", "secretsmanager")]),
    Case("table-reader-without-decrypt", KMS, [key(), TABLE, *role("feast", allow(["dynamodb:GetItem"], TABLE_ARN))],
         [reader_message("feast", "reads or writes table", "features", "kms:Decrypt", "dynamodb")]),
    Case("rds-master-secret-reader-without-decrypt", KMS, [key(), DB, *master_secret_reader()],
         [reader_message("kfp", "reads the RDS-managed master secret of", "kfp-db", "kms:Decrypt", "secretsmanager")]),
    Case("rds-master-secret-reader-with-decrypt", KMS, [key(), DB, *master_secret_reader(DECRYPT)], []),
    Case("table-reader-with-decrypt", KMS, [key(), TABLE, *role("feast", allow(["dynamodb:GetItem"], TABLE_ARN),
                                                                DECRYPT)], []),
]


@params(CASES)
def test_kms_users(case: Case) -> None:
    check(case)
