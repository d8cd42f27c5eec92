"""SageMakerServing: the `engine: sagemaker` alternative to KServe. Per model: a SageMaker Model reading the
uncompressed model from the artifact bucket (read-only), an endpoint configuration with data capture to S3
(KMS-encrypted, the captured requests feed the drift/fairness job), an endpoint, and target-tracking autoscaling
on invocations per instance. Property names checked with inspect.signature on pulumi_aws.sagemaker.Model,
EndpointConfiguration, Endpoint and pulumi_aws.appautoscaling.Target/Policy.

- Models run inside the VPC (`vpcConfig`: private subnets, a security group with HTTPS egress only) when given
  `network`: the prod data buckets deny requests that do not come through the VPC's S3 endpoint, and with a
  VpcConfig SageMaker reads the model artifacts through the VPC.
- The endpoint configuration's `kmsKeyId` (the ML storage volume's key) is left unset for instance types with local
  NVMe instance storage: CreateEndpointConfig fails when a KmsKeyId is given for them (API reference,
  CreateEndpointConfig KmsKeyId: "If you specify a value for KmsKeyId when using any nitro-based instances with local
  storage, the call to CreateEndpointConfig fails"); their instance store is encrypted by the instance's hardware.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.naming import child, child_options, truncate_name
from ..blocks.refs import BucketRefs, NetworkRefs
from .config import SageMakerModelConfig, SageMakerServingConfig

CAPTURE_PREFIX = "sagemaker-capture"
VPC_ACTIONS = ("ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
               "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces",
               "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcEndpoints", "ec2:DescribeVpcs")
"""What the execution role of a model with a VpcConfig needs so SageMaker can attach ENIs to its containers
(SageMaker developer guide, host-vpc.md "Add Permissions for Endpoint Access for Containers Running in a VPC to
Custom IAM Policies": these ten actions on Resource "*"). The Describe* actions have no resource-level permission;
the create/delete ones are left on "*" as the guide writes them (no Vpc/Subnet condition: CreateNetworkInterface is
authorized against the subnet and security-group resources as well, and an unverified condition key would make
CreateEndpoint fail)."""
VARIANT = "AllTraffic"
LOCAL_NVME_FAMILIES = frozenset({"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"})
"""Families whose instances carry NVMe instance store without a `d` in the name (EC2 instance type specs);
families with a `d` attribute (c5d, m5d, r5d, g4dn, p3dn, p4d, p4de, c6id...) are recognised by name."""


def has_local_storage(instance_type: str) -> bool:
    """`ml.<family>.<size>` has NVMe instance storage (so CreateEndpointConfig refuses a KmsKeyId)."""
    family = instance_type.split(".")[1] if instance_type.count(".") == 2 else instance_type
    if family in LOCAL_NVME_FAMILIES:
        return True
    # EC2 naming: <class><generation><attributes>, where the attribute `d` means instance store volumes.
    match = re.fullmatch(r"[a-z]+\d+([a-z-]*)", family)
    return bool(match and "d" in match.group(1))


def endpoint_name(base: str, instance_type: str) -> str:
    """The endpoint's name carries a hash of the instance type. UpdateEndpoint fails when the new endpoint
    configuration changes the instance type of a variant registered with Application Auto Scaling (SageMaker
    developer guide, "Update endpoints that use automatic scaling": deregister first); an in-place update of the
    endpoint would always come before Pulumi touches the target that depends on it. A new name makes the endpoint
    a replacement instead: Pulumi creates the new endpoint and its scalable target and policy (their resource id
    names the endpoint), switches `endpoints` to it, then deletes the old policy, target and endpoint, in that order.
    The endpoint's name therefore changes when its instance type does (callers read it from the `endpoints` output)."""
    digest = hashlib.sha256(instance_type.encode()).hexdigest()[:6]
    return f"{truncate_name(base, 56)}-{digest}"


@dataclass(frozen=True)
class SageMakerServingArgs:
    config: SageMakerServingConfig
    artifacts: BucketRefs
    """The model registry's artifact bucket: read only."""
    capture: BucketRefs
    """Where data capture writes (under `sagemaker-capture/<model>/`), encrypted with its key."""
    tags: dict[str, str]
    network: NetworkRefs | None = None
    """The VPC the models run in (private subnets). Default: none (SageMaker's own network; only where the buckets
    accept requests from outside the VPC endpoint)."""


class SageMakerServing(pulumi.ComponentResource):
    """Model serving on SageMaker endpoints."""
    endpoints: dict[str, pulumi.Output[str]]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: SageMakerServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:serving:SageMakerServing", name, None, opts)
        trust = iam.trust_document([iam.statement("SageMaker", ["sts:AssumeRole"], [],
                                                  principals={"Service": "sagemaker.amazonaws.com"})])
        role = aws.iam.Role(child(name, "role"), assume_role_policy=trust, tags=args.tags, opts=child_options(self))
        statements = [
            # Both buckets' statements carry the same Sids (ListBucket, ReadObjects, DecryptObjects): named apart.
            *iam.prefixed("Artifacts", args.artifacts.read_statements()),
            *iam.prefixed("Capture", args.capture.write_statements(CAPTURE_PREFIX)),
            iam.statement("EcrToken", ["ecr:GetAuthorizationToken"], ["*"]),  # no resource-level permission
            iam.statement("EcrPull", ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                                      "ecr:GetDownloadUrlForLayer"], ["arn:aws:ecr:*:*:repository/*"]),
            iam.statement("Logs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                          ["arn:aws:logs:*:*:log-group:/aws/sagemaker/Endpoints/*"]),
        ]
        if args.network is not None:
            statements.append(iam.statement("VpcNetworkInterfaces", VPC_ACTIONS, ["*"]))
        aws.iam.RolePolicy(child(name, "policy"), role=role.id, policy=iam.document(statements),
                           opts=child_options(self))
        self.role_arn = role.arn
        self.security_group = self._security_group(name, args.network, args.tags) if args.network else None
        self.endpoints = {}
        for m in args.config.models:
            self.endpoints[m.name] = self._model(name, m, args, role)
        self.register_outputs({"endpoints": self.endpoints, "roleArn": self.role_arn})

    def _security_group(self, name: str, network: NetworkRefs, tags: dict[str, str]) -> aws.ec2.SecurityGroup:
        """No ingress (SageMaker invokes the container itself); HTTPS out, to the S3 gateway endpoint's prefix and
        the VPC's interface endpoints."""
        group = aws.ec2.SecurityGroup(child(name, "sg"), vpc_id=network.vpc_id, tags=tags,
                                      description=f"{name}: SageMaker model containers (HTTPS egress only)",
                                      opts=child_options(self))
        aws.vpc.SecurityGroupEgressRule(child(name, "https-out"), security_group_id=group.id, ip_protocol="tcp",
                                        from_port=443, to_port=443, cidr_ipv4="0.0.0.0/0", tags=tags,
                                        description="HTTPS: S3 (gateway endpoint) and AWS APIs",
                                        opts=child_options(self))
        return group

    def _model(self, name: str, m: SageMakerModelConfig, args: SageMakerServingArgs,
               role: aws.iam.Role) -> pulumi.Output[str]:
        base = child(name, m.name)
        uri = pulumi.Output.concat("s3://", args.artifacts.bucket_name, f"/{m.artifact_path}/")
        model = aws.sagemaker.Model(
            base, execution_role_arn=role.arn, tags=args.tags,
            primary_container={"image": m.image, "model_data_source": {"s3_data_sources": [{
                "s3_uri": uri, "s3_data_type": "S3Prefix", "compression_type": "None"}]}},
            vpc_config=None if args.network is None or self.security_group is None else {
                "subnets": args.network.private_subnet_ids, "security_group_ids": [self.security_group.id]},
            opts=child_options(self))
        config = aws.sagemaker.EndpointConfiguration(
            child(base, "config"), tags=args.tags,
            kms_key_arn=None if has_local_storage(m.instance_type) else args.capture.kms_key_arn,
            production_variants=[{"variant_name": VARIANT, "model_name": model.name, "instance_type": m.instance_type,
                                  "initial_instance_count": m.min_instances}],
            data_capture_config={
                "enable_capture": True, "initial_sampling_percentage": m.capture_percent,
                "destination_s3_uri": pulumi.Output.concat("s3://", args.capture.bucket_name,
                                                           f"/{CAPTURE_PREFIX}/{m.name}"),
                "kms_key_id": args.capture.kms_key_arn,
                "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}]},
            opts=child_options(self))
        endpoint = aws.sagemaker.Endpoint(child(base, "endpoint"), name=endpoint_name(base, m.instance_type),
                                          endpoint_config_name=config.name, tags=args.tags, opts=child_options(self))
        target = aws.appautoscaling.Target(
            child(base, "scaling"), service_namespace="sagemaker", scalable_dimension=
            "sagemaker:variant:DesiredInstanceCount", min_capacity=m.min_instances, max_capacity=m.max_instances,
            resource_id=pulumi.Output.concat("endpoint/", endpoint.name, f"/variant/{VARIANT}"),
            opts=child_options(self))
        aws.appautoscaling.Policy(
            child(base, "scaling-policy"), policy_type="TargetTrackingScaling", service_namespace="sagemaker",
            resource_id=target.resource_id, scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration={
                "target_value": float(m.invocations_per_instance),
                "predefined_metric_specification": {"predefined_metric_type": "SageMakerVariantInvocationsPerInstance"},
                "scale_in_cooldown": 300, "scale_out_cooldown": 60},
            opts=child_options(self))
        return endpoint.name
