"""MlflowServer: the MLflow tracking server on EKS, serving artifacts to S3 and storing runs in RDS Postgres.

How the pods get the database password without it ever being in config, state, a Helm value or a ConfigMap:
a native sidecar (`db-credentials`, an init container with `restartPolicy: Always`) reads the RDS-managed
master secret from Secrets Manager with the pod's own IAM role and writes a libpq password file into a
memory-backed volume; the server's backend URI carries no password, and libpq reads `PGPASSFILE` on every
new connection. The sidecar rewrites the file every REFRESH_SECONDS: RDS rotates a managed master password in
place (single-user rotation: the old password stops working at once), so new connections fail for at most that
long after a rotation (every 7 days by default); established connections are unaffected. (Why not IAM DB auth:
the MLflow server cannot mint 15-minute tokens per connection; why not External Secrets: that is the security
baseline's job and not always deployed.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..blocks import pod_security
from ..blocks.bucket import HardenedBucket
from ..blocks.identity import ClusterIdentity, WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.naming import child, child_options, renamed_type, truncate_name
from .config import (
    FLASK_SECRET_KEY_ENV,
    INGRESS_CLASS,
    METRICS_EXPORTER_SCRIPT,
    METRICS_PORT,
    MLFLOW_HTTP_PORT,
    OAUTH2_PORT,
    PROMETHEUS_DIR,
    SERVER_ENV,
    MlflowModelRegistryConfig,
)
from .mlflow_database import MlflowDatabase
from .mlflow_migrate import migration_job
from .mlflow_users import team_users

HTTP_PORT = MLFLOW_HTTP_PORT
PGPASS_DIR = "/var/run/pgpass"
PGPASSFILE = f"{PGPASS_DIR}/.pgpass"
AUTH_DIR = "/etc/mlflow-auth"
REFRESH_SECONDS = 60
"""The longest window after an RDS-managed rotation in which new database connections fail."""
# The metrics sidecar imports prometheus_client only: measured at ~23 MiB RSS (mlflow_memory.json).
METRICS_RESOURCES = ("50m", "64Mi")
# Runs in the MLflow image (Python + boto3). Keeps the last good file if a refresh fails.
CREDENTIALS_SCRIPT = f"""
import json, os, time, boto3
arn, path = os.environ["DB_SECRET_ARN"], os.environ["PGPASSFILE"]
client = boto3.client("secretsmanager", region_name=arn.split(":")[3])
esc = lambda v: v.replace("\\\\", "\\\\\\\\").replace(":", "\\\\:")
while True:
    try:
        s = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("*:*:*:" + esc(s["username"]) + ":" + esc(s["password"]) + "\\n")
        os.replace(path + ".tmp", path)
        time.sleep({REFRESH_SECONDS})
    except Exception as exc:
        print("db-credentials: refresh failed:", type(exc).__name__, flush=True)
        time.sleep(15)
""".strip()


@dataclass(frozen=True)
class MlflowServerArgs:
    config: MlflowModelRegistryConfig
    namespace: pulumi.Input[str]
    identity: ClusterIdentity
    artifacts: HardenedBucket
    database: MlflowDatabase
    tags: dict[str, str]
    artifact_prefix: str = "artifacts"
    """Bucket prefix the server writes artifacts under. Default: artifacts."""
    service_monitor: bool = True
    """Create a ServiceMonitor (the monitoring stack's CRD must exist). Default: true."""
    crd_dependencies: Sequence[pulumi.Resource] = ()
    """Resources that install the ServiceMonitor CRD (the monitoring Helm release). Default: none."""
    ingress_dependencies: Sequence[pulumi.Resource] = ()
    """What the Ingress waits for: the load balancer controller's release (`ClusterRefs.ingress_dependencies`).
    Default: none."""
    service_monitor_labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels the Prometheus serviceMonitorSelector needs. Default: none."""
    oidc_client_secret: pulumi.Input[str] | None = None
    """The OIDC client secret (a Pulumi secret); required with ingress auth oidc. Default: none."""
    network_policy: bool = True
    """An ingress NetworkPolicy admitting only `client_namespaces`, the ALB and Prometheus. Default: true."""
    client_namespaces: Sequence[pulumi.Input[str]] = ()
    client_namespace_labels: Mapping[str, str] | None = None
    """Also admit the namespaces carrying these labels (a team workspace's). Default: none."""
    """Namespaces whose pods may call the tracking API (besides the server's own). Default: none."""
    team_users: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """With MLflow basic auth: one MLflow user per entry (username → its namespace), its credentials in the
    Secret `credentials_secret_name` there (registry/mlflow_users.py). Default: none."""
    credentials_secret_name: str = field(kw_only=True)
    """The Secret each of `team_users`' namespaces gets (`MlflowRegistry.credentials_secret_name`). Required."""
    client_users: Sequence[str] = ()
    """With MLflow basic auth: one MLflow user per entry whose namespace the consumer creates later, and with it
    the Secret (`mlflow_users.credentials_secret`, password from `user_passwords`). Default: none."""
    prometheus_namespace: pulumi.Input[str] | None = None
    """Namespace of the Prometheus that scrapes the metrics port. Default: none (no scrape admitted)."""
    ingress_source_cidrs: Sequence[pulumi.Input[str]] = ()
    """Where the ALB's traffic comes from (target type ip: its ENIs in the VPC), admitted to the Ingress backend
    port. Default: none."""


class MlflowServer(pulumi.ComponentResource):
    tracking_uri: pulumi.Output[str]
    internal_tracking_uri: pulumi.Output[str]

    # long: MLflow's Deployment (server flags measured against the real server), Service, policies and migration Job
    #   in one reviewed spec
    def __init__(self, name: str, args: MlflowServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:registry:MlflowServer", name, None,
                         renamed_type(opts, "mlops:mlflow_server:MlflowServer"))
        cfg, ingress, db = args.config, args.config.ingress, args.database
        if cfg.oidc and args.oidc_client_secret is None:
            raise ValueError(f"{name}: ingress auth oidc needs oidc_client_secret")
        self._ingress_dependencies = list(args.ingress_dependencies)
        k8s_name = truncate_name(name, 63)  # Service and label values: DNS-1123, 63 characters, alphanumeric ends
        self.service_name = k8s_name
        """The Service's name: the `job` label Prometheus gives the scraped metrics (registry/observability.py)."""
        self.selector = {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": k8s_name}
        self.labels = {**self.selector, "app.kubernetes.io/component": "tracking-server",
                       "app.kubernetes.io/part-of": "mlops-platform"}
        def meta(suffix: str = "") -> k8s.meta.v1.ObjectMetaArgsDict:
            return {"name": f"{k8s_name}{suffix}", "namespace": args.namespace, "labels": self.labels}

        self.identity = WorkloadIdentity(child(name, "identity"), WorkloadIdentityArgs(
            cluster=args.identity, namespace=args.namespace, service_account=k8s_name, tags=args.tags,
            statements=[*args.artifacts.write_statements(args.artifact_prefix), *db.secret_read_statements(),
                        db.kms_key.use_statement("DecryptDatabaseSecret", decrypt_only=True)]),
            pulumi.ResourceOptions(parent=self))

        svc_dns = pulumi.Output.format("{0}.{1}.svc.cluster.local", k8s_name, args.namespace)
        # `postgresql+psycopg2`: the image ships psycopg2 only, and SQLAlchemy >= 2.1 maps a bare `postgresql://`
        # to psycopg 3 (the server then exits with "No module named 'psycopg'").
        backend_uri = pulumi.Output.format("postgresql+psycopg2://{0}@{1}:{2}/{3}?sslmode=require",
                                           db.username, db.address, db.port.apply(lambda p: int(p)), db.db_name)
        artifacts_dest = pulumi.Output.format("s3://{0}/{1}", args.artifacts.bucket_name, args.artifact_prefix)
        allowed_hosts = pulumi.Output.from_input(args.namespace).apply(
            lambda ns: ",".join(cfg.allowed_hosts(k8s_name, ns)))

        secret_env: list[k8s.core.v1.EnvVarArgsDict] = []
        server_env: list[k8s.core.v1.EnvVarArgsDict] = [{"name": k, "value": v} for k, v in SERVER_ENV.items()]
        volumes: list[k8s.core.v1.VolumeArgsDict] = [
            {"name": "tmp", "empty_dir": {"size_limit": "1Gi"}},
            {"name": "pgpass", "empty_dir": {"medium": "Memory", "size_limit": "1Mi"}},
            {"name": "prometheus", "empty_dir": {"size_limit": "256Mi"}},
        ]
        mounts: list[k8s.core.v1.VolumeMountArgsDict] = [
            {"name": "tmp", "mount_path": "/tmp"}, {"name": "pgpass", "mount_path": PGPASS_DIR, "read_only": True},
            {"name": "prometheus", "mount_path": PROMETHEUS_DIR}]
        server_args = cfg.server_argv(backend_uri, artifacts_dest)
        extra_containers: list[k8s.core.v1.ContainerArgsDict] = [self._metrics_exporter(cfg)]
        if cfg.basic_auth:
            self._basic_auth_secret(name, meta("-auth"), backend_uri)
            secret_env += [{"name": "MLFLOW_AUTH_CONFIG_PATH", "value": f"{AUTH_DIR}/basic_auth.ini"},
                           {"name": FLASK_SECRET_KEY_ENV, "value_from": {"secret_key_ref": {
                               "name": f"{k8s_name}-auth", "key": "flask-secret-key"}}}]
            volumes.append({"name": "auth", "secret": {"secret_name": f"{k8s_name}-auth", "default_mode": 0o440,
                                                       "items": [{"key": "basic_auth.ini", "path": "basic_auth.ini"}]}})
            mounts.append({"name": "auth", "mount_path": AUTH_DIR, "read_only": True})
        if cfg.oidc:
            self._oidc_secret(name, meta("-oauth2"), args.oidc_client_secret)
            extra_containers.append(self._oauth2_proxy(cfg, f"{k8s_name}-oauth2"))

        db_env: list[k8s.core.v1.EnvVarArgsDict] = [{"name": "PGPASSFILE", "value": PGPASSFILE},
                                                     {"name": "HOME", "value": "/tmp"}]
        container_sc = pod_security.container_security_context()
        # Loopback-only: the kubelet reaches /health through oauth2-proxy (which skips auth for that route).
        health: k8s.core.v1.HTTPGetActionArgsDict = {"path": "/health",
                                                     "port": "oauth2" if cfg.loopback_only else "http"}
        server: k8s.core.v1.ContainerArgsDict = {
            "name": "mlflow", "image": cfg.server.image, "command": ["mlflow"], "args": server_args,
            "ports": [{"name": "http", "container_port": HTTP_PORT}],
            "env": [*db_env, {"name": "MLFLOW_SERVER_ALLOWED_HOSTS", "value": allowed_hosts},
                    *server_env, *secret_env],
            "startup_probe": {"http_get": health, "period_seconds": 5, "failure_threshold": 60},
            "readiness_probe": {"http_get": health, "period_seconds": 10, "timeout_seconds": 5},
            "liveness_probe": {"http_get": health, "period_seconds": 20, "timeout_seconds": 5, "failure_threshold": 3},
            "resources": pod_security.resources(cfg.server.cpu, cfg.server.effective_memory),
            "security_context": container_sc, "volume_mounts": mounts,
        }
        credentials = self._credentials_sidecar(cfg, db)
        # The servers start on a migrated schema: no race of replicas and workers creating tables (mlflow_migrate.py).
        self.migration = migration_job(
            name, self, namespace=args.namespace, k8s_name=k8s_name, image=cfg.server.image,
            service_account=self.identity.service_account_name, backend_uri=backend_uri, auth=cfg.basic_auth,
            credentials=credentials, volumes=[v for v in volumes if v["name"] in ("tmp", "pgpass")],
            mounts=[m for m in mounts if m["name"] in ("tmp", "pgpass")], db_env=db_env)
        self.deployment = k8s.apps.v1.Deployment(
            child(name, "deployment"), metadata=meta(), opts=child_options(self, depends_on=[self.migration]),
            spec=self._deployment_spec(cfg, credentials, [server, *extra_containers], volumes))
        self.service = k8s.core.v1.Service(child(name, "service"), metadata=meta(), opts=child_options(self), spec={
            "type": "ClusterIP", "selector": self.selector, "ports": self._service_ports(cfg)})
        # Always present: with one replica maxUnavailable 1 never blocks a drain; with more it keeps one serving.
        k8s.policy.v1.PodDisruptionBudget(child(name, "pdb"), metadata=meta(), opts=child_options(self),
                                          spec={"max_unavailable": 1, "selector": {"match_labels": self.selector}})
        if ingress.enabled:
            self._ingress(name, meta(), k8s_name, cfg, "oauth2" if cfg.oidc else "http")
        if args.service_monitor:
            self._service_monitor(name, meta(), args)
        if args.network_policy:
            self._network_policy(name, meta(), args)

        self.internal_tracking_uri = pulumi.Output.format("http://{0}:{1}", svc_dns, cfg.api_port)
        self.users_job, self.user_passwords = team_users(
            name, self, namespace=args.namespace, k8s_name=k8s_name, image=cfg.server.image,
            tracking_uri=self.internal_tracking_uri, admin_secret=f"{k8s_name}-auth", teams=args.team_users,
            clients=args.client_users, server=[self.deployment, self.service],
            secret_name=args.credentials_secret_name) if cfg.basic_auth else (None, {})
        """Each MLflow user's password (a Pulumi secret), by username; empty without basic auth."""
        self.tracking_uri = (pulumi.Output.from_input(f"https://{ingress.host}") if ingress.enabled
                             else self.internal_tracking_uri)
        self.register_outputs({"trackingUri": self.tracking_uri, "internalTrackingUri": self.internal_tracking_uri})

    def _deployment_spec(self, cfg: MlflowModelRegistryConfig, credentials: k8s.core.v1.ContainerArgsDict,
                         containers: list[k8s.core.v1.ContainerArgsDict],
                         volumes: list[k8s.core.v1.VolumeArgsDict]) -> k8s.apps.v1.DeploymentSpecArgsDict:
        spread: k8s.core.v1.TopologySpreadConstraintArgsDict = {
            "max_skew": 1, "topology_key": "topology.kubernetes.io/zone",
            "when_unsatisfiable": "ScheduleAnyway", "label_selector": {"match_labels": self.selector}}
        pod: k8s.core.v1.PodSpecArgsDict = {
            "service_account_name": self.identity.service_account_name,
            "automount_service_account_token": False,
            "security_context": pod_security.pod_security_context(),
            "init_containers": [credentials],
            "containers": containers,
            "volumes": volumes,
            "topology_spread_constraints": [spread],
        }
        template: k8s.core.v1.PodTemplateSpecArgsDict = {"metadata": {"labels": self.labels}, "spec": pod}
        return {
            "replicas": cfg.server.replicas,
            "selector": {"match_labels": self.selector},
            "strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": 1}},
            "template": template,
        }

    @staticmethod
    def _credentials_sidecar(cfg: MlflowModelRegistryConfig, db: MlflowDatabase) -> k8s.core.v1.ContainerArgsDict:
        """Writes the libpq password file from the RDS-managed secret (see the module docstring)."""
        return {
            "name": "db-credentials", "image": cfg.server.image, "restart_policy": "Always",
            "command": ["python", "-c", CREDENTIALS_SCRIPT],
            "env": [{"name": "DB_SECRET_ARN", "value": db.master_secret_arn}, {"name": "PGPASSFILE", "value": PGPASSFILE},
                    {"name": "HOME", "value": "/tmp"}],
            "startup_probe": {"exec_": {"command": ["test", "-s", PGPASSFILE]}, "period_seconds": 2,
                              "failure_threshold": 60},
            "resources": pod_security.resources("50m", "128Mi"),
            "security_context": pod_security.container_security_context(),
            "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}, {"name": "pgpass", "mount_path": PGPASS_DIR}],
        }

    @staticmethod
    def _service_ports(cfg: MlflowModelRegistryConfig) -> list[k8s.core.v1.ServicePortArgsDict]:
        """The API (not when loopback-only), oauth2-proxy (oidc) and the metrics sidecar."""
        ports: list[k8s.core.v1.ServicePortArgsDict] = []
        if not cfg.loopback_only:
            ports.append({"name": "http", "port": HTTP_PORT, "target_port": "http", "protocol": "TCP"})
        if cfg.oidc:
            ports.append({"name": "oauth2", "port": OAUTH2_PORT, "target_port": "oauth2", "protocol": "TCP"})
        ports.append({"name": "metrics", "port": METRICS_PORT, "target_port": "metrics", "protocol": "TCP"})
        return ports

    @staticmethod
    def _metrics_exporter(cfg: MlflowModelRegistryConfig) -> k8s.core.v1.ContainerArgsDict:
        """Serves the server's multiprocess Prometheus samples on METRICS_PORT, outside MLflow's auth."""
        tcp: k8s.core.v1.TCPSocketActionArgsDict = {"port": "metrics"}
        return {
            "name": "metrics", "image": cfg.server.image, "command": ["python", "-c", METRICS_EXPORTER_SCRIPT],
            "env": [{"name": "PROMETHEUS_MULTIPROC_DIR", "value": PROMETHEUS_DIR},
                    {"name": "METRICS_PORT", "value": str(METRICS_PORT)}, {"name": "HOME", "value": "/tmp"}],
            "ports": [{"name": "metrics", "container_port": METRICS_PORT}],
            "readiness_probe": {"tcp_socket": tcp, "period_seconds": 10},
            "liveness_probe": {"tcp_socket": tcp, "period_seconds": 20},
            "resources": pod_security.resources(*METRICS_RESOURCES),
            "security_context": pod_security.container_security_context(),
            "volume_mounts": [{"name": "prometheus", "mount_path": PROMETHEUS_DIR, "read_only": True}],
        }

    def _basic_auth_secret(self, name: str, metadata: k8s.meta.v1.ObjectMetaArgsDict,
                           backend_uri: pulumi.Output[str]) -> None:
        """MLflow basic auth: the first admin's password (key `admin-password`, for operators to create users) and
        the Flask secret key every worker and replica shares live only in a Kubernetes Secret."""
        admin = random.RandomPassword(child(name, "admin-password"), length=32, special=False, opts=child_options(self))
        flask_key = random.RandomPassword(child(name, "flask-secret-key"), length=48, special=False, opts=child_options(self))
        ini = pulumi.Output.format(
            "[mlflow]\ndefault_permission = READ\ndatabase_uri = {0}\nadmin_username = admin\nadmin_password = {1}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n", backend_uri, admin.result)
        data: dict[str, pulumi.Output[str]] = {"basic_auth.ini": ini, "admin-password": admin.result,
                                               "flask-secret-key": flask_key.result}
        secrets: dict[str, pulumi.Input[str]] = {k: pulumi.Output.secret(v) for k, v in data.items()}
        k8s.core.v1.Secret(child(name, "auth"), metadata=metadata, type="Opaque", opts=child_options(self), string_data=secrets)

    def _oidc_secret(self, name: str, metadata: k8s.meta.v1.ObjectMetaArgsDict,
                     client_secret: pulumi.Input[str] | None) -> None:
        cookie = random.RandomPassword(child(name, "cookie-secret"), length=32, special=False, opts=child_options(self))
        k8s.core.v1.Secret(child(name, "oauth2"), metadata=metadata, type="Opaque", opts=child_options(self), string_data={
            "client-secret": pulumi.Output.secret(client_secret or ""), "cookie-secret": cookie.result})

    @staticmethod
    def _oauth2_proxy(cfg: MlflowModelRegistryConfig, secret_name: str) -> k8s.core.v1.ContainerArgsDict:
        """oauth2-proxy in front of the server on the Ingress path; API clients may send an IdP bearer token."""
        ing = cfg.ingress
        def env_from_secret(var: str, key: str) -> k8s.core.v1.EnvVarArgsDict:
            return {"name": var, "value_from": {"secret_key_ref": {"name": secret_name, "key": key}}}
        return {
            "name": "oauth2-proxy", "image": cfg.server.oauth2_proxy_image,
            "args": [f"--http-address=0.0.0.0:{OAUTH2_PORT}", f"--upstream=http://127.0.0.1:{HTTP_PORT}/",
                     "--provider=oidc", f"--oidc-issuer-url={ing.oidc_issuer_url}", f"--client-id={ing.oidc_client_id}",
                     f"--redirect-url=https://{ing.host}/oauth2/callback", "--email-domain=*", "--reverse-proxy=true",
                     "--skip-jwt-bearer-tokens=true", "--cookie-secure=true", "--skip-provider-button=true",
                     # The kubelet's probes of a loopback-only server pass through the proxy unauthenticated.
                     *(["--skip-auth-route=GET=^/health$"] if cfg.loopback_only else [])],
            "env": [env_from_secret("OAUTH2_PROXY_CLIENT_SECRET", "client-secret"),
                    env_from_secret("OAUTH2_PROXY_COOKIE_SECRET", "cookie-secret")],
            "ports": [{"name": "oauth2", "container_port": OAUTH2_PORT}],
            "readiness_probe": {"http_get": {"path": "/ready", "port": "oauth2"}, "period_seconds": 10},
            "liveness_probe": {"http_get": {"path": "/ping", "port": "oauth2"}, "period_seconds": 20},
            "resources": pod_security.resources("100m", "128Mi"),
            "security_context": pod_security.container_security_context(),
        }

    def _ingress(self, name: str, metadata: k8s.meta.v1.ObjectMetaArgsDict, service_name: str, cfg: MlflowModelRegistryConfig,
                 port: str) -> None:
        """An ALB (AWS Load Balancer Controller) listening on HTTPS only, with a TLS 1.2+ policy."""
        ing = cfg.ingress
        annotations = {
            "alb.ingress.kubernetes.io/scheme": "internal" if ing.internal else "internet-facing",
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTPS": 443}]),
            "alb.ingress.kubernetes.io/certificate-arn": ing.certificate_arn or "",
            "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
            "alb.ingress.kubernetes.io/healthcheck-path": "/ping" if port == "oauth2" else "/health",
        }
        host = ing.host or ""
        # Typed level by level: one deep inline literal makes mypy try every Input[...] union member at every level.
        backend: k8s.networking.v1.IngressBackendArgsDict = {
            "service": {"name": service_name, "port": {"name": port}}}
        path: k8s.networking.v1.HTTPIngressPathArgsDict = {"path": "/", "path_type": "Prefix", "backend": backend}
        rule: k8s.networking.v1.IngressRuleArgsDict = {"host": host, "http": {"paths": [path]}}
        spec: k8s.networking.v1.IngressSpecArgsDict = {
            "ingress_class_name": INGRESS_CLASS, "tls": [{"hosts": [host]}], "rules": [rule]}
        annotated: k8s.meta.v1.ObjectMetaArgsDict = {**metadata, "annotations": annotations}
        k8s.networking.v1.Ingress(child(name, "ingress"), metadata=annotated, spec=spec,
                                  opts=child_options(self, depends_on=self._ingress_dependencies))

    def _service_monitor(self, name: str, metadata: k8s.meta.v1.ObjectMetaArgsDict, args: MlflowServerArgs) -> None:
        """Scrape `/metrics` of the metrics sidecar through the Service (never the API port, which may demand
        basic auth); the CRD comes from monitoring."""
        k8s.apiextensions.CustomResource(
            child(name, "service-monitor"), api_version="monitoring.coreos.com/v1", kind="ServiceMonitor",
            metadata={**metadata, "labels": {**self.labels, **args.service_monitor_labels}},
            spec={"selector": {"matchLabels": dict(self.selector)},
                  "namespaceSelector": {"matchNames": [args.namespace]},
                  "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}]},
            opts=child_options(self, depends_on=args.crd_dependencies))

    def _network_policy(self, name: str, metadata: k8s.meta.v1.ObjectMetaArgsDict, args: MlflowServerArgs) -> None:
        """Who may open a connection to the server's pods: the API port from the server's own namespace and
        `client_namespaces`; the Ingress backend port from the ALB's addresses; the metrics port from Prometheus.
        oauth2-proxy is a sidecar and reaches the server over loopback, which no NetworkPolicy filters; kubelet
        probes come from the node IP, which the VPC CNI's policy agent always admits (aws-network-policy-agent#65)."""
        cfg = args.config
        def namespaces(*names: pulumi.Input[str]) -> k8s.networking.v1.NetworkPolicyPeerArgsDict:
            return {"namespace_selector": {"match_expressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(names)}]}}
        api_ports = sorted({cfg.api_port, *([OAUTH2_PORT] if cfg.oidc else [])})
        labelled: list[k8s.networking.v1.NetworkPolicyPeerArgsDict] = (
            [{"namespace_selector": {"match_labels": dict(args.client_namespace_labels)}}]
            if args.client_namespace_labels else [])
        rules: list[k8s.networking.v1.NetworkPolicyIngressRuleArgsDict] = [
            {"from_": [namespaces(args.namespace, *args.client_namespaces), *labelled],
             "ports": [{"protocol": "TCP", "port": p} for p in api_ports]}]
        if cfg.ingress.enabled and args.ingress_source_cidrs:
            rules.append({"from_": [{"ip_block": {"cidr": c}} for c in args.ingress_source_cidrs],
                          "ports": [{"protocol": "TCP", "port": OAUTH2_PORT if cfg.oidc else HTTP_PORT}]})
        if args.prometheus_namespace is not None:
            rules.append({"from_": [namespaces(args.prometheus_namespace)],
                          "ports": [{"protocol": "TCP", "port": METRICS_PORT}]})
        k8s.networking.v1.NetworkPolicy(child(name, "ingress-policy"), metadata=metadata, opts=child_options(self), spec={
            "pod_selector": {"match_labels": self.selector}, "policy_types": ["Ingress"], "ingress": rules})
