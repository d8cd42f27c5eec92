"""AuditTrail: a multi-region CloudTrail trail with log file validation, KMS, a hardened (optionally Object Locked)
bucket, a KMS-encrypted CloudWatch log group, and S3 data events on the platform's buckets (the data buckets and the
unguarded ones pods write, such as Airflow's logs), so that "who read which model or feature data, and where did
they write it" has an answer. It records management events too, and says on the trail (tag
`mlops:management-events-copy`, from `trailManagementCopy`) whether they are its account's free first copy or a
billed additional one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, LifecycleRule
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.naming import child, child_options
from ..cost.model import MANAGEMENT_COPY_TAG
from .config import SecurityBaselineConfig

CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"


@dataclass(frozen=True)
class AuditTrailArgs:
    config: SecurityBaselineConfig
    region: str
    """The stack's region (the log group's KMS service principal is regional)."""
    tags: dict[str, str]
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the key, bucket and log group. Default: true."""
    data_bucket_arns: pulumi.Input[Sequence[pulumi.Input[str]]] = field(default_factory=tuple)
    """Buckets whose object reads and writes are recorded (with `config.trail_data_events`): a list, or an Output of
    one. Default: none."""


def data_event_selector(
        bucket_arns: pulumi.Input[Sequence[pulumi.Input[str]]]) -> aws.cloudtrail.TrailAdvancedEventSelectorArgsDict:
    """S3 object-level events (reads and writes) on exactly these buckets (a list, or an Output of one)."""
    prefixes = pulumi.Output.from_input(bucket_arns).apply(lambda arns: [f"{arn}/" for arn in dict.fromkeys(arns)])
    return {
        # The data buckets and the unguarded ones pods write. Renaming a selector updates the trail in place
        # (PutEventSelectors; the selector's name is not a replacing input of pulumi-aws's Trail).
        "name": "S3 data events on the platform's buckets",
        "field_selectors": [
            {"field": "eventCategory", "equals": ["Data"]},
            {"field": "resources.type", "equals": ["AWS::S3::Object"]},
            {"field": "resources.ARN", "starts_withs": prefixes},
        ],
    }


class AuditTrail(pulumi.ComponentResource):
    """The audit trail: a CloudTrail trail with its encrypted bucket, log group and key."""
    trail_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    # long: the trail, its bucket, key, log group and delivery role: the bucket and key policies name the trail ARN,
    #   so they are built together
    def __init__(self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:security:AuditTrail", name, None, opts)
        cfg = args.config
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        trail_name = child(name, "trail")
        # Known before the trail exists, so the bucket policy and the delivery role can be scoped to it.
        trail_arn = pulumi.Output.format(
            "arn:aws:cloudtrail:{0}:{1}:trail/{2}", args.region, identity.account_id, trail_name)
        key = KmsKey(child(name, "key"), KmsKeyArgs(
            description=f"{name} audit trail (log files and log group)", tags=args.tags, protect=args.protect,
            service_principals=[CLOUDTRAIL_PRINCIPAL, f"logs.{args.region}.amazonaws.com"]),
            pulumi.ResourceOptions(parent=self))

        # The bucket policy must name the bucket's own ARN, which exists only once the bucket does: a deferred
        # output breaks that cycle without a wildcard resource.
        deferred: tuple[pulumi.Output[str], Callable[[pulumi.Output[str]], None]] = pulumi.deferred_output()
        bucket_arn, resolve_bucket_arn = deferred
        source = {"StringEquals": {"aws:SourceArn": trail_arn}}
        delivery = [
            bucket_arn.apply(lambda arn: iam.statement(
                "CloudTrailAclCheck", ["s3:GetBucketAcl"], [arn], principals={"Service": CLOUDTRAIL_PRINCIPAL},
                conditions=source)),
            pulumi.Output.all(bucket_arn, identity.account_id).apply(lambda a: iam.statement(
                "CloudTrailWrite", ["s3:PutObject"], [f"{a[0]}/AWSLogs/{a[1]}/*"],
                principals={"Service": CLOUDTRAIL_PRINCIPAL},
                conditions={**source, "StringLike": {"s3:x-amz-acl": ["bucket-owner-full-control"]}})),
        ]
        self.bucket = HardenedBucket(child(name, "bucket"), HardenedBucketArgs(
            kms_key=key, tags=args.tags, protect=args.protect, object_lock_days=cfg.object_lock_days,
            lifecycle=[LifecycleRule(id="archive-trail-logs", prefix="AWSLogs/",
                                     archive_after_days=cfg.trail_archive_after_days)],
            extra_policy_statements=delivery),
            pulumi.ResourceOptions(parent=self))
        resolve_bucket_arn(self.bucket.arn)

        log_group = aws.cloudwatch.LogGroup(
            child(name, "log-group"), name=f"/aws/cloudtrail/{trail_name}", kms_key_id=key.arn,
            # Explicit false as well: the provider keeps the protection on unless told false (pulumi-aws 7
            # LogGroup.deletion_protection_enabled), so omitting it would stop `pulumi destroy` after teardown.
            retention_in_days=cfg.trail_log_retention_days, deletion_protection_enabled=args.protect,
            tags=args.tags, opts=child_options(self, stateful=True, protect=args.protect))
        role = aws.iam.Role(
            child(name, "cloudwatch-role"), tags=args.tags, opts=child_options(self),
            assume_role_policy=iam.trust_document([iam.statement(
                "CloudTrailAssume", ["sts:AssumeRole"], [], principals={"Service": CLOUDTRAIL_PRINCIPAL},
                conditions=source)]))
        role_policy = aws.iam.RolePolicy(
            child(name, "cloudwatch-policy"), role=role.id, opts=child_options(self),
            policy=iam.document([iam.statement(
                "DeliverTrailEvents", ["logs:CreateLogStream", "logs:PutLogEvents"],
                [pulumi.Output.concat(log_group.arn, ":log-stream:*")])]))

        selectors: list[aws.cloudtrail.TrailAdvancedEventSelectorArgsDict] = [
            {"name": "Management events", "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}]},
        ]
        arns = args.data_bucket_arns
        if cfg.trail_data_events and (not isinstance(arns, Sequence) or arns):
            selectors.append(data_event_selector(args.data_bucket_arns))
        trail = aws.cloudtrail.Trail(
            trail_name, name=trail_name, s3_bucket_name=self.bucket.bucket_name, kms_key_id=key.arn,
            is_multi_region_trail=True, include_global_service_events=True, enable_log_file_validation=True,
            enable_logging=True, advanced_event_selectors=selectors,
            # CloudTrail requires the log-stream wildcard on the group ARN.
            cloud_watch_logs_group_arn=pulumi.Output.concat(log_group.arn, ":*"), cloud_watch_logs_role_arn=role.arn,
            # Which copy of the account's management events this trail is (billed after the first): a tag, so
            # the estimate reads it from the plan and a change updates the trail in place.
            tags={**args.tags, MANAGEMENT_COPY_TAG: cfg.effective_trail_management_copy},
            opts=child_options(self, depends_on=[self.bucket, role_policy]))
        self.trail_arn = trail.arn
        self.bucket_name = self.bucket.bucket_name
        self.log_group_name = log_group.name
        self.key_arn = key.arn
        self.register_outputs({"trailArn": self.trail_arn, "bucketName": self.bucket_name,
                               "logGroupName": self.log_group_name, "keyArn": self.key_arn})
