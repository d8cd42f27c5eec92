"""The root platform program, planned on an existing VPC (the branch that used to fail in prod, issue #26)."""

from mlops_infra.platform.mlops_platform import MlopsPlatform
from mlops_infra.stack import read_platform_config

config = read_platform_config()
MlopsPlatform(f"{config.name}-{config.environment}", config).export()
