"""Read the platform config inside a Pulumi program: validate it before any resource is registered."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import pulumi
from pulumi.runtime.config import is_config_secret

from .config import ConfigError
from .config.base import ConfigModel
from .config.loader import load_config_model
from .platform.config import PlatformConfig
from .platform.loader import CONFIG_KEY, CONFIG_NAMESPACE, load_platform_config

if TYPE_CHECKING:
    from .consumer_config import ConsumerConfig

M = TypeVar("M", bound=ConfigModel)


class _SecretKeys:
    """`key in view` is true when `mlops:<key>` is set with `pulumi config set --secret`."""

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and is_config_secret(f"{CONFIG_NAMESPACE}:{key}")


def read_platform_config() -> PlatformConfig:
    """The validated `mlops:platform` config of the current stack; invalid config fails the program, listing
    every problem, before anything is registered."""
    raw = pulumi.Config(CONFIG_NAMESPACE).get_object(CONFIG_KEY)
    try:
        config = load_platform_config(raw, secret_keys=_SecretKeys(), aws_region=pulumi.Config("aws").get("region"))
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    refuse_template_deployment()
    return config


def read_consumer_config() -> ConsumerConfig:
    """The validated `mlops:platform` of a consumer stack (one that builds components on a platform stack's cluster
    and VPC): only what it reads is validated, and it configures no cluster (`mlops_infra.consumer_config`)."""
    from .consumer_config import load_consumer_config

    raw = pulumi.Config(CONFIG_NAMESPACE).get_object(CONFIG_KEY)
    try:
        config = load_consumer_config(raw, secret_keys=_SecretKeys(), aws_region=pulumi.Config("aws").get("region"))
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    refuse_template_deployment()
    return config


def refuse_template_deployment() -> None:
    """A stack file marked `mlops:template: true` (a shipped template) plans, checks and previews, but is never
    deployed: outside a dry run (`pulumi up`), fail naming the placeholders it still holds."""
    from mlops_policies.placeholders import TEMPLATE_KEY, config_placeholders

    try:
        template = pulumi.Config(CONFIG_NAMESPACE).get_bool(TEMPLATE_KEY.split(":", 1)[1])
    except pulumi.ConfigTypeError as exc:
        raise pulumi.RunError(f"{TEMPLATE_KEY} must be true or false: {exc}") from None
    if not template or pulumi.runtime.is_dry_run():
        return
    raw = pulumi.Config(CONFIG_NAMESPACE).get_object(CONFIG_KEY)
    found = config_placeholders({f"{CONFIG_NAMESPACE}:{CONFIG_KEY}": raw}) if raw is not None else []
    listed = "".join(f"\n  - {line}" for line in found) or "\n  (none found: review the stack file by hand)"
    raise pulumi.RunError(
        f"this stack file is a template ({TEMPLATE_KEY}: true): it is planned, checked and previewed, never "
        f"deployed. Replace its placeholders, then delete {TEMPLATE_KEY} (docs/deploying.md, Template stacks):"
        f"{listed}")


def secret_config(key: str) -> pulumi.Output[str]:
    """A secret config value of the `mlops` namespace (validation guarantees it is set as a secret)."""
    return pulumi.Config(CONFIG_NAMESPACE).require_secret(key)


def read_config_section(namespace: str, key: str, model: type[M]) -> M:
    """Any structured config value validated by `model`; invalid config fails before anything is registered."""
    raw = pulumi.Config(namespace).get_object(key)
    try:
        return load_config_model(model, raw, source=f"{namespace}:{key}")
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
