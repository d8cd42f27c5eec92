"""Workload and AWS invariants: each with a broken relation (both ends named) and its repaired twin."""

from __future__ import annotations

import json
from typing import Any

from mlops_policies.invariants_iam import iam_table, unknown_action

from .cases import Case, check, params
from .helpers import R

SVC = "kubernetes:core/v1:Service"
SM = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
SA = "kubernetes:core/v1:ServiceAccount"
ROLE = "aws:iam/role:Role"
DEPLOY = "kubernetes:apps/v1:Deployment"
RELEASE = "kubernetes:helm.sh/v3:Release"


def service(labels: dict[str, str], port: str = "http", ns: str = "mlflow") -> R:
    return R(SVC, "svc", {"metadata": {"name": "mlflow", "namespace": ns, "labels": labels},
                          "spec": {"ports": [{"name": port, "port": 5000}]}})


def monitor(labels: dict[str, str], port: str = "http", ns: str = "mlflow") -> R:
    return R(SM, "sm", {"metadata": {"name": "sm", "namespace": "monitoring"}, "spec": {
        "selector": {"matchLabels": labels}, "namespaceSelector": {"matchNames": [ns]}, "endpoints": [{"port": port}]}})


DCGM = R(RELEASE, "dcgm", {"chart": "dcgm-exporter", "namespace": "monitoring",
                           "values": {"nameOverride": "mlops-dcgm-exporter"}})
DCGM_LABELS = {"app.kubernetes.io/name": "mlops-dcgm-exporter", "app.kubernetes.io/component": "mlops-dcgm-exporter"}


def deployment(spec: dict[str, Any], replicas: int = 2, ns: str = "feast") -> R:
    return R(DEPLOY, "deploy", {"metadata": {"name": "server", "namespace": ns}, "spec": {
        "replicas": replicas, "template": {"metadata": {"labels": {"app": "server"}}, "spec": spec}}})


ENV_REF = {"containers": [{"name": "app", "env": [{"name": "DB", "valueFrom": {
    "secretKeyRef": {"name": "db-credentials", "key": "password"}}}]}]}


GRAFANA = R(RELEASE, "kps", {"chart": "kube-prometheus-stack", "namespace": "monitoring",
                             "values": {"grafana": {"admin": {"existingSecret": "grafana-admin"}}}})


def pdb(**spec: Any) -> R:
    return R("kubernetes:policy/v1:PodDisruptionBudget", "pdb", {"metadata": {"name": "server", "namespace": "feast"},
                                                                 "spec": {"selector": {"matchLabels": {"app": "server"}}, **spec}})


TOPIC = R("aws:sns/topic:Topic", "topic", {"name": "alerts"})
ALARM = R("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm", {"alarmActions": ["arn:aws:sns:x"]},
          deps={"alarmActions": ["topic"]})
SUBSCRIPTION = R("aws:sns/topicSubscription:TopicSubscription", "sub", {"protocol": "email", "endpoint": "a@b"},
                 deps={"topic": ["topic"]})


def bucket_policy(actions: list[str]) -> list[R]:
    deny = {"Sid": "DenyOutsideVpcEndpoint", "Effect": "Deny", "Principal": "*", "Action": actions, "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}
    return [R("aws:s3/bucket:Bucket", "data", {"bucket": "data"}),
            R("aws:s3/bucketVersioning:BucketVersioning", "ver", {"versioningConfiguration": {"status": "Enabled"}},
              deps={"bucket": ["data"]}),
            R("aws:s3/bucketPolicy:BucketPolicy", "bp", {"policy": json.dumps({"Statement": [deny]})},
              deps={"bucket": ["data"]})]


def rds(sg_vpc: str) -> list[R]:
    return [R("aws:ec2/vpc:Vpc", "vpc-a", {}), R("aws:ec2/vpc:Vpc", "vpc-b", {}),
            R("aws:ec2/subnet:Subnet", "subnet", {"vpcId": "vpc-a"}, deps={"vpcId": ["vpc-a"]}),
            R("aws:ec2/securityGroup:SecurityGroup", "sg", {"vpcId": sg_vpc}, deps={"vpcId": [sg_vpc]}),
            R("aws:rds/subnetGroup:SubnetGroup", "dbsubnets", {"subnetIds": ["s"]}, deps={"subnetIds": ["subnet"]}),
            R("aws:rds/instance:Instance", "db", {"dbSubnetGroupName": "g", "vpcSecurityGroupIds": ["sg"]},
              deps={"dbSubnetGroupName": ["dbsubnets"], "vpcSecurityGroupIds": ["sg"]})]


def iam_policy(*actions: str) -> R:
    return R("aws:iam/policy:Policy", "grant", {"policy": json.dumps({"Statement": [
        {"Sid": "Records", "Effect": "Allow", "Action": list(actions), "Resource": "*"}]})})


SMT = "mlops-inv-servicemonitor-target"
SEC = "mlops-inv-pod-reference"
PDB = "mlops-inv-pdb-allows-disruption"
TOP = "mlops-inv-alarm-topic-subscribed"
VPCE = "mlops-inv-vpce-deny-covers-versions"
RDS = "mlops-inv-rds-single-vpc"
IAM = "mlops-inv-iam-action-exists"
MLFLOW = {"app.kubernetes.io/name": "mlflow"}
VERSIONS_OPEN = ("bp: the VPC-endpoint Deny leaves s3:GetObjectAttributes, s3:RestoreObject, s3:GetObjectVersion, "
                 "s3:DeleteObjectVersion, s3:ListBucketVersions, s3:GetObjectVersionAttributes open from outside the "
                 "endpoint on versioned bucket data")
SOURCE = iam_table()[2]

CASES = [
    # 7. ServiceMonitors select a Service and one of its ports (generalises the DCGM selector test).
    Case("service-object", SMT, [service(MLFLOW), monitor(MLFLOW)], []),
    Case("wrong-label", SMT, [service(MLFLOW), monitor({"app": "mlflow"})],
         ["sm: ServiceMonitor selector {'app': 'mlflow'} in namespaces ['mlflow'] matches no Service in the stack"]),
    Case("wrong-port", SMT, [service(MLFLOW), monitor(MLFLOW, port="metrics")],
         ["sm: ServiceMonitor endpoint port 'metrics' is not a port of Service mlflow (ports: ['http'])"]),
    Case("wrong-namespace", SMT, [service(MLFLOW), monitor(MLFLOW, ns="default")],
         ["sm: ServiceMonitor selector {'app.kubernetes.io/name': 'mlflow'} in namespaces ['default'] matches no "
          "Service in the stack"]),
    Case("dcgm-chart-service", SMT, [DCGM, monitor(DCGM_LABELS, port="metrics", ns="monitoring")], []),
    Case("dcgm-peer-style-label", SMT, [DCGM, monitor({"app": "nvidia-dcgm-exporter"}, "metrics", "monitoring")],
         ["sm: ServiceMonitor selector {'app': 'nvidia-dcgm-exporter'} in namespaces ['monitoring'] matches no "
          "Service in the stack"]),
    Case("unmodelled-target-chart", SMT, [R(RELEASE, "redis", {"chart": "redis", "namespace": "cache"}),
                                          R(SM, "sm", monitor({"app": "redis"}, "metrics", "cache").inputs,
                                            deps={"metadata": ["redis"]})], []),
    # 8. IRSA moved to the identity family (test_invariants_identity.py).
    # 9. Secret references have a producer.
    Case("secret-exists", SEC, [deployment(ENV_REF), R("kubernetes:core/v1:Secret", "s", {
        "metadata": {"name": "db-credentials", "namespace": "feast"}})], []),
    Case("external-secret-target", SEC, [deployment(ENV_REF), R("kubernetes:external-secrets.io/v1:ExternalSecret",
                                                                "es", {"metadata": {"name": "db", "namespace": "feast"},
                                                                       "spec": {"target": {"name": "db-credentials"}}})], []),
    Case("secret-missing", SEC, [deployment(ENV_REF)],
         ["deploy: Deployment feast/server (resource deploy) app env DB names Secret feast/db-credentials, which nothing in the stack "
          "creates in feast: the pod never starts; create the Secret in feast (or an ExternalSecret/chart that "
          "produces it), fix the name, or mark the reference optional"]),
    Case("secret-allowlisted", SEC, [deployment(ENV_REF)], [], config={"externalSecrets": ["feast/db-*"]}),
    Case("chart-existing-secret", SEC, [GRAFANA, R("kubernetes:core/v1:Secret", "admin", {
        "metadata": {"name": "grafana-admin", "namespace": "monitoring"}})], []),
    Case("chart-existing-secret-missing", SEC, [GRAFANA],
         ["kps: release kps value grafana.admin.existingSecret names Secret monitoring/grafana-admin, which nothing "
          "in the stack produces: create it (a Secret or an ExternalSecret target) in that namespace"]),
    # 12. PDBs allow at least one disruption.
    Case("max-unavailable-one", PDB, [deployment({}), pdb(maxUnavailable=1)], []),
    Case("max-unavailable-zero", PDB, [deployment({}), pdb(maxUnavailable=0)],
         ["pdb: PDB maxUnavailable 0 never allows a disruption of Deployment server (replicas 2): node drains and "
          "upgrades block"]),
    Case("min-available-equals-replicas", PDB, [deployment({}), pdb(minAvailable=2)],
         ["pdb: PDB minAvailable 2 never allows a disruption of Deployment server (replicas 2): node drains and "
          "upgrades block"]),
    Case("min-available-below-replicas", PDB, [deployment({}, replicas=3), pdb(minAvailable=2)], []),
    # 6. Prod alarm topics have a subscriber.
    Case("subscribed", TOP, [TOPIC, ALARM, SUBSCRIPTION], []),
    Case("unsubscribed", TOP, [TOPIC, ALARM],
         ["topic: SNS topic receives from 1 senders (alarm) but has no subscription: alerts reach nobody"]),
    Case("unsubscribed-dev", TOP, [TOPIC, ALARM], [], env="dev"),
    Case("eventbridge-sender", TOP, [TOPIC, R("aws:cloudwatch/eventTarget:EventTarget", "findings", {"arn": "x"},
                                             deps={"arn": ["topic"]})],
         ["topic: SNS topic receives from 1 senders (findings) but has no subscription: alerts reach nobody"]),
    Case("alertmanager-config-secret-sender", TOP, [TOPIC, R(RELEASE, "kps", {
        "chart": "kube-prometheus-stack", "namespace": "monitoring",
        "values": {"alertmanager": {"alertmanagerSpec": {"configSecret": "am-config"}}}}), R(
        "kubernetes:core/v1:Secret", "am-secret", {"metadata": {"name": "am-config", "namespace": "monitoring"},
                                                   "stringData": "[secret]"}, deps={"stringData": ["topic"]})],
         ["topic: SNS topic receives from 1 senders (am-secret) but has no subscription: alerts reach nobody"]),
    # 10. Log group keys moved to the kms-users family (test_invariants_kms.py).
    # 13. VPC-endpoint denies cover object versions on versioned buckets.
    Case("deny-all-s3", VPCE, bucket_policy(["s3:*"]), []),
    Case("deny-listed-actions", VPCE, bucket_policy(["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                                                     "s3:ListBucket"]), [VERSIONS_OPEN]),
    # RDS: subnet group and security group in one VPC.
    Case("same-vpc", RDS, rds("vpc-a"), []),
    Case("different-vpcs", RDS, rds("vpc-b"),
         ["db: subnet group dbsubnets is in VPC urn:pulumi:test::demo::aws:ec2/vpc:Vpc::vpc-a but security group sg "
          "is in VPC urn:pulumi:test::demo::aws:ec2/vpc:Vpc::vpc-b"]),
    # 11. IAM actions exist.
    Case("real-actions", IAM, [iam_policy("sagemaker:GetRecord", "sagemaker:Batch*", "s3:*", "*")], []),
    Case("featurestore-runtime-prefix", IAM, [iam_policy("sagemaker-featurestore-runtime:GetRecord")],
         [f"grant: policy statement Records names sagemaker-featurestore-runtime:GetRecord: service prefix "
          f"'sagemaker-featurestore-runtime' does not exist in IAM ({SOURCE})"]),
    Case("misspelt-action", IAM, [iam_policy("s3:GetObjects")],
         [f"grant: policy statement Records names s3:GetObjects: s3 has no action 'GetObjects' in IAM ({SOURCE})"]),
]


@params(CASES)
def test_relation_invariant(case: Case) -> None:
    check(case)


def test_iam_table_records_its_source_and_knows_the_actions_the_platform_uses() -> None:
    from importlib import resources

    raw = json.loads(resources.files("mlops_policies").joinpath("data/iam_actions.json").read_text())
    assert raw["source"].startswith("parliament") and raw["version"].startswith("parliament ") and raw["generated"]
    # elasticloadbalancing:ModifyIpPools (AWS LBC iam_policy.json v2.13+) is missing from parliament 1.6.4's database.
    for action in ("elasticloadbalancing:ModifyIpPools", "sagemaker:PutRecord", "sagemaker:DeleteRecord",
                   "s3:GetObjectVersion", "iam:ListInstanceProfiles", "eks:DescribeCluster",
                   "sts:AssumeRoleWithWebIdentity", "kms:GenerateDataKey"):
        assert unknown_action(action) is None, action
    assert unknown_action("s3:Get*Version") is None
    assert unknown_action("s3:Frobnicate*") == "'s3:Frobnicate*' matches no s3 action"
