"""Read the platform config inside a Pulumi program: validate it before any resource is registered."""

from __future__ import annotations

from typing import TypeVar

import pulumi
from pulumi.runtime.config import is_config_secret

from .config import CONFIG_KEY, CONFIG_NAMESPACE, ConfigError, PlatformConfig, load_platform_config
from .config.base import ConfigModel
from .config.loader import load_config_model

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
        return load_platform_config(raw, secret_keys=_SecretKeys())
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None


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
