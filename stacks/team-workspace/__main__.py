"""A consumer stack: builds a team workspace on the platform stack's outputs (`pulumi up -s dev` in this directory)."""

import pulumi

from mlops_infra.blocks.refs import cluster_provider
from mlops_infra.outputs import PlatformOutputs
from mlops_infra.platform.team_config import TeamWorkspaceConfig
from mlops_infra.platform.team_workspace import TeamWorkspace, TeamWorkspaceArgs
from mlops_infra.stack import read_config_section

config = read_config_section("team", "workspace", TeamWorkspaceConfig)
platform = PlatformOutputs.from_stack_reference(pulumi.StackReference("platform", stack_name=config.platform_stack))
cluster = cluster_provider("platform-cluster", platform.kubeconfig)  # the platform cluster's provider, made once
workspace = TeamWorkspace(
    f"team-{config.namespace}",
    TeamWorkspaceArgs(config=config, platform=platform, environment=pulumi.get_stack(), provider=cluster),
)
pulumi.export("namespace", config.namespace)
pulumi.export("workloadRoleArn", workspace.role_arn)
pulumi.export("podEnvFrom", workspace.env_from)
