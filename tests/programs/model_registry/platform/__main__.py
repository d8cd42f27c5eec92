"""The whole platform (same as stacks/__main__.py), to check how the model registry composes with the rest."""

from mlops_infra.platform.mlops_platform import MlopsPlatform
from mlops_infra.stack import read_platform_config

config = read_platform_config()
MlopsPlatform(f"{config.name}-{config.environment}", config).export()
