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
