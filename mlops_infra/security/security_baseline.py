"""SecurityBaseline: the platform's threat detection and secrets delivery, built first; then its audit trail and
exfiltration guards (`bucket_guards`), built last, from the complete lists of buckets and service ports.

Each part is its own component and its own config flag, so an environment turns off what it does not pay for
explicitly in config (see `SecurityBaselineConfig`). Kubernetes children bind to `args.cluster`'s provider.

Two steps, because the add-ons need the baseline's External Secrets operator, while the trail (data events) and the
S3 endpoint policy must know every bucket the add-ons create: the caller builds `SecurityBaseline` before them and
`bucket_guards(baseline, ...)` after them, from plain lists of what the components exposed. A program that fails in
between registers neither the trail nor the guards, so nothing guarded is ever narrowed. The trail and the guards
stay children of the baseline (their released addresses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from ..blocks.endpoints import ServicePort
from ..blocks.naming import child
from ..blocks.refs import ClusterRefs, NetworkRefs
from .audit_trail import AuditTrail, AuditTrailArgs
from .config import SecurityBaselineConfig
from .exfiltration_guards import ExfiltrationGuards, ExfiltrationGuardsArgs, data_bucket_guard
from .secrets_delivery import SecretsDelivery, SecretsDeliveryArgs
from .threat_detection import ThreatDetection, ThreatDetectionArgs

__all__ = ["BucketGuards", "BucketGuardsArgs", "SecurityBaseline", "SecurityBaselineArgs", "ServicePort",
           "bucket_guards", "data_bucket_guard"]


@dataclass(frozen=True)
class SecurityBaselineArgs:
    config: SecurityBaselineConfig
    region: str
    tags: dict[str, str]
    cluster: ClusterRefs
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the integration secrets. Default: true."""
    alert_topic_arn: pulumi.Input[str] | None = None
    """Where GuardDuty findings go. Default: none (no EventBridge rule)."""
    vpc_id: pulumi.Input[str] | None = None
    """The stack's VPC: with an adopted detector, findings about instances in it (the nodes) reach the topic beside
    the cluster's own. Default: none (only the cluster's findings)."""
    name_prefix: str | None = None
    """What the names of the stack's buckets, IAM roles and RDS instances start with: with an adopted detector,
    findings about them reach the topic too. Default: none (only the cluster's and the VPC's findings)."""
    namespaces: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Namespaces created by other components, by name, in addition to `cluster.namespaces`. Default: none."""
    secret_values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Integration secret values by config key, as Pulumi secrets. Default: none."""


class SecurityBaseline(pulumi.ComponentResource):
    """Threat detection and secrets delivery (the External Secrets operator the add-ons' stores wait for)."""

    detector_id: pulumi.Output[str] | None
    secret_store_name: str | None
    integration_secret_arns: dict[str, pulumi.Output[str]]
    secrets_delivery: SecretsDelivery | None
    """The External Secrets operator, its CRDs and store (None without `externalSecrets`): what an add-on's
    SecretStores and ExternalSecrets wait for, and nothing else of the baseline (not its trail or guards)."""

    def __init__(self, name: str, args: SecurityBaselineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:security:SecurityBaseline", name, None, args.cluster.bind(opts))
        cfg = args.config
        child_opts = pulumi.ResourceOptions(parent=self)
        self.resource_name = name
        self.detector_id = self.secret_store_name = None
        self.integration_secret_arns = {}
        self.secrets_delivery = None
        if cfg.enabled and (cfg.guardduty or cfg.access_analyzer):
            threats = ThreatDetection(child(name, "threats"), ThreatDetectionArgs(
                config=cfg, tags=args.tags, alert_topic_arn=args.alert_topic_arn, cluster_name=args.cluster.name,
                vpc_id=args.vpc_id, name_prefix=args.name_prefix), child_opts)
            self.detector_id = threats.detector_id
        if cfg.enabled and cfg.external_secrets:
            delivery = SecretsDelivery(child(name, "secrets"), SecretsDeliveryArgs(
                config=cfg, cluster=args.cluster, region=args.region, tags=args.tags,
                secret_values=args.secret_values, namespaces={**args.cluster.namespaces, **args.namespaces},
                protect=args.protect), child_opts)
            self.secrets_delivery = delivery
            self.secret_store_name = delivery.store_name
            self.integration_secret_arns = delivery.secret_arns
        self.register_outputs({"detectorId": self.detector_id, "secretStoreName": self.secret_store_name,
                               "integrationSecretArns": self.integration_secret_arns})


@dataclass(frozen=True)
class BucketGuardsArgs:
    config: SecurityBaselineConfig
    region: str
    tags: dict[str, str]
    network: NetworkRefs
    cluster: ClusterRefs
    """Its Service CIDR (`kubernetes.default.svc`) and namespaces (the guards' NetworkPolicies wait for them)."""
    data_bucket_arns: Sequence[pulumi.Input[str]]
    """Every bucket holding feature, model or dataset data: trail data events, admitted by the S3 endpoint."""
    platform_bucket_arns: Sequence[pulumi.Input[str]] = ()
    """Every other bucket pods reach through the S3 endpoint (shared, logs, scratch): admitted by the S3 endpoint,
    not guarded, and recorded by the trail's data events too (a role that reads data buckets and writes one of these,
    Airflow's task pods, could stage data there). Default: none."""
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the trail's key, bucket and log group. Default: true."""
    ml_namespaces: Sequence[str] = ()
    """Namespaces that get default-deny egress (the team namespaces). Default: none."""
    service_namespaces: Sequence[str] = ()
    """Namespaces ML pods may reach on any port (the feature store's and MLflow's). Default: none."""
    service_ports: Sequence[ServicePort] = ()
    """What the composed components expose (their `service_ports`): single ports ML pods may reach in other
    namespaces. Admitted in sorted order, however the components were built. Default: none."""
    gateway_services: Sequence[str] = ()
    """Gateway-endpoint services besides S3 ML pods reach (`dynamodb`): HTTPS to their prefix lists. Default: none."""
    vpc_ports: Sequence[int] = ()
    """TCP ports ML pods may open to the VPC's CIDR (Feast's SQL registry database). Default: none."""
    deployer_role_arns: Sequence[str] = ()
    """Roles that run `pulumi up` (they administer the data buckets through the endpoint). Default: none."""
    deployer_bucket_prefixes: Sequence[str] = ()
    """Name prefixes of the buckets the deployers create (e.g. the platform's name): allowed `s3:CreateBucket` and
    bucket administration through the S3 endpoint. Default: none."""
    namespaces: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Namespaces created by other components, by name, in addition to `cluster.namespaces`. Default: none."""


@dataclass(frozen=True)
class BucketGuards:
    """What `bucket_guards` built (None: that part is off in config)."""

    trail_arn: pulumi.Output[str] | None
    trail_bucket_name: pulumi.Output[str] | None
    egress_rules: list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict] | None
    """The ML namespaces' egress allow rules (on top of default-deny); None without exfiltration guards."""


def bucket_guards(baseline: SecurityBaseline, args: BucketGuardsArgs) -> BucketGuards:
    """The audit trail (data events of both lists: every bucket pods reach) and the exfiltration guards (the S3
    endpoint admits both lists, ML namespaces get default-deny egress), as children of `baseline`. Build it last: from plain lists of
    every bucket and port the composed components exposed (a list, never an Output that resolves later)."""
    name, cfg = baseline.resource_name, args.config
    child_opts = pulumi.ResourceOptions(parent=baseline)
    data, platform = list(args.data_bucket_arns), list(args.platform_bucket_arns)
    trail_arn = trail_bucket_name = trail_bucket_arn = None
    if cfg.enabled and cfg.cloudtrail:
        trail = AuditTrail(child(name, "audit"), AuditTrailArgs(
            config=cfg, region=args.region, tags=args.tags, protect=args.protect, data_bucket_arns=[*data, *platform]),
            child_opts)
        trail_arn, trail_bucket_name, trail_bucket_arn = trail.trail_arn, trail.bucket_name, trail.bucket.arn
    egress = None
    if cfg.enabled and cfg.exfiltration_guards:
        egress = ExfiltrationGuards(child(name, "guards"), ExfiltrationGuardsArgs(
            config=cfg, network=args.network, region=args.region, cluster=args.cluster,
            platform_bucket_arns=[*data, *platform],
            ml_namespaces=args.ml_namespaces, service_namespaces=args.service_namespaces,
            service_ports=sorted({*args.service_ports, *(ServicePort(p.namespace, p.port) for p in cfg.consumer_service_ports)}),
            namespaces=args.namespaces,
            gateway_services=args.gateway_services, vpc_ports=args.vpc_ports,
            deployer_role_arns=args.deployer_role_arns, deployer_bucket_prefixes=args.deployer_bucket_prefixes,
            consumer_bucket_prefixes=list(cfg.consumer_bucket_prefixes),
            trail_bucket_arn=trail_bucket_arn, deployer_state_bucket=cfg.deployer_state_bucket),
            child_opts).egress_rules
    return BucketGuards(trail_arn=trail_arn, trail_bucket_name=trail_bucket_name, egress_rules=egress)
