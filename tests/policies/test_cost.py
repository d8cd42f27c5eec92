"""Cost policies: GPU families and caps per environment, spot in dev, cost tags (provider default tags count)."""

from __future__ import annotations

from mlops_policies.cost import NODE_GROUP, NODE_POOL, accelerators

from .cases import Case, check, params
from .helpers import R

TAGS = {"owner": "ml", "cost-center": "cc-1", "environment": "prod", "data-classification": "internal"}


def group(name: str, types: list[str], max_size: int, capacity: str = "ON_DEMAND") -> R:
    return R(NODE_GROUP, name, {"instanceTypes": types, "capacityType": capacity,
                                "scalingConfig": {"minSize": 0, "maxSize": max_size, "desiredSize": 0}, "tags": TAGS})


def pool(name: str, families: list[str], capacity: list[str], limit: int | None) -> R:
    spec = {"template": {"spec": {"requirements": [
        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": families},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": capacity}]}}}
    if limit is not None:
        spec["limits"] = {"nvidia.com/gpu": limit}
    return R(NODE_POOL, name, {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "spec": spec})


def test_accelerator_counts() -> None:
    assert [accelerators(t) for t in ("m7i.large", "g6.xlarge", "g6e.12xlarge", "p5.48xlarge", "inf2.48xlarge")] == \
        [0, 1, 4, 8, 12]


CASES = [
    Case("prod-p5", "mlops-cost-gpu-families", [group("p5", ["p5.48xlarge"], 2)], []),
    Case("dev-p5", "mlops-cost-gpu-families", [group("p5", ["p5.48xlarge", "g6.xlarge"], 2)],
         ["p5: GPU families p5 are not allowed in dev (allowed: g4dn, g5, g6)"], env="dev"),
    Case("dev-karpenter", "mlops-cost-gpu-families", [pool("gpu", ["g6e", "p4d"], ["spot"], 8)],
         ["gpu: GPU families g6e, p4d are not allowed in dev (allowed: g4dn, g5, g6)"], env="dev"),
    Case("under-cap", "mlops-cost-node-group-max-size", [group("ng", ["m7i.large"], 100)], []),
    Case("over-cap", "mlops-cost-node-group-max-size", [group("ng", ["m7i.large"], 20)],
         ["ng: max size 20 exceeds the dev cap of 10 nodes"], env="dev"),
    Case("under-cap", "mlops-cost-total-gpus", [group("a", ["g6.xlarge", "g6.2xlarge"], 8), pool("k", ["g6"], ["spot"], 8)],
         [], env="dev"),
    Case("over-cap", "mlops-cost-total-gpus", [group("a", ["g6e.12xlarge"], 4), group("b", ["g6.xlarge"], 4)],
         ["a: GPU capacity at full scale is 20 GPUs, over the dev cap of 16 (a: 16, b: 4)"], env="dev"),
    Case("pool-without-limit", "mlops-cost-total-gpus", [pool("k", ["g6"], ["spot"], None)],
         ["k: GPU NodePool has no nvidia.com/gpu limit"]),
    Case("dev-spot", "mlops-cost-dev-gpu-spot", [group("g", ["g6.xlarge", "g5.xlarge"], 4, "SPOT"),
                                                 group("cpu", ["m7i.large"], 4)], [], env="dev"),
    Case("prod-on-demand", "mlops-cost-dev-gpu-spot", [group("g", ["g6.xlarge"], 4)], []),
    Case("dev-on-demand", "mlops-cost-dev-gpu-spot", [group("g", ["g6.xlarge"], 4)],
         ["g: GPU node group uses ON_DEMAND capacity; use SPOT in dev"], env="dev"),
    Case("dev-karpenter-mixed", "mlops-cost-dev-gpu-spot", [pool("k", ["g6"], ["spot", "on-demand"], 4)],
         ["k: GPU NodePool allows capacity types spot, on-demand; use spot only"], env="dev"),
    Case("tagged", "mlops-cost-required-tags", [group("ng", ["m7i.large"], 2)], []),
    Case("provider-default-tags", "mlops-cost-required-tags", [
        R("pulumi:providers:aws", "aws", {"defaultTags": '{"tags": {"owner": "ml", "cost-center": "c", '
                                                         '"environment": "prod", "data-classification": "x"}}'}),
        R("aws:kms/key:Key", "k", {}, provider="aws")], []),
    Case("missing", "mlops-cost-required-tags", [R("aws:kms/key:Key", "k", {"tags": {"owner": "ml"}})],
         ["k: missing cost tags: cost-center, environment, data-classification"]),
    Case("tags-unknown", "mlops-cost-required-tags", [R("aws:kms/key:Key", "k", {"tags": "[unknown]"})], []),
]


@params(CASES)
def test_cost(case: Case) -> None:
    check(case)


# --- mlops-cost-budget and mlops-cost-unpriced: the estimate (mlops_infra.cost, committed us-east-1 prices) against the stack's ceilings.
# By hand: m7i.xlarge $0.2016/h x 730 h = $147.17 per node, + a 50 GiB gp3 root volume ($4.00) from its launch
# template (joined through the property dependency, as the engine records it); NAT $0.045 x 730 + 100 GB x $0.045
# = $37.35. Idle (1 node) $188.52; at max (2 nodes) $339.69.
def budget_stack() -> list[R]:
    template = R("aws:ec2/launchTemplate:LaunchTemplate", "lt",
                 {"blockDeviceMappings": [{"ebs": {"volumeType": "gp3", "volumeSize": 50}}]})
    pool = R(NODE_GROUP, "ng", {"instanceTypes": ["m7i.xlarge"], "capacityType": "ON_DEMAND", "tags": TAGS,
                                "scalingConfig": {"minSize": 1, "maxSize": 2, "desiredSize": 1}},
             deps={"launchTemplate": ["lt"]})
    return [template, pool, R("aws:ec2/natGateway:NatGateway", "nat", {})]


UNPRICED_DB = R("aws:rds/instance:Instance", "db", {"engine": "postgres", "instanceClass": "db.x9.large",
                                                    "allocatedStorage": 20, "storageType": "gp3", "tags": TAGS})

BUDGET_CASES = [
    Case("within", "mlops-cost-budget", budget_stack(), [], config={"idleMonthlyUsd": 190, "maxMonthlyUsd": 340}),
    Case("no-budget", "mlops-cost-budget", budget_stack(), []),
    Case("idle-over", "mlops-cost-budget", budget_stack(),
         ["ng: estimated idle cost $188.52/month is over the budget of $100.00 (largest: ng $151, nat $37)"],
         config={"idleMonthlyUsd": 100}),
    Case("max-over-in-dev", "mlops-cost-budget", budget_stack(),
         ["ng: estimated at-max cost $339.69/month is over the budget of $300.00 (largest: ng $302, nat $37)"],
         env="dev", config={"idleMonthlyUsd": 190, "maxMonthlyUsd": 300}),
    Case("spot-ratio-assumption", "mlops-cost-budget", [R(NODE_GROUP, "gpu", {
        "instanceTypes": ["g6.xlarge"], "capacityType": "SPOT", "diskSize": 20,
        "scalingConfig": {"minSize": 0, "maxSize": 1, "desiredSize": 0}})],
         # g6.xlarge $0.8048/h x 730 x 0.5 = $293.75 (the gp2 root volume has no price: the budget is unknown, and
         # the breach of the priced part alone is certain)
         ["gpu: budget unknown: 1 line(s) not priced (gpu: gp2 root volume 20 GiB per node); the priced part is "
          "$0.00 idle, $293.75 at max; price them in the table check reads (tools/regen_prices.py; `mlops-infra "
          "cost --live` only shows them) or drop the cap",
          "gpu: estimated at-max cost $293.75/month (a lower bound) is over the budget of $200.00 (largest: gpu $294)"],
         config={"maxMonthlyUsd": 200, "assumptions": {"spotPriceRatio": 0.5}}),
    # Under the caps by the priced part, yet a line is not priced: the budget is unknown, never passed.
    Case("unpriced-makes-the-budget-unknown", "mlops-cost-budget", [*budget_stack(), UNPRICED_DB],
         ["db: budget unknown: 1 line(s) not priced (db: db.x9.large postgres Single-AZ); the priced part is $190.82 "
          "idle, $341.99 at max; price them in the table check reads (tools/regen_prices.py; `mlops-infra cost "
          "--live` only shows them) or drop the cap"],
         config={"idleMonthlyUsd": 1000, "maxMonthlyUsd": 1000}),
    Case("unpriced-without-a-cap-is-not-a-budget-finding", "mlops-cost-budget", [*budget_stack(), UNPRICED_DB], []),
    # An unpriced line is a finding with or without a budget, even with the totals under it; a waiver on the
    # resource silences it (and only it: test_cost_unpriced.py).
    Case("unpriced-is-an-error", "mlops-cost-unpriced", [*budget_stack(), UNPRICED_DB],
         ["db: not priced: db.x9.large postgres Single-AZ: no price for rds:postgres:db.x9.large in us-east-1 (no "
          "total counts it: a budget cap reports unknown while it is unpriced)"], config={"idleMonthlyUsd": 1000, "maxMonthlyUsd": 1000}),
    Case("unpriced-waived", "mlops-cost-unpriced", [*budget_stack(), UNPRICED_DB], [],
         config={"idleMonthlyUsd": 1000, "maxMonthlyUsd": 1000,
                 "waivers": [{"resource": "db", "reason": "priced by hand", "expires": "2099-01-01"}]}),
    Case("unpriced-without-budget", "mlops-cost-unpriced", [*budget_stack(), UNPRICED_DB],
         ["db: not priced: db.x9.large postgres Single-AZ: no price for rds:postgres:db.x9.large in us-east-1 (no "
          "total counts it: a budget cap reports unknown while it is unpriced)"]),
    Case("unpriced-without-budget-waived", "mlops-cost-unpriced", [*budget_stack(), UNPRICED_DB], [],
         config={"waivers": [{"resource": "db", "reason": "priced by hand", "expires": "2099-01-01"}]}),
]


@params(BUDGET_CASES)
def test_budget(case: Case) -> None:
    check(case)
