"""The three packs (security, compliance, cost) built from the registered rules as pulumi-policy objects."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from .adapter import resource_validate, stack_validate
from .core import REGISTRY, PackName, PolicyMeta, ResourceRule, Rule
from .enforcement import default_enforcement, environment_from_process

AREAS = ("aws_s3", "aws_kms_logs", "aws_eks", "aws_compute", "aws_network", "aws_rds", "aws_dynamodb",
         "aws_elasticache", "aws_iam", "k8s_workloads", "k8s_resources", "k8s_exposure", "k8s_rbac", "k8s_versions",
         "k8s_admission", "k8s_crds", "cost", "security_baseline",
         "invariants_cluster", "invariants_workloads", "invariants_aws", "invariants_iam", "invariants_network",
         "invariants_reach", "invariants_kms", "invariants_identity", "invariants_selector", "invariants_ordering",
         "invariants_placement", "invariants_volume_zone", "invariants_ip_capacity",
         "invariants_probe_port", "feast", "vector_search",
         "pipelines", "pipelines_engines", "data", "serving", "rendering", "literal_secrets", "k8s_schema",
         "placeholders")

PACKS: dict[PackName, str] = {
    "mlops-security": "Security guardrails for MLOps platforms on AWS + EKS: encryption, exposure, IAM, pod security.",
    "mlops-compliance": "Compliance guardrails: durability, backups, logging, versions, data retention.",
    "mlops-cost": "Cost guardrails: GPU families per environment, node and GPU caps, spot in dev, cost tags.",
    "mlops-invariants": "Platform invariants: relations between resources that a stack needs to work as a whole "
                        "(a CNI that enforces its NetworkPolicies, an autoscaler for pools at zero, a controller "
                        "for each Ingress class, a metrics source for each HPA, ...).",
}

FRAMEWORK_NAMES = {"CIS-EKS": "CIS Amazon EKS Benchmark", "CIS-AWS": "CIS AWS Foundations Benchmark",
                   "FSBP": "AWS Foundational Security Best Practices"}

COMMON_CONFIG: dict[str, dict[str, Any]] = {
    "environment": {"type": "string", "description": "dev, staging or prod (set by the pack or `mlops-infra check`)."},
    "waivers": {
        "type": "array",
        "description": "Resources exempt from this policy until a date.",
        "items": {
            "type": "object",
            "properties": {"resource": {"type": "string"}, "reason": {"type": "string", "minLength": 1},
                           "expires": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}},
            "required": ["resource", "reason", "expires"],
        },
    },
}


def all_rules() -> list[Rule]:
    """Every rule, sorted by pack then name (importing the area modules registers them)."""
    for area in AREAS:
        importlib.import_module(f"{__package__}.{area}")
    return sorted(REGISTRY.values(), key=lambda r: (list(PACKS).index(r.meta.pack), r.meta.name))


def rules_for(pack: str) -> list[Rule]:
    if pack not in PACKS:
        raise KeyError(f"unknown pack {pack!r} (known: {', '.join(PACKS)})")
    return [r for r in all_rules() if r.meta.pack == pack]


def config_schema(meta: PolicyMeta) -> dict[str, dict[str, Any]]:
    return {**COMMON_CONFIG, **meta.config}


def config_defaults(meta: PolicyMeta) -> dict[str, Any]:
    return {k: v["default"] for k, v in config_schema(meta).items() if "default" in v}


def framework(meta: PolicyMeta) -> PolicyComplianceFramework | None:
    """pulumi-policy carries one framework: the first CIS/FSBP control. All controls go into `tags`."""
    for control in meta.controls:
        prefix, _, ref = control.partition(" ")
        if prefix in FRAMEWORK_NAMES and ref:
            return PolicyComplianceFramework(name=FRAMEWORK_NAMES[prefix], reference=ref)
    return None


def build_policy(rule: Rule, environment: str) -> Policy:
    meta = rule.meta
    common: dict[str, Any] = {
        "enforcement_level": EnforcementLevel(default_enforcement(meta.strictness, environment)),
        "config_schema": PolicyConfigSchema(config_schema(meta)),
        "severity": Severity(meta.severity),
        "framework": framework(meta),
        "tags": list(meta.controls),
        "remediation_steps": meta.remediation,
    }
    if isinstance(rule, ResourceRule):
        return ResourceValidationPolicy(meta.name, meta.description, validate=resource_validate(rule), **common)
    return StackValidationPolicy(meta.name, meta.description, validate=stack_validate(rule), **common)


def build_policies(pack: str, environment: str) -> list[Policy]:
    return [build_policy(rule, environment) for rule in rules_for(pack)]


def initial_config(pack: str, environment: str) -> dict[str, EnforcementLevel | dict[str, Any]]:
    """Every policy learns the environment through its config, in both runners, and its level for that environment.

    The level is spelled out for every entry: the engine reads an initial-config entry without one as advisory
    (protobuf's zero value, ADVISORY, which pulumi/pulumi's analyzer plugin converts and `applyConfig` lays over the
    policy's own level), so an entry carrying only the environment made every policy advisory under `pulumi preview`.
    """
    return {rule.meta.name: {"environment": environment, "enforcementLevel": EnforcementLevel(
        default_enforcement(rule.meta.strictness, environment))} for rule in rules_for(pack)}


def policy_index() -> Mapping[str, Rule]:
    return {rule.meta.name: rule for rule in all_rules()}


def engine_config(pack: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The pack's initial config under the Pulumi engine, from the stack config it passes in `PULUMI_CONFIG` (read by
    pulumi-policy's own `pulumi.runtime.get_config_env`): the environment for every policy, the stack's `budget`
    ceilings for the budget policy, and for `mlops-no-placeholders` the stack file's strings and the template
    downgrade (`mlops:template: true`: advisory), as `mlops-infra check` applies them. A level set in the
    `--policy-pack-config` file still wins (the engine lays it over this initial config).

    Unlike `check` (runner.load_policy_config), the engine path cannot refuse a config file, and needs no refusal for
    the cost estimate: a file setting `region`/`assumptions` for one estimate policy only cannot hide a breach, since
    mlops-cost-budget prices its own estimate and reports any unpriced line of it as "budget unknown"; and waivers
    under mlops-cost-budget are reported and ignored (adapter.stack_validate), never applied."""
    import json
    import os

    from .cost import ESTIMATE_POLICIES, for_policy, platform_budget_from_process
    from .placeholders import POLICY as PLACEHOLDERS
    from .placeholders import with_plan_context

    env = os.environ if environ is None else environ
    environment = environment_from_process(env)
    config: dict[str, Any] = dict(initial_config(pack, environment))
    found = platform_budget_from_process(env)
    for name in ESTIMATE_POLICIES:  # the stack's `budget` ceilings, and both estimate policies' region and assumptions
        if name in config:
            config[name] = {**config[name], **for_policy(name, found)}
    if PLACEHOLDERS in config:
        try:
            stack_values = json.loads(env.get("PULUMI_CONFIG", "{}") or "{}")
        except json.JSONDecodeError:
            stack_values = {}
        if isinstance(stack_values, Mapping):
            # The real engine reports the real account (no mocks' account to forgive): engineAccount stays None.
            placeholders = with_plan_context({PLACEHOLDERS: config[PLACEHOLDERS]}, None, stack_values)[PLACEHOLDERS]
            # pulumi-policy maps the enum, not its string (with_plan_context writes "advisory" for a template)
            placeholders["enforcementLevel"] = EnforcementLevel(placeholders["enforcementLevel"])
            config[PLACEHOLDERS] = {k: v for k, v in placeholders.items() if v is not None}
    return config


def serve(pack: str) -> None:  # pragma: no cover - runs under the Pulumi engine
    """Entry point of the packs' `__main__.py` (mlops_infra/policy_packs/<pack>)."""
    from pulumi_policy import PolicyPack

    environment = environment_from_process()
    PolicyPack(pack, build_policies(pack, environment), EnforcementLevel.ADVISORY,
               engine_config(pack), description=PACKS[pack])  # type: ignore[index]
