"""The AWS Load Balancer Controller's IAM policy at the pinned version, as statements.

Transcribed from kubernetes-sigs/aws-load-balancer-controller docs/install/iam_policy.json at tag v3.5.0 (the
version `versions.AWS_LOAD_BALANCER_CONTROLLER` installs): same actions, resources and conditions, with statement ids
added. Mutations are scoped by the `elbv2.k8s.aws/cluster` tag the controller puts on everything it creates.
When the chart pin moves, re-read that file at the new tag and update this list (tests compare the action set).
"""

from __future__ import annotations

from ..blocks import iam

CLUSTER_TAG_REQUEST = "aws:RequestTag/elbv2.k8s.aws/cluster"
CLUSTER_TAG_RESOURCE = "aws:ResourceTag/elbv2.k8s.aws/cluster"
SG = "ec2:*:*:security-group/*"
LB_AND_TG = ["elasticloadbalancing:*:*:targetgroup/*/*", "elasticloadbalancing:*:*:loadbalancer/net/*/*",
             "elasticloadbalancing:*:*:loadbalancer/app/*/*"]
LISTENERS = ["elasticloadbalancing:*:*:listener/net/*/*/*", "elasticloadbalancing:*:*:listener/app/*/*/*",
             "elasticloadbalancing:*:*:listener-rule/net/*/*/*", "elasticloadbalancing:*:*:listener-rule/app/*/*/*"]
"""ARNs without their `arn:<partition>:` head (upstream writes `arn:aws:`; `statements` puts the stack's)."""
TAGGED = {"Null": {CLUSTER_TAG_RESOURCE: "false"}}
"""The resource carries the controller's cluster tag."""
RETAG = {"Null": {CLUSTER_TAG_REQUEST: "true", CLUSTER_TAG_RESOURCE: "false"}}
"""Tagging an already tagged resource without changing the cluster tag."""

DESCRIBE = [
    "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections", "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups", "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags",
    "ec2:GetCoipPoolUsage", "ec2:DescribeCoipPools", "ec2:GetSecurityGroupsForVpc", "ec2:DescribeIpamPools",
    "ec2:DescribeRouteTables", "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes", "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeListenerCertificates", "elasticloadbalancing:DescribeSSLPolicies",
    "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTrustStores",
    "elasticloadbalancing:DescribeListenerAttributes", "elasticloadbalancing:DescribeCapacityReservation"]
INTEGRATIONS = [
    "cognito-idp:DescribeUserPoolClient", "acm:ListCertificates", "acm:DescribeCertificate",
    "iam:ListServerCertificates", "iam:GetServerCertificate", "waf-regional:GetWebACL",
    "waf-regional:GetWebACLForResource", "waf-regional:AssociateWebACL", "waf-regional:DisassociateWebACL",
    "wafv2:GetWebACL", "wafv2:GetWebACLForResource", "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL",
    "shield:GetSubscriptionState", "shield:DescribeProtection", "shield:CreateProtection", "shield:DeleteProtection"]
MODIFY_TAGGED = [
    "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets", "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyCapacityReservation", "elasticloadbalancing:ModifyIpPools"]


def statements(partition: str = "aws") -> list[iam.Statement]:
    """The policy with ARNs in `partition` (`aws`, `aws-cn`, `aws-us-gov`; default aws)."""
    s = iam.statement

    def arns(*tails: str) -> list[str]:
        return [f"arn:{partition}:{t}" for t in tails]

    return [
        s("CreateElbServiceLinkedRole", ["iam:CreateServiceLinkedRole"], ["*"],
          conditions={"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}),
        s("Describe", DESCRIBE, ["*"]),
        s("Integrations", INTEGRATIONS, ["*"]),
        s("SecurityGroupIngress", ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"], ["*"]),
        s("CreateSecurityGroup", ["ec2:CreateSecurityGroup"], ["*"]),
        s("TagNewSecurityGroup", ["ec2:CreateTags"], arns(SG), conditions={
            "StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, "Null": {CLUSTER_TAG_REQUEST: "false"}}),
        s("RetagSecurityGroup", ["ec2:CreateTags", "ec2:DeleteTags"], arns(SG), conditions=RETAG),
        s("ManageTaggedSecurityGroup", ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress",
                                        "ec2:DeleteSecurityGroup"], ["*"], conditions=TAGGED),
        s("CreateTaggedLoadBalancer", ["elasticloadbalancing:CreateLoadBalancer",
                                       "elasticloadbalancing:CreateTargetGroup"], ["*"],
          conditions={"Null": {CLUSTER_TAG_REQUEST: "false"}}),
        s("ManageListenersAndRules", ["elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
                                      "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule"], ["*"]),
        s("RetagLoadBalancer", ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"], arns(*LB_AND_TG),
          conditions=RETAG),
        s("TagListenersAndRules", ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
          arns(*LISTENERS)),
        s("ModifyTaggedLoadBalancer", MODIFY_TAGGED, ["*"], conditions=TAGGED),
        s("TagOnCreate", ["elasticloadbalancing:AddTags"], arns(*LB_AND_TG), conditions={
            "StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]},
            "Null": {CLUSTER_TAG_REQUEST: "false"}}),
        s("RegisterTargets", ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
          arns("elasticloadbalancing:*:*:targetgroup/*/*")),
        s("ManageListenerSettings", ["elasticloadbalancing:SetWebAcl", "elasticloadbalancing:ModifyListener",
                                     "elasticloadbalancing:AddListenerCertificates",
                                     "elasticloadbalancing:RemoveListenerCertificates",
                                     "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities"],
          ["*"]),
    ]
