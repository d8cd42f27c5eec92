"""LakeFS: the pinned chart, metadata on the Postgres block, the blockstore on a hardened bucket through IRSA, its
secrets through External Secrets, private (ClusterIP + an ingress NetworkPolicy), a ServiceMonitor and rules.

Read at treeverse/charts tag lakefs-1.12.16 (charts/lakefs): with `existingSecret` the chart takes
LAKEFS_AUTH_ENCRYPT_SECRET_KEY and LAKEFS_DATABASE_POSTGRES_CONNECTION_STRING from that Secret's
`secretKeys.*` keys (templates/_shared_env.tpl) and renders no Secret of its own (templates/secret.yaml); the
ServiceAccount is `serviceAccount.name` when `serviceAccount.create` is unset (templates/_helpers.tpl);
`committedLocalCacheVolume` mounts at /lakefs/cache and sets LAKEFS_COMMITTED_LOCAL_CACHE_DIR (templates/_env.tpl).
Read at treeverse/lakeFS tag v1.84.0: the `installation.*` keys create the first admin only with a local
database (cmd/lakefs/cmd/run.go), so with Postgres a Job runs `lakefs setup` (cmd/lakefs/cmd/setup.go, which exits
1 with "Setup is already complete." on a second run); `/metrics` is served on the API port (pkg/api/serve.go).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..blocks import iam, pod_security
from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, VpcEndpointGuard
from ..blocks.endpoints import ServicePort
from ..blocks.helm import PinnedChart, release
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.kms import KeyLike
from ..blocks.namespace import namespace
from ..blocks.naming import child, child_options
from ..blocks.network_access import PrivatePlacement
from ..blocks.observability import MonitoringRefs, ScrapeEndpoint, prometheus_rule, service_monitor
from ..blocks.platform_facts import guarded_bucket_problem, guarded_client_problems, occupied_namespace_problem
from ..blocks.postgres import PostgresArgs, postgres
from ..blocks.refs import ClusterRefs, NetworkRefs, refuse
from ..blocks.rotation import REFRESH_INTERVAL, restart_on_rotation
from ..observability.contribution import database_alarms
from ..security.exfiltration_guards import api_service_ips
from ..security.secrets_delivery import ESO_API_VERSION
from .config import LAKEFS_CHART, LAKEFS_REPO, LAKEFS_SERVER_PORT, LakeFsConfig, secret_recovery_window
from .lakefs_rules import rule_groups

SERVER_PORT = LAKEFS_SERVER_PORT
"""`deployment.port` (the container's `http` port: API, S3 gateway, UI and /metrics)."""
SERVICE_PORT = 80
"""`service.port` (chart default)."""
FULLNAME = "lakefs"
"""`fullnameOverride`: Deployment, Service and ConfigMap are all named this (the release name is generated)."""
SELECTOR = {"app.kubernetes.io/name": "lakefs"}
"""`lakefs.selectorLabels` without the instance label (which holds the generated release name)."""
SERVER_SERVICE_ACCOUNT = "lakefs"
SECRET_NAME = "lakefs-secrets"
"""The Kubernetes Secret External Secrets writes (keys below); the chart's `existingSecret`."""
AUTH_KEY, DB_KEY = "auth_encrypt_secret_key", "database_connection_string"
ADMIN_KEY_ID, ADMIN_SECRET = "admin_access_key_id", "admin_secret_access_key"
SECRET_REFRESH = REFRESH_INTERVAL
"""The database password rotates every 7 days: the Secret follows within minutes (blocks/rotation.py)."""
DB_NAME, DB_USER = "lakefs", "lakefs"


@dataclass(frozen=True)
class LakeFsArgs:
    config: LakeFsConfig
    network: NetworkRefs
    cluster: ClusterRefs
    kms_key: KeyLike
    """Encrypts the blockstore, the database and LakeFS's secret: a `KmsKey`, or a `KeyRef` to an existing key
    (e.g. the platform's `dataKeyArn`)."""
    region: str
    """The stack's Region: LakeFS's blockstore and S3 gateway, and its SecretStore's Secrets Manager. Required."""
    tags: dict[str, str]
    client_namespaces: Sequence[str]
    """Namespaces admitted to the API and S3 gateway (besides LakeFS's own)."""
    client_namespace_labels: Mapping[str, str] | None = None
    """Also admit namespaces carrying these labels (a team workspace's). Default: none."""
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the bucket, database and secret; also the secrets' recovery window
    unless configured (`secret_recovery_window`). Default: true (stateful; dev passes false)."""
    bucket_guard: VpcEndpointGuard | None = None
    """The exfiltration guard the blockstore carries. Default: none."""
    monitoring: MonitoringRefs | None = None
    """ServiceMonitor and rules when set. Default: none."""
    external_secrets: pulumi.Resource | None = None
    """What installs the External Secrets operator (its CRDs): the SecretStore waits for it. Default: none (the
    operator is already there: `cluster.external_secrets_store` must say so, else LakeFs is refused)."""


def refs_problems(args: LakeFsArgs) -> list[str | None]:
    """Why LakeFS's secrets would never sync on `args.cluster` (None: no problem), every reason at once."""
    cluster = args.cluster
    return ["LakeFS's SecretStore authenticates with an IRSA ServiceAccount token (cluster.workloadIdentity irsa); a "
            "Pod Identity cluster would never sync its secrets" if cluster.identity.mode != "irsa" else None,
            None if args.external_secrets is not None
            else cluster.external_secrets_problem("LakeFS's database and auth secrets")]


def connection_template(address: pulumi.Input[str], port: pulumi.Input[int]) -> pulumi.Output[str]:
    """The Go template External Secrets renders into the connection string: user and password from the RDS-managed
    secret at sync time (URL-escaped), TLS required (the parameter group sets rds.force_ssl)."""
    return pulumi.Output.format(
        "postgres://{{{{ .username | urlquery }}}}:{{{{ .password | urlquery }}}}@{0}:{1}/{2}?sslmode=require",
        address, port, DB_NAME)


FROZEN_PASSWORD_INPUTS = ("keepers", "length", "lower", "minLower", "minNumeric", "minSpecial", "minUpper", "number",
                          "numeric", "overrideSpecial", "special", "upper")
"""Every input of a `random.RandomPassword` (pulumi-random 4.x): ignoring them all, no edit replaces it."""


def server_statements(bucket: HardenedBucket, prefix: str) -> list[iam.Statement]:
    """Read and write under `prefix`, the multipart list actions, and ListBucket on the bucket unconditioned
    (`missing_key_404`): creating a repository reads `<namespace>/_lakefs/dummy` first and goes on only on
    NoSuchKey/NotFound (lakeFS v1.84.0 ensureStorageNamespace, block/s3 isErrNotFound); S3 answers 404 only to a
    holder of ListBucket on the bucket, else 403, and every repository creation would fail."""
    return [*bucket.write_statements(prefix, missing_key_404=True), *multipart_statements(bucket, prefix)]


def multipart_statements(bucket: HardenedBucket, prefix: str) -> list[iam.Statement]:
    """The two multipart list actions lakeFS needs besides read and write (lakeFS docs, "Prepare your AWS S3
    bucket": s3:ListMultipartUploadParts on objects, s3:ListBucketMultipartUploads on the bucket): its S3 gateway
    lists parts and uploads for clients that resume multipart uploads (`dvc push`, the AWS CLI)."""
    return [iam.statement("ListUploadParts", ["s3:ListMultipartUploadParts"], [bucket.objects_arn(prefix)]),
            iam.statement("ListBucketUploads", ["s3:ListBucketMultipartUploads"], [bucket.arn])]


def server_config(region: str, kms_key_arn: str) -> str:
    """LakeFS's config file (no secrets: those come from the environment). Keys from pkg/config/config.go @ v1.84.0."""
    return json.dumps({
        "logging": {"format": "json", "level": "INFO"},
        "database": {"type": "postgres"},
        "blockstore": {"type": "s3", "s3": {
            "region": region,
            # The region is known: no GetBucketLocation call (the role is not granted it).
            "discover_bucket_region": False,
            "server_side_encryption": "aws:kms",
            "server_side_encryption_kms_key_id": kms_key_arn}},
        "gateways": {"s3": {"region": region}},
        # No call home: the platform runs private.
        "stats": {"enabled": False},
        "email_subscription": {"enabled": False},
        # No audit check either: lakeFS sends its installation ID to audit.lakefs.io at start and every 24h unless the
        # URL is empty (pkg/version/audit.go @ v1.84.0: ErrMissingCheckURL, logged at debug). `usage_report` can no
        # longer be disabled and stays in the KV store (cmd/lakefs/cmd/run.go).
        "security": {"check_latest_version": False, "audit_check_url": ""},
    }, indent=2, sort_keys=True)


class LakeFs(pulumi.ComponentResource):
    """LakeFS on the cluster: its server, storage bucket, database and identity."""
    endpoint: pulumi.Output[str]
    repository_namespace: pulumi.Output[str]
    bucket: HardenedBucket
    server_role: aws.iam.Role
    secret_arn: pulumi.Output[str]
    database_endpoint: pulumi.Output[str]
    service_ports: list[ServicePort]
    """What client pods reach: the server's port (API, S3 gateway, UI)."""

    def __init__(self, name: str, args: LakeFsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:data:LakeFs", name, None, args.cluster.bind(opts))
        cfg, cluster, provider = args.config, args.cluster, args.cluster.provider
        # the platform refuses the same in config (data_problems); alone, also its namespace and bucket name
        refuse(name, [*refs_problems(args), occupied_namespace_problem(cfg.namespace, cluster),
                      *guarded_client_problems(args.client_namespaces, [ServicePort(cfg.namespace, SERVER_PORT)],
                                               cluster),
                      guarded_bucket_problem(child(name, "blockstore"), args.network)])
        ns = namespace(child(name, "ns"), self, cfg.namespace, existing=cluster.namespaces, provider=provider)
        self.bucket = HardenedBucket(child(name, "blockstore"), HardenedBucketArgs(
            kms_key=args.kms_key, tags=args.tags, protect=args.protect, vpc_endpoint_guard=args.bucket_guard),
            pulumi.ResourceOptions(parent=self))
        placement = PrivatePlacement(vpc_id=args.network.vpc_id, subnet_ids=args.network.private_subnet_ids,
                                     client_security_group_id=cluster.cluster_security_group_id)
        db = postgres(child(name, "db"), self, PostgresArgs(
            config=cfg.database, placement=placement, kms_key=args.kms_key, tags=args.tags, db_name=DB_NAME,
            # IAM auth allowed (FSBP RDS.10); LakeFS's pgx driver logs in with the synced password.
            username=DB_USER, iam_database_authentication=True, protect=args.protect,
            alarms=database_alarms(args.monitoring, args.tags)))
        self.database_endpoint = db.instance.endpoint
        secret, encrypt_key = self._app_secret(name, args)
        synced = self._external_secret(name, args, ns, [db.master_secret_arn, secret.arn, encrypt_key.arn],
                                       connection_template(db.instance.address, db.instance.port),
                                       [(secret.arn, (ADMIN_KEY_ID, ADMIN_SECRET)), (encrypt_key.arn, (AUTH_KEY,))])
        server = WorkloadIdentity(child(name, "server"), WorkloadIdentityArgs(
            cluster=cluster.identity, namespace=ns, service_account=SERVER_SERVICE_ACCOUNT, tags=args.tags,
            statements=server_statements(self.bucket, cfg.repository_prefix)),
            pulumi.ResourceOptions(parent=self, provider=provider))
        self.server_role = server.role
        values = self.values(cfg, args.region, args.kms_key.arn)
        # Not after the ExternalSecret: its CRD comes with the External Secrets operator, the slowest chain of the
        # deploy. The release starts beside it; its pods stay in CreateContainerConfigError until the operator has
        # synced the Secret (the kubelet retries), well within the release's await timeout. `synced` is kept as an
        # attribute so consumers can still wait for it.
        self.synced_secret = synced
        chart = release(child(name, "release"), PinnedChart(LAKEFS_CHART, LAKEFS_REPO, cfg.chart_version),
                        parent=self, namespace=ns, values=values, depends_on=[server, db.instance])
        self._setup_job(name, cfg, ns, chart, provider)
        # LakeFS reads the connection string once: roll it when External Secrets rewrites the Secret.
        restart_on_rotation(self, name, namespace=ns, secrets=[SECRET_NAME], provider=provider, workloads=[FULLNAME],
                            api_ips=pulumi.Output.from_input(cluster.service_ipv4_cidr).apply(api_service_ips))
        self._network_policy(name, ns, args)
        if cfg.replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                child(name, "pdb"), metadata={"name": FULLNAME, "namespace": ns},
                spec={"max_unavailable": 1, "selector": {"match_labels": SELECTOR}},
                opts=child_options(self, provider=provider))
        if args.monitoring is not None:
            service_monitor(self, name, args.monitoring, object_name=FULLNAME, namespace=ns, match_labels=SELECTOR,
                            endpoints=[ScrapeEndpoint(port="http")], depends_on=[chart], provider=provider)
            prometheus_rule(self, name, args.monitoring, object_name=FULLNAME, namespace=ns,
                            groups=rule_groups(cfg.namespace), provider=provider)
        self.service_ports = [ServicePort(cfg.namespace, SERVER_PORT)]
        self.endpoint = pulumi.Output.format("http://{0}.{1}.svc.cluster.local", FULLNAME, ns)
        self.repository_namespace = pulumi.Output.format("s3://{0}/{1}", self.bucket.bucket_name,
                                                         cfg.repository_prefix)
        self.secret_arn = secret.arn
        self.register_outputs({"endpoint": self.endpoint, "repositoryNamespace": self.repository_namespace,
                               "secretArn": self.secret_arn, "databaseEndpoint": self.database_endpoint})

    def _app_secret(self, name: str, args: LakeFsArgs) -> tuple[aws.secretsmanager.Secret, aws.secretsmanager.Secret]:
        """The first admin's key pair (`<name>/lakefs`, the `lakefsAdminSecretArn` operators read) and, apart, the
        auth encryption key (`<name>/lakefs-encrypt-key`: it decrypts every credential lakeFS stores, so reading the
        admin's keys must not give it). Generated once (Pulumi secrets in state) and kept in Secrets Manager under
        the data key; External Secrets delivers them, Helm values never hold them."""
        opts = pulumi.ResourceOptions(parent=self)
        # Never regenerated: lakeFS encrypts the credentials it stores with this key, and a new one makes every one
        # of them undecryptable (docs/data-versioning.md, "Rotating LakeFS's secrets"). No input change replaces it,
        # and `protect` refuses a `--replace` or delete where the stack protects its state.
        auth = random.RandomPassword(child(name, "auth-encrypt-key"), length=64, special=False,
                                     opts=child_options(self, stateful=True, protect=args.protect,
                                                        ignore_changes=list(FROZEN_PASSWORD_INPUTS)))
        key_id = random.RandomPassword(child(name, "admin-key-id"), length=16, special=False, lower=False, opts=opts)
        key_secret = random.RandomPassword(child(name, "admin-secret-key"), length=40, special=False, opts=opts)
        out = []
        for suffix, secret_name, description, value in (
                ("secret", f"{name}/lakefs", "LakeFS initial admin credentials (External Secrets syncs them)",
                 pulumi.Output.json_dumps({ADMIN_KEY_ID: pulumi.Output.concat("AKIA", key_id.result),
                                           ADMIN_SECRET: key_secret.result})),
                ("encrypt-key", f"{name}/lakefs-encrypt-key", "LakeFS auth encryption key (External Secrets syncs it)",
                 pulumi.Output.json_dumps({AUTH_KEY: auth.result}))):
            secret = aws.secretsmanager.Secret(
                child(name, suffix), name=secret_name, kms_key_id=args.kms_key.arn, description=description,
                recovery_window_in_days=secret_recovery_window(args.config.secret_recovery_window_days, args.protect),
                tags=args.tags,
                opts=child_options(self, stateful=True, protect=args.protect))
            aws.secretsmanager.SecretVersion(child(name, f"{suffix}-value"), secret_id=secret.id,
                                             secret_string=pulumi.Output.secret(value), opts=child_options(self))  # type: ignore[arg-type]
            out.append(secret)
        return out[0], out[1]

    def _external_secret(self, name: str, args: LakeFsArgs, ns: pulumi.Output[str], secret_arns: list[Any],
                         connection: pulumi.Output[str], properties: list[tuple[pulumi.Output[str], tuple[str, ...]]],
                         ) -> k8s.apiextensions.CustomResource:
        """A namespaced SecretStore whose own IRSA role reads only LakeFS's three secrets (the database's, the
        admin's, the encryption key), and the ExternalSecret that renders `SECRET_NAME` from them (the DB password
        never enters config, state or values)."""
        provider = args.cluster.provider
        reader_sa = f"{SECRET_NAME}-reader"
        reader = WorkloadIdentity(child(name, "secret-reader"), WorkloadIdentityArgs(
            cluster=args.cluster.identity, namespace=ns, service_account=reader_sa, tags=args.tags,
            statements=[iam.statement("ReadLakeFsSecrets", ["secretsmanager:DescribeSecret",
                                                            "secretsmanager:GetSecretValue"], secret_arns),
                        args.kms_key.use_statement("DecryptLakeFsSecrets", decrypt_only=True)]),
            pulumi.ResourceOptions(parent=self, provider=provider))
        eso = [args.external_secrets] if args.external_secrets is not None else []
        store = k8s.apiextensions.CustomResource(
            child(name, "secret-store"), api_version=ESO_API_VERSION, kind="SecretStore",
            metadata={"name": f"{SECRET_NAME}-store", "namespace": ns},
            spec={"provider": {"aws": {"service": "SecretsManager", "region": args.region,
                                       "auth": {"jwt": {"serviceAccountRef": {"name": reader_sa}}}}}},
            opts=child_options(self, provider=provider, depends_on=[reader, *eso]))
        app = [{"secretKey": k, "remoteRef": {"key": arn, "property": k}} for arn, keys in properties for k in keys]
        return k8s.apiextensions.CustomResource(
            child(name, "external-secret"), api_version=ESO_API_VERSION, kind="ExternalSecret",
            metadata={"name": SECRET_NAME, "namespace": ns},
            spec={"refreshInterval": SECRET_REFRESH,
                  "secretStoreRef": {"kind": "SecretStore", "name": f"{SECRET_NAME}-store"},
                  "target": {"name": SECRET_NAME, "creationPolicy": "Owner", "template": {
                      "engineVersion": "v2",
                      "data": {DB_KEY: connection, **{k: f"{{{{ .{k} }}}}" for k in (AUTH_KEY, ADMIN_KEY_ID,
                                                                                        ADMIN_SECRET)}}}},
                  "data": app,
                  "dataFrom": [{"extract": {"key": secret_arns[0]}}]},
            opts=child_options(self, provider=provider, depends_on=[store, *eso]))

    @staticmethod
    def values(cfg: LakeFsConfig, region: str, kms_key_arn: pulumi.Input[str]) -> dict[str, Any]:
        """Helm values (keys checked against the chart's values.yaml and templates: tests/data/chart-values)."""
        return {
            "fullnameOverride": FULLNAME,
            "replicaCount": cfg.replicas,
            "image": {"community": {"tag": cfg.image_tag}},
            "serviceAccount": {"name": SERVER_SERVICE_ACCOUNT},
            "service": {"type": "ClusterIP", "port": SERVICE_PORT},
            "ingress": {"enabled": False},
            "existingSecret": SECRET_NAME,
            "secretKeys": {"authEncryptSecretKey": AUTH_KEY, "databaseConnectionString": DB_KEY},
            "lakefsConfig": pulumi.Output.from_input(kms_key_arn).apply(lambda arn: server_config(region, arn)),
            "committedLocalCacheVolume": {"emptyDir": {"sizeLimit": f"{cfg.cache_size_gib}Gi"}},
            # The image's root filesystem is read-only here: temporary files go to an emptyDir.
            "extraVolumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
            "extraVolumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            "podSecurityContext": pod_security.helm_pod_security_context(),
            "securityContext": pod_security.helm_container_security_context(),
            "resources": pod_security.helm_resources(cfg.cpu, cfg.memory),
        }

    def _setup_job(self, name: str, cfg: LakeFsConfig, ns: pulumi.Output[str], chart: pulumi.Resource,
                   provider: pulumi.ProviderResource | None) -> None:
        """`lakefs setup` with the admin key pair from the synced Secret; a second run (already set up) succeeds.
        The command's output holds the secret key, so it is printed only on failure and without that line."""
        # Typed: an untyped nested literal makes mypy match it against every TypedDict union of the Job's spec.
        env: list[k8s.core.v1.EnvVarArgsDict] = [
            {"name": "LAKEFS_AUTH_ENCRYPT_SECRET_KEY", "value_from": {"secret_key_ref": {"name": SECRET_NAME, "key": AUTH_KEY}}},
               {"name": "LAKEFS_DATABASE_POSTGRES_CONNECTION_STRING",
                "value_from": {"secret_key_ref": {"name": SECRET_NAME, "key": DB_KEY}}},
               {"name": "ADMIN_KEY_ID", "value_from": {"secret_key_ref": {"name": SECRET_NAME, "key": ADMIN_KEY_ID}}},
               {"name": "ADMIN_SECRET", "value_from": {"secret_key_ref": {"name": SECRET_NAME, "key": ADMIN_SECRET}}}]
        script = (f'out=$(lakefs setup --config /etc/lakefs/config.yaml --user-name {cfg.admin_user} '
                  '--access-key-id "$ADMIN_KEY_ID" --secret-access-key "$ADMIN_SECRET" 2>&1); rc=$?; '
                  'case "$out" in *"Setup is already complete"*) echo "lakeFS already set up"; exit 0;; esac; '
                  '[ "$rc" -eq 0 ] && { echo "lakeFS set up"; exit 0; }; '
                  'echo "$out" | grep -v -i -e secret -e access_key; exit "$rc"')
        k8s.batch.v1.Job(
            child(name, "setup"),
            metadata={"name": "lakefs-setup", "namespace": ns, "labels": {"app.kubernetes.io/part-of": "mlops-platform"}},
            spec={"backoff_limit": 6, "template": {"metadata": {"labels": {"app.kubernetes.io/name": "lakefs-setup"}}, "spec": {
                "restart_policy": "OnFailure", "automount_service_account_token": False,
                "security_context": pod_security.pod_security_context(),
                "containers": [{
                    "name": "setup", "image": f"treeverse/lakefs:{cfg.image_tag}", "command": ["/bin/sh", "-c", script],
                    "env": env, "security_context": pod_security.container_security_context(),
                    "resources": pod_security.resources("100m", "128Mi"),
                    "volume_mounts": [{"name": "config", "mount_path": "/etc/lakefs/config.yaml",
                                       "sub_path": "config.yaml", "read_only": True}]}],
                "volumes": [{"name": "config", "config_map": {"name": FULLNAME}}]}}},
            opts=child_options(self, depends_on=[chart], provider=provider))

    def _network_policy(self, name: str, ns: pulumi.Output[str], args: LakeFsArgs) -> None:
        """Who may open a connection to the server: its own namespace (the setup Job does not need it, clients in
        the namespace might), the client namespaces and Prometheus, on the one server port."""
        sources = sorted({args.config.namespace, *args.client_namespaces,
                          *([args.monitoring.prometheus_namespace] if args.monitoring else [])})
        labelled: list[k8s.networking.v1.NetworkPolicyPeerArgsDict] = (
            [{"namespace_selector": {"match_labels": dict(args.client_namespace_labels)}}]
            if args.client_namespace_labels else [])
        k8s.networking.v1.NetworkPolicy(
            child(name, "ingress-policy"), metadata={"name": f"{FULLNAME}-ingress", "namespace": ns},
            spec={"pod_selector": {"match_labels": SELECTOR}, "policy_types": ["Ingress"], "ingress": [{
                "from_": [{"namespace_selector": {"match_expressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sources}]}},
                          *labelled],
                "ports": [{"protocol": "TCP", "port": SERVER_PORT}]}]},
            opts=child_options(self, provider=args.cluster.provider))
