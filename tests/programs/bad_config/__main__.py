"""The platform program, run against a config with three mistakes."""

from mlops_infra.platform.mlops_platform import MlopsPlatform
from mlops_infra.stack import read_platform_config

config = read_platform_config()
MlopsPlatform(f"{config.name}-{config.environment}", config).export()
