"""Staging adopts prod's GuardDuty detector (one per account and Region), whose findings are the whole account's: its
findings rule routes only findings about its own cluster and VPC, so prod's findings neither reach staging's
subscribers nor page twice, while prod, the detector's owner, routes every finding (review FSEC #5). Patterns are
judged with moto's EventBridge pattern matcher on findings shaped as GuardDuty sends them (the finding is the event's
`detail`; GuardDuty API reference, Resource/EksClusterDetails)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from mlops_infra.plan import Inventory, PlanError, plan_program
from mlops_infra.plan.names import aws_auto_name
from mlops_infra.security.threat_detection import finding_pattern
from tests.conftest import planned
from tests.nonempty import each

RULE = "aws:cloudwatch/eventRule:EventRule"


def _rule(inv: Inventory) -> EventPattern:
    (rule,) = [r for r in inv.of_type(RULE) if r.name.endswith("-security-threats-findings")]
    return EventPattern.load(rule.inputs["eventPattern"])


def _cluster(inv: Inventory) -> str:
    (cluster,) = inv.of_type("aws:eks/cluster:Cluster")
    return str(cluster.inputs["name"])


def _eks_finding(cluster: str, severity: float = 8.0) -> dict[str, Any]:
    return {"source": "aws.guardduty", "detail-type": "GuardDuty Finding", "detail": {
        "severity": severity, "type": "Execution:Runtime/NewBinaryExecuted",
        "resource": {"resourceType": "EKSCluster", "eksClusterDetails": {"name": cluster, "vpcId": "vpc-x"}}}}


@pytest.fixture(scope="module")
def stacks() -> dict[str, Inventory]:
    return {"prod": planned("prod"), "staging": planned("staging")}


def test_staging_routes_its_own_cluster_findings_and_not_prods(stacks: dict[str, Inventory]) -> None:
    prod_cluster, staging_cluster = _cluster(stacks["prod"]), _cluster(stacks["staging"])
    assert prod_cluster != staging_cluster
    staging = _rule(stacks["staging"])
    assert staging.matches_event(_eks_finding(staging_cluster))
    assert not staging.matches_event(_eks_finding(prod_cluster)), "prod's finding paged staging's subscribers"
    assert not staging.matches_event(_eks_finding(staging_cluster, severity=2.0)), "below the configured severity"


def test_prod_owns_the_detector_and_routes_every_finding(stacks: dict[str, Inventory]) -> None:
    prod = _rule(stacks["prod"])
    for cluster in (_cluster(stacks["prod"]), _cluster(stacks["staging"]), "another-cluster"):
        assert prod.matches_event(_eks_finding(cluster)), cluster


def _flattened(value: Any) -> Any:
    """An event as EventBridge matches it: an array of objects becomes one object whose fields list the elements'
    values (EventBridge user guide, "Arrays in event patterns": a pattern field matches when any element's value
    does). moto's matcher matches arrays of values but does not descend into arrays of objects."""
    if isinstance(value, dict):
        return {k: _flattened(v) for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = sorted({k for v in value for k in v})
        return {k: [x for v in value if k in v for x in _as_list(_flattened(v[k]))] for k in keys}
    return value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _node_finding(vpc: str, tags: dict[str, str]) -> dict[str, Any]:
    """A runtime or EC2 finding about a node, as GuardDuty shapes it (Resource, InstanceDetails, NetworkInterface)."""
    return _flattened({"source": "aws.guardduty", "detail-type": "GuardDuty Finding", "detail": {
        "severity": 8.0, "type": "Backdoor:EC2/C&CActivity.B", "resource": {"resourceType": "Instance",
        "instanceDetails": {"instanceId": "i-0123", "networkInterfaces": [{"vpcId": "vpc-other"}, {"vpcId": vpc}],
                            "tags": [{"key": "Name", "value": "node"}, *({"key": k, "value": v}
                                                                        for k, v in tags.items())]}}}})


def test_staging_routes_findings_about_its_own_nodes(stacks: dict[str, Inventory]) -> None:
    """Its nodes' findings (resource type Instance) name the VPC in `instanceDetails.networkInterfaces[].vpcId` and
    carry the tag key that names the cluster, `kubernetes.io/cluster/<cluster>` (`owned`), on a managed node group's
    instances (beside `eks:cluster-name`) and on Karpenter's (beside `eks:eks-cluster-name`)."""
    (rule,) = [r for r in stacks["staging"].of_type(RULE) if r.name.endswith("-security-threats-findings")]
    (vpc,) = stacks["staging"].of_type("aws:ec2/vpc:Vpc")
    assert vpc.urn in rule.property_dependencies["eventPattern"]
    staging, cluster = _rule(stacks["staging"]), _cluster(stacks["staging"])
    for name_tag in ("eks:cluster-name", "eks:eks-cluster-name"):
        tags = {f"kubernetes.io/cluster/{cluster}": "owned", name_tag: cluster}
        assert staging.matches_event(_node_finding(vpc.id, tags)), name_tag
        assert not staging.matches_event(_node_finding("vpc-elsewhere", tags)), name_tag
    (prod_vpc,) = stacks["prod"].of_type("aws:ec2/vpc:Vpc")
    assert prod_vpc.id != vpc.id
    prod_cluster = _cluster(stacks["prod"])
    assert not staging.matches_event(_node_finding(prod_vpc.id, {f"kubernetes.io/cluster/{prod_cluster}": "owned",
                                                                 "eks:cluster-name": prod_cluster}))


def test_another_clusters_nodes_in_a_shared_vpc_are_not_routed(stacks: dict[str, Inventory]) -> None:
    """Review FSEC2 #5: two stacks on one VPC (`network.existingVpc`); before, the adopter's rule matched any instance
    in the VPC, so it routed the other stack's node findings too."""
    (vpc,) = stacks["staging"].of_type("aws:ec2/vpc:Vpc")
    staging = _rule(stacks["staging"])
    for name_tag in ("eks:cluster-name", "eks:eks-cluster-name"):
        other = {"kubernetes.io/cluster/another-cluster": "owned", name_tag: "another-cluster"}
        assert not staging.matches_event(_node_finding(vpc.id, other)), name_tag
    assert not staging.matches_event(_node_finding(vpc.id, {})), "an instance of no cluster"


def test_a_key_and_a_value_from_two_tags_do_not_make_a_node_ours(stacks: dict[str, Inventory]) -> None:
    """Review FSEC3 #3: EventBridge matches each field of an array of objects against any element, so the pattern
    `{key: [eks:cluster-name, ...], value: [<cluster>]}` matched another cluster's node in a shared VPC that had
    `eks:cluster-name=<other>` and any other tag valued with this cluster's name (a `team` tag, say)."""
    (vpc,) = stacks["staging"].of_type("aws:ec2/vpc:Vpc")
    staging, cluster = _rule(stacks["staging"]), _cluster(stacks["staging"])
    for name_tag in ("eks:cluster-name", "eks:eks-cluster-name"):
        crossed = {"kubernetes.io/cluster/another-cluster": "owned", name_tag: "another-cluster", "team": cluster}
        assert not staging.matches_event(_node_finding(vpc.id, crossed)), name_tag
    # The same pattern, built alone, for a cluster whose name is also a value of another tag.
    pattern = EventPattern.load(finding_pattern(4, "mine", "vpc-shared"))
    assert pattern.matches_event(_node_finding("vpc-shared", {"kubernetes.io/cluster/mine": "owned"}))
    assert not pattern.matches_event(_node_finding("vpc-shared", {"eks:cluster-name": "theirs", "owner": "mine"}))
    assert not pattern.matches_event(_node_finding("vpc-shared", {"kubernetes.io/cluster/theirs": "mine"}))


def test_pattern_without_a_vpc_names_only_the_cluster() -> None:
    pattern = EventPattern.load(finding_pattern(4, "mine"))
    assert pattern.matches_event(_eks_finding("mine")) and not pattern.matches_event(_eks_finding("theirs"))


def test_an_adopted_detector_without_the_cluster_is_refused(tmp_path: Path) -> None:
    """ThreatDetection used alone: an unscoped rule on an adopted detector would route another stack's findings."""
    (tmp_path / "Pulumi.yaml").write_text("name: threats\nruntime: python\n")
    (tmp_path / "Pulumi.staging.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (tmp_path / "__main__.py").write_text(
        "from mlops_infra.security.config import SecurityBaselineConfig\n"
        "from mlops_infra.security.threat_detection import ThreatDetection, ThreatDetectionArgs\n"
        "cfg = SecurityBaselineConfig(guardduty_detector='existing', guardduty_detector_id='abc', access_analyzer=False)\n"
        "ThreatDetection('t', ThreatDetectionArgs(config=cfg, tags={},"
        " alert_topic_arn='arn:aws:sns:us-east-1:123456789012:alerts'))\n")
    with pytest.raises(PlanError, match=r"an adopted GuardDuty detector \(guarddutyDetector: existing\) needs "
                                        r"ThreatDetectionArgs.cluster_name"):
        plan_program(tmp_path, "staging")


def _finding(resource: dict[str, Any]) -> dict[str, Any]:
    return {"source": "aws.guardduty", "detail-type": "GuardDuty Finding", "detail": {"severity": 8.0,
                                                                                     "resource": resource}}


def _routes_s3(pattern: EventPattern, buckets: list[str]) -> bool:
    """An S3 finding names its buckets in the array `s3BucketDetails` (matched as EventBridge flattens it)."""
    return bool(pattern.matches_event(_flattened(_finding({"resourceType": "S3Bucket", "s3BucketDetails": [
        {"name": b, "type": "Destination"} for b in buckets]}))))


def _names(inv: Inventory) -> dict[str, list[str]]:
    """Physical names as the provider generates them: buckets and roles (the mock engine's ids), RDS identifiers."""
    rds = "aws:rds/instance:Instance"
    return {"buckets": [r.id for r in inv.of_type("aws:s3/bucket:Bucket")],
            "roles": [r.id for r in inv.of_type("aws:iam/role:Role")],
            "databases": [aws_auto_name(rds, "identifier", r.name, r.inputs)[0] for r in inv.of_type(rds)]}


@pytest.mark.parametrize("kind", ["buckets", "roles", "databases"])
def test_staging_routes_findings_about_its_named_resources_and_not_prods(stacks: dict[str, Inventory],
                                                                         kind: str) -> None:
    """Review FSEC2 #1: before, an adopted detector routed only the cluster's and the VPC's findings, so S3
    protection findings on staging's buckets, credential findings on its roles (a node's credentials used outside
    AWS: `accessKeyDetails.userName` is the role) and RDS login findings on its databases reached no topic."""
    staging, prod = _rule(stacks["staging"]), _rule(stacks["prod"])

    def routes(pattern: EventPattern, name: str) -> bool:
        if kind == "buckets":
            return _routes_s3(pattern, [name])
        if kind == "roles":
            return pattern.matches_event(_finding({"resourceType": "AccessKey", "accessKeyDetails": {
                "userName": name, "userType": "AssumedRole"}}))
        return pattern.matches_event(_finding({"resourceType": "RDSDBInstance", "rdsDbInstanceDetails": {
            "dbInstanceIdentifier": name}}))

    for name in each(_names(stacks["staging"])[kind]):
        assert routes(staging, name), f"staging's {name} finding reaches no topic"
        assert routes(prod, name), f"prod, the detector's owner, routes every finding ({name})"
    for name in each(_names(stacks["prod"])[kind]):
        assert not routes(staging, name), f"prod's {name} finding paged staging's subscribers"
