"""The deployer's IAM policy (docs/deployer-policy.json), derived from the resource types a stack plans.

`CREATE_ACTIONS` names, per AWS resource type the shipped stacks plan, the API call that creates it (the IAM action
names are checked against the AWS Service Authorization Reference table in policies/mlops_policies/data). The policy
grants each service those resource types belong to (`<prefix>:*`: `pulumi up`, `refresh` and `destroy` also read,
tag, update and delete), `iam:PassRole` through `iam:*`, and `sts:GetCallerIdentity` the provider calls first. It is
scoped by service, not by action: a role that creates IAM roles can grant itself more, so treat it as an admin role
and keep it to the deployer (README: Deploying for real). Regenerate with
`python -m mlops_infra.deployer --write docs/deployer-policy.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CREATE_ACTIONS: dict[str, tuple[str, ...]] = {
    "aws:accessanalyzer/analyzer:Analyzer": ("access-analyzer:CreateAnalyzer",),
    "aws:autoscaling/tag:Tag": ("autoscaling:CreateOrUpdateTags",),
    "aws:cloudtrail/trail:Trail": ("cloudtrail:CreateTrail", "cloudtrail:StartLogging"),
    "aws:cloudwatch/eventRule:EventRule": ("events:PutRule",),
    "aws:cloudwatch/eventTarget:EventTarget": ("events:PutTargets",),
    "aws:cloudwatch/logGroup:LogGroup": ("logs:CreateLogGroup",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch:PutMetricAlarm",),
    "aws:dynamodb/table:Table": ("dynamodb:CreateTable",),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("ec2:RevokeSecurityGroupIngress",),
    "aws:ec2/eip:Eip": ("ec2:AllocateAddress",),
    "aws:ec2/flowLog:FlowLog": ("ec2:CreateFlowLogs",),
    "aws:ec2/internetGateway:InternetGateway": ("ec2:CreateInternetGateway", "ec2:AttachInternetGateway"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("ec2:CreateLaunchTemplate",),
    "aws:ec2/natGateway:NatGateway": ("ec2:CreateNatGateway",),
    "aws:ec2/placementGroup:PlacementGroup": ("ec2:CreatePlacementGroup",),
    "aws:ec2/route:Route": ("ec2:CreateRoute",),
    "aws:ec2/routeTable:RouteTable": ("ec2:CreateRouteTable",),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("ec2:AssociateRouteTable",),
    "aws:ec2/securityGroup:SecurityGroup": ("ec2:CreateSecurityGroup",),
    "aws:ec2/subnet:Subnet": ("ec2:CreateSubnet",),
    "aws:ec2/vpc:Vpc": ("ec2:CreateVpc",),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("ec2:CreateVpcEndpoint",),
    "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy": ("ec2:ModifyVpcEndpoint",),
    "aws:eks/accessEntry:AccessEntry": ("eks:CreateAccessEntry",),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("eks:AssociateAccessPolicy",),
    "aws:eks/addon:Addon": ("eks:CreateAddon",),
    "aws:eks/cluster:Cluster": ("eks:CreateCluster",),
    "aws:eks/nodeGroup:NodeGroup": ("eks:CreateNodegroup",),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": ("eks:CreatePodIdentityAssociation",),
    "aws:guardduty/detector:Detector": ("guardduty:CreateDetector",),
    "aws:guardduty/detectorFeature:DetectorFeature": ("guardduty:UpdateDetector",),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ("iam:CreateOpenIDConnectProvider",),
    "aws:iam/policy:Policy": ("iam:CreatePolicy",),
    "aws:iam/role:Role": ("iam:CreateRole",),
    "aws:iam/rolePolicy:RolePolicy": ("iam:PutRolePolicy",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("iam:AttachRolePolicy",),
    "aws:kms/alias:Alias": ("kms:CreateAlias",),
    "aws:kms/key:Key": ("kms:CreateKey",),
    "aws:rds/instance:Instance": ("rds:CreateDBInstance",),
    "aws:rds/parameterGroup:ParameterGroup": ("rds:CreateDBParameterGroup",),
    "aws:rds/subnetGroup:SubnetGroup": ("rds:CreateDBSubnetGroup",),
    "aws:s3/bucket:Bucket": ("s3:CreateBucket",),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "aws:s3/bucketPolicy:BucketPolicy": ("s3:PutBucketPolicy",),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3:PutEncryptionConfiguration",),
    "aws:s3/bucketVersioning:BucketVersioning": ("s3:PutBucketVersioning",),
    "aws:secretsmanager/secret:Secret": ("secretsmanager:CreateSecret",),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretsmanager:PutSecretValue",),
    "aws:sns/topic:Topic": ("sns:CreateTopic",),
    "aws:sns/topicPolicy:TopicPolicy": ("sns:SetTopicAttributes",),
    "aws:sns/topicSubscription:TopicSubscription": ("sns:Subscribe",),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("ec2:AuthorizeSecurityGroupEgress",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("ec2:AuthorizeSecurityGroupIngress",),
}
PROVIDER_ACTIONS = ("sts:GetCallerIdentity",)


def services(types: Iterable[str]) -> list[str]:
    """The IAM service prefixes of `types`; KeyError names a type without a create action."""
    return sorted({a.split(":", 1)[0] for t in types for a in CREATE_ACTIONS[t]})


def deployer_policy(types: Iterable[str]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "PlatformServices", "Effect": "Allow", "Action": [f"{s}:*" for s in services(types)], "Resource": "*"},
        {"Sid": "ProviderIdentity", "Effect": "Allow", "Action": list(PROVIDER_ACTIONS), "Resource": "*"}]}


def planned_types(stacks: Iterable[str] = ("dev", "staging", "prod")) -> list[str]:
    from .docs_figures import planned

    return sorted({r.type for s in stacks for r in planned(s).resources if r.custom and r.type.startswith("aws:")})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", type=Path, help="write the policy JSON here (default: stdout)")
    args = parser.parse_args(argv)
    text = json.dumps(deployer_policy(planned_types()), indent=2) + "\n"
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
