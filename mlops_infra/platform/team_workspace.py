"""TeamWorkspace: a team's namespace, GPU quota and workload role on top of a platform stack's outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..blocks.identity import ClusterIdentity, WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.namespace import namespace
from ..blocks.naming import child, child_options
from ..compute.gpu_pool import GpuNodePool, GpuNodePoolArgs
from ..features.feature_server import CLIENT_LABEL as FEATURE_CLIENT_LABEL
from ..outputs import PlatformOutputs
from .team_config import TeamWorkspaceConfig


@dataclass(frozen=True)
class TeamWorkspaceArgs:
    config: TeamWorkspaceConfig
    platform: PlatformOutputs
    environment: str


class TeamWorkspace(pulumi.ComponentResource):
    """Kubernetes children use the provider in `opts.providers` (built by the program from the platform's
    kubeconfig output)."""

    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: TeamWorkspaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:team:TeamWorkspace", name, None, opts)
        cfg, platform = args.config, args.platform
        tags = cfg.tags.for_environment(args.environment)
        labels = {"mlops.io/team": cfg.namespace}
        # Admitted by the platform's feature server (its ingress NetworkPolicy selects this label), whose read
        # policy the workspace role gets below.
        ns_labels = {**labels, FEATURE_CLIENT_LABEL: "true"}
        ns_name = namespace(child(name, "ns"), self, cfg.namespace, level="restricted", labels=ns_labels)
        k8s.core.v1.ResourceQuota(
            child(name, "gpu-quota"),
            metadata={"name": "gpu-quota", "namespace": ns_name, "labels": labels},
            spec={"hard": {"requests.nvidia.com/gpu": str(cfg.gpu_quota)}},
            opts=child_options(self))
        identity = WorkloadIdentity(child(name, "workload"), WorkloadIdentityArgs(
            cluster=ClusterIdentity(
                cluster_name=platform.cluster_name,
                mode=cfg.workload_identity,
                oidc_provider_arn=_required(platform.oidc_provider_arn, "oidcProviderArn")
                if cfg.workload_identity == "irsa" else None,
                oidc_issuer=_required(platform.oidc_issuer, "oidcIssuer") if cfg.workload_identity == "irsa" else None),
            namespace=ns_name,
            service_account=cfg.service_account,
            tags=tags,
        ), pulumi.ResourceOptions(parent=self))
        # The platform's managed grant policies: read the feature store, log models to the registry.
        aws.iam.RolePolicyAttachment(child(name, "feature-store-read"), role=identity.role.name,
                                     policy_arn=_required(platform.feature_store_read_policy_arn, "featureStoreReadPolicyArn"),
                                     opts=child_options(self))
        aws.iam.RolePolicyAttachment(child(name, "model-artifacts-write"), role=identity.role.name,
                                     policy_arn=_required(platform.model_artifact_write_policy_arn,
                                                          "modelArtifactWritePolicyArn"),
                                     opts=child_options(self))
        if cfg.dvc_remote != "none":
            # The team's DVC remote (mlops_infra/data/dvc.py): its managed read or write grant, by team name.
            aws.iam.RolePolicyAttachment(child(name, f"dvc-remote-{cfg.dvc_remote}"), role=identity.role.name,
                                         policy_arn=_dvc_grant(platform, cfg.namespace, cfg.dvc_remote),
                                         opts=child_options(self))
        if cfg.gpu_pool is not None:
            # The team's own pool joins the platform's cluster with the platform's node role and key.
            GpuNodePool(child(name, f"gpu-{cfg.gpu_pool.name}"), GpuNodePoolArgs(
                config=cfg.gpu_pool, cluster_name=platform.cluster_name, node_role_arn=platform.node_role_arn,
                subnet_ids=platform.private_subnet_ids, cluster_security_group_id=platform.cluster_security_group_id,
                kms_key_arn=platform.cluster_kms_key_arn, tags=tags), pulumi.ResourceOptions(parent=self))
        platform.workload_identity.apply(lambda mode: _same_identity_mode(mode, cfg.workload_identity))
        self.role_arn = identity.role_arn
        self.register_outputs({"roleArn": self.role_arn, "namespace": cfg.namespace})


def _dvc_grant(platform: PlatformOutputs, team: str, access: str) -> pulumi.Output[str]:
    """The `<access>PolicyArn` of `team` in the platform's `dvcRemotes` output; a clear error when it has none."""
    def pick(remotes: Any) -> str:
        arn = ((remotes or {}).get(team) or {}).get(f"{access}PolicyArn")
        if not arn:
            raise pulumi.RunError(f"the platform stack's dvcRemotes output has no {access} grant for team {team!r} "
                                  "(data.dvc off, backend lakefs, or the team is not in cluster.teams)")
        return str(arn)
    return pulumi.Output.from_input(platform.add_ons.get("dvcRemotes")).apply(pick)


def _same_identity_mode(platform_mode: str, team_mode: str) -> None:
    if platform_mode != team_mode:
        raise pulumi.RunError(f"team:workspace.workloadIdentity is {team_mode!r}, but the platform uses {platform_mode!r}")


def _required(value: pulumi.Output[str | None], key: str) -> pulumi.Output[str]:
    """A contract output this workspace needs although the platform may omit it (feature store or registry off)."""
    def check(v: str | None) -> str:
        if not v:
            raise pulumi.RunError(f"the platform stack has no {key!r} output, which this workspace needs")
        return v
    return value.apply(check)
