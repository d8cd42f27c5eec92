"""A consumer stack: builds a team workspace on the platform stack's outputs (`pulumi up -s dev` in this directory)."""

import pulumi
import pulumi_kubernetes as k8s

from mlops_infra.outputs import PlatformOutputs
from mlops_infra.platform.team_config import TeamWorkspaceConfig
from mlops_infra.platform.team_workspace import TeamWorkspace, TeamWorkspaceArgs
from mlops_infra.stack import read_config_section

config = read_config_section("team", "workspace", TeamWorkspaceConfig)
platform = PlatformOutputs.from_stack_reference(pulumi.StackReference("platform", stack_name=config.platform_stack))
cluster = k8s.Provider("platform-cluster", kubeconfig=platform.kubeconfig)
workspace = TeamWorkspace(
    f"team-{config.namespace}",
    TeamWorkspaceArgs(config=config, platform=platform, environment=pulumi.get_stack()),
    pulumi.ResourceOptions(providers={"kubernetes": cluster}),
)
pulumi.export("namespace", config.namespace)
pulumi.export("workloadRoleArn", workspace.role_arn)
pulumi.export("podEnvFrom", workspace.env_from)
