"""SecurityBaseline: the platform's audit trail, threat detection, secrets delivery and exfiltration guards.

Each part is its own component and its own config flag, so an environment turns off what it does not pay for
explicitly in config (see `SecurityBaselineConfig`). Kubernetes children use the provider in `opts.providers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from ..blocks.naming import child
from ..blocks.refs import ClusterRefs, NetworkRefs
from .audit_trail import AuditTrail, AuditTrailArgs
from .config import SecurityBaselineConfig
from .exfiltration_guards import ExfiltrationGuards, ExfiltrationGuardsArgs, ServicePort, data_bucket_guard
from .secrets_delivery import SecretsDelivery, SecretsDeliveryArgs
from .threat_detection import ThreatDetection, ThreatDetectionArgs

__all__ = ["SecurityBaseline", "SecurityBaselineArgs", "ServicePort", "data_bucket_guard"]


@dataclass(frozen=True)
class SecurityBaselineArgs:
    config: SecurityBaselineConfig
    region: str
    tags: dict[str, str]
    network: NetworkRefs
    cluster: ClusterRefs
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on keys, the trail bucket, log group and secrets. Default: true."""
    alert_topic_arn: pulumi.Input[str] | None = None
    """Where GuardDuty findings go. Default: none (no EventBridge rule)."""
    data_bucket_arns: pulumi.Input[Sequence[pulumi.Input[str]]] = field(default_factory=tuple)
    """Buckets holding feature and model data: trail data events, and allowed through the S3 endpoint. Default: none.
    With `buckets_later`, ignored: `guard_buckets` receives the complete lists."""
    platform_bucket_arns: pulumi.Input[Sequence[pulumi.Input[str]]] = field(default_factory=tuple)
    """Other platform buckets pods reach through the S3 endpoint (e.g. the shared bucket), likewise. Default: none."""
    ml_namespaces: Sequence[str] = field(default_factory=tuple)
    """Namespaces that get default-deny egress (the team namespaces). Default: none."""
    service_namespaces: Sequence[str] = field(default_factory=tuple)
    """Namespaces ML pods may reach (the feature store's and MLflow's). Default: none."""
    service_ports: Sequence[ServicePort] = field(default_factory=tuple)
    """Single ports ML pods may reach in other namespaces (the Pushgateway). Default: none."""
    gateway_services: Sequence[str] = field(default_factory=tuple)
    """Gateway-endpoint services besides S3 ML pods reach (`dynamodb`): HTTPS to their prefix lists. Default: none."""
    vpc_ports: Sequence[int] = field(default_factory=tuple)
    """TCP ports ML pods may open to the VPC's CIDR (Feast's SQL registry database). Default: none."""
    deployer_role_arns: Sequence[str] = field(default_factory=tuple)
    """Roles that run `pulumi up` (exfiltration guards: they administer the data buckets). Default: none."""
    deployer_bucket_prefixes: Sequence[str] = field(default_factory=tuple)
    """Name prefixes of the buckets the deployers create (e.g. the platform's name): allowed `s3:CreateBucket` and
    bucket administration through the S3 endpoint. Default: none."""
    namespaces: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Namespaces created by other components, by name, in addition to `cluster.namespaces`. Default: none."""
    secret_values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Integration secret values by config key, as Pulumi secrets. Default: none."""
    buckets_later: bool = False
    """Build the audit trail and the exfiltration guards (the two children that must know every bucket) only when
    the caller calls `guard_buckets` with the complete lists, after the components that create buckets and need
    this baseline first (its External Secrets operator). A program that fails before then registers neither, so
    nothing guarded is narrowed. Default: false (both built here from the lists above)."""


class SecurityBaseline(pulumi.ComponentResource):
    trail_arn: pulumi.Output[str] | None
    trail_bucket_name: pulumi.Output[str] | None
    detector_id: pulumi.Output[str] | None
    secret_store_name: str | None
    integration_secret_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: SecurityBaselineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:security:SecurityBaseline", name, None, args.cluster.bind(opts))
        cfg = args.config
        child_opts = pulumi.ResourceOptions(parent=self)
        self._name, self._args, self._guarded = name, args, False
        self._namespaces = namespaces = {**args.cluster.namespaces, **args.namespaces}
        self.trail_arn = self.trail_bucket_name = self.detector_id = None
        self.secret_store_name = None
        self.integration_secret_arns = {}
        self.egress_rules: list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict] | None = None
        """The ML namespaces' egress allow rules (on top of default-deny); None without exfiltration guards."""
        if cfg.enabled and (cfg.guardduty or cfg.access_analyzer):
            threats = ThreatDetection(child(name, "threats"), ThreatDetectionArgs(
                config=cfg, tags=args.tags, alert_topic_arn=args.alert_topic_arn), child_opts)
            self.detector_id = threats.detector_id
        if cfg.enabled and cfg.external_secrets:
            delivery = SecretsDelivery(child(name, "secrets"), SecretsDeliveryArgs(
                config=cfg, cluster=args.cluster.identity, region=args.region, tags=args.tags,
                secret_values=args.secret_values, namespaces=namespaces, protect=args.protect), child_opts)
            self.secret_store_name = delivery.store_name
            self.integration_secret_arns = delivery.secret_arns
        if not args.buckets_later:
            self.guard_buckets(args.data_bucket_arns, args.platform_bucket_arns)

    def guard_buckets(self, data_bucket_arns: pulumi.Input[Sequence[pulumi.Input[str]]],
                      platform_bucket_arns: pulumi.Input[Sequence[pulumi.Input[str]]]) -> None:
        """The audit trail (data events of `data_bucket_arns`) and the exfiltration guards (the S3 endpoint admits
        both lists), then the component's outputs. Called once: by `__init__`, or by the caller (`buckets_later`)."""
        if self._guarded:
            raise ValueError("SecurityBaseline.guard_buckets: called twice")
        self._guarded = True
        name, args, cfg = self._name, self._args, self._args.config
        child_opts = pulumi.ResourceOptions(parent=self)
        trail_bucket_arn: pulumi.Output[str] | None = None
        if cfg.enabled and cfg.cloudtrail:
            trail = AuditTrail(child(name, "audit"), AuditTrailArgs(
                config=cfg, region=args.region, tags=args.tags, protect=args.protect,
                data_bucket_arns=data_bucket_arns), child_opts)
            self.trail_arn, self.trail_bucket_name = trail.trail_arn, trail.bucket_name
            trail_bucket_arn = trail.bucket.arn
        if cfg.enabled and cfg.exfiltration_guards:
            self.egress_rules = ExfiltrationGuards(child(name, "guards"), ExfiltrationGuardsArgs(
                config=cfg, network=args.network, region=args.region,
                platform_bucket_arns=pulumi.Output.all(
                    pulumi.Output.from_input(data_bucket_arns), pulumi.Output.from_input(platform_bucket_arns),
                ).apply(lambda both: [*both[0], *both[1]]),
                ml_namespaces=args.ml_namespaces, service_namespaces=args.service_namespaces,
                service_ports=args.service_ports, namespaces=self._namespaces, gateway_services=args.gateway_services,
                vpc_ports=args.vpc_ports,
                deployer_role_arns=args.deployer_role_arns, deployer_bucket_prefixes=args.deployer_bucket_prefixes,
                trail_bucket_arn=trail_bucket_arn, deployer_state_bucket=cfg.deployer_state_bucket,
                service_ipv4_cidr=args.cluster.service_ipv4_cidr), child_opts).egress_rules
        self.register_outputs({
            "trailArn": self.trail_arn, "trailBucketName": self.trail_bucket_name, "detectorId": self.detector_id,
            "secretStoreName": self.secret_store_name, "integrationSecretArns": self.integration_secret_arns,
        })
