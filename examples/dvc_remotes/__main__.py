"""DvcRemotes alone: one DVC remote per team, the s3 backend on a hardened bucket under its own key; its read and
write policies are attached by the teams' roles (e.g. a platform stack's team workspaces, read through a
StackReference for the region). Only the `dvc` section of this stack's config is read."""

import pulumi

from mlops_infra.blocks.kms import KmsKey, KmsKeyArgs
from mlops_infra.blocks.refs import NetworkRefs
from mlops_infra.data.config import DvcConfig
from mlops_infra.data.dvc import DvcRemotes, DvcRemotesArgs
from mlops_infra.stack import read_config_section

stack = pulumi.Config()
config = read_config_section(pulumi.get_project(), "dvc", DvcConfig)
platform = pulumi.StackReference("platform", stack_name=stack.require("platformStack"))
tags = {"owner": "search-team"}
key = KmsKey("search-dvc-key", KmsKeyArgs(description="search DVC remotes", tags=tags))
remotes = DvcRemotes("search-dvc", DvcRemotesArgs(
    teams=stack.require_object("teams"), region=pulumi.Config("aws").require("region"), tags=tags, kms_key=key,
    backend=config.backend, protect=False, noncurrent_version_days=config.noncurrent_version_days,
    network=NetworkRefs.from_stack_outputs(platform)))  # its guarded S3 endpoint's admitted bucket names, if any
pulumi.export("platformEnvironment", platform.require_output("environment"))
pulumi.export("dvcRemotes", {team: remote.output() for team, remote in remotes.teams.items()})
