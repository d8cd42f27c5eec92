"""MlflowServer: the MLflow tracking server on EKS, serving artifacts to S3 and storing runs in RDS Postgres.

How the pods get the database password without it ever being in config, state, a Helm value or a ConfigMap:
a native sidecar (`db-credentials`, an init container with `restartPolicy: Always`) reads the RDS-managed
master secret from Secrets Manager with the pod's own IAM role and writes a libpq password file into a
memory-backed volume; the server's backend URI carries no password, and libpq reads `PGPASSFILE` on every
new connection. The sidecar rewrites the file every few minutes, so RDS's automatic rotation of the managed
secret never breaks new connections. (Why not IAM DB auth: the MLflow server cannot mint 15-minute tokens
per connection; why not External Secrets: that is the security baseline's job and not always deployed.)
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
from ..blocks.naming import child, opts
from ..config.model_registry import ModelRegistryConfig
from .mlflow_database import MlflowDatabase

HTTP_PORT = 5000
OAUTH2_PORT = 4180
PGPASS_DIR = "/var/run/pgpass"
PGPASSFILE = f"{PGPASS_DIR}/.pgpass"
AUTH_DIR = "/etc/mlflow-auth"
PROMETHEUS_DIR = "/var/run/prometheus"
REFRESH_SECONDS = 300
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
    config: ModelRegistryConfig
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
    service_monitor_labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels the Prometheus serviceMonitorSelector needs. Default: none."""
    oidc_client_secret: pulumi.Input[str] | None = None
    """The OIDC client secret (a Pulumi secret); required with ingress auth oidc. Default: none."""


class MlflowServer(pulumi.ComponentResource):
    tracking_uri: pulumi.Output[str]
    internal_tracking_uri: pulumi.Output[str]

    def __init__(self, name: str, args: MlflowServerArgs, opts_: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:mlflow_server:MlflowServer", name, None, opts_)
        cfg, ingress, db = args.config, args.config.ingress, args.database
        oidc = ingress.enabled and ingress.auth == "oidc"
        basic = ingress.enabled and ingress.auth == "basic"
        if oidc and args.oidc_client_secret is None:
            raise ValueError(f"{name}: ingress auth oidc needs oidc_client_secret")
        k8s_name = name[:63].rstrip("-")
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
        backend_uri = pulumi.Output.format("postgresql://{0}@{1}:{2}/{3}?sslmode=require",
                                           db.username, db.address, db.port.apply(lambda p: int(p)), db.db_name)
        artifacts_dest = pulumi.Output.format("s3://{0}/{1}", args.artifacts.bucket_name, args.artifact_prefix)
        # DNS-rebinding guard (MLflow >= 3.5): the Service names, the Ingress host, and pod IPs (probes, scrapes).
        allowed_hosts = pulumi.Output.format(
            "{0},{0}:{1},{2},{2}:{1},{3}localhost,10.*,172.*,192.168.*", k8s_name, HTTP_PORT, svc_dns,
            f"{ingress.host}," if ingress.enabled and ingress.host else "")

        secret_env: list[k8s.core.v1.EnvVarArgsDict] = []
        volumes: list[k8s.core.v1.VolumeArgsDict] = [
            {"name": "tmp", "empty_dir": {"size_limit": "1Gi"}},
            {"name": "pgpass", "empty_dir": {"medium": "Memory", "size_limit": "1Mi"}},
            {"name": "prometheus", "empty_dir": {"size_limit": "256Mi"}},
        ]
        mounts: list[k8s.core.v1.VolumeMountArgsDict] = [
            {"name": "tmp", "mount_path": "/tmp"}, {"name": "pgpass", "mount_path": PGPASS_DIR, "read_only": True},
            {"name": "prometheus", "mount_path": PROMETHEUS_DIR}]
        server_args: list[pulumi.Input[str]] = [
            "server", "--host", "0.0.0.0", "--port", str(HTTP_PORT), "--backend-store-uri", backend_uri,
            "--serve-artifacts", "--artifacts-destination", artifacts_dest, "--expose-prometheus", PROMETHEUS_DIR]
        extra_containers: list[k8s.core.v1.ContainerArgsDict] = []
        if basic:
            self._basic_auth_secret(name, meta("-auth"), backend_uri)
            server_args += ["--app-name", "basic-auth"]
            secret_env.append({"name": "MLFLOW_AUTH_CONFIG_PATH", "value": f"{AUTH_DIR}/basic_auth.ini"})
            volumes.append({"name": "auth", "secret": {"secret_name": f"{k8s_name}-auth", "default_mode": 0o440}})
            mounts.append({"name": "auth", "mount_path": AUTH_DIR, "read_only": True})
        if oidc:
            self._oidc_secret(name, meta("-oauth2"), args.oidc_client_secret)
            extra_containers.append(self._oauth2_proxy(cfg, f"{k8s_name}-oauth2"))

        container_sc = pod_security.container_security_context()
        credentials: k8s.core.v1.ContainerArgsDict = {
            "name": "db-credentials", "image": cfg.server.image, "restart_policy": "Always",
            "command": ["python", "-c", CREDENTIALS_SCRIPT],
            "env": [{"name": "DB_SECRET_ARN", "value": db.master_secret_arn}, {"name": "PGPASSFILE", "value": PGPASSFILE},
                    {"name": "HOME", "value": "/tmp"}],
            "startup_probe": {"exec_": {"command": ["test", "-s", PGPASSFILE]}, "period_seconds": 2,
                              "failure_threshold": 60},
            "resources": pod_security.resources("50m", "128Mi"), "security_context": container_sc,
            "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}, {"name": "pgpass", "mount_path": PGPASS_DIR}],
        }
        health: k8s.core.v1.HTTPGetActionArgsDict = {"path": "/health", "port": "http"}
        server: k8s.core.v1.ContainerArgsDict = {
            "name": "mlflow", "image": cfg.server.image, "command": ["mlflow"], "args": server_args,
            "ports": [{"name": "http", "container_port": HTTP_PORT}],
            "env": [{"name": "PGPASSFILE", "value": PGPASSFILE}, {"name": "HOME", "value": "/tmp"},
                    {"name": "MLFLOW_SERVER_ALLOWED_HOSTS", "value": allowed_hosts}, *secret_env],
            "startup_probe": {"http_get": health, "period_seconds": 5, "failure_threshold": 60},
            "readiness_probe": {"http_get": health, "period_seconds": 10, "timeout_seconds": 5},
            "liveness_probe": {"http_get": health, "period_seconds": 20, "timeout_seconds": 5, "failure_threshold": 3},
            "resources": pod_security.resources(cfg.server.cpu, cfg.server.memory),
            "security_context": container_sc, "volume_mounts": mounts,
        }
        containers: list[k8s.core.v1.ContainerArgsDict] = [server, *extra_containers]
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
        spec: k8s.apps.v1.DeploymentSpecArgsDict = {
            "replicas": cfg.server.replicas,
            "selector": {"match_labels": self.selector},
            "strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": 1}},
            "template": template,
        }
        self.deployment = k8s.apps.v1.Deployment(child(name, "deployment"), metadata=meta(), spec=spec,
                                                 opts=opts(self))
        ports: list[k8s.core.v1.ServicePortArgsDict] = [
            {"name": "http", "port": HTTP_PORT, "target_port": "http", "protocol": "TCP"}]
        if oidc:
            ports.append({"name": "oauth2", "port": OAUTH2_PORT, "target_port": "oauth2", "protocol": "TCP"})
        self.service = k8s.core.v1.Service(child(name, "service"), metadata=meta(), opts=opts(self),
                                           spec={"type": "ClusterIP", "selector": self.selector, "ports": ports})
        # Always present: with one replica maxUnavailable 1 never blocks a drain; with more it keeps one serving.
        k8s.policy.v1.PodDisruptionBudget(child(name, "pdb"), metadata=meta(), opts=opts(self),
                                          spec={"max_unavailable": 1, "selector": {"match_labels": self.selector}})
        if ingress.enabled:
            self._ingress(name, meta(), k8s_name, cfg, "oauth2" if oidc else "http")
        if args.service_monitor:
            self._service_monitor(name, meta(), args)

        self.internal_tracking_uri = pulumi.Output.format("http://{0}:{1}", svc_dns, HTTP_PORT)
        self.tracking_uri = (pulumi.Output.from_input(f"https://{ingress.host}") if ingress.enabled
                             else self.internal_tracking_uri)
        self.register_outputs({"trackingUri": self.tracking_uri, "internalTrackingUri": self.internal_tracking_uri})

    def _basic_auth_secret(self, name: str, metadata: k8s.meta.v1.ObjectMetaArgsDict,
                           backend_uri: pulumi.Output[str]) -> None:
        """MLflow basic auth: the first admin's password is generated and lives only in a Kubernetes Secret."""
        admin = random.RandomPassword(child(name, "admin-password"), length=32, special=False, opts=opts(self))
        ini = pulumi.Output.format(
            "[mlflow]\ndefault_permission = READ\ndatabase_uri = {0}\nadmin_username = admin\nadmin_password = {1}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n", backend_uri, admin.result)
        secret_ini: pulumi.Output[str] = pulumi.Output.secret(ini)
        k8s.core.v1.Secret(child(name, "auth"), metadata=metadata, type="Opaque",
                           string_data={"basic_auth.ini": secret_ini}, opts=opts(self))

    def _oidc_secret(self, name: str, metadata: k8s.meta.v1.ObjectMetaArgsDict,
                     client_secret: pulumi.Input[str] | None) -> None:
        cookie = random.RandomPassword(child(name, "cookie-secret"), length=32, special=False, opts=opts(self))
        k8s.core.v1.Secret(child(name, "oauth2"), metadata=metadata, type="Opaque", opts=opts(self), string_data={
            "client-secret": pulumi.Output.secret(client_secret or ""), "cookie-secret": cookie.result})

    @staticmethod
    def _oauth2_proxy(cfg: ModelRegistryConfig, secret_name: str) -> k8s.core.v1.ContainerArgsDict:
        """oauth2-proxy in front of the server on the Ingress path; API clients may send an IdP bearer token."""
        ing = cfg.ingress
        def env_from_secret(var: str, key: str) -> k8s.core.v1.EnvVarArgsDict:
            return {"name": var, "value_from": {"secret_key_ref": {"name": secret_name, "key": key}}}
        return {
            "name": "oauth2-proxy", "image": cfg.server.oauth2_proxy_image,
            "args": [f"--http-address=0.0.0.0:{OAUTH2_PORT}", f"--upstream=http://127.0.0.1:{HTTP_PORT}/",
                     "--provider=oidc", f"--oidc-issuer-url={ing.oidc_issuer_url}", f"--client-id={ing.oidc_client_id}",
                     f"--redirect-url=https://{ing.host}/oauth2/callback", "--email-domain=*", "--reverse-proxy=true",
                     "--skip-jwt-bearer-tokens=true", "--cookie-secure=true", "--skip-provider-button=true"],
            "env": [env_from_secret("OAUTH2_PROXY_CLIENT_SECRET", "client-secret"),
                    env_from_secret("OAUTH2_PROXY_COOKIE_SECRET", "cookie-secret")],
            "ports": [{"name": "oauth2", "container_port": OAUTH2_PORT}],
            "readiness_probe": {"http_get": {"path": "/ready", "port": "oauth2"}, "period_seconds": 10},
            "liveness_probe": {"http_get": {"path": "/ping", "port": "oauth2"}, "period_seconds": 20},
            "resources": pod_security.resources("100m", "128Mi"),
            "security_context": pod_security.container_security_context(),
        }

    def _ingress(self, name: str, metadata: k8s.meta.v1.ObjectMetaArgsDict, service_name: str, cfg: ModelRegistryConfig,
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
            "ingress_class_name": "alb", "tls": [{"hosts": [host]}], "rules": [rule]}
        annotated: k8s.meta.v1.ObjectMetaArgsDict = {**metadata, "annotations": annotations}
        k8s.networking.v1.Ingress(child(name, "ingress"), metadata=annotated, spec=spec, opts=opts(self))

    def _service_monitor(self, name: str, metadata: k8s.meta.v1.ObjectMetaArgsDict, args: MlflowServerArgs) -> None:
        """Scrape `/metrics` (MLflow's Prometheus exporter) through the Service; the CRD comes from monitoring."""
        k8s.apiextensions.CustomResource(
            child(name, "service-monitor"), api_version="monitoring.coreos.com/v1", kind="ServiceMonitor",
            metadata={**metadata, "labels": {**self.labels, **args.service_monitor_labels}},
            spec={"selector": {"matchLabels": dict(self.selector)},
                  "namespaceSelector": {"matchNames": [args.namespace]},
                  "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}]},
            opts=opts(self, depends_on=args.crd_dependencies))
