"""Monthly cost of a planned inventory: per resource, per component, idle (pools at their minimum) and at max.

Pure functions over `Item`s. Each rule returns Lines; a price missing from the table yields a *not priced* line,
and a resource type that is neither free nor known yields one too, so nothing counts as zero by omission.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .assumptions import Assumptions
from .model import MANAGEMENT_COPIES, MANAGEMENT_COPY_TAG, Estimate, Item, Line
from .prices import PriceTable, load_prices
from .volumes import Context, helm_volume_lines, pvc_lines, volume_lines

DETECTOR_FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
# No standing charge of their own (they configure something that is priced elsewhere, or are free per AWS pricing:
# IAM, VPC plumbing, launch templates, EKS add-ons/access entries, bucket sub-resources, parameter/subnet groups).
FREE_PREFIXES = ("kubernetes:", "pulumi:", "random:", "tls:", "aws:iam/", "aws:s3/bucket")
FREE_TYPES = frozenset({
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/route:Route",
    "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/placementGroup:PlacementGroup", "aws:ec2/flowLog:FlowLog",
    "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy", "aws:autoscaling/tag:Tag", "aws:eks/addon:Addon",
    "aws:eks/accessEntry:AccessEntry", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation", "aws:rds/parameterGroup:ParameterGroup",
    "aws:rds/subnetGroup:SubnetGroup", "aws:sns/topicPolicy:TopicPolicy", "aws:kms/alias:Alias",
    "aws:cloudwatch/eventTarget:EventTarget", DETECTOR_FEATURE,  # enabled features: listed as not modelled
    "aws:accessanalyzer/analyzer:Analyzer", "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:cloudwatch/eventRule:EventRule",  # rules on AWS service events of the default bus are free
    "aws:secretsmanager/secretVersion:SecretVersion",  # Secrets Manager bills per secret (its Secret line)
    "aws:sqs/queuePolicy:QueuePolicy",  # a queue's access policy: SQS bills requests, not policies
    # ElastiCache bills nodes (or serverless usage), backup storage and data transfer; its subnet groups and RBAC
    # users/user groups carry no charge. The replication group itself is NOT modelled: reported unpriced.
    "aws:elasticache/subnetGroup:SubnetGroup", "aws:elasticache/user:User", "aws:elasticache/userGroup:UserGroup",
    # SageMaker Model Registry groups and their resource policies: no charge (artifacts bill as S3 objects); a
    # SageMaker model and endpoint configuration are definitions, billed only through the endpoint that runs them
    # (NOT modelled: reported unpriced).
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy",
    "aws:sagemaker/model:Model", "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    # Application Auto Scaling: "no additional charge"; the CloudWatch alarms a target-tracking policy creates are
    # listed as not modelled (see not_modelled).
    "aws:appautoscaling/target:Target", "aws:appautoscaling/policy:Policy",
})
# type -> what: no standing charge, billed only per use with no volume assumed; a $0 idle/at-max line, and the usage
# listed as not modelled (never silent). SQS: "pay only for what you use" (requests; no charge for an idle queue).
USAGE_ONLY: dict[str, str] = {"aws:sqs/queue:Queue": "SQS requests (billed per request; no request volume assumed)"}
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
HELM = "kubernetes:helm.sh/v3:Release"

Rule = Callable[[Item, Context], list[Line]]


def num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def eks_cluster(item: Item, ctx: Context) -> list[Line]:
    support = str((item.inputs.get("upgradePolicy") or {}).get("supportType") or "EXTENDED")
    # EKS bills the extended rate only while the version is past standard support: idle assumes a current
    # version, at max the version has aged into extended support. Default supportType (unset) is EXTENDED.
    idle = ctx.hourly(item, "control plane (standard support)", "eks:cluster-standard")
    if support == "STANDARD":
        return [idle]
    top = ctx.hourly(item, "control plane (extended support)", "eks:cluster-extended")
    return [ctx.line(item, "control plane (standard, extended once the version ages)", idle.idle,
                     top.max, reason=idle.reason or top.reason)]


def node_group(item: Item, ctx: Context) -> list[Line]:
    types = [str(t) for t in item.inputs.get("instanceTypes") or []] or ["t3.medium"]  # EKS default type
    capacity = str(item.inputs.get("capacityType") or "ON_DEMAND")
    scaling = item.inputs.get("scalingConfig") or {}
    low, high = num(scaling.get("minSize")), num(scaling.get("maxSize"))
    if low is None or high is None:
        return [ctx.unpriced(item, "instances", "scalingConfig min/max size is unknown")]
    # On-Demand: EKS launches the first listed type (prioritized). Spot: capacity-optimized across the list;
    # priced at the dearest listed type, a conservative bound.
    candidates = types[:1] if capacity == "ON_DEMAND" else types
    found = [(t, ctx.price(f"ec2:{t}")) for t in candidates]
    missing = [t for t, p in found if p is None]
    if missing:
        return [ctx.unpriced(item, f"{capacity} instances", f"no price for {', '.join(missing)} in {ctx.region}")]
    kind, hourly = max(((t, p.usd) for t, p in found if p is not None), key=lambda tp: tp[1])
    what = f"{capacity} {kind}: {low:g}..{high:g} nodes"
    assumption = None
    if capacity == "SPOT":
        hourly *= ctx.assumptions.spot_price_ratio
        assumption = "spotPriceRatio"
        what += f" at {ctx.assumptions.spot_price_ratio:g} x on-demand"
    month = hourly * ctx.hours
    lines = [ctx.line(item, what, low * month, high * month, assumption=assumption)]
    lines += ctx.root_volume_lines(item, low, high)
    return lines


def nat_gateway(item: Item, ctx: Context) -> list[Line]:
    gb = ctx.assumptions.nat_gb_processed_per_month
    lines = [ctx.hourly(item, "gateway hours", "nat:hour"),
             ctx.per_unit(item, f"{gb:g} GB processed", "nat:gb", gb, "natGbProcessedPerMonth")]
    return lines


def eip(item: Item, ctx: Context) -> list[Line]:
    return [ctx.hourly(item, "public IPv4 address", "ec2:public-ipv4")]


def vpc_endpoint(item: Item, ctx: Context) -> list[Line]:
    kind = str(item.inputs.get("vpcEndpointType") or "Gateway")
    if kind == "Gateway":
        return [ctx.line(item, "gateway endpoint (no charge)", 0.0, 0.0)]
    subnets = item.inputs.get("subnetIds")
    azs = len(subnets) if isinstance(subnets, list) and subnets else 1
    hour = ctx.hourly(item, f"{kind} endpoint in {azs} AZ", "vpce:interface-az-hour", count=azs)
    gb = ctx.assumptions.interface_endpoint_gb_per_month
    return [hour, ctx.per_unit(item, f"{gb:g} GB processed", "vpce:gb", gb, "interfaceEndpointGbPerMonth")]


def rds_instance(item: Item, ctx: Context) -> list[Line]:
    engine = str(item.inputs.get("engine") or "postgres")
    klass = str(item.inputs.get("instanceClass") or "")
    copies = 2 if item.inputs.get("multiAz") is True else 1  # Multi-AZ: a standby instance and its storage
    az = "Multi-AZ" if copies == 2 else "Single-AZ"
    lines = [ctx.hourly(item, f"{klass} {engine} {az}", f"rds:{engine}:{klass}", count=copies)]
    storage_type = str(item.inputs.get("storageType") or "gp2")
    allocated = num(item.inputs.get("allocatedStorage")) or 0.0
    ceiling = num(item.inputs.get("maxAllocatedStorage")) or allocated  # storage autoscaling limit
    price = ctx.price(f"rds:{storage_type}-gb-month")
    what = f"{storage_type} storage {allocated:g}..{ceiling:g} GB x{copies}"
    if price is None:
        lines.append(ctx.unpriced(item, what, f"no price for rds:{storage_type}-gb-month in {ctx.region}"))
    else:
        lines.append(ctx.line(item, what, allocated * copies * price.usd, ceiling * copies * price.usd))
    return lines


def dynamodb_table(item: Item, ctx: Context) -> list[Line]:
    if str(item.inputs.get("billingMode") or "PROVISIONED") != "PAY_PER_REQUEST":
        return [ctx.unpriced(item, "provisioned capacity", "provisioned DynamoDB capacity is not in the price table")]
    a = ctx.assumptions
    return [ctx.per_unit(item, f"{a.dynamodb_write_million_per_month:g}M write request units", "dynamodb:wru-million",
                         a.dynamodb_write_million_per_month, "dynamodbWriteMillionPerMonth"),
            ctx.per_unit(item, f"{a.dynamodb_read_million_per_month:g}M read request units", "dynamodb:rru-million",
                         a.dynamodb_read_million_per_month, "dynamodbReadMillionPerMonth")]


def s3_bucket(item: Item, ctx: Context) -> list[Line]:
    gb = ctx.assumptions.s3_gb_stored_per_bucket
    return [ctx.per_unit(item, f"{gb:g} GB S3 Standard", "s3:standard-gb-month", gb, "s3GbStoredPerBucket")]


def log_group(item: Item, ctx: Context) -> list[Line]:
    gb = ctx.assumptions.log_gb_ingested_per_group
    return [ctx.per_unit(item, f"{gb:g} GB ingested", "logs:ingest-gb", gb, "logGbIngestedPerGroup")]


def metric_alarm(item: Item, ctx: Context) -> list[Line]:
    period = num(item.inputs.get("period"))
    key = "cloudwatch:alarm-high-resolution" if period is not None and period < 60 else "cloudwatch:alarm-standard"
    queries = item.inputs.get("metricQueries")
    metrics = sum(1 for q in queries if isinstance(q, Mapping) and q.get("metric")) if isinstance(queries, list) else 1
    return [ctx.per_unit(item, f"{max(metrics, 1)} alarm metric(s)", key, float(max(metrics, 1)))]


def kms_key(item: Item, ctx: Context) -> list[Line]:
    return [ctx.per_unit(item, "key (first year; each yearly rotation adds $1/month)", "kms:key-month", 1.0)]


def records_management(item: Item) -> bool:
    """Whether the trail records management events: an advanced selector on `eventCategory` Management; without
    advanced selectors, a basic one that includes them (CloudTrail's default, as is having no selector)."""
    advanced = [s for s in item.inputs.get("advancedEventSelectors") or [] if isinstance(s, Mapping)]
    if advanced:
        return any(fs.get("field") == "eventCategory" and "Management" in (fs.get("equals") or [])
                   for s in advanced for fs in s.get("fieldSelectors") or [] if isinstance(fs, Mapping))
    basic = [s for s in item.inputs.get("eventSelectors") or [] if isinstance(s, Mapping)]
    return not basic or any(s.get("includeManagementEvents", True) is not False for s in basic)


def management_lines(item: Item, ctx: Context) -> list[Line]:
    """The trail's management events, as the copy its tag `mlops:management-events-copy` says it is: the first copy
    in each Region of an account is free, each additional copy $2.00 per 100,000 (AWS CloudTrail pricing). Which copy
    a trail is depends on the account's other trails, which no plan shows: an untagged trail is not priced."""
    tags = item.inputs.get("tags")
    copy = tags.get(MANAGEMENT_COPY_TAG) if isinstance(tags, Mapping) else None
    if copy == "first":
        return [ctx.line(item, "management events (the account's first copy in each Region: free)", 0.0, 0.0)]
    if copy == "additional":
        m = ctx.assumptions.cloudtrail_management_events_million_per_month
        return [ctx.per_unit(item, f"{m:g}M management events (an additional copy: another trail of the account "
                             "records the first)", "cloudtrail:paid-management-events-100k", m * 10,
                             "cloudtrailManagementEventsMillionPerMonth")]
    copies = " or ".join(MANAGEMENT_COPIES)
    return [ctx.unpriced(item, "management events", "which copy of the account's management events the trail "
                         f"records is not stated: tag it {MANAGEMENT_COPY_TAG}: {copies} (AuditTrail does, from "
                         "securityBaseline.trailManagementCopy)")]


def cloudtrail(item: Item, ctx: Context) -> list[Line]:
    """Management events (`management_lines`); data events per 100,000, and their copy to the trail's log group per
    GB ingested."""
    a = ctx.assumptions
    selectors = item.inputs.get("advancedEventSelectors") or []
    data = any(fs.get("field") == "eventCategory" and "Data" in (fs.get("equals") or [])
               for s in selectors if isinstance(s, Mapping) for fs in s.get("fieldSelectors") or []
               if isinstance(fs, Mapping))
    data = data or any((s.get("dataResources") or []) for s in item.inputs.get("eventSelectors") or []
                       if isinstance(s, Mapping))
    lines = management_lines(item, ctx) if records_management(item) else []
    if data:
        m = a.cloudtrail_data_events_million_per_month
        lines.append(ctx.per_unit(item, f"{m:g}M data events", "cloudtrail:data-events-100k", m * 10,
                                  "cloudtrailDataEventsMillionPerMonth"))
        if item.inputs.get("cloudWatchLogsGroupArn"):
            gb = m * 1e6 * a.cloudtrail_event_kb / 1e6  # KB -> GB (decimal, as CloudWatch Logs bills)
            lines.append(ctx.per_unit(item, f"{gb:g} GB of data events copied to its log group", "logs:ingest-gb", gb,
                                      "cloudtrailEventKb"))
    return lines


def secret(item: Item, ctx: Context) -> list[Line]:
    return [ctx.per_unit(item, "secret", "secretsmanager:secret-month", 1.0)]


def sns_topic(item: Item, ctx: Context) -> list[Line]:
    m = ctx.assumptions.sns_publish_million_per_month
    return [ctx.per_unit(item, f"{m:g}M publishes", "sns:publish-million", m, "snsPublishMillionPerMonth")]


# Deliveries per protocol, priced per million (email is quoted per 100,000: the key says its unit).
SNS_DELIVERY = {"email": ("sns:email-delivery-100k", 10.0), "email-json": ("sns:email-delivery-100k", 10.0),
                "https": ("sns:http-delivery-million", 1.0), "http": ("sns:http-delivery-million", 1.0)}


def sns_subscription(item: Item, ctx: Context) -> list[Line]:
    protocol = str(item.inputs.get("protocol") or "")
    m = ctx.assumptions.sns_publish_million_per_month
    found = SNS_DELIVERY.get(protocol)
    if found is None:
        return [ctx.unpriced(item, f"{protocol} deliveries", f"no delivery price for protocol {protocol!r}")]
    key, per_million = found
    return [ctx.per_unit(item, f"{m:g}M {protocol} deliveries", key, m * per_million, "snsPublishMillionPerMonth")]


def guardduty_detector(item: Item, ctx: Context) -> list[Line]:
    # The foundational data sources every detector analyses; the protection plans its DetectorFeatures enable bill
    # their own usage and are listed as not modelled (see not_modelled).
    a = ctx.assumptions
    events, flow = a.guardduty_cloudtrail_events_million_per_month, a.guardduty_vpc_flow_log_gb_per_month
    return [ctx.per_unit(item, f"{events:g}M CloudTrail management events analysed",
                         "guardduty:cloudtrail-events-million", events, "guarddutyCloudtrailEventsMillionPerMonth"),
            ctx.per_unit(item, f"{flow:g} GB VPC flow logs analysed", "guardduty:vpc-flow-log-gb", flow,
                         "guarddutyVpcFlowLogGbPerMonth")]


def karpenter_pool(item: Item, ctx: Context) -> list[Line]:
    # Karpenter keeps no node at rest; its ceiling is `spec.limits` in cpu/memory/GPUs, not in instances.
    return [ctx.line(item, "no nodes at rest", 0.0, 0.0),
            ctx.unpriced(item, "nodes up to spec.limits", "NodePool limits are resources, not instance counts")]


RULES: dict[str, Rule] = {
    "aws:eks/cluster:Cluster": eks_cluster, "aws:eks/nodeGroup:NodeGroup": node_group,
    "aws:ec2/natGateway:NatGateway": nat_gateway, "aws:ec2/eip:Eip": eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": vpc_endpoint, "aws:rds/instance:Instance": rds_instance,
    "aws:dynamodb/table:Table": dynamodb_table, "aws:s3/bucket:Bucket": s3_bucket,
    "aws:cloudwatch/logGroup:LogGroup": log_group, "aws:cloudwatch/metricAlarm:MetricAlarm": metric_alarm,
    "aws:kms/key:Key": kms_key, "aws:cloudtrail/trail:Trail": cloudtrail, NODE_POOL: karpenter_pool,
    "aws:ebs/volume:Volume": volume_lines, PVC: pvc_lines, HELM: helm_volume_lines,
    "aws:secretsmanager/secret:Secret": secret, "aws:sns/topic:Topic": sns_topic,
    "aws:sns/topicSubscription:TopicSubscription": sns_subscription,
    "aws:guardduty/detector:Detector": guardduty_detector,
}


def not_modelled(item: Item) -> list[str]:
    """What `item` makes AWS create or bill outside the plan, which the estimate does not price."""
    out: list[str] = []
    if item.type == "aws:rds/instance:Instance":
        if item.inputs.get("manageMasterUserPassword") is True:
            out.append("RDS-managed master user secret (Secrets Manager, billed per secret)")
        if item.inputs.get("enabledCloudwatchLogsExports"):
            out.append("RDS log exports (CloudWatch Logs ingestion and storage)")
        if (item.inputs.get("monitoringInterval") or 0) > 0:
            out.append("Enhanced Monitoring (RDSOSMetrics CloudWatch Logs ingestion)")
    if item.type == "aws:guardduty/detector:Detector":
        out.append("GuardDuty DNS query log analysis (billed by volume analysed; no volume assumed)")
    if item.type == DETECTOR_FEATURE and item.inputs.get("status") == "ENABLED":
        out.append(f"GuardDuty {item.inputs.get('name')} protection plan (billed by its own usage; not in the table)")
    if item.type in USAGE_ONLY:
        out.append(USAGE_ONLY[item.type])
    if item.type == "aws:appautoscaling/policy:Policy" and item.inputs.get("policyType") == "TargetTrackingScaling":
        out.append("CloudWatch alarms the target-tracking policy creates (billed per alarm)")
    if item.type == "aws:eks/addon:Addon" and item.inputs.get("addonName") == "amazon-cloudwatch-observability":
        out.append("Container Insights metrics (CloudWatch, per metric; its log groups are priced as log groups)")
    return out


def is_free(type_: str) -> bool:
    return type_ in FREE_TYPES or (type_.startswith(FREE_PREFIXES) and type_ not in RULES)


def estimate(items: Iterable[Item], *, region: str, prices: PriceTable | None = None,
             assumptions: Assumptions | None = None) -> Estimate:
    """Every item priced by its rule; unknown types listed as not priced."""
    table = prices or load_prices()
    listed = list(items)
    ctx = Context(region, table, assumptions or Assumptions(), listed)
    result = Estimate(region, table.date, ctx.assumptions)
    for item in listed:
        result.not_modelled += [(item.name, what) for what in not_modelled(item)]
        rule = RULES.get(item.type)
        if rule is not None:
            result.lines += rule(item, ctx)
        elif item.type in USAGE_ONLY:
            result.lines.append(ctx.line(item, "no standing charge (billed per use)", 0.0, 0.0))
        elif not is_free(item.type):
            result.lines.append(ctx.unpriced(item, item.type.rsplit(":", 1)[-1], "resource type not in the estimator"))
    return result


def estimate_records(records: Iterable[Mapping[str, Any]], *, region: str, prices: PriceTable | None = None,
                     assumptions: Assumptions | None = None) -> Estimate:
    """The monthly estimate of planned resource records (as the inventory or a plan's JSON holds them)."""
    from .model import items_from_records

    return estimate(items_from_records(records), region=region, prices=prices, assumptions=assumptions)
