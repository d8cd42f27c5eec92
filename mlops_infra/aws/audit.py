"""Live audit: do the deployed resources still meet the platform's key controls? Finds drift made outside Pulumi.

Resources are found by the platform's tags (`environment` and `owner`, which every component sets from config),
never by name: Pulumi auto-names many resources. S3 buckets, RDS instances and DynamoDB tables come from the
Resource Groups Tagging API (`get_resources`); EKS clusters from `list_clusters` + the tags `describe_cluster`
returns; launch templates from the clusters' node groups and from `describe_launch_templates` filtered by tag.
Expectations that differ by environment (endpoint exposure, RDS deletion protection and backup days) come from
the stack's config; the rest are fixed controls.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ..config.database import DatabaseConfig
from ..platform.config import PlatformConfig
from .results import Check
from .session import Aws, error_code

EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
_PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


# ---- pure checks on described resources ------------------------------------------------------------------------
def s3_checks(bucket: str, encryption: Mapping[str, Any] | None, public_access_block: Mapping[str, Any] | None,
              versioning: str | None) -> list[Check]:
    """`encryption` is ApplyServerSideEncryptionByDefault (None: no configuration); `public_access_block` the
    four flags (None: no block); `versioning` the Status (None: never enabled)."""
    subject = f"s3:{bucket}"
    algo = (encryption or {}).get("SSEAlgorithm")
    key = str((encryption or {}).get("KMSMasterKeyID") or "")
    if algo in ("aws:kms", "aws:kms:dsse") and key and not key.endswith("alias/aws/s3"):
        enc = Check(subject, "encryption", "PASS", f"{algo} with a customer key")
    else:
        what = "none" if not algo else f"{algo}" + (" with the AWS-managed key" if algo.startswith("aws:kms") else "")
        enc = Check(subject, "encryption", "FAIL", f"default encryption is {what}, want SSE-KMS with a customer key",
                    "restore the bucket's SSE-KMS configuration (pulumi up, or pulumi refresh then up)")
    off = [f for f in _PAB_FLAGS if not (public_access_block or {}).get(f)]
    pab = (Check(subject, "public access block", "PASS", "all four on") if not off else
           Check(subject, "public access block", "FAIL", "off: " + ", ".join(off), "turn all four flags back on"))
    ver = (Check(subject, "versioning", "PASS", "Enabled") if versioning == "Enabled" else
           Check(subject, "versioning", "FAIL", f"{versioning or 'never enabled'}, want Enabled", "re-enable versioning"))
    return [enc, pab, ver]


def eks_checks(cluster: Mapping[str, Any], config: PlatformConfig) -> list[Check]:
    subject = f"eks:{cluster['name']}"
    vpc = cluster.get("resourcesVpcConfig") or {}
    out: list[Check] = []
    public, private = bool(vpc.get("endpointPublicAccess")), bool(vpc.get("endpointPrivateAccess"))
    cidrs = list(vpc.get("publicAccessCidrs") or [])
    allowed = set(config.cluster.public_access_cidrs)
    if not private:
        out.append(Check(subject, "endpoint", "FAIL", "private endpoint is off", "turn the private endpoint back on"))
    elif public and not config.cluster.endpoint_public_access:
        out.append(Check(subject, "endpoint", "FAIL", f"public endpoint is on ({', '.join(cidrs) or 'no CIDRs'}); "
                         "config wants it private", "turn the public endpoint off"))
    elif public and (extra := [c for c in cidrs if c not in allowed or ipaddress.ip_network(c).prefixlen == 0]):
        out.append(Check(subject, "endpoint", "FAIL", f"public endpoint allows {', '.join(extra)}, not in "
                         "cluster.publicAccessCidrs", "restore publicAccessCidrs from config"))
    else:
        out.append(Check(subject, "endpoint", "PASS", "private only" if not public else
                         f"private + public for {', '.join(cidrs)}"))
    enabled = {t for entry in (cluster.get("logging") or {}).get("clusterLogging", []) if entry.get("enabled")
               for t in entry.get("types", [])}
    missing = [t for t in EKS_LOG_TYPES if t not in enabled]
    out.append(Check(subject, "control-plane logging", "PASS", "all five log types") if not missing else
               Check(subject, "control-plane logging", "FAIL", "off: " + ", ".join(missing), "enable all five log types"))
    secrets = [e for e in cluster.get("encryptionConfig") or [] if "secrets" in e.get("resources", [])
               and (e.get("provider") or {}).get("keyArn")]
    out.append(Check(subject, "secrets encryption", "PASS", "KMS envelope encryption") if secrets else
               Check(subject, "secrets encryption", "FAIL", "Kubernetes secrets are not KMS-encrypted",
                     "associate the cluster KMS key (aws eks associate-encryption-config)"))
    return out


def rds_checks(db: Mapping[str, Any], config: PlatformConfig) -> list[Check]:
    subject = f"rds:{db['DBInstanceIdentifier']}"
    # MLflow's backend store; with MLflow off, the Feast SQL registry's (the same Postgres block and profile).
    want = config.mlflow.database if config.mlflow else \
        config.feast.registry_database if config.feast else DatabaseConfig()
    out = [
        Check(subject, "storage encryption", "PASS", "encrypted") if db.get("StorageEncrypted") else
        Check(subject, "storage encryption", "FAIL", "storage is not encrypted",
              "restore from an encrypted snapshot copy (encryption cannot be turned on in place)"),
        Check(subject, "public access", "FAIL", "publicly accessible", "set PubliclyAccessible to false")
        if db.get("PubliclyAccessible") else Check(subject, "public access", "PASS", "not publicly accessible"),
    ]
    if db.get("DeletionProtection"):
        out.append(Check(subject, "deletion protection", "PASS", "on"))
    elif want.deletion_protection:
        out.append(Check(subject, "deletion protection", "FAIL", "off; config wants it on",
                         "turn deletion protection back on"))
    else:
        out.append(Check(subject, "deletion protection", "PASS", "off (config: modelRegistry.database.deletionProtection "
                         "false)"))
    days = int(db.get("BackupRetentionPeriod") or 0)
    out.append(Check(subject, "backups", "PASS", f"{days} days") if days >= want.backup_retention_days else
               Check(subject, "backups", "FAIL", f"{days} days, config wants {want.backup_retention_days}",
                     "restore the backup retention period"))
    return out


def dynamodb_check(table: str, pitr_status: str | None) -> Check:
    subject = f"dynamodb:{table}"
    if pitr_status == "ENABLED":
        return Check(subject, "point-in-time recovery", "PASS", "enabled")
    return Check(subject, "point-in-time recovery", "FAIL", f"{(pitr_status or 'unknown').lower()}",
                 "re-enable point-in-time recovery")


def imds_check(subject: str, metadata_options: Mapping[str, Any] | None) -> Check:
    tokens = (metadata_options or {}).get("HttpTokens")
    if tokens == "required":
        hops = (metadata_options or {}).get("HttpPutResponseHopLimit")
        return Check(subject, "IMDSv2", "PASS", "required" + (f", hop limit {hops}" if hops else ""))
    return Check(subject, "IMDSv2", "FAIL", f"HttpTokens is {tokens or 'not set (optional)'}",
                 "set MetadataOptions.HttpTokens=required in a new template version")


# ---- discovery and description (boto3) -------------------------------------------------------------------------
@dataclass
class AuditReport:
    region: str
    account: str
    tags: dict[str, str]
    resources: dict[str, int] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"region": self.region, "account": self.account, "tags": self.tags, "resources": self.resources,
                "drift": any(c.status == "FAIL" for c in self.checks),
                "checks": [c.as_json() for c in self.checks]}


def _matches(tags: Mapping[str, str] | None, wanted: Mapping[str, str]) -> bool:
    return all((tags or {}).get(k) == v for k, v in wanted.items())


def _tagged_arns(aws: Aws, wanted: Mapping[str, str], types: Sequence[str]) -> dict[str, list[str]]:
    """ARNs per resource type from the Resource Groups Tagging API."""
    found: dict[str, list[str]] = {t: [] for t in types}
    pages = aws.tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": k, "Values": [v]} for k, v in wanted.items()], ResourceTypeFilters=list(types))
    for page in pages:
        for res in page.get("ResourceTagMappingList", []):
            arn = res["ResourceARN"]
            parts = arn.split(":", 5)  # arn:partition:service:region:account:resource
            service, resource = parts[2], parts[5]
            kind = service if service == "s3" else f"{service}:{resource.split(':', 1)[0].split('/', 1)[0]}"
            if kind in found:
                found[kind].append(arn)
    return found


def _missing(call: Any, *codes: str) -> Any:
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) in codes:
            return None
        raise


def _audit_buckets(aws: Aws, arns: Iterable[str]) -> list[Check]:
    s3, checks = aws.s3, []
    for arn in arns:
        b = arn.split(":::", 1)[1]
        enc = _missing(lambda b=b: s3.get_bucket_encryption(Bucket=b), "ServerSideEncryptionConfigurationNotFoundError")
        rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        pab = _missing(lambda b=b: s3.get_public_access_block(Bucket=b), "NoSuchPublicAccessBlockConfiguration")
        versioning = s3.get_bucket_versioning(Bucket=b).get("Status")
        checks += s3_checks(b, rules[0].get("ApplyServerSideEncryptionByDefault") if rules else None,
                            (pab or {}).get("PublicAccessBlockConfiguration"), versioning)
    return checks


def _audit_databases(aws: Aws, arns: Iterable[str], config: PlatformConfig) -> list[Check]:
    wanted, checks = set(arns), []
    if not wanted:
        return []
    for page in aws.rds.get_paginator("describe_db_instances").paginate():
        for db in page["DBInstances"]:
            if db.get("DBInstanceArn") in wanted:
                checks += rds_checks(dict(db), config)
    return checks


def _audit_tables(aws: Aws, arns: Iterable[str]) -> list[Check]:
    checks = []
    for arn in arns:
        table = arn.rsplit("/", 1)[1]
        desc = aws.dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        checks.append(dynamodb_check(table, desc.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")))
    return checks


def _launch_template_options(aws: Aws, template_id: str, version: str) -> Mapping[str, Any] | None:
    versions = aws.ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=[version])
    items = versions.get("LaunchTemplateVersions", [])
    return items[0].get("LaunchTemplateData", {}).get("MetadataOptions") if items else None


def _audit_clusters(aws: Aws, wanted: Mapping[str, str], config: PlatformConfig) -> tuple[int, list[Check], set[str]]:
    """Checks of the tagged clusters and their node groups' launch templates; also the template ids seen."""
    count, checks, seen = 0, [], set()
    for page in aws.eks.get_paginator("list_clusters").paginate():
        for name in page["clusters"]:
            cluster = aws.eks.describe_cluster(name=name)["cluster"]
            if not _matches(cluster.get("tags"), wanted):
                continue
            count += 1
            checks += eks_checks(dict(cluster), config)
            for ng_page in aws.eks.get_paginator("list_nodegroups").paginate(clusterName=name):
                for ng_name in ng_page["nodegroups"]:
                    ng = aws.eks.describe_nodegroup(clusterName=name, nodegroupName=ng_name)["nodegroup"]
                    subject = f"eks:{name}/nodegroup:{ng_name}"
                    lt = ng.get("launchTemplate")
                    if not lt or not lt.get("id"):
                        checks.append(Check(subject, "IMDSv2", "WARN", "no launch template of ours; IMDSv2 cannot be "
                                            "verified", "use a launch template with HttpTokens=required"))
                        continue
                    seen.add(lt["id"])
                    options = _launch_template_options(aws, lt["id"], str(lt.get("version") or "$Default"))
                    checks.append(imds_check(f"{subject} ({lt['id']} v{lt.get('version')})", options))
    return count, checks, seen


def _audit_launch_templates(aws: Aws, wanted: Mapping[str, str], skip: set[str]) -> tuple[int, list[Check]]:
    """Tagged launch templates no node group referenced (e.g. left behind or used elsewhere): their default version."""
    count, checks = 0, []
    pages = aws.ec2.get_paginator("describe_launch_templates").paginate(
        Filters=[{"Name": f"tag:{k}", "Values": [v]} for k, v in wanted.items()])
    for page in pages:
        for lt in page.get("LaunchTemplates", []):
            count += 1
            if lt["LaunchTemplateId"] in skip:
                continue
            options = _launch_template_options(aws, lt["LaunchTemplateId"], str(lt.get("DefaultVersionNumber", "$Default")))
            checks.append(imds_check(f"ec2:launch-template/{lt.get('LaunchTemplateName', lt['LaunchTemplateId'])}",
                                     options))
    return count, checks


def audit(aws: Aws, config: PlatformConfig) -> AuditReport:
    """Read the account and check every platform resource found by tags. Raises AwsOperationError."""
    wanted = {"environment": config.environment, "owner": config.tags.owner}
    with aws.errors():
        report = AuditReport(aws.region, aws.account_id(), wanted)
        arns = _tagged_arns(aws, wanted, ("s3", "rds:db", "dynamodb:table"))
        report.checks += _audit_buckets(aws, arns["s3"])
        clusters, cluster_checks, seen = _audit_clusters(aws, wanted, config)
        report.checks += cluster_checks
        report.checks += _audit_databases(aws, arns["rds:db"], config)
        report.checks += _audit_tables(aws, arns["dynamodb:table"])
        templates, lt_checks = _audit_launch_templates(aws, wanted, seen)
        report.checks += lt_checks
        report.resources = {"s3 buckets": len(arns["s3"]), "eks clusters": clusters, "rds instances": len(arns["rds:db"]),
                            "dynamodb tables": len(arns["dynamodb:table"]), "launch templates": templates}
    return report
