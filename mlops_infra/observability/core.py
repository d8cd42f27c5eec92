"""MonitoringCore: kube-prometheus-stack (with its CRDs), alert routing and the alert topic, Grafana, the
Pushgateway, the DCGM exporter and, optionally, Amazon Managed Prometheus remote-write.

Built first; every other component contributes its own scrape targets, rules, dashboards and CloudWatch alarms
through `refs` (blocks/observability.py; compute/, registry/ and features/observability.py). Prometheus picks
them up in any namespace (every `*SelectorNilUsesHelmValues` is false); they depend on `prometheus_release`,
which installs the CRDs.

The DCGM exporter stays here: it is a node-level exporter of the Prometheus install (like node-exporter), its
chart pin is monitoring config (`monitoring.dcgmExporterVersion`), its counters list is what every GPU rule may
read (exporter_metrics.py), and the GPU software is built before the CRDs exist. The GPU rules and dashboard are
the cluster's (compute/observability.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..blocks import helm, iam, pod_security
from ..blocks.cluster_add_ons import claim
from ..blocks.endpoints import ServicePort
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.namespace import namespace
from ..blocks.naming import child, child_options
from ..blocks.observability import MonitoringRefs, MovedFrom
from ..blocks.platform_facts import occupied_namespace_problems
from ..blocks.refs import ClusterRefs, refuse
from .alerting import AlertRouting, AlertRoutingArgs
from .config import MonitoringConfig
from .exporter_metrics import KSM_NAMESPACE_LABELS, dcgm_counters_csv

PROMETHEUS_COMMUNITY = "https://prometheus-community.github.io/helm-charts"
NVIDIA_DCGM = "https://nvidia.github.io/dcgm-exporter/helm-charts"
# Port names of the charts' Services: dcgm-exporter templates/service.yaml hard-codes "metrics" (tag 4.5.1-4.8.0);
# prometheus-pushgateway values `service.portName` defaults to "http" (3.8.0).
DCGM_PORT = "metrics"
# The label every GPU pool's nodes carry (compute/gpu_config.py GpuPoolConfig.node_labels; not imported: compute
# imports this concern). tests/platform/test_team_workspace.py schedules the rendered DaemonSet on a workspace node.
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
PUSHGATEWAY_PORT = "http"
PUSHGATEWAY_SERVICE_PORT = 9091  # prometheus-pushgateway values `service.port` (3.8.0)
GRAFANA_USER_KEY, GRAFANA_PASSWORD_KEY = "admin-user", "admin-password"
SELECTOR_KINDS = ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")
MONITORING_API = "monitoring.coreos.com/v1"
CORE_TYPE = "mlops:observability:MonitoringCore"
LEGACY_TYPE = "mlops:monitoring:MonitoringStack"
"""The type this component had when it also held every rule, dashboard and alarm (aliased: same URNs)."""

EKS_UNSCRAPABLE = ("kubeScheduler", "kubeControllerManager", "kubeEtcd", "kubeProxy")
"""kube-prometheus-stack components whose targets Prometheus cannot reach on EKS. The scheduler, controller manager
and etcd run in the hidden control plane: the chart's Services select no pod, `up{job="kube-scheduler"}` never
exists and `absent(...)` alerts (KubeSchedulerDown, KubeControllerManagerDown) fire forever. kube-proxy is a visible
DaemonSet, but the EKS add-on's kube-proxy-config binds metrics to 127.0.0.1:10249 (the kube-proxy default), so the
scrape of <node IP>:10249 is refused and KubeProxyDown fires (prometheus-community/helm-charts#977)."""
EKS_UNSCRAPABLE_RULES = ("etcd", "kubeControllerManager", "kubeProxy", "kubeSchedulerAlerting",
                         "kubeSchedulerRecording")
"""`defaultRules.rules` keys of those components (values.yaml of kube-prometheus-stack 82.1.0). The chart's rule
templates (templates/prometheus/rules-1.14/) already gate each group on `<component>.enabled` too; turning both off
keeps the rules off if a later chart drops that gate."""

DCGM_LOG_TO_STDOUT: dict[str, str] = {"DCGM_EXPORTER_ENABLE_DCGM_LOG": "true", "DCGM_EXPORTER_DCGM_LOG_LEVEL": "ERROR"}
"""What lets dcgm-exporter run with a read-only root filesystem. At 4.5.1-4.8.0 (the chart's image) its own code
writes only debug dumps (`--dump-enabled`, off), but the DCGM host engine it embeds logs to a file,
/var/log/nv-hostengine.log, unless `__DCGM_DBG_FILE` names another (NVIDIA/DCGM v4.5.0 and v4.5.2, either side of
the image's 4.5.1: dcgmlib/src/DcgmApi.cpp StartEmbeddedV2, common/DcgmLogging.h). With
`DCGM_EXPORTER_ENABLE_DCGM_LOG` the exporter sets it to `-`, which DCGM's logger maps to its console appender
(common/DcgmLoggingImpl.h InitLogger), before it starts DCGM (internal/pkg/dcgmprovider/dcgm.go). The level is
DCGM's own default for that file (ERROR; DCGM_LOGGING_DEFAULT_HOSTENGINE_SEVERITY): the same lines, in the container's
log (`kubectl logs`) instead of a file in the pod."""

GRAFANA_READ_ONLY_ROOT: dict[str, Any] = {
    # Helm merges these into the grafana subchart's containerSecurityContext and sidecar.securityContext (no
    # capabilities, RuntimeDefault seccomp, no escalation: the grafana subchart's values.yaml in kube-prometheus-stack 82.1.0).
    "containerSecurityContext": {"readOnlyRootFilesystem": True},
    # Grafana writes /var/lib/grafana (the chart's `storage` emptyDir without persistence), its log directory
    # (paths.logs; created at start even with log mode console) and temporary files under /tmp.
    "extraEmptyDirMounts": [{"name": "grafana-logs", "mountPath": "/var/log/grafana"},
                            {"name": "grafana-tmp", "mountPath": "/tmp"}],
}
"""Grafana with a read-only root filesystem, writable only where it writes."""
GRAFANA_SIDECARS: dict[str, Any] = {
    # The dashboard and datasource sidecars write only their emptyDir folders (sidecar.dashboards.folder,
    # /etc/grafana/provisioning/datasources).
    "securityContext": {"readOnlyRootFilesystem": True},
    "resources": {"requests": {"cpu": "10m", "memory": "128Mi"}, "limits": {"cpu": "100m", "memory": "128Mi"}},
}


NODE_EXPORTER_RESOURCES: dict[str, Any] = {"requests": {"cpu": "20m", "memory": "64Mi"},
                                           "limits": {"cpu": "250m", "memory": "256Mi"}}
"""node-exporter's resources on every node, the system nodes and a p5.48xlarge alike. Basis: the Prometheus
Operator's reference deployment, kube-prometheus v0.18.0 (manifests/nodeExporter-daemonset.yaml), limits it to 250m
and 180Mi; the chart sets none (prometheus-node-exporter 4.51.1 `resources: {}`). Memory is raised to 256Mi for the
GPU nodes: a scrape's series grow with CPUs (the cpu, cpufreq and softnet collectors: 192 vCPUs on a p5.48xlarge),
with network interfaces (kube-prometheus-stack 82.1.0 excludes none from netdev and netclass, so each pod's host-side
interface counts: `eni*` under the VPC CNI) and with EFA's InfiniBand ports (the infiniband collector); reports of
node-exporter memory growing on some nodes past such limits: prometheus-operator/kube-prometheus#91,
prometheus/node_exporter#3080. The requests stay small: a DaemonSet's requests are taken on every node, the system
nodes included. Not measured on a p5: after the first one joins, compare
`container_memory_working_set_bytes{container="node-exporter"}` and `container_cpu_cfs_throttled_periods_total`
with these limits."""


def _resources(cpu_request: str, cpu_limit: str, memory: str) -> dict[str, Any]:
    """Small CPU requests (these pods land on the system nodes, whose allocatable the system-capacity test sums), a
    higher CPU ceiling for bursts, and memory requested at its limit."""
    return {"requests": {"cpu": cpu_request, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory}}


def _exporter_and_operator_values() -> dict[str, Any]:
    """kube-prometheus-stack values of kube-state-metrics, the operator (and its certgen Jobs) and node-exporter."""
    return {
        # kube-state-metrics subchart: `metricLabelsAllowlist` becomes `--metric-labels-allowlist`.
        "kube-state-metrics": {"metricLabelsAllowlist": [f"namespaces=[{','.join(KSM_NAMESPACE_LABELS)}]"],
                               "resources": _resources("25m", "200m", "256Mi")},
        # The operator, and the certgen Jobs (`admissionWebhooks.patch.resources` is both the create and
        # the patch Job's, templates/prometheus-operator/admission-webhooks/job-patch/).
        "prometheusOperator": {"resources": _resources("25m", "200m", "256Mi"),
                               "admissionWebhooks": {"patch": {
                                   "resources": _resources("10m", "100m", "64Mi")}}},
        # node-exporter keeps hostNetwork, hostPID and its /, /proc, /sys hostPaths (waived in
        # policies/config, in the privileged monitoring namespace); it needs no capability and cannot
        # escalate. Helm merges this into the subchart's readOnlyRootFilesystem: true.
        "prometheus-node-exporter": {
            "resources": NODE_EXPORTER_RESOURCES,
            "containerSecurityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                         "capabilities": {"drop": ["ALL"]},
                                         "seccompProfile": {"type": "RuntimeDefault"}}},
    }


RETENTION_SIZE_FRACTION = 0.8
"""The share of the Prometheus volume its size-based retention may fill (prometheus docs/storage.md: 80-85%)."""


def retention_size_gib(storage_gib: int) -> int:
    """`retentionSize` (GiB) for a volume of `storage_gib`: 80% of it, rounded down."""
    return int(storage_gib * RETENTION_SIZE_FRACTION)


@dataclass(frozen=True)
class MonitoringCoreArgs:
    config: MonitoringConfig
    cluster: ClusterRefs
    region: str
    tags: dict[str, str]
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the key and the AMP workspace. Default: true (stateful; dev passes false)."""
    slack_webhook_url: pulumi.Input[str] | None = None
    """Secret value of `receivers.slackWebhookSecret` (`stack.secret_config(key)`). Default: none."""
    pagerduty_routing_key: pulumi.Input[str] | None = None
    """Secret value of `receivers.pagerdutyKeySecret`. Default: none."""
    heartbeat_url: pulumi.Input[str] | None = None
    """Secret value of `receivers.heartbeatUrlSecret`. Default: none."""
    gpu_taint_keys: Sequence[str] = ("nvidia.com/gpu",)
    """Taints of the GPU pools the DCGM exporter tolerates. Default: nvidia.com/gpu."""
    gpu_nodes_only: bool = False
    """Schedule the DCGM exporter only on nodes labelled `nvidia.com/gpu.present=true`, which every GPU pool's nodes
    carry (GpuPoolConfig.node_labels: the platform's pools and team workspaces' pools alike). Default: every node
    it tolerates."""


def _name_of(resource: k8s.core.v1.Namespace | k8s.core.v1.Secret) -> pulumi.Output[str]:
    return resource.metadata.apply(lambda m: str(m["name"] if isinstance(m, dict) else m.name))


def _legacy_urn(urn: str) -> str:
    """The URN this component had as a MonitoringStack: the last type of its qualified type swapped."""
    prefix, qualified_type, name = urn.rsplit("::", 2)
    ancestors, _, _ = qualified_type.rpartition("$")
    return f"{prefix}::{ancestors + '$' if ancestors else ''}{LEGACY_TYPE}::{name}"


class MonitoringCore(pulumi.ComponentResource):
    """The monitoring stack built first: kube-prometheus-stack, alert routing and the CloudWatch alarms every
    component contributes to."""
    alert_topic_arn: pulumi.Output[str]
    prometheus_release: k8s.helm.v3.Release
    """Installs the monitoring.coreos.com CRDs: other components' ServiceMonitors depend on it."""
    namespace: pulumi.Output[str]
    grafana_admin_secret_name: pulumi.Output[str]
    pushgateway_url: pulumi.Output[str]
    """Where batch jobs push `mlops_feature_drift_score` (README: Drift metrics)."""
    service_ports: list[ServicePort]
    """What pods of other namespaces reach: the Pushgateway (training jobs push metrics)."""
    managed_prometheus_workspace_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: MonitoringCoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        claim(args.cluster, "monitoring", name)  # a cluster runs one: refused when it already does
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=LEGACY_TYPE)]))
        super().__init__(CORE_TYPE, name, None, args.cluster.bind(opts))
        cfg, cluster = args.config, args.cluster
        refuse(name, occupied_namespace_problems([cfg.namespace], cluster))
        if cluster.storage_classes and cfg.prometheus.storage_class not in cluster.storage_classes:
            # The PVC would stay Pending and the release would time out after 15 minutes.
            raise ValueError(f"{name}: monitoring.prometheus.storageClass {cfg.prometheus.storage_class!r} is not a "
                             f"StorageClass of the cluster ({', '.join(cluster.storage_classes)})")
        self._name, self._args = name, args
        self.namespace = self._namespace(name, args)

        key = KmsKey(child(name, "key"), KmsKeyArgs(
            description=f"{name} alerts", tags=args.tags, protect=args.protect,
            # Publishers to the encrypted topic. No Logs principal: the Container Insights log groups are the
            # cluster's (created with the add-on that writes them), not this stack's.
            service_principals=["cloudwatch.amazonaws.com", "events.amazonaws.com"]),
            child_options(self))
        alerts = AlertRouting(child(name, "alerts"), AlertRoutingArgs(
            receivers=cfg.receivers, namespace=self.namespace, kms_key=key, cluster=cluster,
            region=args.region, tags=args.tags, slack_webhook_url=args.slack_webhook_url,
            pagerduty_routing_key=args.pagerduty_routing_key, heartbeat_url=args.heartbeat_url), child_options(self))
        self.alert_topic_arn = alerts.topic_arn
        self.grafana_admin_secret_name = self._grafana_secret(name)
        prometheus_values = self._prometheus_values(name, key)
        self.prometheus_release = helm.release(
            child(name, "kube-prometheus-stack"),
            helm.PinnedChart("kube-prometheus-stack", PROMETHEUS_COMMUNITY, cfg.prometheus.chart_version),
            parent=self, namespace=self.namespace, timeout_seconds=900,
            values={
                **{component: {"enabled": False} for component in EKS_UNSCRAPABLE},
                "defaultRules": {"rules": {group: False for group in EKS_UNSCRAPABLE_RULES}},
                "prometheus": prometheus_values,
                **_exporter_and_operator_values(),
                "alertmanager": {
                    "enabled": True,
                    "serviceAccount": {"create": False, "name": alerts.service_account_name},
                    # The config (with the Slack URL and PagerDuty key) lives in our Secret, never in Helm values.
                    "alertmanagerSpec": {"useExistingSecret": True, "configSecret": alerts.config_secret_name,
                                         "resources": pod_security.helm_resources("100m", "256Mi"),
                                         **self._alertmanager_storage(cfg)},
                },
                "grafana": {
                    "admin": {"existingSecret": self.grafana_admin_secret_name, "userKey": GRAFANA_USER_KEY,
                              "passwordKey": GRAFANA_PASSWORD_KEY},
                    "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1",
                                               "searchNamespace": "ALL"},
                                **GRAFANA_SIDECARS},
                    "resources": pod_security.helm_resources("250m", "512Mi"),
                    **GRAFANA_READ_ONLY_ROOT,
                },
            })
        self._exporters(name, args)
        self.register_outputs({
            "alertTopicArn": self.alert_topic_arn, "namespace": self.namespace,
            "prometheusReleaseName": self.prometheus_release.name,
            "grafanaAdminSecretName": self.grafana_admin_secret_name, "pushgatewayUrl": self.pushgateway_url,
            "managedPrometheusWorkspaceArn": self.managed_prometheus_workspace_arn,
        })

    @property
    def refs(self) -> MonitoringRefs:
        """What other components need to contribute their ServiceMonitors, rules, dashboards and alarms."""
        return MonitoringRefs(namespace=self.namespace, prometheus_namespace=self._args.config.namespace,
                              crd_dependencies=[self.prometheus_release], alert_topic_arn=self.alert_topic_arn,
                              thresholds=self._args.config.thresholds,
                              # Contributions that used to be this component's children alias to their old names.
                              moved_from=MovedFrom(urn=self.urn.apply(_legacy_urn), name=self._name))

    def _grafana_secret(self, name: str) -> pulumi.Output[str]:
        """Grafana never starts with the chart's default password: a generated one, in a Secret the chart reads."""
        password = random.RandomPassword(child(name, "grafana-password"), length=32, special=False,
                                         opts=child_options(self))
        admin_password: pulumi.Output[str] = pulumi.Output.secret(password.result)
        grafana_name = child(name, "grafana-admin")
        grafana_secret = k8s.core.v1.Secret(
            grafana_name, metadata={"name": grafana_name, "namespace": self.namespace}, type="Opaque",
            string_data={GRAFANA_USER_KEY: "admin", GRAFANA_PASSWORD_KEY: admin_password},
            opts=child_options(self))
        return _name_of(grafana_secret)

    def _prometheus_values(self, name: str, key: KmsKey) -> dict[str, Any]:
        """Retention, the gp3 volume, select everything, and (optional) remote-write to Managed Prometheus."""
        args, cfg = self._args, self._args.config
        prometheus_spec: dict[str, Any] = {
            "retention": f"{cfg.prometheus.retention_days}d",
            # Prometheus counts the WAL and m-mapped head chunks in this size but deletes only whole blocks, and its
            # storage docs advise at most 80-85% of the volume: without it a busy Prometheus fills the PVC and stops
            # ingesting before the time retention frees anything. Its units are powers of 2 (GB = GiB).
            "retentionSize": f"{retention_size_gib(cfg.prometheus.storage_gib)}GB",
            "storageSpec": {"volumeClaimTemplate": {"spec": {
                "storageClassName": cfg.prometheus.storage_class, "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{cfg.prometheus.storage_gib}Gi"}}}}},
            **{f"{kind}SelectorNilUsesHelmValues": False for kind in SELECTOR_KINDS},
            "resources": pod_security.helm_resources("1", "4Gi"),
        }
        values: dict[str, Any] = {"prometheusSpec": prometheus_spec}
        self.managed_prometheus_workspace_arn = None
        if cfg.managed_prometheus:
            workspace = aws.amp.Workspace(child(name, "amp"), alias=name, kms_key_arn=key.arn, tags=args.tags,
                                          opts=child_options(self, stateful=True, protect=args.protect))
            writer = WorkloadIdentity(child(name, "prometheus"), WorkloadIdentityArgs(
                cluster=args.cluster.identity, namespace=self.namespace, service_account="prometheus", tags=args.tags,
                statements=[iam.statement("RemoteWrite", ["aps:RemoteWrite"], [workspace.arn])],
                automount_token=True),  # Prometheus discovers its targets through the Kubernetes API.
                child_options(self))
            values["serviceAccount"] = {"create": False, "name": writer.service_account_name}
            prometheus_spec["remoteWrite"] = [{
                "url": pulumi.Output.concat(workspace.prometheus_endpoint, "api/v1/remote_write"),
                "sigv4": {"region": args.region}}]
            self.managed_prometheus_workspace_arn = workspace.arn
        return values

    def _exporters(self, name: str, args: MonitoringCoreArgs) -> None:
        """The DCGM exporter and the Pushgateway, each with our ServiceMonitor."""
        cfg, crds = args.config, [self.prometheus_release]
        dcgm_name = child(name, "dcgm-exporter")
        dcgm = helm.release(
            child(name, "dcgm"), helm.PinnedChart("dcgm-exporter", NVIDIA_DCGM, cfg.dcgm_exporter_version),
            parent=self, namespace=self.namespace, values=self._dcgm_values(dcgm_name, args))
        pushgateway_name = child(name, "pushgateway")
        pushgateway = helm.release(
            pushgateway_name, helm.PinnedChart("prometheus-pushgateway", PROMETHEUS_COMMUNITY, cfg.pushgateway_version),
            parent=self, namespace=self.namespace, values={
                "nameOverride": pushgateway_name,
                "fullnameOverride": pushgateway_name,  # a stable Service name: jobs push to pushgateway_url
                "serviceMonitor": {"enabled": False},  # ours below: the selector is tested against the chart's labels
                "resources": pod_security.helm_resources("100m", "128Mi"),
                "containerSecurityContext": pod_security.helm_container_security_context(),
            })
        self.pushgateway_url = pulumi.Output.format(
            "http://{0}.{1}.svc:{2}", pushgateway_name, self.namespace, PUSHGATEWAY_SERVICE_PORT)
        self.service_ports = [ServicePort(cfg.namespace, PUSHGATEWAY_SERVICE_PORT)]
        # dcgm-exporter templates/_helpers.tpl `dcgm-exporter.selectorLabels` puts name, instance and component on
        # the Service; name and component come from nameOverride, so this selector matches exactly our release.
        self._service_monitor(name, "dcgm", dcgm_name, {
            "app.kubernetes.io/name": dcgm_name, "app.kubernetes.io/component": dcgm_name}, DCGM_PORT, "15s",
            honor_labels=False, depends_on=[*crds, dcgm])
        # prometheus-pushgateway `selectorLabels`: name (nameOverride) and instance. honorLabels keeps the pushed
        # `job` and `instance` labels instead of the Pushgateway's own.
        self._service_monitor(name, "pushgateway", pushgateway_name, {"app.kubernetes.io/name": pushgateway_name},
                              PUSHGATEWAY_PORT, "30s", honor_labels=True, depends_on=[*crds, pushgateway])

    def _namespace(self, name: str, args: MonitoringCoreArgs) -> pulumi.Output[str]:
        """The cluster's namespace if it created one (never create it twice), else ours."""
        existing = args.cluster.namespaces.get(args.config.namespace)
        if existing is not None:
            return pulumi.Output.from_input(existing)
        # node-exporter needs hostNetwork, hostPID and hostPath, which only the privileged level admits;
        # warn and audit still report everything the restricted level would reject (the namespace block adds them).
        return namespace(child(name, "namespace"), self, args.config.namespace, level="privileged")

    @staticmethod
    def _alertmanager_storage(cfg: MonitoringConfig) -> dict[str, Any]:
        """The Alertmanager CR's `storage` (kube-prometheus-stack `alertmanager.alertmanagerSpec.storage`): a PVC for
        its data directory (silences, notification log), else the operator's emptyDir loses them on a drain."""
        gib = cfg.prometheus.alertmanager_storage_gib
        if gib is None:
            return {}
        return {"storage": {"volumeClaimTemplate": {"spec": {
            "storageClassName": cfg.prometheus.storage_class, "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{gib}Gi"}}}}}}

    @staticmethod
    def _dcgm_values(name_override: str, args: MonitoringCoreArgs) -> dict[str, Any]:
        values: dict[str, Any] = {
            "nameOverride": name_override,
            "fullnameOverride": name_override,
            "serviceMonitor": {"enabled": False},  # ours: see _service_monitor
            # Exactly the counters exporter_metrics lists, so alerts can only use what is emitted.
            "customMetrics": dcgm_counters_csv(),
            # The chart tolerates only the control-plane taint; GPU nodes carry the pools' taints.
            "tolerations": [{"key": k, "operator": "Exists"} for k in sorted(set(args.gpu_taint_keys))],
            # Root (no capabilities) is needed to read the kubelet pod-resources socket that maps GPUs to pods.
            # No profiling (DCGM_FI_PROF_*) counter is collected, so no SYS_ADMIN. The chart's values.yaml
            # (NVIDIA/dcgm-exporter deployment/values.yaml, tag 4.5.1-4.8.0) sets `capabilities.add: ["SYS_ADMIN"]`
            # and Helm merges maps key by key: `add` must be overridden with an empty list, or SYS_ADMIN survives.
            "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "allowPrivilegeEscalation": False,
                                "privileged": False, "capabilities": {"add": [], "drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"}, "readOnlyRootFilesystem": True},
            # The chart's `extraEnv` is appended to the exporter container's env (templates/daemonset.yaml).
            "extraEnv": [{"name": name, "value": value} for name, value in DCGM_LOG_TO_STDOUT.items()],
            "resources": pod_security.helm_resources("200m", "512Mi"),
        }
        if args.gpu_nodes_only:
            # By label, not instance type: a workspace's pool (another stack) may use types the platform's pools do not.
            values["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{
                    "key": GPU_PRESENT_LABEL, "operator": "In", "values": ["true"]}]}]}}}
        return values

    def _service_monitor(self, name: str, suffix: str, object_name: str, match_labels: dict[str, str], port: str,
                         interval: str, *, honor_labels: bool, depends_on: Sequence[pulumi.Resource]) -> None:
        k8s.apiextensions.CustomResource(
            child(name, f"{suffix}-servicemonitor"), api_version=MONITORING_API, kind="ServiceMonitor",
            metadata={"name": object_name, "namespace": self.namespace,
                      "labels": {"app.kubernetes.io/part-of": "mlops-platform"}},
            spec={"selector": {"matchLabels": match_labels},
                  "namespaceSelector": {"matchNames": [self.namespace]},
                  "endpoints": [{"port": port, "path": "/metrics", "interval": interval, "honorLabels": honor_labels}]},
            opts=child_options(self, depends_on=depends_on))
