"""RDS, DynamoDB and ElastiCache policies."""

from __future__ import annotations

from mlops_policies.aws_dynamodb import TABLE
from mlops_policies.aws_elasticache import GROUP
from mlops_policies.aws_rds import CLUSTER, INSTANCE

from .cases import Case, check, params
from .helpers import R

KEY = "arn:aws:kms:us-east-1:1:key/x"
DB = {"engine": "postgres", "storageEncrypted": True, "kmsKeyId": KEY, "publiclyAccessible": False,
      "deletionProtection": True, "backupRetentionPeriod": 14, "multiAz": True, "iamDatabaseAuthenticationEnabled": True,
      "enabledCloudwatchLogsExports": ["postgresql", "upgrade"], "performanceInsightsEnabled": True,
      "performanceInsightsKmsKeyId": KEY}
TABLE_OK = {"pointInTimeRecovery": {"enabled": True}, "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY},
            "deletionProtectionEnabled": True}
REDIS = {"atRestEncryptionEnabled": True, "kmsKeyId": KEY, "transitEncryptionEnabled": True, "authToken": "[secret]",
         "automaticFailoverEnabled": True}


def db(**changes: object) -> list[R]:
    return [R(INSTANCE, "db", {**DB, **changes})]


CASES = [
    Case("cmk", "mlops-rds-encrypted-cmk", db(), []),
    Case("plain", "mlops-rds-encrypted-cmk", db(storageEncrypted=False), ["db: storage is not encrypted (storageEncrypted)"]),
    Case("aws-key", "mlops-rds-encrypted-cmk", db(kmsKeyId=None),
         ["db: storage uses the AWS-managed aws/rds key; set kmsKeyId to a customer-managed key"]),
    Case("aurora-member-exempt", "mlops-rds-encrypted-cmk", [R(INSTANCE, "member", {"engine": "aurora-postgresql",
                                                                                    "clusterIdentifier": "c"})], []),
    Case("aurora-cluster", "mlops-rds-encrypted-cmk", [R(CLUSTER, "c", {"storageEncrypted": False})],
         ["c: storage is not encrypted (storageEncrypted)"]),
    Case("private", "mlops-rds-not-public", db(), []),
    Case("public", "mlops-rds-not-public", db(publiclyAccessible=True), ["db: instance is publicly accessible"]),
    Case("on", "mlops-rds-deletion-protection", db(), []),
    Case("off", "mlops-rds-deletion-protection", db(deletionProtection=False), ["db: deletion protection is off"]),
    Case("14-days", "mlops-rds-backup-retention", db(), []),
    Case("dev-1-day", "mlops-rds-backup-retention", db(backupRetentionPeriod=1), [], env="dev"),
    Case("prod-3-days", "mlops-rds-backup-retention", db(backupRetentionPeriod=3),
         ["db: backups are kept 3 days; at least 7 required in prod"]),
    Case("default-1-day", "mlops-rds-backup-retention", db(backupRetentionPeriod=None),
         ["db: backups are kept 1 days; at least 7 required in prod"]),
    Case("multi-az", "mlops-rds-multi-az", db(), []),
    Case("single-az-in-dev", "mlops-rds-multi-az", db(multiAz=False), [], env="dev"),
    Case("single-az-in-prod", "mlops-rds-multi-az", db(multiAz=False), ["db: instance is single-AZ in prod"]),
    Case("staging-opt-in", "mlops-rds-multi-az", db(multiAz=False), ["db: instance is single-AZ in staging"],
         env="staging", config={"environments": ["staging", "prod"]}),
    Case("on", "mlops-rds-iam-auth", db(), []),
    Case("off", "mlops-rds-iam-auth", db(iamDatabaseAuthenticationEnabled=None), ["db: IAM database authentication is off"]),
    Case("exports", "mlops-rds-log-exports", db(), []),
    Case("none", "mlops-rds-log-exports", db(enabledCloudwatchLogsExports=[]),
         ["db: no logs are exported to CloudWatch (enabledCloudwatchLogsExports)"]),
    Case("default-on", "mlops-rds-auto-minor-upgrade", db(), []),
    Case("off", "mlops-rds-auto-minor-upgrade", db(autoMinorVersionUpgrade=False),
         ["db: automatic minor version upgrades are off"]),
    Case("cmk", "mlops-rds-performance-insights-kms", db(), []),
    Case("aws-key", "mlops-rds-performance-insights-kms", db(performanceInsightsKmsKeyId=None),
         ["db: Performance Insights uses the AWS-managed key (performanceInsightsKmsKeyId)"]),
    Case("on", "mlops-dynamodb-pitr", [R(TABLE, "t", TABLE_OK)], []),
    Case("off", "mlops-dynamodb-pitr", [R(TABLE, "t", {**TABLE_OK, "pointInTimeRecovery": None})],
         ["t: point-in-time recovery is off"]),
    Case("cmk", "mlops-dynamodb-kms", [R(TABLE, "t", TABLE_OK)], []),
    Case("owned-key", "mlops-dynamodb-kms", [R(TABLE, "t", {})],
         ["t: table uses the AWS-owned key; enable serverSideEncryption with a customer-managed key"]),
    Case("managed-key", "mlops-dynamodb-kms", [R(TABLE, "t", {"serverSideEncryption": {"enabled": True}})],
         ["t: table uses the AWS-managed aws/dynamodb key; set serverSideEncryption.kmsKeyArn"]),
    Case("on", "mlops-dynamodb-deletion-protection", [R(TABLE, "t", TABLE_OK)], []),
    Case("off", "mlops-dynamodb-deletion-protection", [R(TABLE, "t", {})], ["t: deletion protection is off"]),
    Case("cmk", "mlops-elasticache-at-rest-encryption", [R(GROUP, "r", REDIS)], []),
    Case("off", "mlops-elasticache-at-rest-encryption", [R(GROUP, "r", {})], ["r: encryption at rest is off"]),
    Case("aws-key", "mlops-elasticache-at-rest-encryption", [R(GROUP, "r", {"atRestEncryptionEnabled": True})],
         ["r: encryption at rest uses the AWS-managed key; set kmsKeyId"]),
    Case("tls", "mlops-elasticache-in-transit-encryption", [R(GROUP, "r", REDIS)], []),
    Case("off", "mlops-elasticache-in-transit-encryption", [R(GROUP, "r", {})], ["r: encryption in transit is off"]),
    Case("preferred", "mlops-elasticache-in-transit-encryption",
         [R(GROUP, "r", {"transitEncryptionEnabled": True, "transitEncryptionMode": "preferred"})],
         ["r: transit encryption mode is preferred; plaintext clients can still connect"]),
    Case("secret-token", "mlops-elasticache-auth", [R(GROUP, "r", REDIS)], []),
    Case("rbac", "mlops-elasticache-auth", [R(GROUP, "r", {"userGroupIds": ["ug"]})], []),
    Case("none", "mlops-elasticache-auth", [R(GROUP, "r", {})],
         ["r: no AUTH token and no user groups: any client in the network can connect"]),
    Case("on", "mlops-elasticache-automatic-failover", [R(GROUP, "r", REDIS)], []),
    Case("off-in-dev", "mlops-elasticache-automatic-failover", [R(GROUP, "r", {})], [], env="dev"),
    Case("off-in-prod", "mlops-elasticache-automatic-failover", [R(GROUP, "r", {})],
         ["r: automatic failover is off in prod"]),
]


@params(CASES)
def test_data_stores(case: Case) -> None:
    check(case)
