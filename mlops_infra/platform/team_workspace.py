"""TeamWorkspace: a team's namespace, GPU quota and workload role on top of a platform stack's outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..blocks.identity import IRSA_ROLE_ANNOTATION, ClusterIdentity, WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.namespace import PLATFORM_CLIENT, namespace_labels
from ..blocks.naming import child, child_options, retyped
from ..blocks.refs import ClusterRefs, NetworkRefs, NodeRefs, refuse
from ..blocks.stack_outputs import MissingStackOutput, known_value
from ..compute.cluster_autoscaler import needed as autoscaler_needed
from ..compute.gpu_config import GpuPoolConfig
from ..compute.gpu_pool import GpuNodePool, GpuNodePoolArgs
from ..compute.gpu_software import installs_efa_plugin, tolerations
from ..compute.training_foundations import TRAINING_LEVEL
from ..config.versions import DEFAULT_EKS_VERSION
from ..data.qdrant import PLATFORM_CLIENT_SECRET as QDRANT_SECRET
from ..features.feature_server import CLIENT_LABEL as FEATURE_CLIENT_LABEL
from ..outputs import CONTRACT, PlatformOutputs, TeamWorkspaceTerms
from ..registry.mlflow_users import CREDENTIALS_SECRET as MLFLOW_SECRET
from ..registry.mlflow_users import PASSWORD_ENV, USERNAME_ENV
from ..security.exfiltration_guards import api_egress_rules
from ..security.secrets_delivery import ESO_API_VERSION
from .add_ons_elsewhere import served_elsewhere
from .config import PlatformConfig
from .team_config import TeamWorkspaceConfig
from .workspace_credentials import STORE_SERVICE_ACCOUNT

T = TypeVar("T")


def workspace_terms(config: PlatformConfig,
                    egress_rules: Sequence[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict] | None = None,
                    credentials: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `teamWorkspace` output (`TeamWorkspaceTerms` once resolved): what a workspace namespace carries to be
    treated as a platform team (labels the services' ingress NetworkPolicies and the feature server admit, the
    teams' Pod Security level), the egress the platform's guard allows its team namespaces on top of default-deny
    (`egressRules`, Kubernetes NetworkPolicy egress rules; `[{}]`, all egress, when the teams' egress is not
    guarded), what each listed workspace reads its credentials with (`credentials`, by namespace:
    platform/workspace_credentials.py), and the GPU software that serves the platform's pools (`gpuSoftware`: None
    without GPU pools; with `gpuSoftware` installed elsewhere, only what the platform knows that stack's serves)."""
    gpu, pools = config.gpu, config.gpu_pools
    elsewhere = "gpuSoftware" in config.cluster.add_ons_elsewhere
    # Another stack's GpuSoftware: only what is known of it, the default tolerations and the pools config says it
    # serves (platform/add_ons_elsewhere.served_elsewhere); the platform refuses any other pool.
    known = served_elsewhere(config.cluster, pools) if elsewhere else pools
    return {
        # Unguarded teams reach anything: one rule that allows all egress (not null, which an output may drop).
        "egressRules": api_egress_rules(egress_rules) if egress_rules is not None else [{}],
        "credentials": dict(credentials or {}),
        "namespaceLabels": {**PLATFORM_CLIENT, FEATURE_CLIENT_LABEL: "true"},
        "podSecurityLevel": TRAINING_LEVEL,
        "gpuSoftware": {
            "software": None if elsewhere else gpu.software,  # another stack's choice: unknown here
            # The device plugin (or the operator's DaemonSets) selects `nvidia.com/gpu.present=true` nodes and
            # tolerates these taints (compute/gpu_software.py).
            "tolerations": [{"key": t["key"], "effect": t["effect"]} for t in tolerations(known)],
            "efaPlugin": any(p.efa for p in known) if elsewhere else installs_efa_plugin(gpu, pools),
            "clusterAutoscaler": autoscaler_needed(config.cluster.system_nodes, gpu, pools),
        } if pools else None,
    }


def unlisted_guard_problem(namespace: str, guarded: Sequence[str] | None, stack: str) -> str | None:
    """The workspace writes the platform teams' egress guard in `namespace`, which the platform's
    `egressGuardedNamespaces` output (`guarded`; None: the teams' egress is not guarded) does not list: a component
    alone would then grant it a Service its pods cannot reach (blocks/platform_facts.guarded_client_problems)."""
    if guarded is None or namespace in guarded:
        return None
    return (f"namespace {namespace!r} would be held to default-deny egress (NetworkPolicies default-deny-egress and "
            f"allow-platform-egress, from the platform's teamWorkspace.egressRules), but platform stack {stack!r} "
            "does not list it in its `egressGuardedNamespaces` output, which components alone read to refuse a "
            f"grant its pods could not use: add {namespace!r} to the platform's cluster.workspaces and run `pulumi "
            "up` on the platform stack first")


def gpu_pool_problems(pool: GpuPoolConfig, software: dict[str, Any] | None) -> list[str]:
    """Why the platform's GPU software would not serve `pool` (empty: it does), from the `teamWorkspace` output."""
    if software is None:
        return ["the platform has no gpuPools, so it runs no NVIDIA device plugin: no GPU of this pool would be "
                "schedulable"]
    out = []
    tolerated = {(t["key"], t["effect"]) for t in software["tolerations"]}
    if pool.taint is not None and (pool.taint.key, pool.taint.k8s_effect) not in tolerated:
        out.append(f"taint {pool.taint.key}:{pool.taint.k8s_effect} is not tolerated by the platform's device "
                   f"plugin (it tolerates {sorted(tolerated)}): use one of those, or add a pool with it to the platform")
    if pool.efa and not software["efaPlugin"]:
        out.append("efa: true, but the platform installs no EFA device plugin (set gpu.efaPlugin: true there)")
    if pool.min_size < pool.max_size and not software["clusterAutoscaler"]:
        out.append("the pool can scale (minSize < maxSize), but the platform runs no cluster-autoscaler")
    return out


@dataclass(frozen=True)
class TeamWorkspaceArgs:
    config: TeamWorkspaceConfig
    platform: PlatformOutputs
    environment: str
    provider: k8s.Provider
    """The platform cluster's Kubernetes provider (`cluster_provider(...)` from the `kubeconfig` output): every
    Kubernetes child binds to it."""


class TeamWorkspace(pulumi.ComponentResource):
    """Kubernetes children bind to `args.provider` (built once by the program from the platform's kubeconfig
    output)."""

    role_arn: pulumi.Output[str]
    env_from: list[dict[str, Any]]
    """What the team's pods put in `envFrom` to reach MLflow and Qdrant as a platform team does."""

    def __init__(self, name: str, args: TeamWorkspaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        cfg, platform, stack = args.config, args.platform, args.config.platform_stack
        cluster = _platform_cluster(platform, args.provider)
        super().__init__("mlops:platform:TeamWorkspace", name, None,
                         retyped(cluster.bind(opts), "mlops:team:TeamWorkspace"))
        # The identity mode decides which resources exist: the platform's output, read now (or the workspace's own).
        mode = cfg.workload_identity or _identity_mode(known_value(platform.workload_identity))
        tags = cfg.tags.for_environment(args.environment)
        labels = {"mlops.io/team": cfg.namespace}
        terms = _required(platform.team_workspace, "teamWorkspace", stack)
        # Labelled as the platform asks (its services and feature server admit them), at its teams' Pod Security level.
        ns = k8s.core.v1.Namespace(child(name, "ns"), metadata={"name": cfg.namespace, "labels": terms.apply(
            lambda t: namespace_labels(t["podSecurityLevel"], {**t["namespaceLabels"], **labels}))},
            opts=child_options(self))
        ns_name = ns.metadata.apply(lambda m: str(m["name"] if isinstance(m, dict) else m.name))
        _egress_guard(name, self, ns_name, labels, terms)
        _refuse_unlisted_guard(name, cfg.namespace, platform.egress_guarded_namespaces, stack)
        self.env_from = _credentials(name, self, ns_name, cfg.namespace, list(cfg.credentials), terms)
        k8s.core.v1.ResourceQuota(
            child(name, "gpu-quota"),
            metadata={"name": "gpu-quota", "namespace": ns_name, "labels": labels},
            spec={"hard": {"requests.nvidia.com/gpu": str(cfg.gpu_quota)}},
            opts=child_options(self))
        identity = WorkloadIdentity(child(name, "workload"), WorkloadIdentityArgs(
            cluster=ClusterIdentity(
                cluster_name=platform.cluster_name,
                mode=mode,
                oidc_provider_arn=_required(platform.oidc_provider_arn, "oidcProviderArn", stack)
                if mode == "irsa" else None,
                oidc_issuer=_required(platform.oidc_issuer, "oidcIssuer", stack) if mode == "irsa" else None),
            namespace=ns_name,
            service_account=cfg.service_account,
            tags=tags,
        ), pulumi.ResourceOptions(parent=self))
        # The platform's managed grant policies: read the feature store, log models to the registry.
        aws.iam.RolePolicyAttachment(child(name, "feature-store-read"), role=identity.role.name,
                                     policy_arn=_required(platform.feature_store_read_policy_arn, "featureStoreReadPolicyArn", stack),
                                     opts=child_options(self))
        aws.iam.RolePolicyAttachment(child(name, "model-artifacts-write"), role=identity.role.name,
                                     policy_arn=_required(platform.model_artifact_write_policy_arn,
                                                          "modelArtifactWritePolicyArn", stack),
                                     opts=child_options(self))
        if cfg.dvc_remote != "none":
            # The team's DVC remote (mlops_infra/data/dvc.py): its managed read or write grant, by team name.
            aws.iam.RolePolicyAttachment(child(name, f"dvc-remote-{cfg.dvc_remote}"), role=identity.role.name,
                                         policy_arn=_dvc_grant(platform, cfg.namespace, cfg.dvc_remote),
                                         opts=child_options(self))
        if cfg.gpu_pool is not None:
            pool = cfg.gpu_pool
            terms.apply(lambda t: _refuse(gpu_pool_problems(pool, t["gpuSoftware"]), pool.name))
            # The pool joins the platform's cluster: its node role, key, version (its upgrades, not the refs' stand-in).
            GpuNodePool(child(name, f"gpu-{cfg.gpu_pool.name}"), GpuNodePoolArgs(
                config=cfg.gpu_pool, cluster=cluster,
                network=NetworkRefs.existing(platform.vpc_id, platform.vpc_cidr.apply(lambda c: c or ""),
                                             platform.private_subnet_ids),
                nodes=NodeRefs(role_arn=platform.node_role_arn, volume_key_arn=platform.cluster_kms_key_arn),
                tags=tags, kubernetes_version=platform.cluster_version), pulumi.ResourceOptions(parent=self))
        platform.workload_identity.apply(lambda platform_mode: _same_identity_mode(platform_mode, mode))
        self.role_arn = identity.role_arn
        self.register_outputs({"roleArn": self.role_arn, "namespace": cfg.namespace, "envFrom": self.env_from})


def _platform_cluster(platform: PlatformOutputs, provider: k8s.Provider) -> ClusterRefs:
    """The platform's cluster as refs. `ClusterRefs.version` is a plain string (it may decide which resources exist)
    while the platform's `clusterVersion` output is an Output; only the GPU pool's node group needs the version, and
    it takes the output itself (`GpuNodePoolArgs.kubernetes_version`), so the library default stands in here."""
    return ClusterRefs.existing(platform.cluster_name, provider=provider, version=DEFAULT_EKS_VERSION,
                                security_group_id=platform.cluster_security_group_id)


def _egress_guard(name: str, parent: pulumi.Resource, namespace: pulumi.Input[str], labels: dict[str, str],
                  terms: pulumi.Output[TeamWorkspaceTerms]) -> None:
    """The platform teams' egress guard (security/exfiltration_guards.py), from the `teamWorkspace` output:
    default-deny, then the same allow rules (a platform whose teams are not guarded exports one rule that allows
    all egress). An output without them (a platform release older than the guard) fails the preview: an unguarded
    workspace would be a silent exfiltration path."""
    def allowed(t: TeamWorkspaceTerms) -> list[Any]:
        if not t.get("egressRules"):
            raise pulumi.RunError("the platform stack's teamWorkspace output has no egressRules (a platform "
                                  "release older than the workspace egress guard): upgrade the platform stack")
        return list(t["egressRules"])
    k8s.networking.v1.NetworkPolicy(
        child(name, "deny-egress"), metadata={"name": "default-deny-egress", "namespace": namespace, "labels": labels},
        spec={"pod_selector": {}, "policy_types": ["Egress"]}, opts=child_options(parent))
    k8s.networking.v1.NetworkPolicy(
        child(name, "allow-egress"),
        metadata={"name": "allow-platform-egress", "namespace": namespace, "labels": labels},
        spec={"pod_selector": {}, "policy_types": ["Egress"], "egress": terms.apply(allowed)},
        opts=child_options(parent))


def _refuse_unlisted_guard(name: str, namespace: str, guarded: pulumi.Output[Any], stack: str) -> None:
    """Refuse the egress guard `_egress_guard` writes in `namespace` unless the platform lists it as guarded."""
    guarded.apply(lambda g: refuse(name, [unlisted_guard_problem(namespace, g, stack)]))


def _credentials(name: str, parent: pulumi.Resource, namespace: pulumi.Input[str], ns: str, services: list[str],
                 terms: pulumi.Output[TeamWorkspaceTerms]) -> list[dict[str, Any]]:
    """The namespace's SecretStore (as the platform's identity `credentials.<ns>.roleArn`, IRSA) and one
    ExternalSecret per service, with the keys a platform team's Secret carries (registry/mlflow_users.py,
    data/qdrant.py). Returns the `envFrom` entries that read them."""
    if not services:
        return []

    def entry(t: TeamWorkspaceTerms) -> dict[str, Any]:
        found = dict((t.get("credentials") or {}).get(ns) or {})
        missing = [s for s in services if f"{s}Secret" not in found]
        if missing:
            raise pulumi.RunError(f"the platform delivers no {' or '.join(missing)} credentials to namespace {ns!r}: "
                                  "list it in the platform's cluster.workspaces (MLflow with inClusterAuth, Qdrant on), "
                                  f"or drop {missing} from team:workspace.credentials")
        return found
    found = terms.apply(entry)
    sa = k8s.core.v1.ServiceAccount(
        child(name, "secrets-sa"), opts=child_options(parent), automount_service_account_token=False,
        metadata={"name": STORE_SERVICE_ACCOUNT, "namespace": namespace,
                  "annotations": {IRSA_ROLE_ANNOTATION: found.apply(lambda f: str(f["roleArn"]))}})
    store = k8s.apiextensions.CustomResource(
        child(name, "secret-store"), api_version=ESO_API_VERSION, kind="SecretStore",
        metadata={"name": "workspace-credentials", "namespace": namespace},
        spec={"provider": {"aws": {"service": "SecretsManager", "region": found.apply(lambda f: str(f["region"])),
                                   "auth": {"jwt": {"serviceAccountRef": {"name": STORE_SERVICE_ACCOUNT}}}}}},
        opts=child_options(parent, depends_on=[sa]))
    keys = {
        "mlflow": (MLFLOW_SECRET, {USERNAME_ENV: "{{ .username }}", PASSWORD_ENV: "{{ .password }}"},
                   lambda f: [{"secretKey": k, "remoteRef": {"key": f["mlflowSecret"], "property": k}}
                              for k in ("username", "password")]),
        "qdrant": (QDRANT_SECRET, {"QDRANT_URL": found.apply(lambda f: str(f["qdrantUrl"])),
                                   "QDRANT_API_KEY": "{{ .key }}"},
                   lambda f: [{"secretKey": "key", "remoteRef": {"key": f["qdrantSecret"]}}]),
    }
    for service in services:
        target, template, data = keys[service]
        k8s.apiextensions.CustomResource(
            child(name, f"{service}-credentials"), api_version=ESO_API_VERSION, kind="ExternalSecret",
            metadata={"name": target, "namespace": namespace},
            spec={"refreshInterval": "1h", "secretStoreRef": {"kind": "SecretStore", "name": "workspace-credentials"},
                  "target": {"name": target, "creationPolicy": "Owner",
                             "template": {"engineVersion": "v2", "data": template}},
                  "data": found.apply(data)},
            opts=child_options(parent, depends_on=[store]))
    return [{"secretRef": {"name": keys[s][0]}} for s in services]


def _dvc_grant(platform: PlatformOutputs, team: str, access: str) -> pulumi.Output[str]:
    """The `<access>PolicyArn` of `team` in the platform's `dvcRemotes` output; a clear error when it has none."""
    def pick(remotes: Any) -> str:
        arn = ((remotes or {}).get(team) or {}).get(f"{access}PolicyArn")
        if not arn:
            raise pulumi.RunError(f"the platform stack's dvcRemotes output has no {access} grant for team {team!r} "
                                  "(data.dvc off, backend lakefs, or the team is not in cluster.teams)")
        return str(arn)
    return pulumi.Output.from_input(platform.add_ons.get("dvcRemotes")).apply(pick)


def _refuse(problems: list[str], pool: str) -> None:
    if problems:
        raise pulumi.RunError(f"team:workspace.gpuPool {pool!r}: " + "; ".join(problems))


def _identity_mode(value: Any) -> Literal["irsa", "podIdentity"]:
    if value == "irsa" or value == "podIdentity":
        return "irsa" if value == "irsa" else "podIdentity"
    raise pulumi.RunError(f"the platform's workloadIdentity output is {value!r}, not 'irsa' or 'podIdentity'")


def _same_identity_mode(platform_mode: str, team_mode: str) -> None:
    if platform_mode != team_mode:
        raise pulumi.RunError(f"team:workspace.workloadIdentity is {team_mode!r}, but the platform uses {platform_mode!r}")


def _required(value: pulumi.Output[T | None], key: str, stack: str) -> pulumi.Output[T]:
    """A contract output this workspace needs although the platform may omit it (feature store or registry off, or
    a platform release older than the output): missing, an error naming it, `stack` and the config that exports it."""
    producer = next((k.producer for k in CONTRACT.values() if k.output == key), "")

    def check(v: T | None) -> T:
        if not v:
            raise MissingStackOutput(key, stack, producer)
        return v
    return value.apply(check)
