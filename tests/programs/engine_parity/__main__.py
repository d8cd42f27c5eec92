"""What the real providers refuse and accept, one case per stack (config `demo:case`): names at and over their
limits (issue 26), policy documents IAM rejects, and components nested three deep for the engine's URN form."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

case = pulumi.Config("demo").require("case")
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]})
LOGICAL_60 = "r" * 60


class Box(pulumi.ComponentResource):
    def __init__(self, kind: str, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"demo:boxes:{kind}", name, None, opts)


provider = k8s.Provider("cluster", kubeconfig="{}")
k8s_opts = pulumi.ResourceOptions(provider=provider)
if case == "role-auto":
    aws.iam.Role(LOGICAL_60, assume_role_policy=TRUST)
elif case == "role-64":
    aws.iam.Role(LOGICAL_60, name="n" * 64, assume_role_policy=TRUST)
elif case == "role-65":
    aws.iam.Role(LOGICAL_60, name="n" * 65, assume_role_policy=TRUST)
elif case == "role-prefix":
    aws.iam.Role("prefixed", name_prefix="p" * 39, assume_role_policy=TRUST)
elif case == "helm-auto":
    k8s.helm.v3.Release("h" * 45, chart="demo", opts=k8s_opts)
elif case == "helm-53":
    k8s.helm.v3.Release("release", name="h" * 53, chart="demo", opts=k8s_opts)
elif case == "k8s":
    k8s.batch.v1.CronJob("cron", metadata={"name": "c" * 53}, spec={"schedule": "@daily", "jobTemplate": {}},
                         opts=k8s_opts)
    k8s.core.v1.Service("s" * 56, spec={"ports": [{"port": 80}]}, opts=k8s_opts)
    k8s.core.v1.ConfigMap("labelled", metadata={"labels": {"team": "v" * 64}}, opts=k8s_opts)
elif case == "policy":
    role = aws.iam.Role("role", assume_role_policy=TRUST)
    aws.iam.RolePolicy("inline", role=role.id, policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3 GetObject"], "Resource": "*",
         "Condition": {"StringEquals": {"no prefix": "x"}}},
        {"Sid": "Who", "Effect": "Allow", "Action": ["s3:*"], "Resource": "*", "Principal": {"AWS": "*"}},
    ]}))
    aws.iam.Role("trust", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "not a service"}}]}))
elif case == "nested":
    outer = Box("Outer", "outer")
    middle = Box("Middle", "middle", pulumi.ResourceOptions(parent=outer))
    inner = Box("Inner", "inner", pulumi.ResourceOptions(parent=middle))
    aws.s3.Bucket("deep", opts=pulumi.ResourceOptions(parent=inner))
