"""Pure helpers for the Qdrant component: Helm values, alert rules and the metrics they read. No Pulumi resources.

Chart: qdrant/qdrant-helm tag qdrant-1.19.0, charts/qdrant (values.yaml, templates/statefulset.yaml, _helpers.tpl).
Why the keys reach Qdrant as environment variables and not through the chart's `apiKey`/`readOnlyApiKey`: at 1.19.0
those values accept `valueFrom.secretKeyRef`, but `_helpers.tpl` (`qdrant.secret`) resolves it with Helm `lookup` at
render time and copies the key into the chart's own `<fullname>-apikey` Secret (and the Helm release record). If the
ExternalSecret has not synced yet, `lookup` returns nothing and Qdrant starts WITHOUT authentication; a rotated key
is not picked up until the next upgrade. Qdrant reads `QDRANT__SERVICE__API_KEY` and
`QDRANT__SERVICE__READ_ONLY_API_KEY` (src/settings.rs: `Environment::with_prefix("QDRANT").separator("__")`), and the
chart's `env` passes `valueFrom` through (statefulset.yaml), so the pod refers to the ExternalSecret's target by
`secretKeyRef`: a missing Secret keeps the pod from starting (fail closed), and nothing secret is a Helm value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..blocks import pod_security
from ..blocks.observability import RuleGroup
from .qdrant_config import GRPC_PORT, HTTP_PORT, METRICS_PORT, P2P_PORT, QdrantConfig

API_KEY = "api-key"
READ_ONLY_API_KEY = "read-only-api-key"
STORAGE_VOLUME = "qdrant-storage"
"""The data volume claim template's name (statefulset.yaml default): PVCs are `qdrant-storage-<fullname>-<i>`."""
SNAPSHOTS_VOLUME = "qdrant-snapshots"
"""The snapshots volume claim template's name (`snapshotPersistence.snapshotsVolumeName` default)."""
SNAPSHOTS_MOUNT = "/qdrant/snapshots"
"""Where the chart mounts the snapshots volume (statefulset.yaml, fixed; Qdrant's default `snapshots_path`)."""
SNAPSHOTS_TEMP_PATH = f"{SNAPSHOTS_MOUNT}/.tmp"
"""`storage.temp_path`: on the snapshots volume, a dot name beside the per-collection snapshot dirs."""
SELECTOR_LABEL = "mlops.io/qdrant"
# The unprivileged image (`-unprivileged` tag, statefulset.yaml) runs as 1000 and needs no root init container
# (`ensure-dir-ownership` is skipped), so restricted Pod Security admits the pod; uid/gid as the chart's defaults.
QDRANT_UID, QDRANT_GID, QDRANT_FS_GROUP = 1000, 2000, 3000

# Metrics the rules read, and where they come from (read at the pinned versions).
QDRANT_METRICS = frozenset({
    # qdrant/qdrant v1.19.0 src/common/metrics.rs: OperationDurationMetricsBuilder.build(prefix "rest") emits
    # `rest_responses_duration_seconds` (a histogram, labels method/endpoint/status; timings only for status 200).
    "rest_responses_duration_seconds_bucket",
    "rest_responses_total",
    "collections_total",
    "app_info",
})
KUBELET_METRICS = frozenset({"kubelet_volume_stats_available_bytes", "kubelet_volume_stats_capacity_bytes"})
"""The kubelet's volume stats (kube-prometheus-stack scrapes the kubelet by default: `kubelet.enabled: true`)."""
KUBE_STATE_METRICS = frozenset({"kube_cronjob_status_last_successful_time", "kube_cronjob_created"})
PROMETHEUS_METRICS = frozenset({"up"})
RULE_METRICS = QDRANT_METRICS | KUBELET_METRICS | KUBE_STATE_METRICS | PROMETHEUS_METRICS


def env_from_secret(var: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def helm_values(cfg: QdrantConfig, *, fullname: str, keys_secret: str, storage_class: str) -> dict[str, Any]:
    """The chart's values: every key exists in charts/qdrant/values.yaml or its templates at 1.19.0."""
    labels = {SELECTOR_LABEL: fullname, "app.kubernetes.io/part-of": "mlops-platform"}
    values: dict[str, Any] = {
        "fullnameOverride": fullname,
        "replicaCount": cfg.replicas,
        "image": {"useUnprivilegedImage": True},
        "env": [env_from_secret("QDRANT__SERVICE__API_KEY", keys_secret, API_KEY),
                env_from_secret("QDRANT__SERVICE__READ_ONLY_API_KEY", keys_secret, READ_ONLY_API_KEY)],
        "service": {"additionalLabels": dict(labels), "ports": [
            {"name": "http", "port": HTTP_PORT, "targetPort": HTTP_PORT, "protocol": "TCP", "checksEnabled": True},
            {"name": "grpc", "port": GRPC_PORT, "targetPort": GRPC_PORT, "protocol": "TCP", "checksEnabled": False},
            {"name": "p2p", "port": P2P_PORT, "targetPort": P2P_PORT, "protocol": "TCP", "checksEnabled": False},
            {"name": "metrics", "port": METRICS_PORT, "targetPort": METRICS_PORT, "protocol": "TCP",
             "checksEnabled": False}]},
        # `config` is rendered whole into production.yaml (configmap.yaml: `tpl (toYaml .Values.config)`).
        # TLS stays off: `service.enable_tls`/`cluster.p2p.enable_tls` need a certificate and key in `tls` that
        # nothing in the platform issues (no cert-manager); see the README, "Vector search (Qdrant)".
        "config": {"cluster": {"enabled": True, "p2p": {"port": P2P_PORT, "enable_tls": False},
                               "consensus": {"tick_period_ms": 100}},
                   "service": {"enable_tls": False, "metrics_port": METRICS_PORT,
                               # No snapshot recovery from URLs given by callers (SSRF, settings.rs).
                               "enable_snapshot_url_recovery": False},
                   # Snapshot archives are built in `storage.temp_path`; unset (config/config.yaml), Qdrant builds them
                   # under the data volume's storage dir, which a big snapshot fills. The chart mounts the snapshots
                   # volume at SNAPSHOTS_MOUNT (statefulset.yaml); Qdrant creates the dir when missing.
                   "storage": {"temp_path": SNAPSHOTS_TEMP_PATH},
                   # No anonymous usage reports to telemetry.qdrant.io (settings.rs `telemetry_disabled`, default false).
                   "telemetry_disabled": True},
        "podLabels": dict(labels),
        "resources": pod_security.helm_resources(cfg.cpu, cfg.memory),
        "containerSecurityContext": {**pod_security.helm_container_security_context(), "runAsUser": QDRANT_UID,
                                     "runAsGroup": QDRANT_GID},
        "podSecurityContext": {"runAsNonRoot": True, "runAsUser": QDRANT_UID, "runAsGroup": QDRANT_GID,
                               "fsGroup": QDRANT_FS_GROUP, "fsGroupChangePolicy": "OnRootMismatch",
                               "seccompProfile": {"type": "RuntimeDefault"}},
        "persistence": {"storageClassName": storage_class, "size": cfg.storage_size},
        # Snapshots get their own volume (values.yaml: "so that your cluster won't crash if the snapshot is too big").
        "snapshotPersistence": {"enabled": True, "storageClassName": storage_class, "size": cfg.storage_size},
        # Drains evict one node at a time (pdb.yaml); with one replica a drain still proceeds.
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
        "metrics": {"serviceMonitor": {"enabled": False}},  # ours scrapes the metrics port (no key needed there)
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {SELECTOR_LABEL: fullname}}}],
    }
    if cfg.node_selector:
        values["nodeSelector"] = dict(cfg.node_selector)
    return values


def rule_groups(cfg: QdrantConfig, *, namespace: str, fullname: str, snapshot_cronjob: str | None) -> list[RuleGroup]:
    """Unavailable, disk (data and snapshots volumes), latency (and stale snapshots): each reads only RULE_METRICS."""
    sel = f'namespace="{namespace}", service="{fullname}-headless"'
    pvc = f'namespace="{namespace}", persistentvolumeclaim=~"({STORAGE_VOLUME}|{SNAPSHOTS_VOLUME})-{fullname}-[0-9]+"'
    labels = {"severity": "critical", "component": "qdrant"}
    rules: list[Mapping[str, Any]] = [
        {"alert": "QdrantNodeDown", "expr": f"up{{{sel}}} == 0", "for": "5m", "labels": labels,
         "annotations": {"summary": "Qdrant node {{ $labels.pod }} is down (scrape of its metrics port fails)"}},
        {"alert": "QdrantUnavailable", "expr": f"absent(up{{{sel}}} == 1)", "for": "5m", "labels": labels,
         "annotations": {"summary": f"No Qdrant node of {namespace}/{fullname} is up"}},
        {"alert": "QdrantDiskAlmostFull",
         "expr": f"100 * kubelet_volume_stats_available_bytes{{{pvc}}} / kubelet_volume_stats_capacity_bytes{{{pvc}}}"
                 f" < {cfg.disk_free_percent:g}",
         "for": "10m", "labels": {**labels, "severity": "warning"},
         "annotations": {"summary": "Qdrant volume {{ $labels.persistentvolumeclaim }} has less than "
                                    f"{cfg.disk_free_percent:g}% free"}},
        # The operator's `endpoint` target label (port name) renames Qdrant's own `endpoint` to `exported_endpoint`.
        {"alert": "QdrantSearchLatencyHigh",
         "expr": "histogram_quantile(0.99, sum by (le) (rate(rest_responses_duration_seconds_bucket{"
                 f'{sel}, exported_endpoint=~".*/points/(search|query).*"}}[10m]))) > {cfg.latency_p99_seconds:g}',
         "for": "10m", "labels": {**labels, "severity": "warning"},
         "annotations": {"summary": f"Qdrant search/query p99 above {cfg.latency_p99_seconds:g}s for 10 minutes"}},
    ]
    if snapshot_cronjob is not None:
        # "No success in N hours", not "a Job failed": a stuck Job (concurrencyPolicy Forbid holds every later run)
        # fires it, and one failure followed by a success does not keep it firing while the failed Job is kept.
        # Never succeeded: kube-state-metrics has no last-success series until the first success, so the CronJob's
        # own age stands in (kube-state-metrics v2.20.0 docs/metrics/workload/cronjob-metrics.md).
        job = f'namespace="{namespace}", cronjob="{snapshot_cronjob}"'
        last, seconds = f"kube_cronjob_status_last_successful_time{{{job}}}", cfg.snapshots.max_age_hours * 3600
        rules.append({
            "alert": "QdrantSnapshotStale",
            "expr": f"time() - {last} > {seconds} or (absent({last}) and on () "
                    f"(time() - kube_cronjob_created{{{job}}} > {seconds}))",
            "for": "5m", "labels": {**labels, "severity": "warning"},
            "annotations": {"summary": f"No Qdrant snapshot succeeded in {cfg.snapshots.max_age_hours} hours "
                                       f"({namespace}/{snapshot_cronjob})"}})
    return [RuleGroup(name="qdrant", rules=rules)]
