"""The estimator's arithmetic on a small hand-built inventory, against figures computed by hand below.

Prices are a hand-made table (not the committed one) so each expectation is plain arithmetic: 730 h/month.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.cost import Assumptions, Estimate, Item, Price, PriceTable, estimate, load_prices
from mlops_infra.cost.estimate import RULES, is_free
from tests.nonempty import each

H = 730.0
TABLE = PriceTable("2026-11-30", "test", H, {"us-east-1": {k: Price(v, "x", "test") for k, v in {
    "ec2:m.large": 0.1, "ec2:g.small": 1.0, "ec2:g.big": 2.0, "nat:hour": 0.05, "nat:gb": 0.05,
    "eks:cluster-standard": 0.1, "eks:cluster-extended": 0.6, "rds:postgres:db.x": 0.2, "rds:gp3-gb-month": 0.1,
    "ebs:gp3-gb-month": 0.08, "ebs:gp3-throughput-mbps-month": 0.04, "kms:key-month": 1.0,
}.items()}})


def group(name: str, types: list[str], low: int, high: int, capacity: str = "ON_DEMAND", **extra: Any) -> Item:
    return Item("aws:eks/nodeGroup:NodeGroup", name, {"instanceTypes": types, "capacityType": capacity,
                                                     "scalingConfig": {"minSize": low, "maxSize": high}, **extra})


def run(*items: Item, assumptions: Assumptions | None = None) -> Estimate:
    return estimate(list(items), region="us-east-1", prices=TABLE, assumptions=assumptions)


def only(est: Estimate, resource: str, word: str) -> tuple[float | None, float | None]:
    [line] = [ln for ln in est.lines if ln.resource == resource and word in ln.what]
    return line.idle, line.max


def test_on_demand_pool_is_priced_at_its_first_type_min_nodes_idle_and_max_nodes_at_max() -> None:
    # EKS launches On-Demand capacity in the order listed: m.large (0.1/h), not the dearer g.big.
    est = run(group("cpu", ["m.large", "g.big"], 2, 5))
    assert only(est, "cpu", "ON_DEMAND") == pytest.approx((2 * 0.1 * H, 5 * 0.1 * H))  # 146, 365


def test_spot_pool_costs_the_spot_ratio_of_its_dearest_type_and_nothing_at_zero_nodes() -> None:
    est = run(group("gpu", ["g.small", "g.big"], 0, 3, "SPOT"), assumptions=Assumptions(spot_price_ratio=0.5))
    idle, top = only(est, "gpu", "SPOT")
    assert (idle, top) == pytest.approx((0.0, 3 * 2.0 * 0.5 * H))  # 0, 2190
    assert [ln.assumption for ln in est.lines if ln.resource == "gpu" and "SPOT" in ln.what] == ["spotPriceRatio"]
    on_demand = run(group("gpu", ["g.big"], 0, 3))
    assert only(on_demand, "gpu", "ON_DEMAND")[1] == pytest.approx(3 * 2.0 * H)  # 4380: spot is the cheaper one


def test_multi_az_rds_doubles_the_instance_and_its_storage_and_storage_grows_to_its_autoscaling_limit() -> None:
    def db(multi: bool) -> Item:
        return Item("aws:rds/instance:Instance", "db", {"engine": "postgres", "instanceClass": "db.x", "multiAz": multi,
                                                        "storageType": "gp3", "allocatedStorage": 20,
                                                        "maxAllocatedStorage": 100})

    single, multi = run(db(False)), run(db(True))
    assert only(single, "db", "db.x") == pytest.approx((0.2 * H, 0.2 * H))  # 146
    assert only(multi, "db", "db.x") == pytest.approx((2 * 0.2 * H, 2 * 0.2 * H))  # 292
    assert only(single, "db", "storage") == pytest.approx((20 * 0.1, 100 * 0.1))  # 2, 10
    assert only(multi, "db", "storage") == pytest.approx((2 * 20 * 0.1, 2 * 100 * 0.1))  # 4, 20


def test_nat_gateway_hours_and_the_stated_data_assumption() -> None:
    est = run(Item("aws:ec2/natGateway:NatGateway", "nat", {}), assumptions=Assumptions(nat_gb_processed_per_month=200))
    assert only(est, "nat", "hours") == pytest.approx((0.05 * H, 0.05 * H))  # 36.5
    assert only(est, "nat", "GB") == pytest.approx((200 * 0.05, 200 * 0.05))  # 10
    assert est.used_assumptions()["natGbProcessedPerMonth"][0].what == "200 GB processed"
    assert est.idle == pytest.approx(46.5)


def test_root_volumes_come_from_the_launch_template_per_node_including_throughput_above_the_free_125() -> None:
    template = Item("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"blockDeviceMappings": [
        {"ebs": {"volumeType": "gp3", "volumeSize": 50, "throughput": 250, "iops": 3000}}]}, id="lt-1")
    est = run(template, group("cpu", ["m.large"], 1, 4, launchTemplate={"id": "lt-1", "version": "1"}))
    per_node = 50 * 0.08 + (250 - 125) * 0.04  # 9
    assert only(est, "cpu", "root volume") == pytest.approx((per_node, 4 * per_node))
    joined = run(Item(template.type, template.name, template.inputs, None, urn="urn:lt"),
                 Item("aws:eks/nodeGroup:NodeGroup", "cpu", group("c", ["m.large"], 1, 4).inputs,
                      deps={"launchTemplate": ["urn:lt"]}))  # the policy runner has no ids, only dependencies
    assert only(joined, "cpu", "root volume") == pytest.approx((per_node, 4 * per_node))


def test_extended_support_costs_more_once_the_version_ages_and_standard_does_not() -> None:
    ext = run(Item("aws:eks/cluster:Cluster", "eks", {"upgradePolicy": {"supportType": "EXTENDED"}}))
    std = run(Item("aws:eks/cluster:Cluster", "eks", {"upgradePolicy": {"supportType": "STANDARD"}}))
    assert (ext.idle, ext.max) == pytest.approx((0.1 * H, 0.6 * H))  # 73, 438
    assert (std.idle, std.max) == pytest.approx((73.0, 73.0))


def test_unpriced_types_and_instance_types_are_listed_never_counted_as_zero() -> None:
    est = run(group("cpu", ["m.large"], 1, 1), group("exotic", ["x9.huge"], 1, 2),
              Item("aws:elasticache/replicationGroup:ReplicationGroup", "cache", {"nodeType": "cache.r7g.large"}),
              Item("aws:iam/role:Role", "role", {}))
    assert [(ln.resource, ln.reason) for ln in est.not_priced] == [
        ("cpu", "no price for ebs:gp2-gb-month in us-east-1"),  # no launch template: EKS's 20 GiB gp2 root volume
        ("exotic", "no price for x9.huge in us-east-1"), ("cache", "resource type not in the estimator")]
    assert est.idle == pytest.approx(0.1 * H)  # only the priced pool; the IAM role is free, not "not priced"
    assert est.to_json()["totals"]["notPriced"] == 3
    other_region = estimate([group("cpu", ["m.large"], 1, 1)], region="eu-west-1", prices=TABLE)
    assert other_region.idle == 0.0 and other_region.not_priced[0].reason == "no price for m.large in eu-west-1"


def test_helm_values_claims_are_priced_through_the_storage_class_the_claim_names() -> None:
    sc = Item("kubernetes:storage.k8s.io/v1:StorageClass", "sc", {"provisioner": "ebs.csi.aws.com",
                                                                   "metadata": {"name": "gp3"},
                                                                   "parameters": {"type": "gp3"}})
    values = {"prometheus": {"prometheusSpec": {"replicas": 2, "storageSpec": {"volumeClaimTemplate": {"spec": {
        "storageClassName": "gp3", "resources": {"requests": {"storage": "200Gi"}}}}}}}}
    est = run(sc, Item("kubernetes:helm.sh/v3:Release", "kps", {"values": values}))
    assert (est.idle, est.max) == pytest.approx((2 * 200 * 0.08, 2 * 200 * 0.08))  # 32
    missing = run(Item("kubernetes:helm.sh/v3:Release", "kps", {"values": values}))  # no such class in the stack
    assert missing.idle == 0.0 and "storage class gp3" in missing.not_priced[0].reason


def test_components_sum_their_lines_and_the_totals_sum_the_components() -> None:
    est = run(Item("aws:kms/key:Key", "k1", {}, component="a"), Item("aws:kms/key:Key", "k2", {}, component="a"),
              Item("aws:eks/nodeGroup:NodeGroup", "cpu", group("c", ["m.large"], 1, 2).inputs, component="b"))
    assert {c: (round(i, 6), round(m, 6)) for c, (i, m) in est.per_component().items()} == {
        "b": (73.0, 146.0), "a": (2.0, 2.0)}
    assert sum(i for i, _ in est.per_component().values()) == pytest.approx(est.idle)


def test_committed_table_has_a_date_and_a_source_for_every_entry() -> None:
    table = load_prices()
    assert table.date and table.hours_per_month == 730
    for region, entries in each(table.regions.items()):
        for key, price in entries.items():
            assert price.source in table.sources, (region, key)
            assert {"url", "retrieved"} <= set(table.sources[price.source]), price.source
    assert table.get("us-east-1", "ec2:p5.48xlarge") is not None


def test_every_rule_type_is_not_also_free() -> None:
    assert not [t for t in RULES if is_free(t)]


def test_secrets_bill_per_secret_not_per_version_and_sns_per_publish_and_per_delivery_protocol() -> None:
    table = TABLE.with_prices("us-east-1", {k: Price(v, "x", "test") for k, v in {
        "secretsmanager:secret-month": 0.4, "sns:publish-million": 0.5, "sns:email-delivery-100k": 2.0,
        "sns:http-delivery-million": 0.6}.items()})
    items = [Item("aws:secretsmanager/secret:Secret", "s", {}),
             Item("aws:secretsmanager/secretVersion:SecretVersion", "v", {}),
             Item("aws:sns/topic:Topic", "t", {}),
             Item("aws:sns/topicSubscription:TopicSubscription", "mail", {"protocol": "email"}),
             Item("aws:sns/topicSubscription:TopicSubscription", "hook", {"protocol": "https"}),
             Item("aws:sns/topicSubscription:TopicSubscription", "sms", {"protocol": "sms"})]
    est = estimate(items, region="us-east-1", prices=table, assumptions=Assumptions(sns_publish_million_per_month=2))
    assert only(est, "s", "secret") == pytest.approx((0.4, 0.4))
    assert not [ln for ln in est.lines if ln.resource == "v"]  # a version is free: no line at all
    assert only(est, "t", "publishes") == pytest.approx((2 * 0.5, 2 * 0.5))
    assert only(est, "mail", "deliveries") == pytest.approx((2 * 10 * 2.0, 2 * 10 * 2.0))  # 2M = 20 x 100k
    assert only(est, "hook", "deliveries") == pytest.approx((2 * 0.6, 2 * 0.6))
    assert [ln.resource for ln in est.not_priced] == ["sms"]  # a protocol without a price is listed, not zero


def test_the_price_date_is_the_newest_retrieval_of_any_source() -> None:
    table = load_prices()
    retrieved = [str(s["retrieved"]) for s in table.sources.values() if s.get("retrieved")]
    assert retrieved
    assert table.date >= max(retrieved)
    from mlops_infra.cost.prices import parse_table

    raw = {"date": "2026-01-01", "source": "x", "regions": {},
           "sources": {"a": {"url": "u", "retrieved": "2026-03-04"}, "b": {"url": "u", "retrieved": "2026-02-01"}}}
    assert parse_table(raw).date == "2026-03-04"
    assert parse_table({**raw, "sources": {}}).date == "2026-01-01"


def test_costs_aws_creates_outside_the_plan_are_listed_as_not_modelled_never_silent() -> None:
    from mlops_infra.cost.report import markdown, text

    base = {"engine": "postgres", "instanceClass": "db.x", "storageType": "gp3", "allocatedStorage": 20}
    plain = run(Item("aws:rds/instance:Instance", "db", base))
    assert plain.not_modelled == [] and "Not modelled" in text(plain, "t")
    full = run(Item("aws:rds/instance:Instance", "db", {**base, "manageMasterUserPassword": True,
                                                        "enabledCloudwatchLogsExports": ["postgresql"],
                                                        "monitoringInterval": 60}),
               Item("aws:eks/addon:Addon", "insights", {"addonName": "amazon-cloudwatch-observability"}))
    whats = [w for _, w in full.not_modelled]
    assert len(whats) == 4 and any("master user secret" in w for w in whats)
    assert any("Enhanced Monitoring" in w for w in whats) and any("Container Insights" in w for w in whats)
    assert full.idle == plain.idle  # listed, not priced into the totals
    assert all(w in text(full, "t") and w in markdown(full, "t") for w in whats)
    assert full.to_json()["notModelled"][0]["resource"] == "db"


def test_guardduty_is_its_per_unit_rates_times_stated_volumes_and_its_enabled_plans_are_listed_not_modelled() -> None:
    table = TABLE.with_prices("us-east-1", {"guardduty:cloudtrail-events-million": Price(4.0, "x", "test"),
                                            "guardduty:vpc-flow-log-gb": Price(1.0, "x", "test")})
    items = [Item("aws:guardduty/detector:Detector", "gd", {"enable": True}),
             Item("aws:guardduty/detectorFeature:DetectorFeature", "eks", {"name": "EKS_AUDIT_LOGS",
                                                                          "status": "ENABLED"}),
             Item("aws:guardduty/detectorFeature:DetectorFeature", "lambda", {"name": "LAMBDA_NETWORK_LOGS",
                                                                             "status": "DISABLED"})]
    volumes = Assumptions(guardduty_cloudtrail_events_million_per_month=3,
                          guardduty_vpc_flow_log_gb_per_month=20)
    est = estimate(items, region="us-east-1", prices=table, assumptions=volumes)
    assert only(est, "gd", "management events") == pytest.approx((3 * 4.0, 3 * 4.0))
    assert only(est, "gd", "flow logs") == pytest.approx((20 * 1.0, 20 * 1.0))
    assert {ln.assumption for ln in est.lines if ln.resource == "gd"} == {
        "guarddutyCloudtrailEventsMillionPerMonth", "guarddutyVpcFlowLogGbPerMonth"}
    assert est.not_priced == [] and est.idle == pytest.approx(3 * 4.0 + 20 * 1.0)
    plans = [(resource, what) for resource, what in est.not_modelled if resource != "gd"]
    assert plans == [("eks", "GuardDuty EKS_AUDIT_LOGS protection plan (billed by its own usage; not in the table)")]
    elsewhere = estimate(items, region="eu-west-1", prices=table, assumptions=volumes)
    assert sorted(ln.reason for ln in elsewhere.not_priced) == [
        "no price for guardduty:cloudtrail-events-million in eu-west-1",
        "no price for guardduty:vpc-flow-log-gb in eu-west-1"]  # listed, never zero


def test_a_source_read_for_one_region_prices_only_that_region() -> None:
    table = load_prices()
    one_region = {key: source["note"].split("priced for ", 1)[1].split(" only", 1)[0]
                  for key, source in table.sources.items() if "priced for " in str(source.get("note"))}
    used = [(region, name, price.source) for region, entries in table.regions.items()
            for name, price in entries.items() if price.source in one_region]
    for region, name, source in each(used):
        assert region == one_region[source], (name, source)
    assert {"factualminds-guardduty", "factualminds-sns"} <= set(one_region)


@pytest.mark.parametrize("raw", [{"spotPriceRatio": -100}, {"spotPriceRatio": 0}, {"spotPriceRatio": 1.5},
                                 {"natGbProcessedPerMonth": -1}, {"s3GbStoredPerBucket": float("nan")}])
def test_policy_config_assumptions_outside_the_stacks_ranges_are_refused(raw: dict[str, float]) -> None:
    # A negative spot ratio made spot pools cost less than nothing and hid an at-max breach (review R11COST).
    from mlops_infra.cost.assumptions import Assumptions
    with pytest.raises(ValueError, match="cost assumptions out of range"):
        Assumptions.from_mapping(raw)
    assert Assumptions.from_mapping({"spotPriceRatio": 1}).spot_price_ratio == 1.0
