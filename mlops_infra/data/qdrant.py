"""Qdrant: the pinned chart as a StatefulSet on encrypted gp3 volumes, its API keys from Secrets Manager through
External Secrets, an ingress NetworkPolicy, a ServiceMonitor, rules, a PDB, and scheduled snapshots to a hardened
bucket (a CronJob running `qdrant_snapshot.py` with a put-only IRSA role).

Keys: two random keys (read-write, read-only) live in Secrets Manager (data key) and reach the cluster only through
ExternalSecrets: the server's pod reads them by `secretKeyRef` (qdrant_values.py says why not the chart's `apiKey`);
each granted namespace gets the Secret `client_secret_name` (QDRANT_URL, QDRANT_API_KEY) with its level's key:
`client_secret_default(name)` unless the caller names it, so two Qdrants granting one namespace write two Secrets (the
platform names its own `qdrant-credentials`, `PLATFORM_CLIENT_SECRET`, which its consumers' pods mount).
The security baseline's ClusterSecretStore admits only integration-secret namespaces, so Qdrant brings its own
stores: `<name>-rw` (Qdrant's namespace and read-write clients) and `<name>-ro` (read-only clients), each
authenticated as its own ServiceAccount whose IRSA role reads only the secrets that level may have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..blocks import iam, pod_security
from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, LifecycleRule, VpcEndpointGuard
from ..blocks.endpoints import ServicePort
from ..blocks.helm import PinnedChart, release
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.kms import KeyLike
from ..blocks.namespace import namespace
from ..blocks.naming import child, child_options, instance_secret_name, truncate_name
from ..blocks.observability import MonitoringRefs, ScrapeEndpoint, prometheus_rule, service_monitor
from ..blocks.platform_facts import guarded_bucket_problem, guarded_client_problems, occupied_namespace_problem
from ..blocks.refs import ClusterRefs, NetworkRefs, refuse
from ..blocks.rotation import restart_on_rotation
from ..compute.config import system_node_ephemeral_gib
from ..security.exfiltration_guards import api_service_ips
from .config import secret_recovery_window
from .qdrant_config import GRPC_PORT, HTTP_PORT, METRICS_PORT, P2P_PORT, QDRANT_CHART, QDRANT_REPO, QdrantConfig
from .qdrant_values import API_KEY, READ_ONLY_API_KEY, SELECTOR_LABEL, helm_values, rule_groups

ESO_API = "external-secrets.io/v1"  # as security/secrets_delivery.py (served from ESO 0.16)
PLATFORM_CLIENT_SECRET = "qdrant-credentials"
"""The client Secret of the platform's own Qdrant (platform/addon_data.py passes it; team workspaces write it)."""
SNAPSHOT_PREFIX = "snapshots"
JOB_SOURCE = Path(__file__).with_name("qdrant_snapshot.py")
Store = tuple[str, k8s.apiextensions.CustomResource]
"""A ClusterSecretStore: its name and the resource."""


@dataclass(frozen=True)
class QdrantArgs:
    config: QdrantConfig
    cluster: ClusterRefs
    region: str
    """The stack's Region: the secret stores read Secrets Manager there. Required."""
    data_key: KeyLike
    """Encrypts the key secrets and the snapshot bucket: a `KmsKey`, or a `KeyRef` to an existing key (e.g. the
    platform's `dataKeyArn`)."""
    tags: dict[str, str]
    client_namespaces: Sequence[str]
    """Namespaces granted the read-write key (and the API port)."""
    client_namespace_labels: Mapping[str, str] | None = None
    """Also admit namespaces carrying these labels to the API ports (a team workspace's). Default: none."""
    read_only_namespaces: Sequence[str] = ()
    """Namespaces granted the read-only key (and the API port). Default: none."""
    external_secrets: Sequence[pulumi.Resource] = ()
    """What installs the External Secrets operator and CRDs (the security baseline). Default: none (another stack's:
    `cluster.external_secrets_store` must say so, else Qdrant is refused)."""
    monitoring: MonitoringRefs | None = None
    """ServiceMonitor, rules, and the Prometheus namespace the NetworkPolicy admits. Default: none."""
    bucket_guard: VpcEndpointGuard | None = None
    """The exfiltration guard of the snapshot bucket. Default: none."""
    network: NetworkRefs | None = None
    """The VPC the snapshot job runs in: a bucket name its guarded S3 gateway endpoint denies
    (`s3_endpoint_bucket_prefixes`, a platform stack's `consumerBucketPrefixes`) is refused. Default: None (no guarded
    endpoint known)."""
    client_secret_name: str | None = None
    """The Secret each granted namespace gets (QDRANT_URL, QDRANT_API_KEY). Default: `client_secret_default(name)`,
    one per instance; a caller whose clients already mount another name passes it (the platform:
    `PLATFORM_CLIENT_SECRET`)."""
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the release, secrets and snapshot bucket; also the secrets' recovery
    window unless configured (`data.config.secret_recovery_window`). Default: true (stateful; dev passes false)."""


FULLNAME_LIMIT = 40
"""The chart's fullname (pods `<fullname>-<i>`, PVCs `qdrant-storage-<fullname>-<i>`): the name truncated to it."""


def client_secret_default(name: str) -> str:
    """`<fullname>-credentials` for a name of at most 40 characters (as released); a longer name, whose fullname
    is cut and may equal another's, gets `naming.instance_secret_name(name, "credentials")` (the whole name, cut
    with a hash over 63), so two instances never write one client Secret."""
    if len(name) <= FULLNAME_LIMIT:
        return f"{truncate_name(name, FULLNAME_LIMIT)}-credentials"
    return instance_secret_name(name, "credentials")


class Qdrant(pulumi.ComponentResource):
    """The Qdrant vector database on the cluster, with its API keys and optional S3 snapshots."""
    url: pulumi.Output[str]
    grpc_url: str
    snapshot_bucket: pulumi.Output[str] | None
    snapshots: HardenedBucket | None
    """The snapshot bucket (None without snapshots): its owner registers it with whatever guards every bucket."""
    client_key_secret: aws.secretsmanager.Secret
    """The Secrets Manager secret of the read-write key `client_namespaces` get (e.g. to share with team
    workspaces of other stacks)."""
    service_ports: list[ServicePort]
    """What client pods reach: the REST and gRPC API ports."""
    client_secret_name: str
    """The Secret each granted namespace gets (`QdrantArgs.client_secret_name`, or `client_secret_default`)."""

    def __init__(self, name: str, args: QdrantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:data:Qdrant", name, None, args.cluster.bind(opts))
        cfg, cluster = args.config, args.cluster
        self._cfg = cfg
        self.service_ports = [ServicePort(cfg.namespace, HTTP_PORT), ServicePort(cfg.namespace, GRPC_PORT)]
        refuse(name, [*problems(cfg, cluster),
                      *guarded_client_problems([*args.client_namespaces, *args.read_only_namespaces],
                                               self.service_ports, cluster),
                      None if args.external_secrets else cluster.external_secrets_problem("Qdrant's API keys"),
                      occupied_namespace_problem(cfg.namespace, cluster),
                      guarded_bucket_problem(child(name, "snapshots"), args.network) if cfg.snapshots.enabled
                      else None])
        storage_class = cfg.storage_class or cluster.storage_classes[0]  # problems() refuses a cluster without one
        self._provider = cluster.provider
        self.fullname = truncate_name(name, FULLNAME_LIMIT)  # pods `<fullname>-<i>`, PVCs `qdrant-storage-<fullname>-<i>`
        self.namespace = namespace(child(name, "namespace"), self, cfg.namespace, existing=cluster.namespaces,
                                   provider=cluster.provider)
        self.keys_secret = f"{self.fullname}-api-keys"
        self.client_secret_name = args.client_secret_name or client_secret_default(name)
        svc = f"{self.fullname}.{cfg.namespace}.svc.cluster.local"
        self.url = pulumi.Output.from_input(f"http://{svc}:{HTTP_PORT}")
        self.grpc_url = f"http://{svc}:{GRPC_PORT}"

        # The key ExternalSecrets need the External Secrets operator (the slowest chain of the deploy); the release
        # starts beside them: its pods stay in CreateContainerConfigError until the keys Secret is synced (secretKeyRef,
        # fail closed; the kubelet retries), well within the release's await timeout.
        self.key_secrets = self._keys(name, args)
        server = release(
            child(name, "release"), PinnedChart(QDRANT_CHART, QDRANT_REPO, cfg.chart_version), parent=self,
            namespace=self.namespace, protect=args.protect,
            values=helm_values(cfg, fullname=self.fullname, keys_secret=self.keys_secret, storage_class=storage_class))
        # Qdrant reads its keys once, at start (env by secretKeyRef): roll its StatefulSet (the chart names it
        # `fullname`) when External Secrets rewrites the keys Secret (docs/vector-search.md: rotating the keys).
        restart_on_rotation(self, name, namespace=self.namespace, secrets=[self.keys_secret], provider=self._provider,
                            workloads=[self.fullname], depends_on=[server],
                            api_ips=pulumi.Output.from_input(cluster.service_ipv4_cidr).apply(api_service_ips))
        self._network_policy(name, args)
        self.snapshot_bucket = None
        self.snapshots = None
        cronjob = self._snapshots(name, args, server) if cfg.snapshots.enabled else None
        if args.monitoring is not None:
            self._observability(name, args.monitoring, server, cronjob)
        self.register_outputs({"url": self.url, "snapshotBucket": self.snapshot_bucket,
                               "clientSecretName": self.client_secret_name})

    def _opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return child_options(self, provider=self._provider, **kwargs)

    # --- keys ----------------------------------------------------------------------------------------------------

    def _keys(self, name: str, args: QdrantArgs) -> list[pulumi.Resource]:
        """Secrets Manager secrets, the stores that read them, and the ExternalSecrets. Returns what the server
        waits for (its own ExternalSecret)."""
        cfg = args.config
        secrets: dict[str, aws.secretsmanager.Secret] = {}
        for key in (API_KEY, READ_ONLY_API_KEY):
            value = random.RandomPassword(child(name, key), length=40, special=False, opts=child_options(self))
            secret = aws.secretsmanager.Secret(
                child(name, f"{key}-secret"), name=f"{name}/{key}", kms_key_id=args.data_key.arn, tags=args.tags,
                recovery_window_in_days=secret_recovery_window(args.config.secret_recovery_window_days, args.protect),
                description=f"Qdrant {key} ({name}), synced by External Secrets",
                opts=child_options(self, stateful=True, protect=args.protect))
            aws.secretsmanager.SecretVersion(child(name, f"{key}-value"), secret_id=secret.id,
                                             secret_string=value.result, opts=child_options(self))
            secrets[key] = secret
        self.client_key_secret = secrets[API_KEY]
        rw_namespaces = [cfg.namespace, *args.client_namespaces]
        rw = self._store(name, "rw", args, [secrets[API_KEY], secrets[READ_ONLY_API_KEY]], rw_namespaces)
        server = self._external_secret(child(name, "server-keys"), args, rw, cfg.namespace, self.keys_secret, {
            API_KEY: secrets[API_KEY], READ_ONLY_API_KEY: secrets[READ_ONLY_API_KEY]})
        for ns in args.client_namespaces:
            self._external_secret(child(name, f"credentials-{ns}"), args, rw, ns, self.client_secret_name,
                                  {"key": secrets[API_KEY]}, client=True)
        if args.read_only_namespaces:
            ro = self._store(name, "ro", args, [secrets[READ_ONLY_API_KEY]], list(args.read_only_namespaces))
            for ns in args.read_only_namespaces:
                self._external_secret(child(name, f"credentials-{ns}"), args, ro, ns, self.client_secret_name,
                                      {"key": secrets[READ_ONLY_API_KEY]}, client=True)
        return [server]

    def _store(self, name: str, level: str, args: QdrantArgs, secrets: list[aws.secretsmanager.Secret],
               namespaces: list[str]) -> Store:
        """A ClusterSecretStore usable from `namespaces` only, authenticated as its own ServiceAccount (IRSA)."""
        sa = f"{self.fullname}-secrets-{level}"
        identity = WorkloadIdentity(child(name, f"secrets-{level}"), WorkloadIdentityArgs(
            cluster=args.cluster.identity, namespace=self.namespace, service_account=sa, tags=args.tags,
            statements=[iam.statement("ReadQdrantKeys", ["secretsmanager:DescribeSecret",
                                                         "secretsmanager:GetSecretValue"], [s.arn for s in secrets]),
                        args.data_key.use_statement("DecryptQdrantKeys", decrypt_only=True)]),
            self._opts())
        store_name = f"{self.fullname}-{level}"
        return store_name, k8s.apiextensions.CustomResource(
            child(name, f"store-{level}"), api_version=ESO_API, kind="ClusterSecretStore",
            metadata={"name": store_name},
            spec={"provider": {"aws": {"service": "SecretsManager", "region": args.region, "auth": {
                "jwt": {"serviceAccountRef": {"name": sa, "namespace": self.namespace}}}}},
                  "conditions": [{"namespaces": sorted(set(namespaces))}]},
            opts=self._opts(depends_on=[*args.external_secrets, identity]))

    def _external_secret(self, resource_name: str, args: QdrantArgs, store: Store, ns: str, target: str,
                         keys: dict[str, aws.secretsmanager.Secret],
                         client: bool = False) -> k8s.apiextensions.CustomResource:
        store_name, store_resource = store
        spec: dict[str, Any] = {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": store_name},
            "target": {"name": target, "creationPolicy": "Owner"},
            "data": [{"secretKey": k, "remoteRef": {"key": s.name}} for k, s in keys.items()],
        }
        if client:  # env-ready: `envFrom: [{secretRef: {name: <client_secret_name>}}]`
            spec["target"]["template"] = {"engineVersion": "v2", "data": {
                "QDRANT_URL": self.url, "QDRANT_API_KEY": "{{ .key }}"}}
        return k8s.apiextensions.CustomResource(
            resource_name, api_version=ESO_API, kind="ExternalSecret",
            metadata={"name": target, "namespace": args.cluster.namespaces.get(ns, ns)}, spec=spec,
            opts=self._opts(depends_on=[*args.external_secrets, store_resource]))

    # --- network, observability ----------------------------------------------------------------------------------

    def _network_policy(self, name: str, args: QdrantArgs) -> None:
        """API ports from Qdrant's namespace (snapshot job) and the granted namespaces; p2p between Qdrant pods;
        the metrics port from Prometheus only. Kubelet probes come from the node, which the VPC CNI admits."""
        def namespaces(names: Sequence[pulumi.Input[str]]) -> k8s.networking.v1.NetworkPolicyPeerArgsDict:
            return {"namespace_selector": {"match_expressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(names)}]}}
        pods: k8s.meta.v1.LabelSelectorArgsDict = {"match_labels": {SELECTOR_LABEL: self.fullname}}
        clients = sorted({args.config.namespace, *args.client_namespaces, *args.read_only_namespaces})
        labelled: list[k8s.networking.v1.NetworkPolicyPeerArgsDict] = (
            [{"namespace_selector": {"match_labels": dict(args.client_namespace_labels)}}]
            if args.client_namespace_labels else [])
        rules: list[k8s.networking.v1.NetworkPolicyIngressRuleArgsDict] = [
            {"from_": [namespaces(clients), *labelled],
             "ports": [{"protocol": "TCP", "port": HTTP_PORT},
                                                       {"protocol": "TCP", "port": GRPC_PORT}]},
            {"from_": [{"pod_selector": pods}], "ports": [{"protocol": "TCP", "port": P2P_PORT}]},
        ]
        if args.monitoring is not None:
            rules.append({"from_": [namespaces([args.monitoring.prometheus_namespace])],
                          "ports": [{"protocol": "TCP", "port": METRICS_PORT}]})
        spec: k8s.networking.v1.NetworkPolicySpecArgsDict = {"pod_selector": pods, "policy_types": ["Ingress"],
                                                             "ingress": rules}
        metadata: k8s.meta.v1.ObjectMetaArgsDict = {"name": f"{self.fullname}-ingress", "namespace": self.namespace}
        k8s.networking.v1.NetworkPolicy(child(name, "ingress-policy"), metadata=metadata, spec=spec, opts=self._opts())

    def _observability(self, name: str, refs: MonitoringRefs, server: pulumi.Resource,
                       cronjob: str | None) -> None:
        service_monitor(self, name, refs, object_name=self.fullname, namespace=self.namespace,
                        match_labels={SELECTOR_LABEL: self.fullname, "app.kubernetes.io/component": "cluster-discovery"},
                        endpoints=[ScrapeEndpoint(port="metrics")], depends_on=[server], provider=self._provider)
        prometheus_rule(self, name, refs, object_name=self.fullname, namespace=self.namespace,
                        groups=rule_groups(self._cfg, namespace=self._cfg.namespace, fullname=self.fullname,
                                           snapshot_cronjob=cronjob), provider=self._provider)

    # --- snapshots -----------------------------------------------------------------------------------------------

    def _snapshots(self, name: str, args: QdrantArgs, server: pulumi.Resource) -> str:
        """The bucket, a put-only role, the job's code as a ConfigMap and the CronJob. Returns the CronJob's name."""
        cfg = args.config
        bucket = HardenedBucket(child(name, "snapshots"), HardenedBucketArgs(
            kms_key=args.data_key, tags=args.tags, protect=args.protect, vpc_endpoint_guard=args.bucket_guard,
            lifecycle=[LifecycleRule("expire-snapshots", f"{SNAPSHOT_PREFIX}/", cfg.snapshots.retention_days)]),
            child_options(self))
        self.snapshot_bucket, self.snapshots = bucket.bucket_name, bucket
        sa = f"{self.fullname}-snapshots"
        identity = WorkloadIdentity(child(name, "snapshot-job"), WorkloadIdentityArgs(
            cluster=args.cluster.identity, namespace=self.namespace, service_account=sa, tags=args.tags,
            statements=snapshot_statements(bucket, args.data_key)), self._opts())
        code_name = f"{self.fullname}-snapshot-code"
        code = k8s.core.v1.ConfigMap(
            child(name, "snapshot-code"), opts=self._opts(),
            metadata={"name": code_name, "namespace": self.namespace},
            data={"qdrant_snapshot.py": JOB_SOURCE.read_text()})
        job_name = f"{self.fullname}-snapshot"
        headless = f"{self.fullname}-headless.{cfg.namespace}.svc.cluster.local"
        urls = ",".join(f"http://{self.fullname}-{i}.{headless}:{HTTP_PORT}" for i in range(cfg.replicas))
        env: list[k8s.core.v1.EnvVarArgsDict] = [
            {"name": "QDRANT_URLS", "value": urls},
            {"name": "QDRANT_API_KEY", "value_from": {"secret_key_ref": {"name": self.keys_secret, "key": API_KEY}}},
            {"name": "SNAPSHOT_BUCKET", "value": bucket.bucket_name},
            {"name": "SNAPSHOT_PREFIX", "value": SNAPSHOT_PREFIX},
            {"name": "AWS_REGION", "value": args.region},
            {"name": "HOME", "value": "/tmp"},
        ]
        mounts: list[k8s.core.v1.VolumeMountArgsDict] = [{"name": "code", "mount_path": "/job", "read_only": True},
                                                         {"name": "tmp", "mount_path": "/tmp"}]
        # Staged in `tmp` before the upload (one collection snapshot); node disk, so `disk` requests it as well.
        volumes: list[k8s.core.v1.VolumeArgsDict] = [
            {"name": "code", "config_map": {"name": code_name}},
            {"name": "tmp", "empty_dir": {"size_limit": cfg.storage_size}}]
        disk = {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": cfg.storage_size}
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "snapshot", "image": cfg.snapshots.image, "command": ["python", "/job/qdrant_snapshot.py"],
            "env": env, "resources": {"requests": dict(disk), "limits": dict(disk)},
            "security_context": pod_security.container_security_context(),
            "volume_mounts": mounts}
        pod: k8s.core.v1.PodSpecArgsDict = {
            "service_account_name": sa, "restart_policy": "Never", "automount_service_account_token": False,
            "security_context": pod_security.pod_security_context(), "containers": [container],
            "volumes": volumes}
        if cfg.node_selector:
            pod["node_selector"] = dict(cfg.node_selector)
        # Typed level by level: one deep inline literal makes mypy try every Input[...] union member at every level
        # (it ran out of 23 GiB on this spec).
        template: k8s.core.v1.PodTemplateSpecArgsDict = {"metadata": {"labels": {
            "app.kubernetes.io/name": "qdrant-snapshot", "app.kubernetes.io/part-of": "mlops-platform"}}, "spec": pod}
        job: k8s.batch.v1.JobSpecArgsDict = {"backoff_limit": 1, "template": template,
                                             "active_deadline_seconds": cfg.snapshots.job_timeout_minutes * 60}
        job_template: k8s.batch.v1.JobTemplateSpecArgsDict = {"spec": job}
        spec: k8s.batch.v1.CronJobSpecArgsDict = {
            "schedule": cfg.snapshots.schedule, "time_zone": "Etc/UTC", "concurrency_policy": "Forbid",
            "successful_jobs_history_limit": 3, "failed_jobs_history_limit": 3, "job_template": job_template}
        metadata: k8s.meta.v1.ObjectMetaArgsDict = {"name": job_name, "namespace": self.namespace}
        k8s.batch.v1.CronJob(child(name, "snapshot-cronjob"), metadata=metadata, spec=spec,
                             opts=self._opts(depends_on=[server, identity, code]))
        return job_name


def problems(cfg: QdrantConfig, cluster: ClusterRefs) -> list[str]:
    """What this cluster cannot give this Qdrant, every one (the component raises once with all of them)."""
    out = []
    if cluster.identity.mode != "irsa":
        out.append("Qdrant's secret stores authenticate with IRSA (cluster.workloadIdentity irsa)")
    if not (cfg.storage_class or cluster.storage_classes):
        out.append("no StorageClass (set data.qdrant.storageClass, or use a cluster that makes gp3)")
    disk = cluster.system_node_disk_gib
    if cfg.snapshots.enabled and not cfg.node_selector and disk is not None:
        size, room = int(cfg.storage_size.removesuffix("Gi")), system_node_ephemeral_gib(disk)
        if size > room:  # the job would stay Pending: no system node has that much ephemeral storage
            out.append(f"storageSize {size}Gi does not fit the snapshot job's scratch space on a system node: it "
                       f"requests storageSize of ephemeral storage, at most int(0.9 x {disk} GiB) - 1 = {room}Gi "
                       "(systemNodeDiskGib; kubelet keeps 1Gi and 10% back); lower storageSize, or set nodeSelector "
                       "to nodes with larger disks")
    return out


def snapshot_statements(bucket: HardenedBucket, key: KeyLike) -> list[iam.Statement]:
    """Put snapshot objects under the prefix, nothing else: no read, list or delete. SSE-KMS uploads need
    GenerateDataKey, and multipart ones Decrypt (S3 user guide, "Uploading an object using multipart upload")."""
    return [
        iam.statement("PutSnapshots", ["s3:AbortMultipartUpload", "s3:PutObject"], [bucket.objects_arn(SNAPSHOT_PREFIX)]),
        iam.statement("EncryptSnapshots", ["kms:Decrypt", "kms:GenerateDataKey"], [key.arn]),
    ]

