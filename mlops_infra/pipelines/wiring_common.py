"""The wiring every orchestration engine gets (issue 19, item 5), built from the platform's blocks only:

- a namespace (blocks/namespace.py, restricted Pod Security by default);
- `EngineWiring`: the executor ServiceAccount and its IAM role (blocks/identity.py) with the platform's managed
  grants attached (read the feature store, log models to the registry's artifact bucket) plus the engine's own
  statements, the platform env (MLflow tracking URI, Feast feature server URL) and an egress NetworkPolicy on every
  pod of the namespace that admits exactly: DNS (kube-dns), the namespace itself, the MLflow and feature-server
  ports in their namespaces, S3 and (Feast on DynamoDB) DynamoDB (the region's gateway-endpoint prefix lists) and
  STS (the interface endpoint in the VPC) on 443, and the EKS Pod Identity agent when the cluster uses Pod Identity;
- `metadata_database`: the Postgres block with the RDS-managed password delivered by External Secrets (a namespaced
  SecretStore whose own IRSA role reads only that secret) into a Secret whose keys the engine templates;
- `control_plane_egress`: the extra egress an engine's control pods need (Kubernetes API, its database);
- `gpu_scheduling`: node selector and tolerations of a training pool.

Each takes the engine's `EngineRefs` (pipelines/refs.py), never the platform's config or context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..blocks import iam
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.namespace import PLATFORM_CLIENT_LABEL, PodSecurityLevel, namespace
from ..blocks.naming import child, child_options
from ..blocks.network_access import PrivatePlacement
from ..blocks.postgres import POSTGRES_PORT, Postgres, PostgresArgs, postgres
from ..blocks.refs import ClusterRefs, refuse
from ..blocks.rotation import REFRESH_INTERVAL, restart_on_rotation
from ..compute.gpu_config import POOL_LABEL, GpuPoolConfig
from ..config.database import DatabaseConfig
from ..features.feature_server import CLIENT_LABEL as FEATURE_CLIENT_LABEL
from ..features.feature_store_consumers import REGISTRY_USER_ENV as FEAST_USER_ENV
from ..features.feature_store_consumers import credentials_secret as feast_credentials
from ..features.feature_store_online import REDIS_PORT
from ..observability.contribution import database_alarms
from ..registry.mlflow_users import PASSWORD_ENV, USERNAME_ENV, credentials_secret
from ..security.exfiltration_guards import (
    API_SERVICE_PORT,
    NAMESPACE_LABEL,
    POD_IDENTITY_AGENT,
    api_service_ips,
    prefix_list_cidrs,
)
from ..security.secrets_delivery import ESO_API_VERSION
from .refs import EngineRefs

MLFLOW_ENV = "MLFLOW_TRACKING_URI"
FEATURE_SERVER_ENV = "FEAST_FEATURE_SERVER_URL"
HTTPS = 443
DNS_PORTS: list[k8s.networking.v1.NetworkPolicyPortArgsDict] = [
    {"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
SECRET_REFRESH = REFRESH_INTERVAL  # the password rotates every 7 days: blocks/rotation.py


@dataclass(frozen=True)
class EngineWiringArgs:
    refs: EngineRefs
    """The engine's references (cluster identity and provider, network, managed grant policies, endpoints)."""
    engine: str
    """Short engine name (`airflow`): labels and child names."""
    namespace: pulumi.Input[str]
    service_account: str
    """The executor's ServiceAccount (task pods run as it)."""
    user: str | None = None
    """The MLflow and Feast user the engine's pods log in as: the engine's namespace name (the registry and the
    feature store name their users after namespaces). Default: none (no credentials delivered)."""
    statements: Sequence[iam.Statement | pulumi.Output[iam.Statement]] = field(default_factory=tuple)
    """The engine's own permissions on top of the managed grants (e.g. its log or artifact bucket). Default: none."""
    egress_policy: bool = True
    """Create the namespace-wide egress NetworkPolicy. Default: true."""
    automount_token: bool = False
    """Mount the Kubernetes API token in the executor's pods (engines whose step pods call the API). Default: false."""


def engine_namespace(resource_name: str, owner: pulumi.Resource, cluster: ClusterRefs, name: str, engine: str, *,
                     level: PodSecurityLevel = "restricted", refs: EngineRefs | None = None) -> pulumi.Output[str]:
    """The engine's namespace `name`, labelled with the engine: the cluster's (`cluster.namespaces`, e.g. made by the
    platform), else created as `resource_name` under `owner`, with `client_labels(refs)`."""
    labels = {"mlops.io/orchestrator": engine, **(client_labels(refs) if refs is not None else {})}
    return namespace(resource_name, owner, name, level=level, labels=labels,
                     existing=cluster.namespaces, provider=cluster.provider)


def client_labels(refs: EngineRefs) -> dict[str, str]:
    """The labels that admit a namespace made outside the platform to the servers its egress opens: MLflow's ingress
    admits `mlops.io/platform-client` namespaces, the feature server's `mlops.io/feature-store-client` ones (their
    NetworkPolicies). With MLflow basic auth the pods also log in: the registry's `inClusterAuth` must list a user
    named after this namespace (`EngineRefs.mlflow_credentials`)."""
    return {**({PLATFORM_CLIENT_LABEL: "true"} if refs.mlflow is not None else {}),
            **({FEATURE_CLIENT_LABEL: "true"} if refs.feature_server is not None else {})}


def platform_env(refs: EngineRefs) -> dict[str, pulumi.Input[str]]:
    """What every task pod gets in its environment: the tracking URI and the feature server URL (when present)."""
    env: dict[str, pulumi.Input[str]] = {}
    if refs.mlflow is not None:
        env[MLFLOW_ENV] = refs.mlflow.url
    if refs.feature_server is not None:
        env[FEATURE_SERVER_ENV] = refs.feature_server.url
    return env


def _namespace_peer(name: pulumi.Input[str]) -> k8s.networking.v1.NetworkPolicyPeerArgsDict:
    return {"namespace_selector": {"match_labels": {NAMESPACE_LABEL: name}}}


def service_ports(refs: EngineRefs) -> list[tuple[str, int]]:
    """(namespace, port) of the services task pods call: MLflow's API and the feature server."""
    return [(e.namespace, e.port) for e in (refs.mlflow, refs.feature_server) if e is not None]


def task_egress_rules(refs: EngineRefs, owner: pulumi.Resource, *, registry_db: bool = False,
                      redis: bool = False) -> list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict]:
    """DNS, the own namespace, MLflow and the feature server, S3 and STS: nothing else. `registry_db`: the namespace
    holds a login of Feast's SQL registry, so its pods also reach that RDS (in the VPC) on 5432; `redis`: a login of
    Feast's Redis online store (RBAC), so they reach ElastiCache (in the VPC) on its port."""
    rules: list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict] = [
        {"to": [{"pod_selector": {}}]},  # the engine's own pods (Airflow 3 task pods call the API server)
        {"to": [{"namespace_selector": {"match_labels": {NAMESPACE_LABEL: "kube-system"}},
                 "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}}}], "ports": DNS_PORTS},
    ]
    for ns, port in service_ports(refs):
        rules.append({"to": [_namespace_peer(ns)], "ports": [{"protocol": "TCP", "port": port}]})
    if registry_db:  # the RDS instance's address is only known at deploy time: its VPC's CIDR
        rules.append({"to": [{"ip_block": {"cidr": refs.network.vpc_cidr}}],
                      "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}]})
    if redis:
        rules.append({"to": [{"ip_block": {"cidr": refs.network.vpc_cidr}}],
                      "ports": [{"protocol": "TCP", "port": REDIS_PORT}]})
    # S3 and (Feast's DynamoDB online store, read through the feature grant) DynamoDB: their gateway prefix lists.
    services = ["s3", *(["dynamodb"] if refs.dynamodb else [])]
    s3 = pulumi.Output.all(*(prefix_list_cidrs(refs.region, s, owner) for s in services)).apply(
        lambda lists: [{"ip_block": {"cidr": c}} for cidrs in lists for c in cidrs])
    rules.append({"to": s3, "ports": [{"protocol": "TCP", "port": HTTPS}]})  # type: ignore[typeddict-item]
    rules.append(sts_egress(refs))
    if refs.cluster.identity.mode == "podIdentity":
        rules.append({"to": [{"ip_block": {"cidr": POD_IDENTITY_AGENT[0]}}],
                      "ports": [{"protocol": "TCP", "port": POD_IDENTITY_AGENT[1]}]})
    return rules


ANYWHERE = "0.0.0.0/0"


def sts_egress(refs: EngineRefs) -> k8s.networking.v1.NetworkPolicyEgressRuleArgsDict:
    """STS (AssumeRoleWithWebIdentity) on 443: through the VPC's interface endpoint, whose ENIs are in the VPC CIDR,
    when the VPC has one or may have one (`NetworkRefs.interface_endpoints` lists `sts`, or is unknown; the platform
    creates it whenever a namespace is egress-guarded: platform/config.py workload_endpoint_services). A VPC known
    to lack it (e.g. the dev platform's, read from `vpcInterfaceEndpoints`) reaches STS through NAT at public
    addresses no NetworkPolicy can name: HTTPS is admitted to anywhere, and a warning says so."""
    endpoints = refs.network.interface_endpoints
    if endpoints is None or "sts" in endpoints:
        return {"to": [{"ip_block": {"cidr": refs.network.vpc_cidr}}], "ports": [{"protocol": "TCP", "port": HTTPS}]}
    pulumi.log.warn("the VPC has no STS interface endpoint (vpcInterfaceEndpoints): the engine's pods reach STS "
                    f"through NAT, so their egress policy admits HTTPS to {ANYWHERE}; an STS endpoint narrows it to "
                    "the VPC CIDR")
    return {"to": [{"ip_block": {"cidr": ANYWHERE}}], "ports": [{"protocol": "TCP", "port": HTTPS}]}


class EngineWiring(pulumi.ComponentResource):
    """The executor identity, the platform env and the namespace egress policy of one engine."""

    identity: WorkloadIdentity
    role: aws.iam.Role
    role_arn: pulumi.Output[str]
    service_account: str
    env: dict[str, pulumi.Input[str]]
    mlflow_secret: str | None
    """The Secret holding MLFLOW_TRACKING_USERNAME/PASSWORD in the namespace (MLflow basic auth), or None."""
    mlflow_env: dict[str, pulumi.Input[str]]
    """Those two variables (and the Feast registry login's) and their values (passwords are Pulumi secrets), for an
    engine that delivers env from a Secret of its own; empty without MLflow basic auth or a SQL registry."""

    def __init__(self, name: str, args: EngineWiringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:pipelines:EngineWiring", name, None, args.refs.cluster.bind(opts))
        refs = args.refs
        self.namespace = args.namespace
        self.service_account = args.service_account
        self.identity = WorkloadIdentity(child(name, "executor"), WorkloadIdentityArgs(
            cluster=refs.cluster.identity, namespace=args.namespace, service_account=args.service_account,
            tags=refs.tags, statements=list(args.statements), automount_token=args.automount_token),
            pulumi.ResourceOptions(parent=self, provider=refs.cluster.provider))
        self.role, self.role_arn = self.identity.role, self.identity.role_arn
        for suffix, arn in (("feature-read", refs.feature_read_policy_arn),
                            ("artifact-write", refs.artifact_write_policy_arn)):
            if arn is not None:
                aws.iam.RolePolicyAttachment(child(name, suffix), role=self.role.name, policy_arn=arn,
                                             opts=child_options(self))
        self.env = platform_env(refs)
        self.mlflow_secret, self.mlflow_env = None, {}
        user = args.user
        # A team's namespace already holds both Secrets (the registry's and the feature store's): one per namespace.
        team = user in refs.credential_namespaces
        if user is not None and user in refs.mlflow_credentials and refs.mlflow_credentials_secret:
            password = refs.mlflow_credentials[user]
            if not team:
                credentials_secret(child(name, "mlflow-credentials"), child_options(self, provider=refs.cluster.provider),
                                   namespace=args.namespace, username=user, password=password,
                                   secret_name=refs.mlflow_credentials_secret)
            self.mlflow_secret = refs.mlflow_credentials_secret
            self.mlflow_env = {USERNAME_ENV: user, PASSWORD_ENV: password}
        self.feast_secret: str | None = None
        """The Secret with the namespace's Feast logins (SQL registry, Redis with RBAC), or None."""
        self.feast_keys: list[str] = []
        """Its keys (the variables the exported feature_store.yaml references)."""
        feast_redis = False
        if user is not None and user in refs.feature_registry_logins and refs.feast_credentials_secret:
            login = refs.feature_registry_logins[user]
            if not team:
                feast_credentials(child(name, "feast-credentials"), child_options(self, provider=refs.cluster.provider),
                                  namespace=args.namespace, login=login, secret_name=refs.feast_credentials_secret)
            self.feast_secret, self.feast_keys = refs.feast_credentials_secret, sorted(login.env())
            self.mlflow_env = {**self.mlflow_env, **login.env()}
            feast_redis = login.redis_user is not None
        if args.egress_policy:
            k8s.networking.v1.NetworkPolicy(
                child(name, "egress"), metadata={"name": f"{args.engine}-egress", "namespace": args.namespace},
                spec={"pod_selector": {}, "policy_types": ["Egress"], "egress": task_egress_rules(
                    refs, self, registry_db=FEAST_USER_ENV in self.feast_keys, redis=feast_redis)},
                opts=child_options(self, provider=refs.cluster.provider))
        self.register_outputs({"roleArn": self.role_arn, "serviceAccount": self.service_account})

    def env_vars(self) -> list[dict[str, pulumi.Input[str]]]:
        """The platform env as Kubernetes `env` entries (camelCase-compatible: only name/value)."""
        return [{"name": k, "value": v} for k, v in self.env.items()]

    def env_secrets(self) -> list[str]:
        """The credential Secrets the task pods read whole (`envFrom`): MLflow's, Feast's."""
        return [n for n in (self.mlflow_secret, self.feast_secret) if n is not None]

    def mlflow_secret_env(self) -> list[dict[str, str]]:
        """Those credentials as the Airflow chart's `secret` entries (envName, secretName, secretKey)."""
        entries = [(self.mlflow_secret, (USERNAME_ENV, PASSWORD_ENV)),
                   (self.feast_secret, tuple(self.feast_keys))]
        return [{"envName": k, "secretName": secret, "secretKey": k} for secret, keys in entries if secret for k in keys]


def control_plane_egress(owner: pulumi.Resource, name: str, refs: EngineRefs, *, namespace: pulumi.Input[str],
                         pod_selector: Mapping[str, Any], database_port: int | None = POSTGRES_PORT,
                         kubernetes_api: bool = True) -> k8s.networking.v1.NetworkPolicy:
    """Extra egress for an engine's control pods (scheduler, controllers): the Kubernetes API (they create pods)
    and the database port in the VPC. Additive to the namespace-wide policy of `EngineWiring`."""
    rules: list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict] = []
    if kubernetes_api:
        api = pulumi.Output.from_input(refs.cluster.service_ipv4_cidr).apply(
            lambda cidr: [{"ip_block": {"cidr": ip}} for ip in api_service_ips(cidr)])
        rules.append({"to": api, "ports": [{"protocol": "TCP", "port": API_SERVICE_PORT}]})  # type: ignore[typeddict-item]
    if database_port is not None:
        rules.append({"to": [{"ip_block": {"cidr": refs.network.vpc_cidr}}],
                      "ports": [{"protocol": "TCP", "port": database_port}]})
    return k8s.networking.v1.NetworkPolicy(  # type: ignore[call-overload,no-any-return]
        child(name, "control-egress"), metadata={"name": child(pod_selector_name(pod_selector), "egress"),
                                                 "namespace": namespace},
        spec={"pod_selector": {"match_expressions": _expressions(pod_selector)}, "policy_types": ["Egress"],
              "egress": rules},
        opts=child_options(owner, provider=refs.cluster.provider))


def pod_selector_name(selector: Mapping[str, Any]) -> str:
    values = [str(v) for vs in selector.values() for v in (vs if isinstance(vs, list) else [vs])]
    return "-".join(values)[:50].rstrip("-") or "control"


def _expressions(selector: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`{"component": ["scheduler", "api-server"]}` -> In expressions (a value list means any of them)."""
    return [{"key": k, "operator": "In", "values": v if isinstance(v, list) else [v]} for k, v in selector.items()]


@dataclass(frozen=True)
class MetadataDatabase:
    """An engine's metadata database and the Kubernetes Secret External Secrets keeps in sync from its password."""

    db: Postgres
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    db_name: str
    username: str
    secret_name: str
    """The Kubernetes Secret (in the engine namespace) holding the templated keys."""
    external_secrets: tuple[pulumi.Resource, ...] = ()
    """The SecretStore and ExternalSecrets: what the engine's workloads wait for with the instance."""


def metadata_database(owner: pulumi.Resource, name: str, refs: EngineRefs, *, config: DatabaseConfig,
                      namespace: pulumi.Input[str], db_name: str, username: str, secret_name: str,
                      template: Callable[[pulumi.Output[str], pulumi.Output[int]], Mapping[str, pulumi.Input[str]]],
                      more_secrets: Mapping[str, Mapping[str, pulumi.Input[str]]] | None = None,
                      database: Callable[[str, pulumi.Resource, PostgresArgs], Postgres] = postgres,
                      workloads: Sequence[str] = (),
                      also_watch: Sequence[str] = (),
                      ) -> MetadataDatabase:
    """The Postgres block (`<name>`) and an ExternalSecret `secret_name` whose keys are `template(address, port)`:
    Go templates over the RDS-managed secret's `username` and `password` (see `postgres_url`). The password never
    enters config, state or Helm values: External Secrets reads it with a role that may read only that secret.
    `more_secrets`: further Secrets (name -> templated keys) from the same password. Default: none.
    `database`: the block that builds the instance (Kubeflow Pipelines: MySQL). Default: the Postgres block.
    `workloads`: the Deployments/StatefulSets that read these Secrets (and `also_watch`), the only ones the
    restarter may patch. Default: none named (every one of the namespace).
    `also_watch`: Secrets Pulumi writes that the engine's pods also read at start (`mlflow-credentials`,
    `feast-credentials`): a changed password rolls them too. Default: none. A Pod Identity cluster, and a cluster
    not known to run the External Secrets operator, are refused (`secret_delivery_problems`)."""
    refuse(name, secret_delivery_problems(refs, "the metadata database's password"))
    placement = PrivatePlacement(vpc_id=refs.network.vpc_id, subnet_ids=refs.network.private_subnet_ids,
                                 client_security_group_id=refs.cluster.cluster_security_group_id)
    db = database(name, owner, PostgresArgs(config=config, placement=placement, kms_key=refs.key, tags=refs.tags,
                                            db_name=db_name, username=username, protect=refs.protect,
                                            # Allowed (FSBP RDS.10), not required: engines log in with the password.
                                            iam_database_authentication=True,
                                            alarms=database_alarms(refs.monitoring, refs.tags)))
    reader = WorkloadIdentity(child(name, "secret-reader"), WorkloadIdentityArgs(
        cluster=refs.cluster.identity, namespace=namespace, service_account=f"{secret_name}-reader", tags=refs.tags,
        statements=[iam.statement("ReadDatabaseSecret", ["secretsmanager:DescribeSecret",
                                                         "secretsmanager:GetSecretValue"], [db.master_secret_arn]),
                    refs.key.use_statement("DecryptDatabaseSecret", decrypt_only=True)]),
        pulumi.ResourceOptions(parent=owner, provider=refs.cluster.provider))
    eso = [refs.external_secrets] if refs.external_secrets is not None else []
    provider: dict[str, Any] = {"service": "SecretsManager", "region": refs.region}
    if refs.cluster.identity.mode == "irsa":
        provider["auth"] = {"jwt": {"serviceAccountRef": {"name": f"{secret_name}-reader"}}}
    store = k8s.apiextensions.CustomResource(
        child(name, "secret-store"), api_version=ESO_API_VERSION, kind="SecretStore",
        metadata={"name": f"{secret_name}-store", "namespace": namespace},
        spec={"provider": {"aws": provider}}, opts=child_options(owner, provider=refs.cluster.provider,
                                                                  depends_on=[reader, *eso]))
    secrets = {secret_name: dict(template(db.instance.address, db.instance.port)), **(more_secrets or {})}
    synced: list[pulumi.Resource] = [store]
    for i, (target, data) in enumerate(secrets.items()):
        synced.append(k8s.apiextensions.CustomResource(
            child(name, "external-secret" if i == 0 else f"external-secret-{target}"),
            api_version=ESO_API_VERSION, kind="ExternalSecret", metadata={"name": target, "namespace": namespace},
            spec={"refreshInterval": SECRET_REFRESH,
                  "secretStoreRef": {"kind": "SecretStore", "name": f"{secret_name}-store"},
                  "target": {"name": target, "creationPolicy": "Owner",
                             "template": {"engineVersion": "v2", "data": data}},
                  "dataFrom": [{"extract": {"key": db.master_secret_arn}}]},
            opts=child_options(owner, provider=refs.cluster.provider, depends_on=[store, *eso])))
    # The engines read the password at container start: roll them when External Secrets rewrites it, and when
    # `pulumi up` rewrites a credentials Secret they also read (`also_watch`: MLflow's, Feast's; EngineWiring).
    restart_on_rotation(owner, name, namespace=namespace, secrets=[*secrets, *also_watch], provider=refs.cluster.provider,
                        workloads=workloads,
                        api_ips=pulumi.Output.from_input(refs.cluster.service_ipv4_cidr).apply(api_service_ips))
    return MetadataDatabase(db=db, address=db.instance.address, port=db.instance.port, db_name=db_name,
                            username=username, secret_name=secret_name, external_secrets=tuple(synced))


def secret_delivery_problems(refs: EngineRefs, needs: str) -> list[str]:
    """Why `needs` (a Secret an engine syncs through a SecretStore of its namespace) cannot reach the engine on
    `refs.cluster`, every reason at once (empty: none):
    - the SecretStore authenticates as its reader ServiceAccount only with IRSA (`auth.jwt`); on a Pod Identity
      cluster it would get no `auth`, and External Secrets would read with its controller's credentials, not the
      reader role made here;
    - the External Secrets operator must run: handed in (`EngineRefs.external_secrets`, the platform's), or known
      from the cluster's refs (`ClusterRefs.external_secrets_store`, a platform stack's `externalSecretsStore`)."""
    problems: list[str] = []
    if refs.cluster.identity.mode != "irsa":
        problems.append(f"{needs[:1].upper()}{needs[1:]} is delivered by External Secrets with IRSA (a "
                        "SecretStore authenticating as its reader ServiceAccount); this cluster's workloadIdentity is "
                        f"{refs.cluster.identity.mode!r}: engines that sync a Secret (a database password, Prefect "
                        "Cloud's API key) need an IRSA cluster")
    if refs.external_secrets is None:
        problem = refs.cluster.external_secrets_problem(needs)
        if problem:
            problems.append(problem)
    return problems


def postgres_url(scheme: str, db: pulumi.Input[str], address: pulumi.Input[str], port: pulumi.Input[int],
                 query: str = "sslmode=require") -> pulumi.Output[str]:
    """A Go template of the connection URL: credentials come from the RDS secret at sync time, the rest is known."""
    return pulumi.Output.format("{0}://{{{{ .username | urlquery }}}}:{{{{ .password | urlquery }}}}@{1}:{2}/{3}?{4}",
                                scheme, address, port, db, query)


@dataclass(frozen=True)
class GpuScheduling:
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    pool: str | None


def gpu_scheduling(pools: Sequence[GpuPoolConfig], pool_name: str | None) -> GpuScheduling:
    """Where GPU steps run: the named pool (default: the first), its taint tolerated, plus the default GPU taint.
    A named pool that `pools` (`EngineRefs.gpu_pools`) lacks is refused: no node selector would pin the steps."""
    pool: GpuPoolConfig | None = next((p for p in pools if p.name == pool_name), None) if pool_name else \
        (pools[0] if pools else None)
    if pool_name and pool is None:
        raise ValueError(f"gpuPool {pool_name!r}: not among the pools the engine was given (EngineRefs.gpu_pools: "
                         f"{', '.join(sorted(p.name for p in pools)) or 'none'}); pass that pool's GpuPoolConfig")
    tolerations = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    if pool is not None and pool.taint is not None and pool.taint.key != "nvidia.com/gpu":
        tolerations.append({"key": pool.taint.key, "operator": "Exists", "effect": pool.taint.k8s_effect})
    return GpuScheduling(node_selector={POOL_LABEL: pool.name} if pool else {}, tolerations=tolerations,
                         pool=pool.name if pool else None)
