"""Typed platform config (pure pydantic, no Pulumi): every default and every validation message lives here."""

from .errors import ConfigError
from .loader import CONFIG_KEY, CONFIG_NAMESPACE, load_platform_config
from .platform import PlatformConfig, TagsConfig

__all__ = ["CONFIG_KEY", "CONFIG_NAMESPACE", "ConfigError", "PlatformConfig", "TagsConfig", "load_platform_config"]
