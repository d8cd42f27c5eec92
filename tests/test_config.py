"""Config validation: valid configs, profiles, and the exact messages of invalid ones."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.config import ConfigError
from mlops_infra.config.environments import PROFILES, apply_profile
from mlops_infra.platform.config import PlatformConfig
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import PROD_API_ACCESS, PROD_GUARDS

ROOT = Path(__file__).resolve().parent.parent

BASE: dict[str, Any] = {
    "environment": "dev",
    "tags": {"owner": "ml-platform", "costCenter": "cc-1"},
    "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
}


def cfg(**overrides: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    raw.update(overrides)
    return raw


def problems(raw: dict[str, Any], **kw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw, **kw)
    return info.value.problems


def pool(**kw: Any) -> dict[str, Any]:
    return {"name": "p", "instanceTypes": ["g6.xlarge"], "maxSize": 2, **kw}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_repository_stack_configs_are_valid(env: str) -> None:
    data = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{env}.yaml").read_text())
    config = load_platform_config(data["config"]["mlops:platform"])
    assert config.environment == env


def test_profiles_fill_environment_defaults() -> None:
    dev = load_platform_config(cfg())
    prod = load_platform_config(cfg(environment="prod", cluster=PROD_API_ACCESS,
                                    monitoring={"receivers": {"emailAddresses": ["oncall@example.com"]}},
                                    securityBaseline=PROD_GUARDS))
    assert (dev.network.az_count, dev.network.nat_gateways) == (2, "single")
    assert (prod.network.az_count, prod.network.nat_gateways) == (3, "perAz")
    assert dev.cluster.endpoint_public_access is True and prod.cluster.endpoint_public_access is False
    assert dev.protect_stateful is False and prod.protect_stateful is True
    assert prod.model_registry.database.multi_az and prod.model_registry.database.deletion_protection
    assert not dev.model_registry.database.multi_az


def test_stack_values_win_over_the_profile() -> None:
    prod = load_platform_config(cfg(environment="prod", network={"azCount": 4}, cluster=PROD_API_ACCESS,
                                    monitoring={"receivers": {"emailAddresses": ["oncall@example.com"]}},
                                    securityBaseline=PROD_GUARDS))
    assert prod.network.az_count == 4
    assert prod.network.nat_gateways == "perAz"  # the rest of the profile still applies


def test_profiles_only_name_real_fields() -> None:
    """A typo in a profile would be an unknown key: every profile validates on its own."""
    for env in PROFILES:
        cluster = PROD_API_ACCESS if env == "prod" else {"publicAccessCidrs": ["198.51.100.0/24"]}
        raw = apply_profile({"environment": env, "tags": BASE["tags"], "cluster": cluster,
                             "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}},
                             "securityBaseline": PROD_GUARDS if env == "prod" else {}})
        PlatformConfig.model_validate(raw)


def test_unknown_keys_are_errors_with_their_path() -> None:
    assert problems(cfg(network={"azCuont": 2})) == ["network.azCuont: unknown key (check the spelling)"]


def test_gpu_pool_size_order_message() -> None:
    raw = cfg(gpuPools=[pool(name="a"), pool(name="b", minSize=4, maxSize=2)])
    assert problems(raw) == ["gpuPools[1].maxSize: must be >= minSize (2 < 4)"]


def test_three_mistakes_are_reported_together() -> None:
    raw = cfg(
        network={"vpcCidr": "10.0.0.0/33"},
        gpuPools=[pool(instanceTypes=["m5.large"])],
        featureStore={"materializationSchedule": "every hour"},
    )
    assert problems(raw) == [
        "network.vpcCidr: not a valid CIDR block ('10.0.0.0/33')",
        "gpuPools[0].instanceTypes[0]: 'm5.large' is not a GPU instance type "
        "(families: g4dn, g5, g5g, g6, g6e, g7e, gr6, p4d, p4de, p5, p5e, p5en, p6-b200)",
        "featureStore.materializationSchedule: not a valid cron expression ('every hour': expected 5 fields, got 2)",
    ]


@pytest.mark.parametrize(
    ("pool_kw", "expected"),
    [
        ({"capacityType": "SPOT"},
         "gpuPools[0].instanceTypes: a SPOT pool needs at least 2 instance types to survive capacity reclaims"),
        ({"instanceTypes": ["g5g.xlarge"]},
         "gpuPools[0].instanceTypes[0]: 'g5g.xlarge' is arm64, but amiType AL2023_x86_64_NVIDIA is x86_64"),
        ({"efa": True}, "gpuPools[0].instanceTypes[0]: 'g6.xlarge' does not support EFA (efa: true)"),
        ({"minSize": 1, "desiredSize": 3},
         "gpuPools[0].desiredSize: must be between minSize and maxSize (3 not in 1..2)"),
        ({"maxSize": 0}, "gpuPools[0].maxSize: must be >= 1 (got 0)"),
    ],
)
def test_gpu_pool_messages(pool_kw: dict[str, Any], expected: str) -> None:
    assert problems(cfg(gpuPools=[pool(**pool_kw)])) == [expected]


def test_arm_ami_accepts_graviton_gpus() -> None:
    config = load_platform_config(cfg(gpuPools=[pool(instanceTypes=["g5g.xlarge"], amiType="AL2023_ARM_64_NVIDIA")]))
    assert config.gpu_pools[0].ami_type == "AL2023_ARM_64_NVIDIA"


def test_desired_size_defaults_to_min_size() -> None:
    config = load_platform_config(cfg(gpuPools=[pool(minSize=1)]))
    assert config.gpu_pools[0].effective_desired_size == 1


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"network": {"azCount": 9}}, "network.azCount: must be <= 6 (got 9)"),
        ({"network": {"vpcCidr": "10.0.0.0/24"}}, "network.vpcCidr: prefix length must be between /16 and /20 (got /24)"),
        ({"cluster": {"publicAccessCidrs": ["0.0.0.0/0"]}},
         "cluster.publicAccessCidrs[0]: must not allow the whole internet (0.0.0.0/0)"),
        ({"cluster": {}}, "cluster.publicAccessCidrs: required when endpointPublicAccess is true"),
        ({"cluster": {"publicAccessCidrs": ["198.51.100.0/24"], "version": "1.29"}},
         "cluster.version: unsupported EKS version '1.29' (supported: 1.33, 1.34, 1.35)"),
        # No profile applies to an unknown environment: the cluster's own (private) endpoint default would be refused.
        ({"environment": "qa", "cluster": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}},
         "environment: must be one of 'dev', 'staging' or 'prod' (got 'qa')"),
        ({"tags": {"owner": "x"}}, "tags.costCenter: required"),
        ({"modelRegistry": {"database": {"backupRetentionDays": 40}}},
         "modelRegistry.database.backupRetentionDays: must be <= 35 (got 40)"),
        ({"modelRegistry": {"database": {"engineVersion": "12.4"}}},
         "modelRegistry.database.engineVersion: unsupported Postgres version '12.4' (supported majors: 15, 16, 17)"),
        ({"modelRegistry": {"ingress": {"enabled": True, "host": "mlflow.example.com", "auth": "basic"}}},
         "modelRegistry.ingress.certificateArn: required when ingress is enabled (TLS is mandatory)"),
        ({"featureStore": {"engine": "vertex"}},
         "featureStore.engine: must be one of 'feast' or 'sagemaker' (got 'vertex')"),
        ({"monitoring": {"thresholds": {"gpuIdlePercent": 120}}},
         "monitoring.thresholds.gpuIdlePercent: must be <= 100 (got 120)"),
        ({"monitoring": {"receivers": {"slackChannel": "#ml-alerts"}}},
         "monitoring.receivers.slackWebhookSecret: a Slack receiver needs its webhook secret"),
        ({"securityBaseline": {"objectLockDays": 5000}},
         "securityBaseline.objectLockDays: must be between 1 and 3650 (got 5000)"),
    ],
)
def test_messages(overrides: dict[str, Any], expected: str) -> None:
    assert problems(cfg(**overrides)) == [expected]


def test_secret_refs_must_be_secret_config_keys() -> None:
    raw = cfg(monitoring={"receivers": {"slackChannel": "#ml", "slackWebhookSecret": "slackWebhook"}})
    assert problems(raw, secret_keys=set()) == [
        "monitoring.receivers.slackWebhookSecret: config key 'mlops:slackWebhook' is not set as a secret "
        "(pulumi config set --secret slackWebhook ...)"
    ]
    assert load_platform_config(raw, secret_keys={"slackWebhook"}).monitoring.receivers.slack_channel == "#ml"


def test_integration_secret_namespace_must_exist() -> None:
    raw = cfg(securityBaseline={"integrationSecrets": [
        {"name": "wandb", "configKey": "wandbKey", "namespaces": ["research"]}]})
    assert problems(raw) == [
        "securityBaseline.integrationSecrets[0].namespaces[0]: unknown namespace 'research' "
        "(known: feast, mlflow, monitoring)"
    ]


def test_tags_carry_the_four_required_keys() -> None:
    tags = load_platform_config(cfg()).resource_tags
    assert tags == {"owner": "ml-platform", "cost-center": "cc-1", "environment": "dev",
                    "data-classification": "internal"}


def test_every_field_has_a_description() -> None:
    def walk(model: type[Any], path: str) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(f"{path}.{name}")
            ann = field.annotation
            for candidate in getattr(ann, "__args__", (ann,)):
                inner = getattr(candidate, "__args__", (candidate,))
                for t in inner:
                    if isinstance(t, type) and hasattr(t, "model_fields"):
                        missing += walk(t, f"{path}.{name}")
        return missing

    assert walk(PlatformConfig, "platform") == []


def test_non_mapping_and_missing_config() -> None:
    assert problems(None) == ["(root): required (set the structured config value)"]  # type: ignore[arg-type]
    assert problems(["x"]) == ["(root): must be a mapping (got list)"]  # type: ignore[arg-type]



def test_enabled_components_may_not_share_a_namespace() -> None:
    """Each puts fixed-name objects (the rotation restarter's) in its namespace: two in one would collide."""
    def shared(prefect: dict[str, Any]) -> list[str]:
        raw = cfg(orchestration={"prefect": prefect},
                  data={"lakefs": {"enabled": True}, "qdrant": {"enabled": True, "namespace": "vectors"}})
        try:
            load_platform_config(raw)
        except ConfigError as exc:
            return [p for p in exc.problems if "own namespace" in p]
        return []
    assert shared({"enabled": True, "namespace": "lakefs"}) == [
        "data.lakefs.namespace: namespace 'lakefs' is already orchestration.prefect.namespace's: give each enabled "
        "component its own namespace"]
    assert shared({"enabled": True}) == []
    assert shared({"enabled": False, "namespace": "lakefs"}) == []  # a disabled component creates nothing
