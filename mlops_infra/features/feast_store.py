"""FeastFeatureStore: Feast on S3 (parquet or Athena) with a DynamoDB or Redis online store, an S3 or SQL registry,
a served feature server and scheduled materialization (`featureStore.engine: feast`).

`grant_read(role)` / `grant_write(role)` give another workload (e.g. a training job) least-privilege access to
exactly this store's bucket prefixes, tables and key; `read_policy` is the read grant's policy (offline_store.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..blocks import iam
from ..blocks.bucket import ATHENA, LifecycleRule, VpcEndpointGuard
from ..blocks.endpoints import ServicePort
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.kms import KmsKey
from ..blocks.namespace import namespace
from ..blocks.naming import child, child_options, instance_secret_name
from ..blocks.network_access import PrivatePlacement
from ..blocks.observability import MonitoringRefs
from ..blocks.platform_facts import guarded_bucket_problem, guarded_client_problems, occupied_namespace_problem
from ..blocks.refs import ClusterRefs, NetworkRefs, known_len, refuse
from ..observability.monitoring_rules import CronJobTarget, ScrapeTarget
from . import feast_config
from .config import FeastFeatureStoreConfig, cron_max_gap_minutes
from .feature_server import PORT as SERVER_PORT
from .feature_server import FeastPod, FeatureServer, FeatureServerArgs
from .feature_store_bootstrap import RegistryBootstrap, RegistryBootstrapArgs, config_checksum
from .feature_store_consumers import REDIS_USER_ENV, REGISTRY_USER_ENV, RegistryLogin, consumer_logins, credentials_secret
from .feature_store_materialization import ACTIVE_DEADLINE_SECONDS, STARTING_DEADLINE_SECONDS, Materialization, MaterializationArgs
from .feature_store_online import (
    DynamoDbOnlineStore,
    DynamoDbOnlineStoreArgs,
    RedisOnlineStore,
    RedisOnlineStoreArgs,
)
from .feature_store_registry import SqlRegistry, SqlRegistryArgs
from .observability import FeatureStoreObservability, FeatureStoreObservabilityArgs
from .offline_store import OFFLINE_PREFIX, STAGING_PREFIX, OfflineFeatureStore

TYPE = "mlops:features:FeastFeatureStore"
REGISTRY_KEY = "registry/registry.db"
REGISTRY_READER = "feast_reader"
"""The SQL registry's read-only database user (created by the registry bootstrap Job) the feature server uses."""
ATHENA_ACTIONS = ["athena:GetQueryExecution", "athena:GetQueryResults", "athena:GetWorkGroup",
                  "athena:StartQueryExecution", "athena:StopQueryExecution"]
# Feast's Athena store reads tables and creates/drops temporary entity tables in its own database only.
GLUE_ACTIONS = ["glue:CreateTable", "glue:DeleteTable", "glue:GetDatabase", "glue:GetPartition", "glue:GetPartitions",
                "glue:GetTable", "glue:GetTables"]
S3_READ = ["s3:GetObject", "s3:GetObjectVersion"]
S3_WRITE = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
Access = Literal["read", "write"] | None


@dataclass(frozen=True)
class FeastFeatureStoreArgs:
    config: FeastFeatureStoreConfig
    tags: dict[str, str]
    network: NetworkRefs
    cluster: ClusterRefs
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the bucket, tables, Redis, database and key. Default: true."""
    kms_key: KmsKey | None = None
    """Customer key for every store. Default: the component creates its own."""
    bucket_guard: VpcEndpointGuard | None = None
    """Deny offline-store access from outside the VPC endpoint (exfiltration guard). Default: off."""
    monitoring: MonitoringRefs | None = None
    """A monitoring core to contribute rules, a dashboard and data-store alarms to (features/observability.py).
    Default: none (contribute nothing)."""
    client_namespaces: Sequence[pulumi.Input[str]] = ()
    """Namespaces whose pods may call the feature server (its ingress NetworkPolicy admits only these and, with
    `monitoring`, Prometheus). Default: none."""
    credentials_secret_name: str | None = None
    """The Secret each consumer namespace the cluster already has gets with its Feast logins (SQL registry, Redis
    with RBAC). Default: `<name>-feast-credentials` (`naming.instance_secret_name`: over 63 characters, cut plus a
    hash of the whole name), one per instance, so a store alone never writes a Secret the platform (or another
    store) writes in the same namespace; a caller whose clients already mount another name passes it
    (the platform: `feature_store_consumers.CREDENTIALS_SECRET`, `feast-credentials`)."""


class FeastFeatureStore(OfflineFeatureStore):
    """Feast on the cluster. Every attribute is set: a store this config does not use is None (`dynamodb` with
    Redis, `redis` with DynamoDB, `sql_registry` with the S3 registry, `athena_db`/`workgroup` with parquet)."""

    feature_store_yaml: pulumi.Output[str]
    """The consumers' `feature_store.yaml` (no secrets: passwords are `${ENV}` references)."""
    feature_server_url: pulumi.Output[str]
    registry_path: pulumi.Output[str]
    """The registry URL consumers load (`${FEAST_REGISTRY_USER}` in place of a SQL registry's user)."""
    registry_logins: dict[str, RegistryLogin]
    """Each consumer namespace's logins: SQL registry role, Redis user (feature_store_consumers.py)."""
    credentials_secret_name: str
    """The Secret holding those logins in each consumer namespace (`FeastFeatureStoreArgs.credentials_secret_name`,
    or `<name>-feast-credentials`)."""
    dynamodb: DynamoDbOnlineStore | None
    redis: RedisOnlineStore | None
    sql_registry: SqlRegistry | None
    athena_db: aws.glue.CatalogDatabase | None
    workgroup: aws.athena.Workgroup | None
    registry_bootstrap: RegistryBootstrap
    materialization_target: CronJobTarget
    server_target: ScrapeTarget

    def __init__(self, name: str, args: FeastFeatureStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, TYPE, args.cluster.bind(opts))
        cfg = args.config
        self._name, self._tags = name, args.tags
        self.credentials_secret_name = args.credentials_secret_name or instance_secret_name(name, "feast-credentials")
        # Alone, on a platform stack's cluster and VPC: its namespace and the bucket its pods use (the offline store).
        self.service_ports = [ServicePort(cfg.namespace, SERVER_PORT)]
        """What client pods reach: the feature server's port."""
        refuse(name, [occupied_namespace_problem(cfg.namespace, args.cluster),
                      guarded_bucket_problem(child(name, "offline"), args.network),
                      *guarded_client_problems(args.client_namespaces, self.service_ports, args.cluster)])
        # Feast's staging/ (Athena results, unloads) expires.
        self._offline(name, tags=args.tags, protect=args.protect, kms_key=args.kms_key,
                      guard=args.bucket_guard.with_exemptions(called_via=[ATHENA])
                      if args.bucket_guard is not None and cfg.offline.engine == "athena" else args.bucket_guard,
                      lifecycle=[LifecycleRule(id="expire-staging", prefix=f"{STAGING_PREFIX}/",
                                               expiration_days=cfg.offline.staging_expiration_days)])
        self.dynamodb = self.redis = None
        self._feast(name, cfg, args)
        if args.monitoring is not None:
            self._observability(name, args.monitoring, args)
        self._done()

    def _observability(self, name: str, monitoring: MonitoringRefs, args: FeastFeatureStoreArgs) -> None:
        """Its own alerts, dashboard and alarms, from what it built (features/observability.py)."""
        tables = self.dynamodb.table_names if self.dynamodb else None
        views = len(args.config.online.feature_views) if tables else 0
        FeatureStoreObservability(child(name, "observability"), FeatureStoreObservabilityArgs(
            monitoring=monitoring, tags=args.tags, cluster=args.cluster, materialization=self.materialization_target,
            # `feast serve --metrics`, scraped through the server's ServiceMonitor: job = the Service's name.
            server=self.server_target,
            table_names=[tables.apply(lambda names, i=i: names[i]) for i in range(views)] if tables else [],  # type: ignore[misc]
            # The Feast SQL registry is the same Postgres block as MLflow's database: the same alarms.
            registry_instance_id=self.sql_registry.identifier if self.sql_registry else None),
            pulumi.ResourceOptions(parent=self))

    # long: the Feast engine's children in dependency order (registry, bootstrap Job, server, materialization); the
    #   order is the contract the tests read
    def _feast(self, name: str, cfg: FeastFeatureStoreConfig, args: FeastFeatureStoreArgs) -> None:
        net, cluster = args.network, args.cluster
        placement = PrivatePlacement(net.vpc_id, net.private_subnet_ids, cluster.cluster_security_group_id)
        # A count known now (a plain list) is checked here; an Output (another stack's) is checked by AWS.
        subnet_count = known_len(net.private_subnet_ids)
        problems = cfg.network_problems(subnet_count) if subnet_count is not None else []
        if problems:
            raise ValueError("; ".join(f"featureStore.{path}: {msg}" for path, msg in problems))
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        child_opts = pulumi.ResourceOptions(parent=self)

        self.athena_db = self.workgroup = None
        if cfg.offline.engine == "athena":
            self.athena_db = aws.glue.CatalogDatabase(
                child(name, "glue"), name=child(name, "offline").replace("-", "_"),
                description=f"{name}: Feast offline store", tags=args.tags, opts=child_options(self))
            self.workgroup = aws.athena.Workgroup(
                child(name, "athena"), name=child(name, "athena"), tags=args.tags, opts=child_options(self),
                configuration={
                    "enforce_workgroup_configuration": True,
                    "publish_cloudwatch_metrics_enabled": True,
                    "result_configuration": {
                        "output_location": pulumi.Output.concat(
                            "s3://", self.bucket.bucket_name, f"/{STAGING_PREFIX}/athena-results/"),
                        "encryption_configuration": {"encryption_option": "SSE_KMS", "kms_key_arn": self.kms_key.arn},
                    },
                })

        secrets: dict[str, pulumi.Output[str]] = {}
        redis_rbac = cfg.online.type == "redis" and cfg.online.redis_auth == "rbac"
        # Consumers: their own logins each (feature_store_consumers.py), never the owner's.
        self.registry_logins = consumer_logins(
            name, self, [n for n in args.client_namespaces if isinstance(n, str)], writers=cfg.writer_namespaces,
            sql=cfg.registry == "sql", redis=redis_rbac) if cfg.registry == "sql" or redis_rbac else {}
        if cfg.online.type == "dynamodb":
            self.dynamodb = DynamoDbOnlineStore(child(name, "online"), DynamoDbOnlineStoreArgs(
                config=cfg.online, project=cfg.project, table_prefix=name, kms_key=self.kms_key, tags=args.tags,
                protect=args.protect), child_opts)
            self.outputs["onlineTableNames"] = self.dynamodb.table_names
        else:
            self.redis = RedisOnlineStore(child(name, "online"), RedisOnlineStoreArgs(
                config=cfg.online, placement=placement, kms_key=self.kms_key, tags=args.tags,
                protect=args.protect, project=cfg.project, consumers=self.registry_logins), child_opts)
            secrets[feast_config.REDIS_PASSWORD_ENV] = self.redis.auth_token
            self.outputs["onlineEndpoint"] = self.redis.endpoint

        self.sql_registry = None
        server_secrets = dict(secrets)
        if cfg.registry == "sql":
            self.sql_registry = SqlRegistry(child(name, "registry"), SqlRegistryArgs(
                config=cfg.registry_database, placement=placement, kms_key=self.kms_key, tags=args.tags,
                protect=args.protect), child_opts)
            db = self.sql_registry
            # The feature server reads as a read-only database user that the bootstrap Job creates; only the
            # writers (bootstrap, materialization) get the owner's password.
            reader_password: pulumi.Output[str] = pulumi.Output.secret(random.RandomPassword(
                child(name, "registry-reader-password"), length=40, special=False, opts=child_options(self)).result)

            def url(user: str, password_env: str) -> pulumi.Output[str]:
                return pulumi.Output.all(db.address, db.port).apply(lambda a: feast_config.registry_sql_url(
                    str(a[0]), int(a[1]), db.db_name, user, password_env))

            registry_path = url(db.username, feast_config.REGISTRY_PASSWORD_ENV)
            server_registry_path = url(REGISTRY_READER, feast_config.REGISTRY_READER_PASSWORD_ENV)
            secrets[feast_config.REGISTRY_PASSWORD_ENV] = db.password
            secrets[feast_config.REGISTRY_READER_PASSWORD_ENV] = reader_password
            server_secrets[feast_config.REGISTRY_READER_PASSWORD_ENV] = reader_password
            secrets.update({login.password_env: login.password for login in self.registry_logins.values()
                            if login.password is not None})
            exported_path = url(f"${{{REGISTRY_USER_ENV}}}", feast_config.REGISTRY_PASSWORD_ENV)
        else:
            registry_path = pulumi.Output.concat("s3://", self.bucket.bucket_name, f"/{REGISTRY_KEY}")
            server_registry_path = exported_path = registry_path
        for ns, login in self.registry_logins.items():
            if ns in args.cluster.namespaces:  # created already (teams); the others' consumers deliver theirs
                credentials_secret(child(name, f"registry-credentials-{ns}"), child_options(self),
                                   namespace=args.cluster.namespaces[ns], login=login,
                                   secret_name=self.credentials_secret_name)
        self.registry_path = exported_path
        self.outputs["registryPath"] = exported_path

        owner = self.redis.owner_user if self.redis else None

        def feature_store_yaml(path: pulumi.Output[str], schema_mode: feast_config.SchemaMode | None,
                               redis_user: str | None = owner) -> pulumi.Output[str]:
            def render(values: list[Any]) -> str:
                reg, endpoint, glue_db, workgroup, bucket, region_name = values
                return feast_config.render(feast_config.FeastStores(
                    project=cfg.project, region=str(region_name), registry_path=str(reg),
                    registry_schema_mode=schema_mode, online=cfg.online.type, dynamodb_table_prefix=name,
                    redis_endpoint=str(endpoint or ""), redis_user=redis_user, offline=cfg.offline.engine,
                    athena_database=str(glue_db or ""), athena_workgroup=str(workgroup or ""), athena_staging=f"s3://{bucket}/{STAGING_PREFIX}/feast"))

            return pulumi.Output.all(
                path, self.redis.endpoint if self.redis else "", self.athena_db.name if self.athena_db else "",
                self.workgroup.name if self.workgroup else "", self.bucket.bucket_name, region).apply(render)

        writer_yaml = feature_store_yaml(registry_path, None)  # the owner's login: bootstrap and materializer only
        consumer_redis = f"${{{REDIS_USER_ENV}}}" if owner else None  # each consumer's user, from its Secret
        self.feature_store_yaml = feature_store_yaml(exported_path, "verify" if self.sql_registry else None,
                                                     consumer_redis) if self.sql_registry or owner else writer_yaml
        self.outputs["featureStoreYaml"] = self.feature_store_yaml
        # SQL registry: the server's own file (read-only user, `schema_mode: verify`: no DDL). S3: the same file.
        server_yaml = feature_store_yaml(server_registry_path, "verify") if self.sql_registry else self.feature_store_yaml

        namespace = self._namespace(name, cfg.namespace, args)
        labels = {"app.kubernetes.io/part-of": "feast", "app.kubernetes.io/managed-by": "pulumi"}
        config_map_name, secret_name = self._pod_files(
            name, "config", "secrets", namespace, labels, writer_yaml, secrets)
        server_config, server_secret = (config_map_name, secret_name) if self.sql_registry is None else self._pod_files(
            name, "server-config", "server-secrets", namespace, labels, server_yaml, server_secrets)

        server_identity = self._identity(child(name, "server"), args, namespace, self._statements(
            offline=None, registry="read", online="read", kms_write=False))
        materializer_identity = self._identity(child(name, "materializer"), args, namespace, self._statements(
            offline="read", registry="write", online="write", kms_write=True))
        # A pod template annotation: a new file *or a new password* (the env the file expands) replaces the bootstrap
        # Job, which then re-runs (and re-passwords the reader), and rolls the server's pods.
        checksum = config_checksum(writer_yaml, secrets)
        writer_pod = FeastPod(namespace=namespace, service_account=materializer_identity.service_account_name,
                              config_map=config_map_name, secret=secret_name)
        # Registry readers start only once the registry exists (see feature_store_bootstrap.py). The Job runs the
        # server's image: an image only the materializer needs (s3fs) must not block the server's first start.
        self.registry_bootstrap = RegistryBootstrap(child(name, "registry-init"), RegistryBootstrapArgs(
            image=cfg.server.image, pod=writer_pod, labels=labels, checksum=checksum,
            reader=REGISTRY_READER if self.sql_registry else None, depends_on=[materializer_identity],
            consumers={lg.user: lg.password_env for lg in self.registry_logins.values() if lg.user},
            writers=[lg.user for lg in self.registry_logins.values() if lg.user and lg.write]), child_opts)
        server = FeatureServer(child(name, "server"), FeatureServerArgs(
            config=cfg.server, labels=labels,
            checksum=config_checksum(server_yaml, server_secrets),
            depends_on=[self.registry_bootstrap.job, server_identity], client_namespaces=args.client_namespaces,
            prometheus_namespace=args.monitoring.prometheus_namespace if args.monitoring else None,
            monitoring=args.monitoring,
            pod=FeastPod(namespace=namespace, service_account=server_identity.service_account_name,
                         config_map=server_config, secret=server_secret)), child_opts)
        # The CronJob's name; a healthy run may start up to the starting deadline late and take the Job deadline.
        self.materialization_target = CronJobTarget(cfg.namespace, child(name, "materialize"), cron_max_gap_minutes(
            cfg.materialization_schedule) + (STARTING_DEADLINE_SECONDS + ACTIVE_DEADLINE_SECONDS) // 60)
        Materialization(child(name, "materialize"), MaterializationArgs(
            schedule=cfg.materialization_schedule, image=cfg.effective_materialization_image,
            cpu=cfg.materialization_cpu, memory=cfg.materialization_memory, labels=labels, pod=writer_pod,
            depends_on=[self.registry_bootstrap.job, materializer_identity]), child_opts)
        self.feature_server_url = server.url
        self.server_target = ScrapeTarget(cfg.namespace, child(name, "server"))  # the server's Service name
        self.outputs["featureServerUrl"] = server.url

    def _pod_files(self, name: str, config: str, secret: str, namespace: pulumi.Input[str], labels: dict[str, str],
                   text: pulumi.Output[str], env: dict[str, pulumi.Output[str]],
                   ) -> tuple[pulumi.Output[str], pulumi.Output[str] | None]:
        """`<name>-<config>` ConfigMap with feature_store.yaml and, when there are any, `<name>-<secret>` env vars."""
        def meta(k8s_name: str) -> k8s.meta.v1.ObjectMetaArgsDict:
            return {"name": k8s_name, "namespace": namespace, "labels": labels}

        config_map = k8s.core.v1.ConfigMap(child(name, config), metadata=meta(child(name, config)),
                                           data={"feature_store.yaml": text}, opts=child_options(self))
        secret_name: pulumi.Output[str] | None = None
        if env:
            created = k8s.core.v1.Secret(child(name, secret), metadata=meta(child(name, secret)), type="Opaque",
                                         string_data=env, opts=child_options(self))
            secret_name = created.metadata.apply(lambda m: str(m["name"] if isinstance(m, dict) else m.name))
        return config_map.metadata.apply(lambda m: str(m["name"] if isinstance(m, dict) else m.name)), secret_name

    def _namespace(self, name: str, k8s_name: str, args: FeastFeatureStoreArgs) -> pulumi.Input[str]:
        """The cluster's namespace when it created one (created once, passed in); otherwise one created here."""
        ns = args.cluster.namespaces.get(k8s_name)
        if ns is not None:
            return ns
        return namespace(child(name, "ns"), self, k8s_name, level="restricted")

    def _identity(self, name: str, args: FeastFeatureStoreArgs, namespace: pulumi.Input[str],
                  statements: list[iam.Statement]) -> WorkloadIdentity:
        """`name` is the ServiceAccount's name; the identity component is `<name>-identity`."""
        return WorkloadIdentity(child(name, "identity"), WorkloadIdentityArgs(
            cluster=args.cluster.identity, namespace=namespace, service_account=name, tags=args.tags,
            statements=statements), pulumi.ResourceOptions(parent=self))

    def _statements(self, *, offline: Access, registry: Access, online: Access, kms_write: bool) -> list[iam.Statement]:
        """Exactly the prefixes, tables, workgroup and key this access needs. Sids are unique per document."""
        bucket = self.bucket
        out: list[iam.Statement] = []
        prefixes: list[str] = []
        if offline:
            prefixes.append(f"{OFFLINE_PREFIX}/*")
            out.append(iam.statement(f"Offline{offline.title()}", S3_READ if offline == "read" else S3_WRITE,
                                     [bucket.objects_arn(OFFLINE_PREFIX)]))
            if self.workgroup is not None and self.athena_db is not None:
                # Athena runs with the caller's credentials: query results and Feast's unloads go to staging/.
                prefixes.append(f"{STAGING_PREFIX}/*")
                kms_write = True
                db_arn = self.athena_db.arn
                out += [
                    iam.statement("StagingWrite", S3_WRITE, [bucket.objects_arn(STAGING_PREFIX)]),
                    iam.statement("BucketLocation", ["s3:GetBucketLocation"], [bucket.arn]),
                    iam.statement("AthenaWorkgroup", ATHENA_ACTIONS, [self.workgroup.arn]),
                    iam.statement("GlueDatabase", GLUE_ACTIONS, [
                        db_arn.apply(lambda a: a.split(":database/")[0] + ":catalog"), db_arn,
                        db_arn.apply(lambda a: a.replace(":database/", ":table/") + "/*")]),
                ]
        if registry and self.sql_registry is None:
            out.append(iam.statement(f"Registry{registry.title()}", S3_READ if registry == "read" else S3_WRITE,
                                     [bucket.objects_arn("registry")]))
            # Feast 0.66.0 `S3RegistryStore.get_registry_proto` (feast/infra/registry/s3.py) calls `head_bucket`
            # before every registry read. HeadBucket is authorised as s3:ListBucket and sends no s3:prefix, so a
            # prefix-conditioned grant denies it (403 -> S3RegistryBucketForbiddenAccess -> /health 503). Listing
            # reveals key names only; object reads stay scoped to the prefixes above.
            out.insert(0, iam.statement("RegistryBucket", ["s3:ListBucket"], [bucket.arn]))
        elif prefixes:
            out.insert(0, iam.statement("ListPrefixes", ["s3:ListBucket"], [bucket.arn],
                                        conditions={"StringLike": {"s3:prefix": prefixes}}))
        if online and self.dynamodb is not None:
            out += self.dynamodb.statements(write=online == "write")
        if out:
            out.append(self.kms_key.use_statement("DataKey", decrypt_only=not kms_write))
        return out

    def read_statements(self) -> list[iam.Statement]:
        """Read features: offline data (and Athena queries), registry, online tables, and the key."""
        return self._statements(offline="read", registry="read", online="read", kms_write=False)

    def write_statements(self) -> list[iam.Statement]:
        """Read and write features and the registry (e.g. `feast apply` or a pipeline that ingests)."""
        return self._statements(offline="write", registry="write", online="write", kms_write=True)
