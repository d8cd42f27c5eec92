"""Cost guardrails: GPU families per environment, node and GPU caps, spot for dev GPU pools, cost tags.

GPU capacity is read from EKS managed node groups (instance types x max size) and Karpenter NodePools
(`spec.limits`, requirements). GPU families and per-instance GPU counts: AWS EC2 accelerated-computing instance
pages (Nov 2026); families also as in docs/peers.md (g5, g5g, g6, g6e, g7e, p4d, p4de, p5, p5e; trn1, inf2).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_infra.cost import Estimate

from .core import UNKNOWN, Resource, Stack, dig, each, env_applies, known, per_env, resource_policy, stack_policy

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
GPU_FAMILIES = frozenset({"g4dn", "g4ad", "g5", "g5g", "g6", "g6e", "g6f", "gr6", "g7e", "p3", "p3dn", "p4d", "p4de",
                          "p5", "p5e", "p5en", "p6-b200", "trn1", "trn1n", "trn2", "inf1", "inf2", "dl1"})
# Accelerators per instance where it differs from the size rule in `accelerators()`.
ACCELERATORS: dict[str, int] = {
    "g4dn.12xlarge": 4, "g4dn.metal": 8, "g5g.16xlarge": 2, "g5g.metal": 2,
    "p4d.24xlarge": 8, "p4de.24xlarge": 8, "p3.8xlarge": 4, "p3.16xlarge": 8, "p3dn.24xlarge": 8,
    "trn1.2xlarge": 1, "trn1.32xlarge": 16, "trn1n.32xlarge": 16, "trn2.48xlarge": 16,
    "inf2.xlarge": 1, "inf2.8xlarge": 1, "inf2.24xlarge": 6, "inf2.48xlarge": 12,
}
REQUIRED_TAGS = ["owner", "cost-center", "environment", "data-classification"]
TAGGABLE = frozenset({
    "aws:s3/bucket:Bucket", "aws:kms/key:Key", "aws:eks/cluster:Cluster", NODE_GROUP,
    "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance", "aws:ebs/volume:Volume",
    "aws:rds/instance:Instance", "aws:rds/cluster:Cluster", "aws:dynamodb/table:Table",
    "aws:elasticache/replicationGroup:ReplicationGroup", "aws:cloudwatch/logGroup:LogGroup", "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/routeTable:RouteTable",
    "aws:ec2/flowLog:FlowLog", "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:iam/role:Role", "aws:iam/policy:Policy",
    "aws:ecr/repository:Repository", "aws:efs/fileSystem:FileSystem", "aws:sqs/queue:Queue", "aws:sns/topic:Topic",
    "aws:lb/loadBalancer:LoadBalancer", "aws:secretsmanager/secret:Secret", "aws:eks/addon:Addon",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation", "aws:ec2/placementGroup:PlacementGroup",
})
COST_CONTROLS = ("SOC2 CC9.1", "ISO27001 A.5.9")


def family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def accelerators(instance_type: str) -> int:
    """GPUs (or Neuron chips) per instance; 0 for non-accelerated families."""
    if family(instance_type) not in GPU_FAMILIES:
        return 0
    if instance_type in ACCELERATORS:
        return ACCELERATORS[instance_type]
    size = instance_type.split(".", 1)[-1]
    return {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8, "metal": 8}.get(size, 1)


def _requirement(pool: Resource, key: str) -> list[Any] | None:
    for req in known(pool.get("spec", "template", "spec", "requirements"), "NodePool requirements") or []:
        if isinstance(req, Mapping) and req.get("key") == key and req.get("operator", "In") == "In":
            values = req.get("values")
            return list(values) if isinstance(values, list) else []
    return None


def pool_families(pool: Resource) -> list[str]:
    families = _requirement(pool, "karpenter.k8s.aws/instance-family") or []
    types = _requirement(pool, "node.kubernetes.io/instance-type") or []
    return sorted({*map(str, families), *(family(str(t)) for t in types)})


def is_gpu_pool(pool: Resource) -> bool:
    limits = pool.get("spec", "limits")
    return (any(f in GPU_FAMILIES for f in pool_families(pool))
            or _requirement(pool, "karpenter.k8s.aws/instance-gpu-count") is not None
            or (isinstance(limits, Mapping) and "nvidia.com/gpu" in limits))


def group_types(group: Resource) -> list[str]:
    types = known(group.get("instanceTypes"), "instanceTypes")
    return [str(t) for t in types] if isinstance(types, list) else []


def is_gpu_group(group: Resource) -> bool:
    ami = group.get("amiType")
    return any(accelerators(t) for t in group_types(group)) or (isinstance(ami, str) and ("NVIDIA" in ami or "GPU" in ami))


@resource_policy(
    "mlops-cost-gpu-families",
    types=[NODE_GROUP, NODE_POOL],
    description="GPU node pools use only the GPU instance families allowed in the environment.",
    severity="medium", pack="mlops-cost",
    controls=COST_CONTROLS,
    remediation="Use an allowed family (see allowedFamilies in the policy config) or extend the list for the environment.",
    config={"allowedFamilies": {"type": "object", "description": "Allowed GPU families per environment.", "default": {
        "dev": ["g4dn", "g5", "g6"],
        "staging": ["g4dn", "g5", "g6", "g6e"],
        "prod": ["g5", "g5g", "g6", "g6e", "g7e", "p4d", "p4de", "p5", "p5e", "trn1", "inf2"],
    }}},
)
def gpu_families(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    allowed = list(per_env(config, "allowedFamilies") or [])
    families = pool_families(res) if res.type == NODE_POOL else sorted({family(t) for t in group_types(res)})
    denied = [f for f in families if f in GPU_FAMILIES and f not in allowed]
    if denied:
        yield (f"GPU families {', '.join(denied)} are not allowed in {config.get('environment')} "
               f"(allowed: {', '.join(allowed) or 'none'})")


@resource_policy(
    "mlops-cost-node-group-max-size",
    types=[NODE_GROUP],
    description="Node groups cap their maximum size at the environment's limit.",
    severity="medium", pack="mlops-cost",
    controls=COST_CONTROLS,
    remediation="Lower scaling_config.max_size, or raise maxNodes for the environment in the policy config.",
    config={"maxNodes": {"type": "object", "default": {"dev": 10, "staging": 30, "prod": 100}}},
)
def node_group_max_size(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    size = known(res.get("scalingConfig", "maxSize"), "scalingConfig.maxSize")
    cap = int(per_env(config, "maxNodes") or 0)
    if size is not None and int(size) > cap:
        yield f"max size {size} exceeds the {config.get('environment')} cap of {cap} nodes"


@stack_policy(
    "mlops-cost-total-gpus",
    description="The stack's GPU capacity at full scale stays under the environment's cap, and every GPU "
                "NodePool has a GPU limit.",
    severity="high", pack="mlops-cost",
    controls=COST_CONTROLS,
    remediation="Lower max sizes or NodePool limits, or raise maxGpus for the environment in the policy config.",
    config={"maxGpus": {"type": "object", "default": {"dev": 16, "staging": 64, "prod": 256}}},
)
def total_gpus(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    cap = int(per_env(config, "maxGpus") or 0)
    counted: list[tuple[Resource, int]] = []
    problems: list[tuple[Resource, str]] = []

    def count_group(group: Resource) -> Iterable[str]:
        size = known(group.get("scalingConfig", "maxSize"), "scalingConfig.maxSize")
        per_node = max((accelerators(t) for t in group_types(group)), default=0)
        if per_node and size:
            counted.append((group, per_node * int(size)))
        return []

    def count_pool(pool: Resource) -> Iterable[str]:
        if not is_gpu_pool(pool):
            return
        limit = known(pool.get("spec", "limits", "nvidia.com/gpu"), "NodePool GPU limit")
        if limit is None:
            yield "GPU NodePool has no nvidia.com/gpu limit"
        else:
            counted.append((pool, int(str(limit))))

    list(each(stack.of_type(NODE_GROUP), count_group))
    problems.extend(each(stack.of_type(NODE_POOL), count_pool))
    yield from problems
    total = sum(n for _, n in counted)
    if counted and total > cap:
        biggest = max(counted, key=lambda item: item[1])[0]
        yield biggest, (f"GPU capacity at full scale is {total} GPUs, over the {config.get('environment')} cap of {cap} "
                        f"({', '.join(f'{r.name}: {n}' for r, n in counted)})")


@resource_policy(
    "mlops-cost-dev-gpu-spot",
    types=[NODE_GROUP, NODE_POOL],
    description="GPU pools in dev run on spot capacity.",
    severity="medium", pack="mlops-cost", strictness="always",
    controls=COST_CONTROLS,
    remediation="Set capacity_type 'SPOT' (Karpenter: karpenter.sh/capacity-type In [spot]) with several instance types.",
    config={"environments": {"type": "array", "items": {"type": "string"}, "default": ["dev"]}},
)
def dev_gpu_spot(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    env_applies(config)
    if res.type == NODE_POOL:
        if not is_gpu_pool(res):
            return
        capacity = _requirement(res, "karpenter.sh/capacity-type")
        if capacity != ["spot"]:
            yield f"GPU NodePool allows capacity types {', '.join(map(str, capacity or ['on-demand']))}; use spot only"
        return
    if not is_gpu_group(res):
        return
    group_capacity = known(res.get("capacityType"), "capacityType") or "ON_DEMAND"
    if group_capacity != "SPOT":
        yield f"GPU node group uses {group_capacity} capacity; use SPOT in {config.get('environment')}"


def _default_tags(res: Resource) -> Mapping[str, Any]:
    raw = dig(res.provider_props or {}, "defaultTags")
    if isinstance(raw, str):  # the engine sends provider config as JSON strings
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return {}
    tags = dig(raw, "tags") if isinstance(raw, Mapping) else None
    return tags if isinstance(tags, Mapping) else {}


@resource_policy(
    "mlops-cost-required-tags",
    types=TAGGABLE,
    description="Taggable AWS resources carry the cost tags owner, cost-center, environment and data-classification.",
    severity="low", pack="mlops-cost",
    controls=(*COST_CONTROLS, "ISO27001 A.5.12"),
    remediation="Pass the platform's tag set (or set the AWS provider's default_tags).",
    config={"requiredTags": {"type": "array", "items": {"type": "string"}, "default": REQUIRED_TAGS}},
)
def required_tags(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    tags = known(res.get("tags"), "tags")
    tags = {**_default_tags(res), **(tags if isinstance(tags, Mapping) else {})}
    missing = [t for t in config.get("requiredTags") or REQUIRED_TAGS if not tags.get(t)]
    if missing:
        yield f"missing cost tags: {', '.join(missing)}"


# --- Monthly budget and unpriced lines ------------------------------------------------------------------------------
# The estimate is mlops_infra.cost (pure Python, no Pulumi, no pydantic); the ceilings come from the stack's
# `mlops:platform` `budget` (merged into the budget policy's config by `mlops-infra check` and by the pack at start-up,
# see `platform_budget`), or from the policy config file. Two policies judge it: `mlops-cost-unpriced` (each line the
# table cannot price) and `mlops-cost-budget` (the totals against the ceilings). They are two policy ids so that a
# waiver, which matches a policy id and a resource name, can never waive the other's finding on the same resource
# (the costliest resource, which carries a budget breach, may also hold an unpriced line). The budget prices its own
# estimate and, with a cap set, reports "budget unknown" for any line of it that is not priced (waived under the other
# policy or not), so it depends on no other policy's config; waivers under it are refused (a budget changes by its
# cap). The estimate's inputs (`ESTIMATE_INPUTS`) reach both from the stack config; `check` also refuses a policy
# config file that sets them for one and not the other (`cost_inputs.estimate_inputs_problem`), so that both report one estimate.
BUDGET_POLICY = "mlops-cost-budget"
UNPRICED_POLICY = "mlops-cost-unpriced"
ESTIMATE_POLICIES = (UNPRICED_POLICY, BUDGET_POLICY)
ESTIMATE_INPUTS = ("region", "assumptions")
PROVIDER_PACKAGES = frozenset({"aws", "kubernetes", "random", "tls", "pulumi", "command"})
_ESTIMATE_CONFIG: dict[str, dict[str, Any]] = {
    "region": {"type": "string", "default": "us-east-1", "description": "Price region."},
    "assumptions": {"type": "object", "default": {}, "description": "Cost assumptions (camelCase)."},
}


def _plain(value: Any) -> Any:
    """Props with the engine's unknown marker turned into None (the estimator then reports the figure as unknown)."""
    if value is UNKNOWN:
        return None
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def platform_budget(stack_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The budget policy's config from the stack's `mlops:platform`: idle/max ceilings, assumptions and region."""
    raw = (stack_config or {}).get("mlops:platform")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return {}
    if not isinstance(raw, Mapping):
        return {}
    section = raw.get("budget")
    budget: Mapping[str, Any] = section if isinstance(section, Mapping) else {}
    found = {k: budget[k] for k in ("idleMonthlyUsd", "maxMonthlyUsd", "assumptions") if budget.get(k) is not None}
    if isinstance(raw.get("region"), str):
        found["region"] = raw["region"]
    return found


def platform_budget_from_process(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`platform_budget` of the stack config the Pulumi engine passes to a policy pack (PULUMI_CONFIG)."""
    env = os.environ if environ is None else environ
    try:
        stack_config = json.loads(env.get("PULUMI_CONFIG", "{}") or "{}")
    except json.JSONDecodeError:
        return {}
    return platform_budget(stack_config if isinstance(stack_config, Mapping) else {})


def for_policy(name: str, found: Mapping[str, Any]) -> dict[str, Any]:
    """The part of `platform_budget`'s result that policy `name` takes: the unpriced policy only the estimate's inputs."""
    return dict(found) if name == BUDGET_POLICY else {k: v for k, v in found.items() if k in ESTIMATE_INPUTS}


def with_platform_budget(policy_config: Mapping[str, Any], stack_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The policy config with the platform budget filled in (the estimate's inputs for both estimate policies, the
    ceilings for the budget policy); a value set in the policy config file wins."""
    found = platform_budget(stack_config)
    merged = dict(policy_config)
    for name in ESTIMATE_POLICIES:
        mine = for_policy(name, found)
        if not mine:
            continue
        entry = policy_config.get(name)
        if isinstance(entry, str):  # an enforcement level only
            merged[name] = {"enforcementLevel": entry, **mine}
        else:
            merged[name] = {**mine, **(entry if isinstance(entry, Mapping) else {})}
    return merged


def _estimate(stack: Stack, config: Mapping[str, Any]) -> Estimate:
    from mlops_infra.cost import Assumptions, Item, estimate

    items = [Item(r.type, r.name, _plain(r.props), None, "(stack)", r.urn, r.property_dependencies)
             for r in stack.resources if r.type.split(":", 1)[0] in PROVIDER_PACKAGES]
    return estimate(items, region=str(config.get("region") or "us-east-1"),
                    assumptions=Assumptions.from_mapping(config.get("assumptions")))


@stack_policy(
    UNPRICED_POLICY,
    description="Every line of the stack's cost estimate has a price in the committed table (no total counts an "
                "unpriced line; with a cap, mlops-cost-budget reports the budget unknown). A waiver here waives only "
                "the unpriced line, never a budget breach on the same resource.",
    severity="high", pack="mlops-cost",
    controls=COST_CONTROLS,
    remediation="Add a cited price to mlops_infra/cost/prices.json (or run tools/regen_prices.py), or waive the resource "
                "in this policy's `waivers` with a reason and an expiry when its price is knowingly absent.",
    strictness="always",  # a silent $0 misleads in every environment
    config=_ESTIMATE_CONFIG,
)
def unpriced(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    est = _estimate(stack, config)
    by_key = {(r.name, r.type): r for r in stack.resources}
    for ln in est.not_priced:
        yield (by_key.get((ln.resource, ln.type)) or stack.resources[0],
               f"not priced: {ln.what}: {ln.reason} (no total counts it: a budget cap reports unknown while it is unpriced)")


BUDGET_UNWAIVABLE = ("a budget is changed by changing its cap, never by waiving a resource: raise `maxMonthlyUsd`/"
                     "`idleMonthlyUsd` (the stack's mlops:platform `budget`, or this policy's config), or drop it; "
                     "waive an unpriced line under mlops-cost-unpriced")


def _named(lines: list[Any], n: int = 3) -> str:
    shown = ", ".join(f"{ln.resource}: {ln.what}" for ln in lines[:n])
    return shown + (f" and {len(lines) - n} more" if len(lines) > n else "")


@stack_policy(
    BUDGET_POLICY,
    description="The stack's estimated monthly cost stays under budget.idleMonthlyUsd (every pool at its minimum) "
                "and budget.maxMonthlyUsd (every pool at its maximum), when set. The policy prices its own estimate: "
                "when a cap is set and any line of it is not priced, the budget is unknown and reported so, whatever "
                "mlops-cost-unpriced's waivers say. Waivers under this policy are refused.",
    severity="high", pack="mlops-cost",
    controls=COST_CONTROLS,
    remediation="Lower pool minimums/maximums or instance sizes (see `mlops-infra cost --stack <stack>`), or raise "
                "the budget in the stack's mlops:platform config. Budget unknown: price the lines (`mlops-infra cost "
                "--live`, or a cited price in the table) or drop the cap.",
    strictness="always",  # a budget someone set is meant in every environment
    config={"idleMonthlyUsd": {"type": "number", "description": "Idle ceiling (USD/month). Default: from config."},
            "maxMonthlyUsd": {"type": "number", "description": "At-max ceiling (USD/month). Default: from config."},
            **_ESTIMATE_CONFIG},
    unwaivable=BUDGET_UNWAIVABLE,
)
def budget(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idle_cap, max_cap = config.get("idleMonthlyUsd"), config.get("maxMonthlyUsd")
    if idle_cap is None and max_cap is None:
        return
    est = _estimate(stack, config)
    by_key = {(r.name, r.type): r for r in stack.resources}
    missing = est.not_priced
    if missing:  # its own estimate: a waiver under mlops-cost-unpriced never makes a line $0 here
        first = by_key.get((missing[0].resource, missing[0].type)) or stack.resources[0]
        yield first, (f"budget unknown: {len(missing)} line(s) not priced ({_named(missing)}); the priced part is "
                      f"${est.idle:,.2f} idle, ${est.max:,.2f} at max; price them in the table check reads "
                      f"(tools/regen_prices.py; `mlops-infra cost --live` only shows them) or drop the cap")
    for label, total, cap, column in (("idle", est.idle, idle_cap, "idle"), ("at-max", est.max, max_cap, "max")):
        if cap is None or total <= float(cap):
            continue
        pick = 0 if column == "idle" else 1
        top = sorted(est.per_resource().items(), key=lambda kv: -kv[1][pick])[:3]
        culprit = by_key.get(top[0][0]) if top else None
        biggest = ", ".join(f"{name} ${cost[pick]:,.0f}" for (name, _), cost in top)
        bound = " (a lower bound)" if missing else ""
        message = (f"estimated {label} cost ${total:,.2f}/month{bound} is over the budget of ${float(cap):,.2f} "
                   f"(largest: {biggest})")
        yield culprit or stack.resources[0], message
